"""Pytrees shared by the data loader, the environment and the logger.

All are :class:`equinox.Module` dataclasses with static shapes, so they pass through
``jax.jit``, ``jax.vmap`` and ``lax.scan`` unchanged.
"""

from __future__ import annotations

import difflib
import enum
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


class Operation(enum.IntEnum):
    """The 36 operation ids (ARCLE/O2ARC semantics); ``jaxarc.envs.operations`` implements
    them, and ``jaxarc.envs.operations.ARCLE`` maps each to ARCLE's ``O2ARCv2Env`` id.

    ``Operation.FILL_0 + c`` fills with colour ``c``, ``Operation.FLOOD_FILL_0 + c`` flood
    fills with it.
    """

    FILL_0 = 0
    FILL_1 = 1
    FILL_2 = 2
    FILL_3 = 3
    FILL_4 = 4
    FILL_5 = 5
    FILL_6 = 6
    FILL_7 = 7
    FILL_8 = 8
    FILL_9 = 9
    FLOOD_FILL_0 = 10
    FLOOD_FILL_1 = 11
    FLOOD_FILL_2 = 12
    FLOOD_FILL_3 = 13
    FLOOD_FILL_4 = 14
    FLOOD_FILL_5 = 15
    FLOOD_FILL_6 = 16
    FLOOD_FILL_7 = 17
    FLOOD_FILL_8 = 18
    FLOOD_FILL_9 = 19
    MOVE_UP = 20
    MOVE_DOWN = 21
    MOVE_LEFT = 22
    MOVE_RIGHT = 23
    ROTATE_CW = 24
    ROTATE_CCW = 25
    FLIP_HORIZONTAL = 26
    FLIP_VERTICAL = 27
    COPY = 28
    PASTE = 29
    CUT = 30
    CLEAR = 31
    COPY_INPUT = 32
    RESIZE = 33
    SUBMIT = 34
    COPY_INPUT_SELECTION = 35


#: Number of operation ids (``0 .. NUM_OPERATIONS - 1``).
NUM_OPERATIONS = len(Operation)

#: ``OPERATION_NAMES[id]``: ``"fill_3"``, ``"move_up"``, ``"submit"``, …
OPERATION_NAMES = tuple(op.name.lower() for op in Operation)


def operation_name(op: int) -> str:
    """Human-readable name of an operation id (``"invalid_<id>"`` when out of range)."""
    op = int(op)
    return OPERATION_NAMES[op] if 0 <= op < NUM_OPERATIONS else f"invalid_{op}"


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
        h, w = self.train_inputs.shape[-2:]
        return int(h), int(w)

    @property
    def num_cells(self) -> int:
        h, w = self.grid_shape
        return h * w

    def index_of(self, task_id: str) -> int:
        """Integer index of ``task_id``; a clear ``KeyError`` names close matches."""
        try:
            return self.task_ids.index(task_id)
        except ValueError:
            close = difflib.get_close_matches(task_id, self.task_ids, n=3)
            raise KeyError(
                f"unknown task id {task_id!r}; close matches: {close or 'none'}"
            ) from None

    def id_of(self, index: int) -> str:
        return self.task_ids[int(index)]


class Action(eqx.Module):
    """One operation (an :class:`Operation` id, 0–35) applied to a boolean selection."""

    operation: jax.Array  # int32[]
    selection: jax.Array  # bool[H, W]

    def __init__(self, operation: jax.typing.ArrayLike, selection: jax.typing.ArrayLike) -> None:
        self.operation = jnp.asarray(operation, dtype=jnp.int32)
        self.selection = jnp.asarray(selection, dtype=bool)


class Observation(eqx.Module):
    """What the agent sees: the fields of :class:`State` it may see, under the same names
    (:class:`InContextObservation` adds the demonstrations).

    The target is hidden (all zeros, empty mask) in evaluation mode and with
    ``environment.observe_target=false``.
    """

    working_grid: jax.Array  # int8[H, W]
    working_grid_mask: jax.Array  # bool[H, W]
    input_grid: jax.Array
    input_grid_mask: jax.Array
    target_grid: jax.Array
    target_grid_mask: jax.Array
    selection: jax.Array  # bool[H, W] last selection
    clipboard: jax.Array  # int8[H, W]
    clipboard_mask: jax.Array
    step_count: jax.Array  # int32[]


class InContextObservation(Observation):
    """An :class:`Observation` with the task's demonstration pairs
    (``environment.demonstrations``), in the episode's augmentation.

    ``demo_*`` grids and masks are ``[P, H, W]`` (``P`` = the buffer's train-pair slots);
    ``demo_valid: bool[P]`` says which slots hold a demonstration (padding slots and, in
    training, the query's own pair do not; see :mod:`jaxarc.envs.tasks`).
    """

    demo_inputs: jax.Array  # int8[P, H, W]
    demo_input_masks: jax.Array  # bool[P, H, W]
    demo_outputs: jax.Array
    demo_output_masks: jax.Array
    demo_valid: jax.Array  # bool[P]


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
    best_similarity: jax.Array  # float32[]: the highest similarity of the episode so far
    task_index: jax.Array  # int32[]
    pair_index: jax.Array  # int32[]
    key: jax.Array  # PRNG key
    done: jax.Array  # bool[]
    #: the episode's task augmentation (``jaxarc.envs.augment.Augmentation``; the identity
    #: unless ``environment.augment``): every grid above is in its frame
    augmentation: Any = None
    #: ``bool[]`` with ``environment.target_hint_share`` > 0: this training episode shows
    #: its target although ``observe_target`` is off (``None`` otherwise)
    target_hint: Any = None


class StepType(enum.IntEnum):
    """Values of :attr:`TimeStep.step_type` (stored as ``int8``)."""

    FIRST = 0
    MID = 1
    TERMINATED = 2
    TRUNCATED = 3


class Extras(eqx.Module):
    """Per-step information besides the reward; ``extras["similarity"]`` also works."""

    similarity: jax.Array  # float32[] after the step
    operation: jax.Array  # int32[] the operation asked for (-1 at reset)
    success: jax.Array  # bool[]: submitted a grid equal to the target
    invalid_action: jax.Array  # bool[]: a disallowed or out-of-range operation (a no-op)

    def __getitem__(self, name: str) -> jax.Array:
        if name not in self.__dataclass_fields__:
            raise KeyError(f"no extra named {name!r}; extras are {list(self.__dataclass_fields__)}")
        return getattr(self, name)  # type: ignore[no-any-return]

    def keys(self) -> tuple[str, ...]:
        return tuple(self.__dataclass_fields__)


class TimeStep(eqx.Module):
    """What ``reset``/``step`` return besides the state.

    ``final_observation`` is ``None`` except under
    :class:`~jaxarc.envs.wrappers.AutoResetWrapper`, where it is the observation of the state
    in which the episode ended (``observation`` is then the fresh episode's first one).
    """

    step_type: jax.Array  # int8[]
    reward: jax.Array  # float32[]
    discount: jax.Array  # float32[]
    observation: Observation
    extras: Extras
    final_observation: Observation | None = None

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


def to_numpy_grid(
    grid: jax.typing.ArrayLike, mask: jax.typing.ArrayLike | None = None
) -> np.ndarray:
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
