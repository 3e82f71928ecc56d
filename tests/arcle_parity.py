"""Run the same random cases through ARCLE's own action functions and through ours.

Used by ``tests/test_arcle_parity.py`` (which asserts agreement) and runnable on its own to
print the agreement per operation (``python -m tests.arcle_parity [N]``), e.g. to compare
two versions of ``apply_operation``.

A case is a fresh state — a grid of 1×1 to 30×30 inside the 30×30 canvas, an input grid, a
clipboard (empty, or a rectangle of colours and black) — a selection (empty, full canvas,
one cell inside or outside the grid, scattered cells, a rectangle inside the grid, one
touching its border, one partly outside) and an operation. ARCLE's side follows
``O2ARCv2Env``: its operation list, its state dict, ``max_trial=1`` for submit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

S = 30  # ARCLE's canvas (max_grid_size)
SELECTIONS = (
    "empty",
    "full",
    "cell_inside",
    "cell_outside",
    "scattered",
    "rect_inside",
    "rect_border",
    "rect_partly_outside",
)


@dataclass
class Case:
    grid: np.ndarray  # int8[gh, gw]
    input: np.ndarray  # int8[ih, iw]
    clip: np.ndarray  # int8[ch, cw] (0×0: empty clipboard)
    clip_at: tuple[int, int]  # where our clipboard holds it on the canvas
    selection: np.ndarray  # bool[S, S]
    kind: str


def arcle_operations() -> tuple[list[Callable[..., None]], Callable[..., None]]:
    """ARCLE's ``O2ARCv2Env`` operation list (ids 0–34), built from its own functions."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    from arcle.actions.color import gen_color, gen_flood_fill
    from arcle.actions.critical import copy_from_input, reset_grid, resize_grid
    from arcle.actions.object import gen_copy, gen_flip, gen_move, gen_paste, gen_rotate, reset_sel
    from arcle.envs.base import AbstractARCEnv

    ops: list[Any] = [None] * 35
    ops[0:10] = [reset_sel(gen_color(i)) for i in range(10)]
    ops[10:20] = [reset_sel(gen_flood_fill(i)) for i in range(10)]
    ops[20:24] = [gen_move(i) for i in range(4)]
    ops[24], ops[25] = gen_rotate(1), gen_rotate(3)
    ops[26], ops[27] = gen_flip("H"), gen_flip("V")
    ops[28], ops[29] = reset_sel(gen_copy("I")), reset_sel(gen_copy("O"))
    ops[30] = reset_sel(gen_paste(paste_blank=True))
    ops[31], ops[32], ops[33] = (
        reset_sel(copy_from_input),
        reset_sel(reset_grid),
        reset_sel(resize_grid),
    )

    def submit(state: dict[str, Any], action: dict[str, Any], answer: np.ndarray) -> None:
        env = SimpleNamespace(submit_count=0, answer=answer, reset_on_submit=False)
        AbstractARCEnv.submit(env, state, action)  # type: ignore[arg-type]

    return ops, submit


def _padded(a: np.ndarray) -> np.ndarray:
    out = np.zeros((S, S), np.int8)
    out[: a.shape[0], : a.shape[1]] = a
    return out


def random_grid(rng: np.random.Generator) -> np.ndarray:
    big = rng.random() < 0.3
    h, w = rng.integers(1, (30 if big else 10) + 1, size=2)
    colours = rng.integers(1, 10, size=(h, w))
    return np.where(rng.random((h, w)) < 0.4, 0, colours).astype(np.int8)


def random_selection(rng: np.random.Generator, gh: int, gw: int, kind: str) -> np.ndarray:
    sel = np.zeros((S, S), bool)
    if kind == "full":
        sel[:] = True
    elif kind == "cell_inside":
        sel[rng.integers(gh), rng.integers(gw)] = True
    elif kind == "cell_outside":
        if gh < S:
            sel[rng.integers(gh, S), rng.integers(S)] = True
        else:
            sel[rng.integers(S), rng.integers(gw, S) if gw < S else 0] = gw < S
    elif kind == "scattered":
        r0, c0 = rng.integers(0, gh), rng.integers(0, gw)
        r1, c1 = rng.integers(r0, min(S, r0 + 8)), rng.integers(c0, min(S, c0 + 8))
        sel[r0 : r1 + 1, c0 : c1 + 1] = rng.random((r1 - r0 + 1, c1 - c0 + 1)) < 0.5
    elif kind in ("rect_inside", "rect_border"):
        r0, c0 = rng.integers(0, gh), rng.integers(0, gw)
        r1 = gh - 1 if kind == "rect_border" else rng.integers(r0, gh)
        c1 = rng.integers(c0, gw)
        sel[r0 : r1 + 1, c0 : c1 + 1] = True
    elif kind == "rect_partly_outside":
        r0, c0 = rng.integers(0, gh), rng.integers(0, gw)
        sel[r0 : min(S, gh + rng.integers(1, 4)), c0 : min(S, gw + rng.integers(0, 4))] = True
    return sel


