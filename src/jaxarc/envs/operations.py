"""The 36 grid operations with ARCLE's semantics, grouped into parameterised families.

Under ``vmap`` a 36-way ``lax.switch`` evaluates every branch for every environment, so the
operations are computed as a handful of families instead and one result is selected:

===========  ==========================================================
ids          operation
===========  ==========================================================
0–9          fill the selection with colour ``id``
10–19        flood fill (4-connected, same colour) from the selected cells with ``id - 10``
20–23        move the selected cells one cell up / down / left / right
24–25        rotate the selection clockwise / counter-clockwise about its box's centre
26–27        flip the selection horizontally (left↔right) / vertically (top↔bottom)
28           copy the selection to the clipboard
29           paste the clipboard's rectangle with its top-left at the selection's top-left
30           cut (copy, then clear the selection to 0)
31           clear the whole grid to 0
32           copy the input grid (contents and size) into the working grid
33           resize the grid to the selection's box size (and clear it)
34           submit (ends the episode)
35           copy the selection of the *input* grid to the clipboard
===========  ==========================================================

ARCLE's rules, which ``tests/test_arcle_parity.py`` checks against ARCLE's own functions:
moved, flipped and rotated cells are written only where they are not black (black is
transparent) over the grid with the selection cleared; an empty selection does nothing;
a copy whose selection leaves the grid does nothing; paste writes the clipboard's whole
rectangle (black too, as ARCLE's ``O2ARCv2Env`` does). :data:`ARCLE` maps each id to
ARCLE's and names every difference.

Geometric operations (moves, rotations, flips, paste) are one family: each reads
destination ``(i, j)`` from source ``(R[i], C[j])`` of the grid, its transpose or the
clipboard, so it costs two gathers of whole rows. Flood fill runs on bit-packed rows
(one ``uint32`` per row) and stops as soon as the region stops growing.
"""

from __future__ import annotations

from typing import NamedTuple

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


class ArcleOp(NamedTuple):
    """ARCLE's counterpart of one of our operations (``O2ARCv2Env`` numbering)."""

    id: int | None
    name: str | None
    difference: str = ""


_MULTI_FLOOD = "ARCLE fills only when exactly one cell is selected; we fill from every one"
#: our id → ARCLE's ``O2ARCv2Env`` id, its name and any difference (``tests/test_arcle_parity.py``)
ARCLE: dict[Operation, ArcleOp] = {
    **{Op(c): ArcleOp(c, f"Color{c}") for c in range(10)},
    **{Op(10 + c): ArcleOp(10 + c, f"FloodFill{c}", _MULTI_FLOOD) for c in range(10)},
    Op.MOVE_UP: ArcleOp(20, "Move_U"),
    Op.MOVE_DOWN: ArcleOp(21, "Move_D"),
    Op.MOVE_LEFT: ArcleOp(23, "Move_L"),
    Op.MOVE_RIGHT: ArcleOp(22, "Move_R"),
    Op.ROTATE_CW: ArcleOp(25, "Rotate_270"),
    Op.ROTATE_CCW: ArcleOp(24, "Rotate_90"),
    Op.FLIP_HORIZONTAL: ArcleOp(26, "Flip_H"),
    Op.FLIP_VERTICAL: ArcleOp(27, "Flip_V"),
    Op.COPY: ArcleOp(29, "CopyO", "ARCLE also copies a selection one row/column past the grid"),
    Op.PASTE: ArcleOp(30, "Paste"),
    Op.CUT: ArcleOp(None, None, "not in ARCLE"),
    Op.CLEAR: ArcleOp(32, "ResetGrid"),
    Op.COPY_INPUT: ArcleOp(31, "CopyFromInput"),
    Op.RESIZE: ArcleOp(33, "ResizeGrid"),
    Op.SUBMIT: ArcleOp(34, "Submit", "ends the episode: ARCLE with max_trial=1"),
    Op.COPY_INPUT_SELECTION: ArcleOp(
        28, "CopyI", "ARCLE also copies a selection one row/column past the input"
    ),
}
#: what each operation does, in a few words (the README's table is generated from these)
DESCRIPTIONS: dict[Operation, str] = {
    **{Op(c): f"fill the selection with colour {c}" for c in range(10)},
    **{Op(10 + c): f"flood fill from the selected cells with colour {c}" for c in range(10)},
    Op.MOVE_UP: "move the selected cells one cell up",
    Op.MOVE_DOWN: "move the selected cells one cell down",
    Op.MOVE_LEFT: "move the selected cells one cell left",
    Op.MOVE_RIGHT: "move the selected cells one cell right",
    Op.ROTATE_CW: "rotate the selection clockwise about its box's centre",
    Op.ROTATE_CCW: "rotate the selection counter-clockwise about its box's centre",
    Op.FLIP_HORIZONTAL: "flip the selection left↔right",
    Op.FLIP_VERTICAL: "flip the selection top↔bottom",
    Op.COPY: "copy the selection to the clipboard",
    Op.PASTE: "paste the clipboard's rectangle at the selection's top-left",
    Op.CUT: "copy the selection, then clear it to 0",
    Op.CLEAR: "clear the whole grid to 0",
    Op.COPY_INPUT: "copy the input grid (contents and size) into the working grid",
    Op.RESIZE: "resize the grid to the selection box's size (cleared)",
    Op.SUBMIT: "submit the grid (ends the episode)",
    Op.COPY_INPUT_SELECTION: "copy the selection of the input grid to the clipboard",
}
#: Where ARCLE keeps hidden state we do not: after a move/rotate/flip, ARCLE's next object
#: operation with an empty selection acts on the remembered object; ours does nothing.


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


