"""One fused reduction for every statistic of an event, fetched in one transfer, and its decoding.

:func:`reduce_device` is one jitted XLA computation over every ``[B]`` array and device
scalar of a :class:`~.plan.Plan`. It returns one float32 vector (one buffer, one copy):

- six numbers per ``[B]`` array — kept count, non-finite count, mean, std, max, min over
  finite values of considered entries (a validity mask, when given, says which);
- every float device scalar;
- then, bit for bit, integers in the default int dtype (int32, or int64 when x64 is on):
  the exact max and min of each integer ``[B]`` array, then every integer/bool device
  scalar (float32 holds integers exactly only up to 2**24, so they must not pass through it).

:func:`decode` turns the fetched dict (plus the host scalars, which never travel) into the
design's flat ``{metric: number}``. :mod:`.reference` is the same semantics in plain numpy.

The kernels are tuned for XLA:CPU on a small machine; the measurements behind each choice
are in ``benchmarks/batched_logging.py``'s docstring.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .contract import BY_METRIC, METRIC_ORDER, NONFINITE_SUFFIX, STAT_NAMES
from .plan import Layout

logger = logging.getLogger("jaxarc.logging.batch")

STAT_FIELDS = ("count", "nonfinite", *STAT_NAMES)
#: Long reductions are folded: ``x[K, B]`` becomes the elementwise combination of its FOLD
#: contiguous slices, one to three times while >= MIN_WIDTH columns remain (a chain that
#: vectorises on CPU where one long serial reduction does not; 1.3-3x faster).
FOLD = 8
MIN_WIDTH = 12
#: From this size on, an unmasked batch first tries plain row reductions (XLA's vectorised
#: kernels) and falls back to the careful path when the result shows any NaN/inf.
SHORTCUT_MIN_BATCH = 32768


def fold_levels(width: int) -> int:
    levels = 1
    while levels < 3 and width // FOLD ** (levels + 1) >= MIN_WIDTH:
        levels += 1
    return levels


def _fold(
    x: jax.Array,
    op: Callable[[jax.Array, jax.Array], jax.Array],
    final: Callable[..., jax.Array],
    levels: int,
) -> jax.Array:
    """Reduce ``x[K, B]`` (B a multiple of FOLD**levels) over its last axis."""
    for _ in range(levels):
        width = x.shape[1] // FOLD
        acc = x[:, :width]
        for i in range(1, FOLD):
            acc = op(acc, x[:, i * width : (i + 1) * width])
        x = acc
    return final(x, axis=1)


def _padded(x: jax.Array, fill: Any) -> tuple[jax.Array, int]:
    levels = fold_levels(x.shape[1])
    pad = -x.shape[1] % FOLD**levels
    return (jnp.pad(x, ((0, 0), (0, pad)), constant_values=fill) if pad else x), levels


def _careful_stats(x: jax.Array, considered: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    """``[K, 6]`` statistics of ``x[K, B]`` (float32) and a by-product to drop.

    What is not considered, and the padding, become NaN, so one ``isfinite`` tells what is
    kept; the non-finite count is considered minus kept. The centred values are returned so
    that XLA writes them once: fused into the variance fold, XLA:CPU splits that fold over
    threads, and on 2 cores the hand-off costs more than the fold (B=10k: 110 -> 75 us).
    """
    k, b = x.shape
    if considered is None:
        n_considered = jnp.full((k,), b, jnp.float32)
    else:
        n_considered = jnp.broadcast_to(jnp.sum(considered, dtype=jnp.float32), (k,))
        x = jnp.where(considered, x, jnp.nan)
    x, levels = _padded(x, jnp.nan)
    keep = jnp.isfinite(x)
    count = _fold(keep.astype(jnp.float32), jnp.add, jnp.sum, levels)
    n = jnp.maximum(count, 1.0)
    mean = _fold(jnp.where(keep, x, 0.0), jnp.add, jnp.sum, levels) / n
    centred = jnp.where(keep, x - mean[:, None], 0.0)
    var = _fold(centred * centred, jnp.add, jnp.sum, levels) / n
    vmax = _fold(jnp.where(keep, x, -jnp.inf), jnp.maximum, jnp.max, levels)
    vmin = _fold(jnp.where(keep, x, jnp.inf), jnp.minimum, jnp.min, levels)
    return jnp.stack(
        [count, n_considered - count, mean, jnp.sqrt(var), vmax, vmin], axis=1
    ), centred


def _shortcut_stats(x: jax.Array) -> jax.Array:
    """The same for an unmasked batch, assuming all finite; any NaN/inf in the total or the
    sum of squares sends it to :func:`_careful_stats`."""
    k, b = x.shape
    count = jnp.full((k,), b, jnp.float32)
    mean = jnp.sum(x, axis=1) / b
    sq = jnp.sum(jnp.square(x - mean[:, None]), axis=1)
    fast = jnp.stack(
        [
            count,
            jnp.zeros_like(count),
            mean,
            jnp.sqrt(sq / b),
            jnp.max(x, axis=1),
            jnp.min(x, axis=1),
        ],
        axis=1,
    )
    ok = jnp.all(jnp.isfinite(mean) & jnp.isfinite(sq))
    stats: jax.Array = jax.lax.cond(ok, lambda: fast, lambda: _careful_stats(x, None)[0])
    return stats


def int_dtype() -> np.dtype:
    """The packed integer dtype: int32, or int64 when x64 is on."""
    return np.dtype(jax.dtypes.canonicalize_dtype(np.int64))


def packing(dtype: np.dtype) -> str | None:
    """How an integer dtype travels in the int vector: ``"cast"`` (fits), ``"bitcast"``
    (unsigned of the same width) or ``None`` (not an integer: it goes through float32)."""
    if not np.issubdtype(dtype, np.integer):
        return None
    wide = int_dtype()
    return "cast" if np.iinfo(dtype).max <= np.iinfo(wide).max else "bitcast"


def _to_int(x: jax.Array) -> jax.Array:
    wide = int_dtype()
    if packing(x.dtype) == "cast":
        return x.astype(wide)
    return jax.lax.bitcast_convert_type(x, wide)


#: Integers below this magnitude are exact in float32 (2**24 itself is where rounding starts
#: to bite).
FLOAT32_EXACT = 2**24


def _int_extrema(
    x: jax.Array, considered: jax.Array | None, fmax: jax.Array, fmin: jax.Array
) -> jax.Array:
    """Exact ``[max, min]`` of an integer ``x[B]`` over considered entries, packed.

    The float32 max/min are exact while every value is within 2**24, which the float32
    results show; only a row that goes beyond takes a second, integer pass (an extra
    integer reduction costs ~10 us at any B on 2 cores; the check costs nothing).
    """
    info = np.iinfo(x.dtype)
    if (
        info.max < FLOAT32_EXACT and info.min > -FLOAT32_EXACT
    ):  # int8/int16/uint8/uint16: always exact
        return jnp.stack([fmax, fmin]).astype(int_dtype())

    def exact() -> jax.Array:
        for_max = x if considered is None else jnp.where(considered, x, info.min)
        for_min = x if considered is None else jnp.where(considered, x, info.max)
        return _to_int(jnp.stack([jnp.max(for_max), jnp.min(for_min)]))

    def from_floats() -> jax.Array:
        return _to_int(jnp.stack([fmax, fmin]).astype(x.dtype))

    small = (jnp.abs(fmax) < FLOAT32_EXACT) & (jnp.abs(fmin) < FLOAT32_EXACT)
    extrema: jax.Array = jax.lax.cond(small, from_floats, exact)
    return extrema


def _words(x: jax.Array) -> jax.Array:
    """Integers as float32 words, bit for bit (two words each for int64)."""
    return jax.lax.bitcast_convert_type(x, jnp.float32).reshape(-1)


@jax.jit
def reduce_device(
    vectors: tuple[jax.Array, ...], scalars: tuple[jax.Array, ...], mask: jax.Array | None
) -> tuple[jax.Array, jax.Array | None]:
    """The packed statistics (see the module docstring) and a by-product to drop."""
    floats: list[jax.Array] = []
    ints: list[jax.Array] = []
    by_product = None
    if vectors:
        x = jnp.stack([jnp.asarray(v).astype(jnp.float32) for v in vectors])  # [K, B]
        considered = None if mask is None else jnp.asarray(mask).astype(bool)
        if considered is None and x.shape[1] >= SHORTCUT_MIN_BATCH:
            stats = _shortcut_stats(x)
        else:
            stats, by_product = _careful_stats(x, considered)
        floats.append(stats.reshape(-1))
        ints += [
            _int_extrema(jnp.asarray(v), considered, stats[i, 4], stats[i, 5])
            for i, v in enumerate(vectors)
            if packing(jnp.asarray(v).dtype)
        ]
    for v in scalars:
        v = jnp.asarray(v)
        if jnp.issubdtype(v.dtype, jnp.floating):
            floats.append(v.astype(jnp.float32).reshape(1))
        else:
            ints.append(_to_int(v.astype(int_dtype()) if v.dtype == jnp.bool_ else v).reshape(1))
    if ints:
        floats.append(_words(jnp.concatenate(ints)))
    return (jnp.concatenate(floats) if floats else jnp.zeros((0,), jnp.float32)), by_product


# per task --------------------------------------------------------------------------------
#: the columns of :func:`per_task_stats`
TASK_FIELDS = ("episodes", "successes", "similarity_sum")


def per_task_stats(
    task_ids: jax.Array,
    done: jax.Array | None,
    success: jax.Array | None,
    similarity: jax.Array | None,
    num_tasks: int,
) -> jax.Array:
    """``float32[num_tasks, 3]``: finished episodes, successes and the sum of final
    similarities of each task, over the environments whose episode is counted (``done``).

    One segment sum over the ``[B]`` (or ``[S, B]``, flattened) rows; task ids outside
    ``[0, num_tasks)`` are dropped, as are non-finite similarities (their episode still counts).
    Counts are exact in float32 up to 2**24 episodes per task and update.
    """
    ids = jnp.asarray(task_ids).reshape(-1).astype(jnp.int32)
    counted = jnp.ones(ids.shape, bool) if done is None else jnp.asarray(done).reshape(-1) != 0
    counted = counted & (ids >= 0) & (ids < num_tasks)
    ok = jnp.where(counted, 1.0, 0.0)
    wins = ok if success is None else ok * (jnp.asarray(success).reshape(-1) != 0)
    if similarity is None:
        sims = jnp.full(ids.shape, jnp.nan)
    else:
        sims = jnp.asarray(similarity).reshape(-1).astype(jnp.float32)
    sims = jnp.where(counted & jnp.isfinite(sims), sims, 0.0)
    columns = jnp.stack([ok, wins, sims], axis=1)  # [B, 3]
    segments = jnp.where(counted, ids, num_tasks)  # one extra segment collects the rest
    out = jax.ops.segment_sum(columns, segments, num_segments=num_tasks + 1)
    return out[:num_tasks]


per_task_stats_jit = jax.jit(per_task_stats, static_argnames="num_tasks")


def decode_tasks(
    fetched: np.ndarray, task_names: Any, similarity: bool = True
) -> dict[str, dict[str, float | int]]:
    """``{task name: {"episodes", "successes", "success_rate", "similarity_mean"}}`` of the
    tasks with at least one counted episode, from :func:`per_task_stats`' fetched array."""
    rows = np.asarray(fetched, np.float64).reshape(-1, len(TASK_FIELDS))
    out: dict[str, dict[str, float | int]] = {}
    for i in np.flatnonzero(rows[:, 0] > 0):
        n, wins, sims = rows[i]
        name = str(task_names[i]) if task_names is not None and i < len(task_names) else str(i)
        entry: dict[str, float | int] = {
            "episodes": int(n),
            "successes": int(wins),
            "success_rate": float(wins / n),
        }
        if similarity:
            entry["similarity_mean"] = float(sims / n)
        out[name] = entry
    return out


