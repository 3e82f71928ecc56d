"""Replaying a sampled episode from its recorded actions, for the report.

`jaxarc train` records the bbox actions ``(op, r1, c1, r2, c2)`` of each environment's
episodes on device (``EpisodeStatsWrapper(record_actions=...)``); the sampled ones reach the
episode files as ``steps``. Starting from the episode's initial grid, the same operations
(``envs.operations.apply_operation``, exactly what ``step`` runs) give every intermediate
grid, so nothing but ``5`` small integers per step ever left the device.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .envs.environment import effective_operation, initial_state, is_allowed
from .envs.operations import apply_operation
from .envs.spaces import bbox_to_mask
from .types import NUM_OPERATIONS, operation_name, to_numpy_grid

#: one frame: (label, grid cropped to its mask, the step's selection cropped alike or None)
Frame = tuple[str, np.ndarray, np.ndarray | None]


class Replay(NamedTuple):
    """The frames of a replayed episode, and whether its last grid is the logged final one."""

    frames: list[Frame]
    matches_final: bool


_apply = jax.jit(apply_operation)


def _padded(value: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(grid, mask)`` of a state as the summary stores it (``{"grid", "mask"}`` lists)."""
    if not isinstance(value, Mapping) or "grid" not in value:
        return None
    grid = np.asarray(value["grid"], np.int8)
    mask = np.asarray(value.get("mask", np.ones(grid.shape, bool)), bool)
    return (grid, mask) if grid.ndim == 2 and grid.shape == mask.shape else None


def replay(
    summary: Mapping[str, Any],
    steps: Sequence[Mapping[str, Any]],
    allowed_operations: Sequence[int] | None = None,
) -> Replay | None:
    """The frames of one sampled episode: its initial grid, then the grid after each step.

    ``allowed_operations`` are the run's (``action.allowed_operations``; ``None``: all): a
    disallowed one is a no-op, as in ``step`` (its frame says so). ``None`` when the summary
    lacks the padded initial state or there are no steps.
    """
    start, target = _padded(summary.get("initial_state")), _padded(summary.get("target_state"))
    if start is None or not steps:
        return None
    grid, mask = start
    target_grid, target_mask = target if target is not None else (np.zeros_like(grid), mask)
    state = initial_state(
        jnp.asarray(grid),
        jnp.asarray(mask),
        jnp.asarray(target_grid),
        jnp.asarray(target_mask),
        jax.random.PRNGKey(0),
    )
    ids = list(range(NUM_OPERATIONS)) if allowed_operations is None else list(allowed_operations)
    allowed = jnp.zeros(NUM_OPERATIONS, bool).at[jnp.asarray(ids, jnp.int32)].set(True)
    frames: list[Frame] = [("start", to_numpy_grid(grid, mask), None)]
    for i, step in enumerate(steps):
        op = jnp.int32(int(step["operation"]))
        r1, c1, r2, c2 = (int(v) for v in step["box"])
        selection = bbox_to_mask(r1, c1, r2, c2, (grid.shape[0], grid.shape[1]))
        state = _apply(state, effective_operation(op, allowed), selection)
        shown = to_numpy_grid(np.asarray(state.working_grid), np.asarray(state.working_grid_mask))
        label = f"{i + 1} {operation_name(int(op))}"
        if not bool(is_allowed(op, allowed)):
            label += " (not allowed: a no-op)"
        frames.append((label, shown, np.asarray(selection)[: shown.shape[0], : shown.shape[1]]))
    final = _padded(summary.get("final_state"))
    matches = final is not None and np.array_equal(frames[-1][1], to_numpy_grid(*final))
    return Replay(frames, matches)