def random_case(rng: np.random.Generator) -> Case:
    grid, inp = random_grid(rng), random_grid(rng)
    if rng.random() < 0.3:
        clip, at = np.zeros((0, 0), np.int8), (0, 0)
    else:
        ch, cw = rng.integers(1, 9, size=2)
        clip = np.where(rng.random((ch, cw)) < 0.3, 0, rng.integers(1, 10, (ch, cw))).astype(
            np.int8
        )
        at = (int(rng.integers(0, S - ch + 1)), int(rng.integers(0, S - cw + 1)))
    kind = SELECTIONS[rng.integers(len(SELECTIONS))]
    return Case(grid, inp, clip, at, random_selection(rng, *grid.shape, kind), kind)


def arcle_result(case: Case, arcle_id: int, ops: list[Any], submit: Any) -> dict[str, Any]:
    """Run ARCLE's operation; the visible grid, the clipboard and termination."""
    ch, cw = case.clip.shape
    clip = np.zeros((S, S), np.int8)
    clip[:ch, :cw] = case.clip
    state: dict[str, Any] = {
        "grid": _padded(case.grid),
        "grid_dim": np.array(case.grid.shape, np.int8),
        "input": _padded(case.input),
        "input_dim": np.array(case.input.shape, np.int8),
        "clip": clip,
        "clip_dim": np.array([ch, cw], np.int8),
        "selected": np.zeros((S, S), np.int8),
        "terminated": np.zeros(1, np.int8),
        "trials_remain": np.ones(1, np.int8),
        "object_states": {
            "active": np.zeros(1, np.int8),
            "object": np.zeros((S, S), np.int8),
            "object_sel": np.zeros((S, S), np.int8),
            "object_dim": np.zeros(2, np.int8),
            "object_pos": np.zeros(2, np.int8),
            "background": np.zeros((S, S), np.int8),
            "rotation_parity": np.zeros(1, np.int8),
        },
    }
    action = {"selection": case.selection.astype(np.int8), "operation": arcle_id}
    if arcle_id == 34:
        submit(state, action, answer=case.grid)
    else:
        ops[arcle_id](state, action)
    gh, gw = (int(v) for v in state["grid_dim"])
    ch, cw = (int(v) for v in state["clip_dim"])
    return {
        "grid": np.asarray(state["grid"])[:gh, :gw],
        "clip": np.asarray(state["clip"])[:ch, :cw] if ch and cw else np.zeros((0, 0), np.int8),
        "terminated": bool(state["terminated"][0]),
    }


def our_states(cases: list[Case]) -> Any:
    """The cases as one batched :class:`~jaxarc.types.State` (a vmapped pytree)."""
    import jax.numpy as jnp

    from jaxarc.types import State

    def rect(shape: tuple[int, ...], at: tuple[int, int] = (0, 0)) -> np.ndarray:
        m = np.zeros((S, S), bool)
        m[at[0] : at[0] + shape[0], at[1] : at[1] + shape[1]] = True
        return m

    def clipboard(case: Case) -> np.ndarray:
        out = np.zeros((S, S), np.int8)
        r, c = case.clip_at
        out[r : r + case.clip.shape[0], c : c + case.clip.shape[1]] = case.clip
        return out

    n = len(cases)
    grids = np.stack([_padded(c.grid) for c in cases])
    masks = np.stack([rect(c.grid.shape) for c in cases])
    return State(
        working_grid=jnp.asarray(grids),
        working_grid_mask=jnp.asarray(masks),
        input_grid=jnp.asarray(np.stack([_padded(c.input) for c in cases])),
        input_grid_mask=jnp.asarray(np.stack([rect(c.input.shape) for c in cases])),
        target_grid=jnp.asarray(grids),
        target_grid_mask=jnp.asarray(masks),
        selection=jnp.zeros((n, S, S), bool),
        clipboard=jnp.asarray(np.stack([clipboard(c) for c in cases])),
        clipboard_mask=jnp.asarray(np.stack([rect(c.clip.shape, c.clip_at) for c in cases])),
        step_count=jnp.zeros(n, jnp.int32),
        similarity=jnp.zeros(n, jnp.float32),
        best_similarity=jnp.zeros(n, jnp.float32),
        task_index=jnp.zeros(n, jnp.int32),
        pair_index=jnp.zeros(n, jnp.int32),
        key=jnp.zeros((n, 2), jnp.uint32),
        done=jnp.zeros(n, bool),
    )