# decoding ------------------------------------------------------------------------------
# One instruction per metric source, in display order:
# (name, where: "vector"/"rate"/"f"/"i"/"host", offset in the floats, offset in the ints, bitcast).
_Op = tuple[str, str, int, int, bool]


@lru_cache(maxsize=256)
def _program(layout: Layout) -> tuple[int, np.dtype, tuple[_Op, ...]]:
    """Where the int section starts, its dtype, and the instructions in display order."""
    ops: list[tuple[tuple[int, int], _Op]] = []
    f_at = len(layout.vectors) * len(STAT_FIELDS)
    i_at = 0
    for i, slot in enumerate(layout.vectors):
        how = packing(slot.dtype)
        spec = BY_METRIC.get(slot.metric)
        where = "rate" if spec is not None and spec.kind == "rate" else "vector"
        ops.append(
            (
                (0, METRIC_ORDER.get(slot.metric, len(METRIC_ORDER))),
                (slot.metric, where, i * len(STAT_FIELDS), i_at if how else -1, how == "bitcast"),
            )
        )
        i_at += 2 if how else 0
    for slot in layout.host_vectors:  # reduced on the host: numbers from ``host_stats``
        ops.append(
            (
                (0, METRIC_ORDER.get(slot.metric, len(METRIC_ORDER))),
                (slot.metric, "hostvec", -1, -1, False),
            )
        )
    for scalar in layout.scalars:
        order = (1, METRIC_ORDER.get(scalar.metric, len(METRIC_ORDER)))
        if scalar.dtype is None:
            ops.append((order, (scalar.metric, "host", -1, -1, False)))
        elif jnp.issubdtype(scalar.dtype, jnp.floating):
            ops.append((order, (scalar.metric, "f", f_at, -1, False)))
            f_at += 1
        else:
            ops.append((order, (scalar.metric, "i", -1, i_at, packing(scalar.dtype) == "bitcast")))
            i_at += 1
    return f_at, int_dtype(), tuple(op for _, op in sorted(ops, key=lambda item: item[0]))


