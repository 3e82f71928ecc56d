"""Checking ``batch_data`` before any device work: what is reduced, passed through, or skipped.

:func:`plan_batch` looks at keys, types, shapes and dtypes only (never at device values) and
returns a :class:`Plan`: the ``[B]`` arrays to reduce, the device scalars to fetch, the host
scalars to pass through as they are, and (when episodes are sampled) the per-environment
rows. Each bad value is skipped with one warning naming the key and the problem.

A training loop sends the same layout on every update, so :class:`PlanCache` checks each
layout once and afterwards only picks the values out of ``batch_data``.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ...config import LoggingConfig
from .contract import BY_KEY, MASK_KEYS, NOT_METRICS, PER_ENV_KEYS, STAT_NAMES, STATE_KEYS

logger = logging.getLogger("jaxarc.logging.batch")


class VectorSlot(NamedTuple):
    metric: str
    key: str
    dtype: np.dtype  # as it is on the device (int64 is int32 unless x64 is on)
    # a host (numpy) 64-bit integer array: reduced exactly in numpy on the host (it is there
    # already; on a device without x64 it would wrap at ±2³¹)
    on_host: bool = False
    as_float: bool = False  # the same inside jax.jit: sent as float32 instead


class ScalarSlot(NamedTuple):
    metric: str
    key: str
    dtype: np.dtype | None  # None: a host scalar, passed through
    flat: bool = False  # came as shape (1,)


@dataclass(frozen=True)
class Layout:
    """A checked batch layout, without values: enough to read values and decode results.

    Attributes:
        batch_size: ``B``, or ``None`` when the batch has no ``[B]`` array.
        vectors: each ``[B]`` array reduced on device.
        host_vectors: each host 64-bit integer ``[B]`` array, reduced exactly on the host.
        scalars: each scalar, in ``batch_data``'s order: device scalars are fetched with
            the statistics, host scalars (Python/numpy) passed through unchanged.
        mask_key: the key of the validity mask, if any.
    """

    batch_size: int | None
    vectors: tuple[VectorSlot, ...] = ()
    scalars: tuple[ScalarSlot, ...] = ()
    mask_key: str | None = None
    host_vectors: tuple[VectorSlot, ...] = ()
    _hash: int = field(init=False, repr=False, compare=False, default=0)
    device_scalars: tuple[ScalarSlot, ...] = field(
        init=False, repr=False, compare=False, default=()
    )
    host_scalars: tuple[ScalarSlot, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:  # derived once: every logged event reads them
        object.__setattr__(
            self,
            "_hash",
            hash((self.batch_size, self.vectors, self.scalars, self.mask_key, self.host_vectors)),
        )
        object.__setattr__(
            self, "device_scalars", tuple(s for s in self.scalars if s.dtype is not None)
        )
        object.__setattr__(self, "host_scalars", tuple(s for s in self.scalars if s.dtype is None))

    def __hash__(self) -> int:
        return self._hash

    def take(self, batch_data: Mapping[str, Any]) -> Plan:
        """The values of this layout in ``batch_data`` (no checks, no device work)."""
        return Plan(
            self,
            tuple(
                [
                    np.asarray(batch_data[s.key], np.float32) if s.as_float else batch_data[s.key]
                    for s in self.vectors
                ]
            ),
            tuple(
                [
                    batch_data[s.key].reshape(()) if s.flat else batch_data[s.key]
                    for s in self.device_scalars
                ]
            ),
            {s.metric: host_value(batch_data[s.key]) for s in self.host_scalars},
            None if self.mask_key is None else batch_data[self.mask_key],
            host_vectors=tuple([np.asarray(batch_data[s.key]) for s in self.host_vectors]),
        )


@dataclass
class Plan:
    """A :class:`Layout` with the values of one ``batch_data``."""

    layout: Layout
    vectors: tuple[Any, ...] = ()
    device_scalars: tuple[Any, ...] = ()
    host_scalars: dict[str, int | float] = field(default_factory=dict)
    mask: Any = None
    per_env: dict[str, Any] = field(default_factory=dict)  # [B, ...] pytrees to sample rows from
    task_names: list[str] | None = None  # one name per environment, when task_ids is a list
    host_vectors: tuple[np.ndarray, ...] = ()  # the values of ``layout.host_vectors``

    @property
    def batch_size(self) -> int | None:
        return self.layout.batch_size


def _shape(x: Any) -> tuple[int, ...] | None:
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else None


def is_numeric_array(x: Any) -> bool:
    """Real numbers or bools (bfloat16 included: ``jnp.issubdtype`` knows the ml_dtypes)."""
    dtype = getattr(x, "dtype", None)
    return (
        dtype is not None
        and (jnp.issubdtype(dtype, jnp.number) or jnp.issubdtype(dtype, jnp.bool_))
        and not jnp.issubdtype(dtype, jnp.complexfloating)
    )


def is_tracer(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def contains_tracer(tree: Any) -> bool:
    return any(is_tracer(leaf) for leaf in jax.tree.leaves(tree))


def _on_device(x: Any) -> bool:
    return isinstance(x, jax.Array)  # includes tracers


def device_dtype(value: Any) -> np.dtype:
    """The dtype ``value`` has on the device (numpy int64 becomes int32 unless x64 is on)."""
    return np.dtype(jax.dtypes.canonicalize_dtype(value.dtype))


def host_value(value: Any) -> int | float:
    """A host scalar as a Python number, unchanged: ints stay ints (bools become 0/1), floats
    stay floats."""
    if isinstance(value, np.ndarray | np.generic):
        value = value.reshape(()).item() if isinstance(value, np.ndarray) else value.item()
    if isinstance(value, bool | numbers.Integral):
        return int(value)
    return float(value)


def _scalar_kind(value: Any) -> str | None:
    """``"host"`` or ``"device"`` for a scalar (shape ``()`` or ``(1,)``), else ``None``."""
    if isinstance(value, np.ndarray | np.generic) or _on_device(value):
        if _shape(value) in ((), (1,)) and is_numeric_array(value):
            return "device" if _on_device(value) else "host"
        return None
    return "host" if isinstance(value, bool | numbers.Real) else None


def _describe(value: Any) -> str:
    shape = _shape(value)
    return (
        f"an array of shape {shape}"
        if shape is not None
        else f"{type(value).__name__} {value!r:.40}"
    )


def batch_size_of(batch_data: Mapping[str, Any]) -> int | None:
    """``B``: the length of the first ``[B]`` array, the design's keys first."""
    for key in (*(k for k in PER_ENV_KEYS if k not in MASK_KEYS), *batch_data):
        if key in NOT_METRICS:
            continue
        shape = _shape(batch_data.get(key))
        if shape is not None and len(shape) == 1 and shape[0] > 0:
            return shape[0]
    return None


