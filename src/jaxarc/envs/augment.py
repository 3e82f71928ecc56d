"""Task augmentation: the 8 symmetries of the square × colour permutations, on device.

The standard way ARC solvers multiply a task's few pairs: a rule that maps input to output
still maps the rotated (flipped, recoloured) input to the equally rotated (flipped,
recoloured) output, so one augmentation applied to every grid of a task — demonstrations,
query input and target alike — gives a new task with the same rule.

An :class:`Augmentation` is two small arrays (a symmetry id and a colour table), drawn once
per episode at reset and kept in the state, so that a replay, a sampled episode's picture
or an evaluation can map a grid back with :func:`invert`.

Grids are padded: the real cells sit at the top-left of an ``S × S`` array with a mask.
After a rotation or flip the real cells are re-anchored at the top-left (the operations,
resize and cropping all assume it). Colour 0 (black) is also the padding colour: by default
it stays fixed and only colours 1–9 are permuted; ``permute_all=True`` permutes all ten
(padding cells stay 0 either way: the mask says which cells are real).

Symmetry ids ``0..7``: ``k % 4`` quarter turns counter-clockwise (``jnp.rot90``), then a
transpose when ``k >= 4``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

NUM_SYMMETRIES = 8
NUM_COLORS = 10


class Augmentation(eqx.Module):
    """One symmetry of the square and one colour permutation.

    Attributes:
        symmetry: ``int32[]`` in ``0..7`` (see the module docstring).
        colors: ``int8[10]``: colour ``c`` becomes ``colors[c]``.
    """

    symmetry: jax.Array
    colors: jax.Array

    @classmethod
    def identity(cls) -> Augmentation:
        return cls(jnp.int32(0), jnp.arange(NUM_COLORS, dtype=jnp.int8))

    @classmethod
    def sample(cls, key: jax.Array, permute_all: bool = False) -> Augmentation:
        """A uniformly random symmetry and colour permutation (colour 0 fixed unless
        ``permute_all``)."""
        k_sym, k_col = jax.random.split(key)
        symmetry = jax.random.randint(k_sym, (), 0, NUM_SYMMETRIES, dtype=jnp.int32)
        if permute_all:
            colors = jax.random.permutation(k_col, NUM_COLORS)
        else:
            colors = jnp.concatenate(
                [jnp.zeros(1, jnp.int32), 1 + jax.random.permutation(k_col, 9)]
            )
        return cls(symmetry, colors.astype(jnp.int8))

    def inverse(self) -> Augmentation:
        """The augmentation that undoes this one (:func:`invert` applies it)."""
        inv_colors = (
            jnp.zeros(NUM_COLORS, jnp.int8)
            .at[self.colors]
            .set(jnp.arange(NUM_COLORS, dtype=jnp.int8))
        )
        # T∘R^r is undone by R^-r∘T = T∘R^r (a reflection is its own inverse); R^r by R^-r
        rot = self.symmetry % 4
        symmetry = jnp.where(self.symmetry >= 4, self.symmetry, (4 - rot) % 4)
        return Augmentation(symmetry.astype(jnp.int32), inv_colors)


def _turn(x: jax.Array, symmetry: jax.Array) -> jax.Array:
    """``x[S, S]`` turned by ``symmetry`` (no re-anchoring)."""
    branches = [
        (lambda a, k=k, t=t: jnp.rot90(a, k).T if t else jnp.rot90(a, k))
        for t in (False, True)
        for k in range(4)
    ]
    turned: jax.Array = jax.lax.switch(symmetry, branches, x)
    return turned


def _anchor(grid: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Move the real cells (``mask``) back to the top-left corner."""
    shift = -jnp.stack([jnp.argmax(jnp.any(mask, axis=1)), jnp.argmax(jnp.any(mask, axis=0))])
    return jnp.roll(grid, shift, (0, 1)), jnp.roll(mask, shift, (0, 1))


def _recolor(grid: jax.Array, mask: jax.Array, colors: jax.Array) -> jax.Array:
    return jnp.where(mask, colors[grid.astype(jnp.int32)], grid).astype(grid.dtype)


def apply(aug: Augmentation, grid: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(grid, mask)`` of one padded ``[S, S]`` grid under ``aug`` (re-anchored top-left).

    Works on any leading batch axes too (``[..., S, S]``): every grid gets the same
    augmentation."""
    if grid.ndim > 2:
        return jax.vmap(lambda g, m: apply(aug, g, m))(grid, mask)
    grid = _recolor(grid, mask, aug.colors)
    grid, mask = _turn(grid, aug.symmetry), _turn(mask, aug.symmetry)
    return _anchor(grid, mask)


def invert(aug: Augmentation, grid: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(grid, mask)`` mapped back from ``aug``'s frame to the task's own:
    ``invert(aug, *apply(aug, g, m)) == (g, m)``."""
    return apply(aug.inverse(), grid, mask)