def _at(step: int | None) -> str:
    return "" if step is None else f" at update {step}"


def decode(
    fetched: np.ndarray,
    layout: Layout,
    host_scalars: dict[str, int | float],
    step: int | None = None,
    host_stats: dict[str, dict[str, float | int]] | None = None,
) -> dict[str, float | int]:
    """The fetched reduction as the design's flat ``{metric: number}``, in display order.

    A ``[B]`` key with no kept value yields no numbers; non-finite values are counted in
    ``<name>_nonfinite`` and warned about. Integer maxima/minima and integer scalars are
    Python ints, exact; host scalars are returned as they came, and the statistics of
    ``layout.host_vectors`` are taken from ``host_stats`` (:func:`host_vector_stats`).
    """
    packed = np.asarray(fetched, np.float32)
    int_start, ints_dtype, program = _program(layout)
    f = packed[:int_start].tolist()  # float32 → Python float is exact
    ints = packed[int_start:].view(ints_dtype)
    unsigned = ints.view(np.dtype(f"u{ints.itemsize}"))
    metrics: dict[str, float | int] = {}
    for name, where, at, int_at, bitcast in program:
        if where == "hostvec":
            metrics.update((host_stats or {}).get(name, {}))
            continue
        if where == "vector" or where == "rate":
            count, nonfinite, mean, std, vmax, vmin = f[at : at + len(STAT_FIELDS)]
            if nonfinite:
                logger.warning(
                    "%s: %d non-finite value(s) (NaN/inf) left out of the statistics%s",
                    name,
                    int(nonfinite),
                    _at(step),
                )
                metrics[name + NONFINITE_SUFFIX] = int(nonfinite)
            if count == 0:
                continue
            if where == "rate":
                metrics[name] = mean
                continue
            if int_at >= 0:
                source = unsigned if bitcast else ints
                vmax, vmin = int(source[int_at]), int(source[int_at + 1])
            metrics[f"{name}_mean"], metrics[f"{name}_std"] = mean, std
            metrics[f"{name}_max"], metrics[f"{name}_min"] = vmax, vmin
            continue
        if where == "i":
            metrics[name] = int((unsigned if bitcast else ints)[int_at])
            continue
        value = host_scalars[name] if where == "host" else f[at]
        if isinstance(value, int) or math.isfinite(value):
            metrics[name] = value
        else:
            logger.warning("%s is %s%s; not logged", name, value, _at(step))
            metrics[name + NONFINITE_SUFFIX] = 1
    return metrics


