"""The 35 ARCLE-style grid operations, grouped into parameterised families.

Under ``vmap`` a 35-way ``lax.switch`` evaluates every branch for every environment, so the
operations are computed as a handful of families instead and one result is selected:

===========  ==========================================================
ids          operation
===========  ==========================================================
0–9          fill the selection with colour ``id``
10–19        flood fill (4-connected, same colour) from the selection with colour ``id - 10``
20–23        move the selected cells one cell up / down / left / right
24–25        rotate the selection's bounding box clockwise / counter-clockwise
26–27        flip the selection horizontally (left↔right) / vertically (top↔bottom)
28           copy the selection to the clipboard
29           paste the clipboard with its top-left at the selection's top-left
30           cut (copy, then clear the selection to 0)
31           clear the whole grid to 0
32           copy the input grid (contents and size) into the working grid
33           resize the grid to end at the selection's bottom-right corner
34           submit (ends the episode)
===========  ==========================================================

Geometric operations (moves, rotations, flips, paste) are one family: each reads
destination ``(i, j)`` from source ``(R[i], C[j])`` of the grid, its transpose or the
clipboard, so it costs two gathers of whole rows. Flood fill runs on bit-packed rows
(one ``uint32`` per row) and stops as soon as the region stops growing.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from ..types import NUM_OPERATIONS, OPERATION_NAMES, Operation, State, operation_name

__all__ = [
    "NUM_OPERATIONS",
    "OPERATION_NAMES",
    "SUBMIT",
    "apply_operation",
    "flood_region",
    "operation_name",
]

Op = Operation
SUBMIT = Op.SUBMIT


def _bbox(mask: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array]:
    """(r0, r1, c0, c1, any) of a boolean mask; zeros when empty."""
    rows, cols = mask.any(axis=1), mask.any(axis=0)
    h, w = mask.shape
    r0 = jnp.argmax(rows)
    r1 = h - 1 - jnp.argmax(rows[::-1])
    c0 = jnp.argmax(cols)
    c1 = w - 1 - jnp.argmax(cols[::-1])
    return r0, r1, c0, c1, rows.any()


def _pack_rows(mask: jax.Array) -> jax.Array:
    """bool[H, W] -> uint32[H] with bit c set when mask[:, c] (W <= 32)."""
    weights = jnp.left_shift(jnp.uint32(1), jnp.arange(mask.shape[1], dtype=jnp.uint32))
    return jnp.sum(jnp.where(mask, weights, jnp.uint32(0)), axis=1, dtype=jnp.uint32)


def _unpack_rows(bits: jax.Array, width: int) -> jax.Array:
    return (jnp.right_shift(bits[:, None], jnp.arange(width, dtype=jnp.uint32)) & 1).astype(bool)


def flood_region(seed: jax.Array, grid: jax.Array, mask: jax.Array) -> jax.Array:
    """Cells 4-connected to ``seed`` through neighbours of equal colour, inside ``mask``.

    Runs on bit-packed rows and iterates only until the region stops growing, so an empty
    seed costs no iterations (also under ``vmap``, where the loop runs until every
    environment has converged).
    """
    width = grid.shape[1]
    same_right = mask[:, :-1] & mask[:, 1:] & (grid[:, :-1] == grid[:, 1:])  # (r,c)~(r,c+1)
    same_down = mask[:-1, :] & mask[1:, :] & (grid[:-1, :] == grid[1:, :])  # (r,c)~(r+1,c)
    h_bits = _pack_rows(jnp.pad(same_right, ((0, 0), (0, 1))))
    v_bits = _pack_rows(same_down)  # H-1 rows
    zero = jnp.zeros((1,), jnp.uint32)

    def grow(x: jax.Array) -> jax.Array:
        right = jnp.left_shift(x & h_bits, 1)
        left = jnp.right_shift(x, 1) & h_bits
        down = jnp.concatenate([zero, x[:-1] & v_bits])
        up = jnp.concatenate([x[1:] & v_bits, zero])
        return x | right | left | down | up

    def body(carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        x, _ = carry
        nx = grow(x)
        return nx, jnp.any(nx != x)

    start = _pack_rows(seed & mask)
    bits, _ = lax.while_loop(lambda c: c[1], body, (start, jnp.any(start != 0)))
    return _unpack_rows(bits, width)


def _geometric_indices(
    op: jax.Array, sel: jax.Array, clip_mask: jax.Array, size: int
) -> tuple[jax.Array, jax.Array]:
    """Row and column source indices for ops 20–27 and 29.

    Every geometric operation maps destination ``(i, j)`` to a source cell
    ``(R[i], C[j])`` of either the grid, its transpose (rotations) or the clipboard, where
    ``R`` and ``C`` are affine in ``i`` and ``j``. Two gathers of whole rows replace one
    gather per cell.
    """
    r0, r1, c0, c1, _ = _bbox(sel)
    h, w = r1 - r0 + 1, c1 - c0 + 1
    p0, _, q0, _, _ = _bbox(clip_mask)
    conds = [op == o for o in range(Op.MOVE_UP, Op.FLIP_VERTICAL + 1)]  # 20..27 in order
    # R[i] = row_sign * i + row_off ; C[j] = col_sign * j + col_off
    row_sign = jnp.where((op == Op.ROTATE_CCW) | (op == Op.FLIP_VERTICAL), -1, 1)
    col_sign = jnp.where((op == Op.ROTATE_CW) | (op == Op.FLIP_HORIZONTAL), -1, 1)
    row_off = jnp.select(conds, [1, -1, 0, 0, c0 - r0, c0 + w - 1 + r0, 0, r0 + r1], p0 - r0)
    col_off = jnp.select(conds, [0, 0, 1, -1, r0 + h - 1 + c0, r0 - c0, c0 + c1, 0], q0 - c0)
    idx = jnp.arange(size, dtype=jnp.int32)
    return row_sign * idx + row_off, col_sign * idx + col_off


def _transform(
    op: jax.Array, grid: jax.Array, sel: jax.Array, clipboard: jax.Array, clip_mask: jax.Array
) -> jax.Array:
    """Result of the geometric operations (moves, rotations, flips, paste) on ``grid``."""
    size = grid.shape[0]
    is_paste = op == Op.PASTE
    src_grid = jnp.where(is_paste, clipboard, grid)
    src_area = jnp.where(is_paste, clip_mask, sel)
    tagged = jnp.where(src_area, src_grid, jnp.int8(-1))
    tagged = jnp.where(
        (op == Op.ROTATE_CW) | (op == Op.ROTATE_CCW), tagged.T, tagged
    )  # rotations read the transpose
    rows, cols = _geometric_indices(op, sel, clip_mask, size)
    row_ok = (rows >= 0) & (rows < size)
    col_ok = (cols >= 0) & (cols < size)
    picked = jnp.take(tagged, jnp.clip(rows, 0, size - 1), axis=0)
    picked = jnp.take(picked.T, jnp.clip(cols, 0, size - 1), axis=0).T
    return jnp.where(row_ok[:, None] & col_ok[None, :], picked, jnp.int8(-1))


def apply_operation(state: State, op: jax.Array, selection: jax.Array) -> State:
    """Apply operation ``op`` (an int32 :class:`~jaxarc.types.Operation` id) to ``selection``.

    Pure and vmap-friendly; only the grid, its mask, the selection and the clipboard change.

    Submit (34) leaves the grid unchanged; the environment ends the episode.
    """
    grid, mask = state.working_grid, state.working_grid_mask
    sel = selection & mask
    height, width = grid.shape
    rows = lax.broadcasted_iota(jnp.int32, (height, width), 0)
    cols = lax.broadcasted_iota(jnp.int32, (height, width), 1)
    colour = (op % 10).astype(grid.dtype)

    # fill / flood fill
    is_fill = op < Op.FLOOD_FILL_0
    is_flood = (op >= Op.FLOOD_FILL_0) & (op < Op.MOVE_UP)
    flood = flood_region(jnp.where(is_flood, sel, False), grid, mask)
    painted = jnp.where(jnp.where(is_fill, sel, flood), colour, grid)

    # moves, rotations, flips and paste: two row gathers
    is_paste = op == Op.PASTE
    moved = _transform(op, grid, sel, state.clipboard, state.clipboard_mask)
    dest = (moved >= 0) & mask
    base = jnp.where(is_paste, grid, jnp.where(sel, jnp.int8(0), grid))
    transformed = jnp.where(dest, moved, base)

    # clipboard, clear, copy input, resize
    cut = jnp.where(sel, jnp.int8(0), grid)
    cleared = jnp.zeros_like(grid)
    _, r1, _, c1, has_sel = _bbox(selection)  # resize may grow past the current grid
    resized_mask = jnp.where(has_sel, (rows <= r1) & (cols <= c1), mask)
    resized = jnp.where(mask & resized_mask, grid, jnp.int8(0))

    is_geom = ((op >= Op.MOVE_UP) & (op <= Op.FLIP_VERTICAL)) | is_paste
    new_grid = jnp.select(
        [
            op < Op.MOVE_UP,
            is_geom,
            op == Op.CUT,
            op == Op.CLEAR,
            op == Op.COPY_INPUT,
            op == Op.RESIZE,
        ],
        [painted, transformed, cut, cleared, state.input_grid, resized],
        grid,
    )
    new_mask = jnp.select(
        [op == Op.COPY_INPUT, op == Op.RESIZE], [state.input_grid_mask, resized_mask], mask
    )
    copies = (op == Op.COPY) | (op == Op.CUT)
    clipboard = jnp.where(copies, jnp.where(sel, grid, jnp.int8(0)), state.clipboard)
    clipboard_mask = jnp.where(copies, sel, state.clipboard_mask)
    new_state: State = eqx.tree_at(
        lambda s: (s.working_grid, s.working_grid_mask, s.selection, s.clipboard, s.clipboard_mask),
        state,
        (new_grid, new_mask, selection, clipboard, clipboard_mask),
    )
    return new_state