def _vector_problem(value: Any, size: int | None) -> str | None:
    """Why ``value`` is not a usable ``[B]`` array (``None`` when it is)."""
    if isinstance(value, list | tuple):
        return f"is a {type(value).__name__}, expected an array of shape [B]; pass jnp.asarray(...)"
    shape = _shape(value)
    if shape is None or not is_numeric_array(value):
        return f"is not a numeric array (got {type(value).__name__})"
    if len(shape) != 1:
        return f"has shape {shape}, expected [B]" + (f" = [{size}]" if size else "")
    if shape[0] == 0:
        return "is empty"
    if size is not None and shape[0] != size:
        return f"has length {shape[0]} but the batch size is {size}"
    return None


Warn = Callable[[str, str], None]


def _skipper(warn: bool) -> Warn:
    def skip(key: str, why: str) -> None:
        if warn:
            logger.warning("batch_data[%r] %s; skipped (the other keys are still logged)", key, why)

    return skip


def _vector_ok(key: str, value: Any, size: int | None, skip: Warn) -> bool:
    problem = _vector_problem(value, size)
    if problem is not None:
        skip(key, problem)
    return problem is None


def _layout(
    batch_data: Mapping[str, Any], config: LoggingConfig, size: int | None, skip: Warn
) -> Layout:
    traced = contains_tracer(batch_data)
    """Sort every key into vectors, device scalars and host scalars (or skip it)."""
    mask_key = next(
        (k for k in MASK_KEYS if k in batch_data and _vector_ok(k, batch_data[k], size, skip)), None
    )
    vectors: list[VectorSlot] = []
    scalars: list[ScalarSlot] = []
    for key, value in batch_data.items():
        if key in NOT_METRICS:
            continue
        spec = BY_KEY.get(key)
        if spec is not None and spec.flag is not None and not getattr(config, spec.flag):
            continue
        metric = spec.metric if spec is not None else key
        if spec is not None and spec.kind != "scalar":
            if _vector_ok(key, value, size, skip):
                vectors.append(_vector_slot(metric, key, value, traced))
            continue
        kind = _scalar_kind(value)
        if kind == "host":
            scalars.append(ScalarSlot(metric, key, None))
        elif kind == "device":
            scalars.append(ScalarSlot(metric, key, device_dtype(value), _shape(value) == (1,)))
        elif spec is not None:
            skip(key, f"should be a number, got {_describe(value)}")
        elif _vector_ok(key, value, size, skip):
            vectors.append(_vector_slot(metric, key, value, traced))
    vectors, scalars = _without_collisions(vectors, scalars, skip)
    on_device = tuple(v for v in vectors if not v.on_host)
    on_host = tuple(v for v in vectors if v.on_host)
    return Layout(size, on_device, tuple(scalars), mask_key, on_host)