def host_vector_stats(
    slots: tuple[Any, ...], values: tuple[np.ndarray, ...], mask: np.ndarray | None
) -> dict[str, dict[str, float | int]]:
    """The statistics of host integer ``[B]`` arrays, exactly, in numpy: mean and std in
    float64, max and min as Python ints (their dtype may not fit the device's int32).

    Args:
        slots: the arrays' :class:`~.plan.VectorSlot` s (``layout.host_vectors``).
        values: the arrays, ``[B]`` each.
        mask: ``[B]`` bool, which entries count (``None``: all).

    Returns:
        ``{metric: {name: number}}``; no numbers for an array with no counted entry.
    """
    out: dict[str, dict[str, float | int]] = {}
    for slot, x in zip(slots, values, strict=True):
        kept = x if mask is None else x[np.asarray(mask).astype(bool)]
        spec = BY_METRIC.get(slot.metric)
        if kept.size == 0:
            out[slot.metric] = {}
        elif spec is not None and spec.kind == "rate":
            out[slot.metric] = {slot.metric: float(np.mean(kept, dtype=np.float64))}
        else:
            low = kept.min()
            # the distance to the minimum, exact in wrapping 64-bit arithmetic (it is below
            # 2**64 whatever the values), then float64: mean and std keep float64 precision
            # where the values themselves (beyond 2**53) would lose it
            above = (kept.view(np.uint64) - low.view(np.uint64)).astype(np.float64)
            out[slot.metric] = {
                f"{slot.metric}_mean": float(int(low)) + float(np.mean(above)),
                f"{slot.metric}_std": float(np.std(above)),
                f"{slot.metric}_max": int(kept.max()),
                f"{slot.metric}_min": int(kept.min()),
            }
    return out