def _rect(
    r0: jax.typing.ArrayLike,
    r1: jax.typing.ArrayLike,
    c0: jax.typing.ArrayLike,
    c1: jax.typing.ArrayLike,
    shape: tuple[int, ...],
) -> jax.Array:
    """``bool[shape]``: the cells of rows ``r0..r1`` and columns ``c0..c1``."""
    rows = lax.broadcasted_iota(jnp.int32, shape, 0)
    cols = lax.broadcasted_iota(jnp.int32, shape, 1)
    return (rows >= r0) & (rows <= r1) & (cols >= c0) & (cols <= c1)


Box = tuple[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array]  # what _bbox returns


def _geometric_indices(
    op: jax.Array, box: Box, clip_box: Box, size: int
) -> tuple[jax.Array, jax.Array]:
    """Row and column source indices for ops 20–27 and 29.

    Every geometric operation maps destination ``(i, j)`` to a source cell
    ``(R[i], C[j])`` of either the grid, its transpose (rotations) or the clipboard, where
    ``R`` and ``C`` are affine in ``i`` and ``j``. Two gathers of whole rows replace one
    gather per cell. Like ARCLE, the selection's box is taken as given (also where it leaves
    the grid), and a rotated box keeps its centre: its top-left is
    ``(⌊(r0 + r1 - (w - 1)) / 2⌋, ⌊(c0 + c1 - (h - 1)) / 2⌋)``.
    """
    r0, r1, c0, c1, _ = box
    h, w = r1 - r0 + 1, c1 - c0 + 1
    nr0 = jnp.floor_divide(r0 + r1 - (w - 1), 2)  # the rotated box's top-left
    nc0 = jnp.floor_divide(c0 + c1 - (h - 1), 2)
    p0, _, q0, _, _ = clip_box
    conds = [op == o for o in range(Op.MOVE_UP, Op.FLIP_VERTICAL + 1)]  # 20..27 in order
    # R[i] = row_sign * i + row_off ; C[j] = col_sign * j + col_off
    row_sign = jnp.where((op == Op.ROTATE_CCW) | (op == Op.FLIP_VERTICAL), -1, 1)
    col_sign = jnp.where((op == Op.ROTATE_CW) | (op == Op.FLIP_HORIZONTAL), -1, 1)
    row_off = jnp.select(conds, [1, -1, 0, 0, c0 - nr0, c0 + w - 1 + nr0, 0, r0 + r1], p0 - r0)
    col_off = jnp.select(conds, [0, 0, 1, -1, r0 + h - 1 + nc0, r0 - nc0, c0 + c1, 0], q0 - c0)
    idx = jnp.arange(size, dtype=jnp.int32)
    return row_sign * idx + row_off, col_sign * idx + col_off


