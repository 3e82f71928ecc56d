"""Every operation on small hand-made grids, with the expected result written out."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxarc.envs.operations import (
    NUM_OPERATIONS,
    OPERATION_NAMES,
    apply_operation,
    flood_region,
    operation_name,
)
from tests.helpers import cells, crop, make_state

G = [
    [1, 1, 0, 2],
    [1, 0, 0, 2],
    [0, 0, 3, 3],
]

apply = jax.jit(apply_operation)


def run(op, sel_cells, grid=G, **kw):
    state = make_state(grid, **kw)
    return apply(state, jnp.int32(op), cells(sel_cells))


def test_names_cover_all_ids():
    assert len(OPERATION_NAMES) == NUM_OPERATIONS == 36
    assert (
        operation_name(0) == "fill_0"
        and operation_name(34) == "submit"
        and operation_name(99) == "invalid_99"
    )


@pytest.mark.parametrize("colour", [0, 5, 9])
def test_fill(colour):
    out = run(colour, [(0, 0), (2, 3)])
    exp = [row[:] for row in G]
    exp[0][0] = exp[2][3] = colour
    assert crop(out) == exp


def test_fill_ignores_cells_outside_grid():
    out = run(4, [(4, 4), (0, 3)])
    assert crop(out)[0] == [1, 1, 0, 4]
    assert int(np.asarray(out.working_grid)[4, 4]) == 0


def test_flood_fill_fills_connected_same_colour():
    out = run(10 + 7, [(1, 1)])  # the 0-region: (0,2),(1,1),(1,2),(2,0),(2,1)
    assert crop(out) == [[1, 1, 7, 2], [1, 7, 7, 2], [7, 7, 3, 3]]


def test_flood_fill_from_two_regions():
    out = run(10 + 5, [(0, 0), (0, 3)])
    assert crop(out) == [[5, 5, 0, 5], [5, 0, 0, 5], [0, 0, 3, 3]]


def test_flood_region_snake_converges():
    snake = np.ones((6, 6), np.int8)
    snake[1, :5] = 0
    snake[3, 1:] = 0
    snake[5, :5] = 0
    region = flood_region(cells([(0, 0)], 6), jnp.asarray(snake), jnp.ones((6, 6), bool))
    assert np.array_equal(np.asarray(region), snake == 1)


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        (20, [[1, 1, 0, 2], [0, 0, 0, 2], [0, 0, 3, 3]]),  # up: (1,0) -> (0,0)
        (21, [[1, 1, 0, 2], [0, 0, 0, 2], [1, 0, 3, 3]]),  # down
        (22, [[1, 1, 0, 2], [1, 0, 0, 2], [0, 3, 0, 3]]),  # left: (2,2) -> (2,1)
        (23, [[1, 1, 0, 2], [1, 0, 0, 2], [0, 0, 0, 3]]),  # right: (2,2) -> (2,3)
    ],
)
def test_moves(op, expected):
    sel = [(1, 0)] if op in (20, 21) else [(2, 2)]
    assert crop(run(op, sel)) == expected


def test_move_off_the_grid_drops_cells():
    assert crop(run(20, [(0, 3)]))[0] == [1, 1, 0, 0]


BOX = [[1, 2, 3], [4, 5, 6], [0, 0, 0], [0, 0, 0]]
FULL_BOX = [(r, c) for r in range(2) for c in range(3)]


def test_rotations_keep_the_box_centre():
    # a 2×3 box centred at (0.5, 1) becomes 3×2 centred there too: rows -1..1 (row -1 is cut)
    assert crop(run(24, FULL_BOX, grid=BOX)) == [[5, 2, 0], [6, 3, 0], [0, 0, 0], [0, 0, 0]]
    assert crop(run(25, FULL_BOX, grid=BOX)) == [[2, 5, 0], [1, 4, 0], [0, 0, 0], [0, 0, 0]]
    # ARCLE's example: the middle row of a 3×3 grid turns into the middle column
    row = [[0, 0, 0], [1, 2, 3], [0, 0, 0]]
    assert crop(run(24, [(1, 0), (1, 1), (1, 2)], grid=row)) == [[0, 1, 0], [0, 2, 0], [0, 3, 0]]


def test_rotate_offset_square():
    grid = [[0, 0, 0], [0, 1, 2], [0, 3, 4]]
    out = run(24, [(1, 1), (1, 2), (2, 1), (2, 2)], grid=grid)
    assert crop(out) == [[0, 0, 0], [0, 3, 1], [0, 4, 2]]


def test_flips():
    assert crop(run(26, FULL_BOX, grid=BOX))[:2] == [[3, 2, 1], [6, 5, 4]]
    assert crop(run(27, FULL_BOX, grid=BOX))[:2] == [[4, 5, 6], [1, 2, 3]]


def test_black_is_transparent_when_moving_flipping_and_rotating():
    # a selected black cell does not overwrite what it lands on (ARCLE)
    assert crop(run(23, [(0, 0), (0, 1)], grid=[[5, 0, 7, 0]])) == [[0, 5, 7, 0]]
    assert crop(run(26, [(0, 0), (1, 1)], grid=[[0, 5], [7, 8]])) == [[0, 5], [8, 0]]


def test_empty_selection_does_nothing():
    for op in (20, 24, 26, 28, 29, 33, 35):
        out = run(op, [], clipboard=[[6]])
        assert crop(out) == G, op
        assert np.asarray(out.clipboard)[0, 0] == 6, op  # the clipboard is kept too


def test_copy_paste_and_cut():
    state = make_state(G)
    copied = apply(state, jnp.int32(28), cells([(0, 0), (0, 1)]))
    assert crop(copied) == G
    assert np.asarray(copied.clipboard)[0, :2].tolist() == [1, 1]
    pasted = apply(copied, jnp.int32(29), cells([(2, 0)]))
    assert crop(pasted)[2] == [1, 1, 3, 3]
    cut = apply(state, jnp.int32(30), cells([(2, 2), (2, 3)]))
    assert crop(cut)[2] == [0, 0, 0, 0]
    assert np.asarray(cut.clipboard)[2, 2:4].tolist() == [3, 3]
    pasted_cut = apply(cut, jnp.int32(29), cells([(0, 0)]))
    assert crop(pasted_cut)[0] == [3, 3, 0, 2]


def test_paste_writes_the_whole_rectangle_and_copy_must_stay_inside_the_grid():
    state = make_state([[0, 0, 0], [0, 0, 0], [0, 0, 6]])
    copied = apply(state, jnp.int32(28), cells([(2, 1), (2, 2)]))  # [0 6]: black included
    pasted = apply(copied, jnp.int32(29), cells([(0, 1)]))
    assert crop(pasted)[0] == [0, 0, 6]
    onto = apply(
        apply(copied, jnp.int32(3), cells([(0, 1), (0, 2)])), jnp.int32(29), cells([(0, 1)])
    )
    assert crop(onto)[0] == [0, 0, 6]  # the clipboard's black overwrites (ARCLE's paste)
    outside = apply(state, jnp.int32(28), cells([(2, 2), (3, 3)]))  # leaves the 3×3 grid
    assert not np.asarray(outside.clipboard_mask).any()  # ARCLE ignores such a copy


def test_copy_from_the_input_selection():
    state = make_state(G)
    edited = apply(state, jnp.int32(31), cells([]))  # clear the working grid
    copied = apply(edited, jnp.int32(35), cells([(2, 2), (2, 3)]))  # from the input: [3 3]
    pasted = apply(copied, jnp.int32(29), cells([(0, 0)]))
    assert crop(pasted)[0] == [3, 3, 0, 0]


def test_clear_copy_input_resize_submit():
    state = make_state(G)
    cleared = apply(state, jnp.int32(31), cells([]))
    assert crop(cleared) == [[0] * 4] * 3
    restored = apply(cleared, jnp.int32(32), cells([]))
    assert crop(restored) == G
    # resize takes the selection box's size and clears the grid (ARCLE's ResizeGrid)
    bigger = apply(state, jnp.int32(33), cells([(0, 0), (4, 4)]))
    assert crop(bigger) == [[0] * 5] * 5
    smaller = apply(state, jnp.int32(33), cells([(2, 2), (3, 3)]))
    assert crop(smaller) == [[0, 0], [0, 0]]
    assert crop(apply(state, jnp.int32(33), cells([]))) == G  # empty selection: no-op
    assert crop(apply(state, jnp.int32(34), cells([(0, 0)]))) == G
