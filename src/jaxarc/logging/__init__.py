"""Experiment logging: ExperimentLogger, its handlers, payload builders and run readers."""

from .experiment_logger import ExperimentLogger
from .payloads import episode_summary_payload, step_payload, task_start_payload
from .reader import load_episodes, read_batch_metrics, read_run

__all__ = [
    "ExperimentLogger",
    "episode_summary_payload",
    "load_episodes",
    "read_batch_metrics",
    "read_run",
    "step_payload",
    "task_start_payload",
]