def _transform(
    op: jax.Array,
    grid: jax.Array,
    selection: jax.Array,
    box: Box,
    clipboard: jax.Array,
    clip_rect: jax.Array,
    clip_box: Box,
) -> jax.Array:
    """The geometric operations' patch: the value each cell receives, ``-1`` where none.

    Moves, rotations and flips carry the selected cells (their zeros too: the caller treats
    black as transparent, as ARCLE does); paste carries the clipboard's whole rectangle.
    """
    size = grid.shape[0]
    is_paste = op == Op.PASTE
    src_grid = jnp.where(is_paste, clipboard, grid)
    src_area = jnp.where(is_paste, clip_rect, selection)
    tagged = jnp.where(src_area, src_grid, jnp.int8(-1))
    rotation = (op == Op.ROTATE_CW) | (op == Op.ROTATE_CCW)
    tagged = jnp.where(rotation, tagged.T, tagged)  # rotations read the transpose
    rows, cols = _geometric_indices(op, box, clip_box, size)
    row_ok = (rows >= 0) & (rows < size)
    col_ok = (cols >= 0) & (cols < size)
    picked = jnp.take(tagged, jnp.clip(rows, 0, size - 1), axis=0)
    picked = jnp.take(picked.T, jnp.clip(cols, 0, size - 1), axis=0).T
    return jnp.where(row_ok[:, None] & col_ok[None, :], picked, jnp.int8(-1))


def _inside(selection: jax.Array, box: Box, mask: jax.Array) -> jax.Array:
    """A non-empty ``selection`` (whose box is ``box``) lies wholly inside the grid ``mask``."""
    return box[4] & ~jnp.any(selection & ~mask)


def apply_operation(state: State, op: jax.Array, selection: jax.Array) -> State:
    """Apply operation ``op`` (an int32 :class:`~jaxarc.types.Operation` id) to ``selection``.

    Pure and vmap-friendly; only the grid, its mask, the selection and the clipboard change.
    ARCLE's semantics (see the module docstring and the README's table); submit (34) leaves
    the grid unchanged, the environment ends the episode.
    """
    grid, mask = state.working_grid, state.working_grid_mask
    sel = selection & mask
    box = _bbox(selection)
    colour = (op % 10).astype(grid.dtype)

    # fill / flood fill
    is_fill = op < Op.FLOOD_FILL_0
    is_flood = (op >= Op.FLOOD_FILL_0) & (op < Op.MOVE_UP)
    flood = flood_region(jnp.where(is_flood, sel, False), grid, mask)
    painted = jnp.where(jnp.where(is_fill, sel, flood), colour, grid)

    # moves, rotations, flips and paste: two row gathers; black is transparent except in paste
    is_paste = op == Op.PASTE
    clip_box = _bbox(state.clipboard_mask)
    clip_rect = _rect(*clip_box[:4], grid.shape) & clip_box[4]
    moved = _transform(op, grid, selection, box, state.clipboard, clip_rect, clip_box)
    lands = jnp.where(is_paste, moved >= 0, moved > 0) & mask & box[4]
    base = jnp.where(is_paste, grid, jnp.where(sel, jnp.int8(0), grid))
    transformed = jnp.where(lands, moved, base)

    # clipboard, clear, copy input, resize
    copies = ((op == Op.COPY) | (op == Op.CUT)) & _inside(selection, box, mask)
    copies_input = (op == Op.COPY_INPUT_SELECTION) & _inside(selection, box, state.input_grid_mask)
    cut = jnp.where(copies & sel, jnp.int8(0), grid)
    cleared = jnp.zeros_like(grid)
    resized_mask = jnp.where(
        box[4], _rect(0, box[1] - box[0], 0, box[3] - box[2], grid.shape), mask
    )

    is_geom = ((op >= Op.MOVE_UP) & (op <= Op.FLIP_VERTICAL)) | is_paste
    new_grid = jnp.select(
        [
            op < Op.MOVE_UP,
            is_geom,
            op == Op.CUT,
            op == Op.CLEAR,
            op == Op.COPY_INPUT,
            (op == Op.RESIZE) & box[4],
        ],
        [painted, transformed, cut, cleared, state.input_grid, cleared],
        grid,
    )
    new_mask = jnp.select(
        [op == Op.COPY_INPUT, op == Op.RESIZE], [state.input_grid_mask, resized_mask], mask
    )
    source = jnp.where(copies_input, state.input_grid, grid)
    takes = copies | copies_input
    clipboard = jnp.where(takes, jnp.where(selection, source, jnp.int8(0)), state.clipboard)
    clipboard_mask = jnp.where(takes, selection, state.clipboard_mask)
    new_state: State = eqx.tree_at(
        lambda s: (s.working_grid, s.working_grid_mask, s.selection, s.clipboard, s.clipboard_mask),
        state,
        (new_grid, new_mask, selection, clipboard, clipboard_mask),
    )
    return new_state