def _crop(grid: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if not mask.any():
        return np.zeros((0, 0), np.int8)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return grid[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def our_results(apply: Callable[..., Any], cases: list[Case], op: int) -> list[dict[str, Any]]:
    import jax
    import jax.numpy as jnp

    states = our_states(cases)
    ops = jnp.full(len(cases), op, jnp.int32)
    sels = jnp.asarray(np.stack([c.selection for c in cases]))
    out = jax.device_get(apply(states, ops, sels))
    return [
        {
            "grid": _crop(out.working_grid[i], out.working_grid_mask[i]),
            "clip": _crop(out.clipboard[i], out.clipboard_mask[i]),
            # ``step`` ends the episode on submit (``environment.py``: ``submitted``), so ours is
            # "submit ends it"; ARCLE's side is measured (its submit with max_trial=1)
            "terminated": op == 34,
        }
        for i in range(len(cases))
    ]


def exception(our_op: int, case: Case, mine: dict[str, Any]) -> str | None:
    """The named, documented difference that explains a disagreement on ``case``, if any —
    after checking that ours did what the documented difference says it does."""
    gh, gw = case.grid.shape
    sel = case.selection
    inside = sel[:gh, :gw]
    if 10 <= our_op < 20 and sel.sum() != 1 and inside.any():
        # ours: ARCLE's own region search from every selected cell, filled with the colour
        from arcle.actions.color import dfs_area

        region = dfs_area(case.grid.copy(), case.grid.shape, inside).astype(bool)
        expected = np.where(region, np.int8(our_op - 10), case.grid)
        if np.array_equal(mine["grid"], expected):
            return "multi-cell flood fill: ARCLE needs exactly one selected cell, we fill from each"
        return None
    rows, cols = np.flatnonzero(sel.any(1)), np.flatnonzero(sel.any(0))
    if our_op in (28, 35) and len(rows):
        h, w = case.input.shape if our_op == 35 else case.grid.shape
        if (rows[-1] == h or cols[-1] == w) and np.array_equal(mine["clip"], case.clip):
            return "copy one row/column past the grid: ARCLE's off-by-one bound copies it"
    return None


def agreement(
    apply: Callable[..., Any], n: int = 500, seed: int = 0, ops: Any = None
) -> dict[int, dict[str, Any]]:
    """Per our operation id: cases, agreements, named exceptions, and unexplained differences."""
    from jaxarc.envs.operations import ARCLE

    arcle_ops, submit = arcle_operations()
    rng = np.random.default_rng(seed)
    report: dict[int, dict[str, Any]] = {}
    for our_op, theirs in ARCLE.items():
        if theirs.id is None or (ops is not None and int(our_op) not in ops):
            continue
        cases = [random_case(rng) for _ in range(n)]
        ours = our_results(apply, cases, int(our_op))
        row: dict[str, Any] = {"cases": n, "agree": 0, "exceptions": {}, "differ": []}
        for case, mine in zip(cases, ours, strict=True):
            ref = arcle_result(case, theirs.id, arcle_ops, submit)
            same = all(np.array_equal(mine[k], ref[k]) for k in ("grid", "clip")) and (
                mine["terminated"] == ref["terminated"]
            )
            if same:
                row["agree"] += 1
            elif (why := exception(int(our_op), case, mine)) is not None:
                row["exceptions"][why] = row["exceptions"].get(why, 0) + 1
            else:
                row["differ"].append(case)
        report[int(our_op)] = row
    return report


def main(argv: list[str]) -> None:
    import jax

    from jaxarc.envs.operations import ARCLE, apply_operation

    n = int(argv[1]) if len(argv) > 1 else 500
    apply = jax.jit(jax.vmap(apply_operation))
    for op, row in agreement(apply, n).items():
        name = ARCLE[op].name
        named = sum(row["exceptions"].values())
        print(
            f"{op:>2} {name:<14} agree {row['agree']:>4}/{row['cases']}  "
            f"named exceptions {named:>4}  unexplained {len(row['differ'])}"
        )


if __name__ == "__main__":
    main(sys.argv)