def _vector_slot(metric: str, key: str, value: Any, traced: bool) -> VectorSlot:
    """A host 64-bit integer array would wrap at ±2³¹ on a device without x64: it is reduced
    exactly on the host, where it already is. Inside ``jax.jit`` (a numpy constant beside
    traced values) it is reduced on device as float32 (exact below 2²⁴), with a warning."""
    dtype = device_dtype(value)
    wide = isinstance(value, np.ndarray) and value.dtype.kind in "iu" and value.dtype.itemsize == 8
    if wide and dtype.itemsize < 8:
        if not traced:
            return VectorSlot(metric, key, np.dtype(value.dtype), on_host=True)
        logger.warning(
            "batch_data[%r] is a numpy %s constant inside jax.jit: its statistics are computed "
            "in float32 (exact below 2**24), as JAX without x64 would wrap its values at ±2**31",
            key,
            value.dtype,
        )
        return VectorSlot(metric, key, np.dtype(np.float32), as_float=True)
    return VectorSlot(metric, key, dtype)


def _names(slot: VectorSlot | ScalarSlot) -> tuple[str, ...]:
    spec = BY_KEY.get(slot.key)
    if isinstance(slot, ScalarSlot):
        return (slot.metric,)
    if spec is not None and spec.kind == "rate":
        return (slot.metric,)
    return tuple(f"{slot.metric}_{s}" for s in STAT_NAMES)


def _without_collisions(
    vectors: list[VectorSlot], scalars: list[ScalarSlot], skip: Warn
) -> tuple[list[VectorSlot], list[ScalarSlot]]:
    """Drop keys outside the contract whose metric names another key already produces
    (a ``reward`` array beside ``episode_returns``, a scalar ``success_rate``...)."""
    slots: list[VectorSlot | ScalarSlot] = [*vectors, *scalars]
    taken: dict[str, str] = {}
    for slot in slots:
        if slot.key in BY_KEY:
            taken.update(dict.fromkeys(_names(slot), slot.key))
    kept_vectors: list[VectorSlot] = []
    kept_scalars: list[ScalarSlot] = []
    for slot in slots:
        clash = next((taken[n] for n in _names(slot) if taken.get(n, slot.key) != slot.key), None)
        if clash is not None:
            skip(slot.key, f"would overwrite the metrics of batch_data[{clash!r}]; rename it")
            continue
        taken.update(dict.fromkeys(_names(slot), slot.key))
        if isinstance(slot, VectorSlot):
            kept_vectors.append(slot)
        else:
            kept_scalars.append(slot)
    return kept_vectors, kept_scalars


