"""Readable ARC pictures: grids in the ARC palette with grid lines, drawn with drawsvg.

Cells are emitted as one ``<rect class="cell">`` each inside a ``drawsvg.Raw`` group built
with plain string formatting: a 30×30 grid costs well under a millisecond. Only generic
font families are used, so nothing is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import drawsvg as dw
import numpy as np
from numpy.typing import ArrayLike

from .grids import ARC_PALETTE

FONT = "monospace"
PAD = 10
TITLE_H = 22
LABEL_H = 16
GAP = 24


def _runs(mask: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """(row, first col, length) of each horizontal run of True cells."""
    for r in range(mask.shape[0]):
        row = np.concatenate([[False], mask[r], [False]])
        edges = np.flatnonzero(row[1:] != row[:-1])
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            yield r, int(a), int(b - a)


def _cells(
    grid: np.ndarray,
    x: float,
    y: float,
    cell: float,
    selection: np.ndarray | None = None,
    changed: np.ndarray | None = None,
) -> str:
    h, w = grid.shape
    xs = [f'x="{x + c * cell:g}"' for c in range(w)]
    size = f'width="{cell:g}" height="{cell:g}"'
    fills = [f'fill="{colour}"' for colour in ARC_PALETTE] + ['fill="#FFFFFF"']  # index -1: unknown
    values: list[list[int]] = np.clip(grid, -1, 9).tolist()
    parts: list[str] = []
    for r, row in enumerate(values):
        head = f'<rect class="cell" y="{y + r * cell:g}" {size} '
        parts.extend(f"{head}{xs[c]} {fills[v]} />" for c, v in enumerate(row))
    if selection is not None and selection[:h, :w].any():
        outline = "".join(
            f"M{x + c * cell + 1:g},{y + r * cell + 1:g}"
            f"h{n * cell - 2:g}v{cell - 2:g}h{2 - n * cell:g}z"
            for r, c, n in _runs(np.asarray(selection[:h, :w], bool))
        )
        parts.append(
            f'<path class="selection" d="{outline}" fill="#FFFFFF" fill-opacity="0.18" '
            'stroke="#FFFFFF" stroke-width="2" stroke-dasharray="3,2" />'
        )
    if changed is not None and changed.any():
        rad = cell / 6
        dots = "".join(
            f"M{x + (c + 0.5) * cell - rad:g},{y + (r + 0.5) * cell:g}"
            f"a{rad:g},{rad:g} 0 1,0 {2 * rad:g},0a{rad:g},{rad:g} 0 1,0 {-2 * rad:g},0"
            for r, c in zip(*np.nonzero(changed), strict=True)
        )
        parts.append(
            f'<path class="changed" d="{dots}" '
            'fill="#FFFFFF" stroke="#000000" stroke-width="0.8" />'
        )
    lines = [f"M{x:g},{y + r * cell:g}h{w * cell:g}" for r in range(h + 1)]
    lines += [f"M{x + c * cell:g},{y:g}v{h * cell:g}" for c in range(w + 1)]
    parts.append(
        f'<path class="gridlines" d="{"".join(lines)}" '
        'stroke="#555555" stroke-width="0.6" fill="none" />'
    )
    return "".join(parts)


def _panel(
    d: dw.Drawing,
    grid: np.ndarray | None,
    x: float,
    y: float,
    cell: float,
    label: str,
    **marks: np.ndarray | None,
) -> None:
    d.append(dw.Text(label, 11, x, y + 11, font_family=FONT, fill="#222222"))
    if grid is None or grid.size == 0:
        d.append(dw.Text("(no grid)", 11, x, y + LABEL_H + 14, font_family=FONT, fill="#888888"))
        return
    d.append(
        dw.Raw(
            f'<g class="grid" data-label="{label}">'
            f"{_cells(grid, x, y + LABEL_H, cell, **marks)}</g>"
        )
    )


def _row(
    title: str,
    panels: Sequence[tuple[str, np.ndarray | None, dict[str, np.ndarray | None]]],
    cell: float,
    footer: str = "",
) -> dw.Drawing:
    widths = [max((g.shape[1] if g is not None and g.size else 6) * cell, 70) for _, g, _ in panels]
    heights = [(g.shape[0] if g is not None and g.size else 2) * cell for _, g, _ in panels]
    width = PAD * 2 + sum(widths) + GAP * (len(panels) - 1)
    height = PAD * 2 + TITLE_H + LABEL_H + max(heights) + (LABEL_H if footer else 0)
    width = max(
        width, 260, PAD * 2 + 8.2 * len(title), PAD * 2 + 7 * len(footer)
    )  # room for the text (monospace)
    d = dw.Drawing(width, height)
    d.append(dw.Rectangle(0, 0, width, height, fill="#FFFFFF"))
    d.append(
        dw.Text(title, 13, PAD, PAD + 12, font_family=FONT, font_weight="bold", fill="#111111")
    )
    x: float = PAD
    for (label, grid, marks), w in zip(panels, widths, strict=True):
        _panel(d, grid, x, PAD + TITLE_H, cell, label, **marks)
        x += w + GAP
    if footer:
        d.append(dw.Text(footer, 11, PAD, height - PAD, font_family=FONT, fill="#333333"))
    return d


def grid_svg(grid: np.ndarray, cell: float = 16, title: str = "") -> str:
    """One grid as an SVG document."""
    svg: str = _row(title, [("", np.asarray(grid), {})], cell).as_svg()
    return svg


def step_svg(
    before: np.ndarray | None,
    after: np.ndarray | None,
    *,
    selection: ArrayLike | None = None,
    operation: str = "",
    reward: float | None = None,
    step: int | None = None,
    similarity: float | None = None,
    cell: float = 16,
) -> str:
    """Before and after grids; the selection is dashed on ``before`` and changed cells dotted
    on ``after``."""
    changed: np.ndarray | None = None
    if before is not None and after is not None and before.shape == after.shape:
        changed = before != after
    title = f"step {step}: {operation}" if step is not None else operation
    footer = " ".join(
        part
        for part in (
            f"reward {reward:+.3f}" if reward is not None else "",
            f"similarity {similarity:.3f}" if similarity is not None else "",
        )
        if part
    )
    sel = None if selection is None else np.asarray(selection, dtype=bool)
    svg: str = _row(
        title,
        [("before", before, {"selection": sel}), ("after", after, {"changed": changed})],
        cell,
        footer,
    ).as_svg()
    return svg


def episode_summary_svg(
    initial: np.ndarray | None,
    final: np.ndarray | None,
    target: np.ndarray | None = None,
    *,
    title: str = "episode",
    similarity: float | None = None,
    success: bool | None = None,
    reward: float | None = None,
    cell: float = 16,
) -> str:
    """Initial, final (and target) grids side by side with the outcome underneath."""
    panels: list[tuple[str, np.ndarray | None, dict[str, np.ndarray | None]]] = [
        ("initial", initial, {}),
        ("final", final, {}),
    ]
    if target is not None:
        panels.append(("target", target, {}))
    footer = "  ".join(
        part
        for part in (
            f"similarity {similarity:.3f}" if similarity is not None else "",
            ("SOLVED" if success else "not solved") if success is not None else "",
            f"return {reward:+.3f}" if reward is not None else "",
        )
        if part
    )
    svg: str = _row(title, panels, cell, footer).as_svg()
    return svg


def task_overview_svg(
    task_id: str,
    train_pairs: Sequence[tuple[np.ndarray | None, np.ndarray | None]],
    test_inputs: Sequence[np.ndarray | None],
    cell: float = 12,
) -> str:
    """All train pairs (input above output, one pair per column) and the test inputs of a task."""
    columns: list[tuple[str, np.ndarray | None, np.ndarray | None]] = [
        (f"train {i}", a, b) for i, (a, b) in enumerate(train_pairs)
    ] + [(f"test {i}", t, None) for i, t in enumerate(test_inputs)]

    def size(g: np.ndarray | None) -> tuple[int, ...]:
        return (0, 0) if g is None or g.size == 0 else g.shape

    widths = [max(max(size(a)[1], size(b)[1]) * cell, 60) for _, a, b in columns]
    top_h = max(size(a)[0] for _, a, _ in columns) * cell
    bottom_h = max(size(b)[0] for _, _, b in columns) * cell
    width = max(
        PAD * 2 + sum(widths) + GAP * (len(columns) - 1), PAD * 2 + 8.2 * (len(task_id) + 5)
    )
    height = PAD * 2 + TITLE_H + 2 * LABEL_H + top_h + bottom_h + GAP
    d = dw.Drawing(width, height)
    d.append(dw.Rectangle(0, 0, width, height, fill="#FFFFFF"))
    d.append(
        dw.Text(
            f"task {task_id}",
            13,
            PAD,
            PAD + 12,
            font_family=FONT,
            font_weight="bold",
            fill="#111111",
        )
    )
    x: float = PAD
    for (label, a, b), w in zip(columns, widths, strict=True):
        _panel(d, a, x, PAD + TITLE_H, cell, f"{label} in")
        if b is not None:
            _panel(d, b, x, PAD + TITLE_H + LABEL_H + top_h + GAP, cell, f"{label} out")
        x += w + GAP
    svg: str = d.as_svg()
    return svg


def replay_svg(
    frames: Sequence[tuple[str, np.ndarray, np.ndarray | None]], title: str = "", cell: float = 10
) -> str:
    """An episode step by step: one grid per frame, labelled (e.g. ``"3 fill_2"``), with the
    step's selection dashed and the cells it changed dotted."""
    panels: list[tuple[str, np.ndarray | None, dict[str, np.ndarray | None]]] = []
    previous: np.ndarray | None = None
    for label, grid, selection in frames:
        same_shape = previous is not None and previous.shape == grid.shape
        changed = (previous != grid) if same_shape and previous is not None else None
        panels.append((label, grid, {"selection": selection, "changed": changed}))
        previous = grid
    svg: str = _row(title, panels, cell).as_svg()
    return svg
