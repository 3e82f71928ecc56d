"""Turn whatever a payload carries (arrays, dicts, env states) into plain numpy grids."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..types import to_numpy_grid

#: The standard ARC colours, indexed by colour id 0-9.
ARC_PALETTE = (
    "#000000",  # 0 black
    "#0074D9",  # 1 blue
    "#FF4136",  # 2 red
    "#2ECC40",  # 3 green
    "#FFDC00",  # 4 yellow
    "#AAAAAA",  # 5 grey
    "#F012BE",  # 6 magenta
    "#FF851B",  # 7 orange
    "#7FDBFF",  # 8 sky blue
    "#870C25",  # 9 maroon
)


def as_grid(value: Any) -> np.ndarray | None:
    """A 2-D int grid from an array, a nested list, ``{"grid", "mask"}`` or a ``State``.

    Padded grids are cropped to their mask; ``None`` (or anything else) gives ``None``.
    """
    if value is None:
        return None
    if hasattr(value, "working_grid") and hasattr(value, "working_grid_mask"):
        return to_numpy_grid(value.working_grid, value.working_grid_mask)
    if isinstance(value, Mapping):
        if "grid" not in value:
            return None
        return to_numpy_grid(value["grid"], value.get("mask"))
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 2 or arr.size == 0 or not np.issubdtype(arr.dtype, np.number):
        return None
    return arr.astype(np.int16)


def grids_rgb(grids: Iterable[np.ndarray | None], cell: int = 8, gap: int = 2) -> np.ndarray:
    """Grids side by side as one ``uint8[H, W, 3]`` image (ARC palette, white gaps and grid
    lines)."""
    palette = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in ARC_PALETTE], np.uint8)
    shown = [g for g in grids if g is not None and g.size]
    height = max((g.shape[0] for g in shown), default=1) * cell
    width = sum(g.shape[1] * cell for g in shown) + gap * cell * max(len(shown) - 1, 0)
    image = np.full((max(height, 1), max(width, 1), 3), 255, np.uint8)
    x = 0
    for g in shown:
        block = palette[np.clip(g, 0, 9)].repeat(cell, 0).repeat(cell, 1)
        block[::cell, :] = block[:, ::cell] = 85  # grid lines
        image[: block.shape[0], x : x + block.shape[1]] = block
        x += block.shape[1] + gap * cell
    return image
