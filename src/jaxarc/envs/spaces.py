"""Small action/observation spaces with ``sample(key)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..types import Action, Observation

ArrayLike = jax.typing.ArrayLike


def bbox_to_mask(
    r1: ArrayLike, c1: ArrayLike, r2: ArrayLike, c2: ArrayLike, shape: tuple[int, int]
) -> jax.Array:
    """Boolean mask of the rectangle between two corners (inclusive, any order)."""
    rows = jnp.arange(shape[0])[:, None]
    cols = jnp.arange(shape[1])[None, :]
    lo_r, hi_r = jnp.minimum(r1, r2), jnp.maximum(r1, r2)
    lo_c, hi_c = jnp.minimum(c1, c2), jnp.maximum(c1, c2)
    return (rows >= lo_r) & (rows <= hi_r) & (cols >= lo_c) & (cols <= hi_c)


@dataclass(frozen=True)
class Discrete:
    """Integers ``0 .. n-1``."""

    n: int

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.randint(key, (), 0, self.n)

    def contains(self, x: Any) -> bool:
        return 0 <= int(x) < self.n


@dataclass(frozen=True)
class MultiDiscrete:
    """A vector whose entry ``i`` is in ``0 .. nvec[i]-1``."""

    nvec: tuple[int, ...]

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.randint(key, (len(self.nvec),), 0, jnp.asarray(self.nvec))

    def contains(self, x: Any) -> bool:
        x = np.asarray(x)
        return x.shape == (len(self.nvec),) and bool(np.all((x >= 0) & (x < np.asarray(self.nvec))))


class ActionSpace:
    """Mask actions: an allowed operation and a random bounding-box selection."""

    def __init__(self, grid_shape: tuple[int, int], allowed_operations: jax.Array):
        self.grid_shape: tuple[int, int] = (int(grid_shape[0]), int(grid_shape[1]))
        self.allowed_operations = allowed_operations

    def sample(self, key: jax.Array) -> Action:
        k_op, k_box = jax.random.split(key)
        op = jax.random.choice(
            k_op,
            self.allowed_operations.shape[0],
            p=self.allowed_operations / self.allowed_operations.sum(),
        )
        h, w = self.grid_shape
        r = jax.random.randint(k_box, (2,), 0, h)
        c = jax.random.randint(jax.random.fold_in(k_box, 1), (2,), 0, w)
        return Action(op, bbox_to_mask(r[0], c[0], r[1], c[1], self.grid_shape))

    def __repr__(self) -> str:
        ops = int(np.sum(np.asarray(self.allowed_operations)))
        return f"ActionSpace(grid_shape={self.grid_shape}, operations={ops})"


@dataclass(frozen=True)
class ObservationSpace:
    """Padded ``H×W`` grids with colours 0–9 (see :class:`jaxarc.types.Observation`)."""

    grid_shape: tuple[int, int]
    num_colours: int = 10

    def sample(self, key: jax.Array) -> Observation:
        """A random observation: random colours, random top-left-anchored grid sizes."""
        keys = jax.random.split(key, 4)
        h, w = self.grid_shape

        def grid(k: jax.Array) -> tuple[jax.Array, jax.Array]:
            k_cells, k_size = jax.random.split(k)
            size = jax.random.randint(k_size, (2,), 1, jnp.array([h, w]) + 1)
            mask = bbox_to_mask(0, 0, size[0] - 1, size[1] - 1, self.grid_shape)
            return jnp.where(
                mask, jax.random.randint(k_cells, self.grid_shape, 0, self.num_colours), 0
            ).astype(jnp.int8), mask

        (g, gm), (i, im), (t, tm) = grid(keys[0]), grid(keys[1]), grid(keys[2])
        empty = jnp.zeros(self.grid_shape, bool)
        return Observation(
            g,
            gm,
            i,
            im,
            t,
            tm,
            empty,
            jnp.zeros_like(g),
            empty,
            jax.random.randint(keys[3], (), 0, 100),
        )

    def contains(self, obs: Observation) -> bool:
        grids = (obs.working_grid, obs.input_grid, obs.target_grid)
        return all(
            g.shape == self.grid_shape and bool(jnp.all((g >= 0) & (g < self.num_colours)))
            for g in grids
        )
