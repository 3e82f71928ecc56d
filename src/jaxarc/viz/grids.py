"""Turn whatever a payload carries (arrays, dicts, env states) into plain numpy grids."""

from __future__ import annotations

from collections.abc import Mapping
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