def _per_env(batch_data: Mapping[str, Any], plan: Plan, skip: Warn) -> None:
    """The rows a sampled episode summary is built from."""
    size = plan.batch_size
    for key in PER_ENV_KEYS:
        value = batch_data.get(key)
        if _shape(value) == (size,) and is_numeric_array(value):
            plan.per_env[key] = value
    ids = batch_data.get("task_ids")
    if isinstance(ids, list | tuple):
        if len(ids) == size:
            plan.task_names = [str(t) for t in ids]
        else:
            skip("task_ids", f"has length {len(ids)} but the batch size is {size}")
    elif ids is not None and _shape(ids) == (size,):
        plan.per_env["task_ids"] = ids
    for key in STATE_KEYS:
        value = batch_data.get(key)
        if value is None:
            continue
        leaves = jax.tree.leaves(value)
        if leaves and all((_shape(leaf) or ())[:1] == (size,) for leaf in leaves):
            plan.per_env[key] = value
        else:
            skip(key, f"must be arrays (or a pytree of arrays) with leading dimension B={size}")


def plan_batch(
    batch_data: Mapping[str, Any], config: LoggingConfig, *, want_samples: bool, warn: bool = True
) -> Plan:
    """Check every key of ``batch_data`` (shapes and types only: no device work).

    Bad values produce one warning each (unless ``warn`` is false), naming the key and the
    problem, and are skipped.
    """
    skip = _skipper(warn)
    size = batch_size_of(batch_data)
    plan = _layout(batch_data, config, size, skip).take(batch_data)
    if want_samples and size is not None:
        _per_env(batch_data, plan, skip)
    return plan


_ARRAY_TYPES: set[type] = {
    np.ndarray
}  # concrete array classes seen so far (jax's is added on first sight)
_NUMBER_TYPES = {int, float, bool}


def signature(batch_data: Mapping[str, Any]) -> tuple[Any, ...]:
    """What :func:`plan_batch` looks at: each key's type, shape and dtype (length for lists)."""
    sig: list[Any] = []
    for key, value in batch_data.items():
        kind = type(value)
        if kind in _ARRAY_TYPES:
            sig.append((key, kind, value.shape, value.dtype))
        elif kind in _NUMBER_TYPES:
            sig.append((key, kind))
        elif kind is list or kind is tuple:
            sig.append((key, kind, len(value)))
        else:
            if isinstance(value, jax.Array) and not is_tracer(value):
                _ARRAY_TYPES.add(kind)
            sig.append((key, kind, getattr(value, "shape", None), getattr(value, "dtype", None)))
    return tuple(sig)


class PlanCache:
    """:func:`plan_batch` remembered per batch layout (keys, types, shapes, dtypes).

    The checks (and a bad key's warning) run the first time a layout is seen; later events
    with that layout only read the values. Sampling events still gather their per-env rows.
    """

    def __init__(self, config: LoggingConfig, max_layouts: int = 64):
        self.config = config
        self.max_layouts = max_layouts
        self._layouts: dict[tuple[Any, ...], Layout] = {}

    def plan(self, batch_data: Mapping[str, Any], *, want_samples: bool = False) -> Plan:
        sig = signature(batch_data)
        layout = self._layouts.get(sig)
        if layout is not None and not want_samples:
            return layout.take(batch_data)
        plan = plan_batch(batch_data, self.config, want_samples=want_samples, warn=layout is None)
        if layout is None:
            if len(self._layouts) >= self.max_layouts:
                self._layouts.clear()
            self._layouts[sig] = plan.layout
        return plan
