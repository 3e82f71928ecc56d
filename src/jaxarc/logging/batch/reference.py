"""The design's batch statistics in plain numpy: the meaning, without the speed.

:func:`reference` is what :mod:`.reduce` computes, written to be read: the property tests
compare the fast path against it, and a reader who wants to know what a logged number
means can start here. It takes well-formed input (bad keys are the planner's business and
are simply left out here).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ...config import LoggingConfig
from .contract import BY_KEY, CONTRACT, MASK_KEYS, NONFINITE_SUFFIX, NOT_METRICS


def describe(x: np.ndarray) -> dict[str, float]:
    """mean/std/max/min of a 1-D array (population std), in float64."""
    return {
        "mean": float(np.mean(x)),
        "std": float(np.std(x)),
        "max": float(np.max(x)),
        "min": float(np.min(x)),
    }


def reference(
    batch_data: Mapping[str, Any], config: LoggingConfig | None = None
) -> dict[str, float | int]:
    """The flat ``{metric: number}`` the design asks for, computed in float64.

    - a ``[B]`` array → ``<metric>_mean/_std/_max/_min`` over its finite values of finished
      episodes (``episode_done_mask`` or ``valid_mask``, when present); ``success_mask`` →
      ``success_rate``, the fraction of finished episodes that succeeded;
    - NaN/inf are left out and counted in ``<metric>_nonfinite``; no finished finite value
      → no numbers at all (never a zero);
    - a scalar is passed through (a non-finite one becomes ``<name>_nonfinite = 1``);
    - a ``LoggingConfig`` flag that is off drops its keys.
    """
    config = config or LoggingConfig()
    mask_key = next((k for k in MASK_KEYS if k in batch_data), None)
    done = None if mask_key is None else np.asarray(batch_data[mask_key]).astype(bool)
    vectors: dict[str, dict[str, float | int]] = {}
    scalars: dict[str, float | int] = {}
    for key, value in batch_data.items():
        spec = BY_KEY.get(key)
        if key in NOT_METRICS or (
            spec is not None and spec.flag is not None and not getattr(config, spec.flag)
        ):
            continue
        if isinstance(value, list | tuple | str):
            continue  # not a number or an array: the planner skips it with a warning
        name = spec.metric if spec is not None else key
        x = np.asarray(value)
        if x.size == 1 and (spec is None or spec.kind == "scalar"):
            _scalar(scalars, name, x.reshape(()).item() if hasattr(value, "dtype") else value)
            continue
        considered = np.ones(x.shape, bool) if done is None else done
        values = x.astype(np.float64)
        kept = considered & np.isfinite(values)
        out: dict[str, float | int] = {}
        if (considered & ~kept).any():
            out[name + NONFINITE_SUFFIX] = int((considered & ~kept).sum())
        if kept.any():
            if spec is not None and spec.kind == "rate":
                out[name] = float(values[kept].mean())
            else:
                stats = describe(values[kept])
                if np.issubdtype(x.dtype, np.integer):  # integer extremes are exact
                    stats["max"], stats["min"] = int(x[kept].max()), int(x[kept].min())
                out.update({f"{name}_{stat}": v for stat, v in stats.items()})
        vectors[name] = out
    order = {spec.metric: i for i, spec in enumerate(CONTRACT)}
    metrics: dict[str, float | int] = {}
    for name in sorted(vectors, key=lambda n: order.get(n, len(order))):
        metrics.update(vectors[name])
    for name in sorted(
        scalars, key=lambda n: order.get(n.removesuffix(NONFINITE_SUFFIX), len(order))
    ):
        metrics[name] = scalars[name]
    return metrics


def _scalar(out: dict[str, float | int], name: str, value: Any) -> None:
    if isinstance(value, bool | np.bool_):
        value = int(value)
    if isinstance(value, int) or math.isfinite(value):
        out[name] = value
    else:
        out[name + NONFINITE_SUFFIX] = 1
