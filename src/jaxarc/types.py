"""Pytrees shared by the data loader, the environment and the logger.

All are :class:`equinox.Module` dataclasses with static shapes, so they pass through
``jax.jit``, ``jax.vmap`` and ``lax.scan`` unchanged.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


class TaskBuffer(eqx.Module):
    """Every selected task, padded and stacked: ``T`` tasks, ``P``/``Q`` pairs, ``H×W`` cells.

    Grids are int8 (colours 0–9, padding 0) with bool masks marking the real cells, so an
    environment can pick a task with ``buffer.train_inputs[task_index]`` inside jit.
    ``task_ids[i]`` is the string id of task ``i`` (see :meth:`index_of`).
    """

    train_inputs: jax.Array  # int8[T, P, H, W]
    train_input_masks: jax.Array  # bool[T, P, H, W]
    train_outputs: jax.Array
    train_output_masks: jax.Array
    test_inputs: jax.Array  # int8[T, Q, H, W]
    test_input_masks: jax.Array
    test_outputs: jax.Array
    test_output_masks: jax.Array
    num_train_pairs: jax.Array  # int32[T]
    num_test_pairs: jax.Array  # int32[T]
    task_ids: tuple[str, ...] = eqx.field(static=True)

    @property
    def num_tasks(self) -> int:
        return len(self.task_ids)

    @property
    def grid_shape(self) -> tuple[int, int]:
        return tuple(self.train_inputs.shape[-2:])  # type: ignore[return-value]

    def index_of(self, task_id: str) -> int:
        """Integer index of ``task_id``; a clear ``KeyError`` names close matches."""
        try:
            return self.task_ids.index(task_id)
        except ValueError:
            import difflib

            close = difflib.get_close_matches(task_id, self.task_ids, n=3)
            raise KeyError(f"unknown task id {task_id!r}; close matches: {close or 'none'}") from None

    def id_of(self, index: int) -> str:
        return self.task_ids[int(index)]


class Action(eqx.Module):
    """One operation (0–34, see ``jaxarc.envs.operations``) applied to a boolean selection."""

    operation: jax.Array  # int32[]
    selection: jax.Array  # bool[H, W]

    def __init__(self, operation, selection):
        self.operation = jnp.asarray(operation, dtype=jnp.int32)
        self.selection = jnp.asarray(selection, dtype=bool)


class Observation(eqx.Module):
    """What the agent sees. In eval mode the target is hidden (all zeros, empty mask)."""

    grid: jax.Array  # int8[H, W] working grid
    grid_mask: jax.Array  # bool[H, W]
    input_grid: jax.Array
    input_mask: jax.Array
    target_grid: jax.Array
    target_mask: jax.Array
    selection: jax.Array  # bool[H, W] last selection
    clipboard: jax.Array  # int8[H, W]
    clipboard_mask: jax.Array
    step_count: jax.Array  # int32[]


class State(eqx.Module):
    """The full environment state (a pytree)."""

    working_grid: jax.Array  # int8[H, W]
    working_grid_mask: jax.Array  # bool[H, W]
    input_grid: jax.Array
    input_grid_mask: jax.Array
    target_grid: jax.Array
    target_grid_mask: jax.Array
    selection: jax.Array  # bool[H, W]
    clipboard: jax.Array  # int8[H, W]
    clipboard_mask: jax.Array  # bool[H, W]
    step_count: jax.Array  # int32[]
    similarity: jax.Array  # float32[]
    task_index: jax.Array  # int32[]
    pair_index: jax.Array  # int32[]
    key: jax.Array  # PRNG key
    done: jax.Array  # bool[]


class StepType:
    """Values of :attr:`TimeStep.step_type`."""

    FIRST = 0
    MID = 1
    TERMINATED = 2
    TRUNCATED = 3


class TimeStep(eqx.Module):
    """What ``reset``/``step`` return besides the state."""

    step_type: jax.Array  # int8[]
    reward: jax.Array  # float32[]
    discount: jax.Array  # float32[]
    observation: Observation
    extras: dict  # {"similarity": f32, "operation": i32, "success": bool, "invalid_action": bool}

    def first(self) -> jax.Array:
        return self.step_type == StepType.FIRST

    def mid(self) -> jax.Array:
        return self.step_type == StepType.MID

    def last(self) -> jax.Array:
        return self.step_type >= StepType.TERMINATED

    def terminated(self) -> jax.Array:
        return self.step_type == StepType.TERMINATED

    def truncated(self) -> jax.Array:
        return self.step_type == StepType.TRUNCATED


def to_numpy_grid(grid, mask=None) -> np.ndarray:
    """Crop a padded grid to the bounding box of its mask (host side, for pictures/JSON)."""
    grid = np.asarray(grid)
    if mask is None:
        return grid
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return grid[:0, :0]
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return grid[: rows[-1] + 1, : cols[-1] + 1]
