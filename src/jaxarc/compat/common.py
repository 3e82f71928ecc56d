"""What both adapters share: the flat action table and the flat observation encoding."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..envs.environment import EnvParams
from ..envs.spaces import bbox_to_mask
from ..types import NUM_OPERATIONS, Action, Observation

#: channels per grid cell in the flat observation: colours 0-9 and "outside the grid"
CELL_CHANNELS = 11


def allowed_operation_ids(params: EnvParams) -> np.ndarray:
    """The allowed operation ids, in increasing order (read once, when an adapter is built)."""
    return np.flatnonzero(np.asarray(params.allowed_operations)).astype(np.int32)


def point_action(index: jax.Array, operations: np.ndarray, grid_shape: tuple[int, int]) -> Action:
    """Action ``index`` of a ``Discrete(len(operations) * H * W)`` space: the allowed
    operation ``operations[index // (H*W)]`` on the one cell ``index % (H*W)`` (row-major)."""
    h, w = grid_shape
    index = jnp.clip(jnp.asarray(index, jnp.int32).reshape(()), 0, len(operations) * h * w - 1)
    op, cell = jnp.divmod(index, h * w)
    r, c = jnp.divmod(cell, w)
    return Action(jnp.asarray(operations)[op], bbox_to_mask(r, c, r, c, grid_shape))


def bbox_action(action: jax.Array, grid_shape: tuple[int, int]) -> Action:
    """``(operation, r1, c1, r2, c2)``, corners inclusive, any order (as
    :class:`~jaxarc.envs.wrappers.BboxActionWrapper`)."""
    a = jnp.asarray(action).astype(jnp.int32)
    if a.shape != (5,):
        raise ValueError(f"a bbox action is (operation, r1, c1, r2, c2), got shape {a.shape}")
    h, w = grid_shape
    a = jnp.clip(a, 0, jnp.array([NUM_OPERATIONS - 1, h - 1, w - 1, h - 1, w - 1]))
    return Action(a[0], bbox_to_mask(a[1], a[2], a[3], a[4], grid_shape))


def flat_size(grid_shape: tuple[int, int]) -> int:
    """Length of :func:`flat_observation`'s vector."""
    h, w = grid_shape
    return (4 * CELL_CHANNELS + 1) * h * w + 1


def _one_hot(grid: jax.Array, mask: jax.Array) -> jax.Array:
    """``[H, W, 11]``: the colour one-hot inside the grid, channel 10 outside it."""
    colour = jnp.where(mask, grid.astype(jnp.int32), CELL_CHANNELS - 1)
    return jax.nn.one_hot(colour, CELL_CHANNELS, dtype=jnp.float32)


def flat_observation(obs: Observation, max_steps: int) -> jax.Array:
    """One float32 vector for MLP agents: the one-hot working, input, target and clipboard
    grids (11 channels per cell: colours 0-9, outside the grid), the selection (0/1), and the
    step count as a fraction of ``max_steps``. See :func:`flat_size`."""
    parts = [
        _one_hot(obs.working_grid, obs.working_grid_mask),
        _one_hot(obs.input_grid, obs.input_grid_mask),
        _one_hot(obs.target_grid, obs.target_grid_mask),
        _one_hot(obs.clipboard, obs.clipboard_mask),
    ]
    return jnp.concatenate(
        [p.reshape(-1) for p in parts]
        + [
            obs.selection.astype(jnp.float32).reshape(-1),
            (obs.step_count.astype(jnp.float32) / max(max_steps, 1)).reshape(1),
        ]
    )
