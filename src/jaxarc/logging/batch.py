"""The numeric half of batched logging: validation, one fused reduction, sampling.

Everything that touches device values is a single jitted function whose result is fetched
with one ``jax.device_get``:

- :func:`reduce_batch` computes mean/std/max/min and the count of non-finite values for
  every ``[B]`` array, over finite (and, with a validity mask, finished) entries only, plus
  every scalar, in one XLA computation.
- :func:`gather_samples` picks ``num_samples`` environments with
  ``jax.random.PRNGKey(update_step)`` and gathers only their rows on device.

:func:`plan_batch` is the host-side check that runs before any device work: it decides
which keys are aggregated, which are passed through, and which are skipped with one warning
each (lists, strings, empty arrays, wrong lengths, 2-D where ``[B]`` is expected).
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..envs.config import LoggingConfig

logger = logging.getLogger("jaxarc.logging.batch")

#: ``[B]`` keys of the design with their metric prefix and the flag that switches them off.
VECTOR_METRICS = {
    "episode_returns": ("reward", "log_aggregated_rewards"),
    "similarity_scores": ("similarity", "log_aggregated_similarity"),
    "episode_lengths": ("episode_length", "log_episode_lengths"),
}
SUCCESS_KEY = "success_mask"
#: Scalar keys with the flag that switches them off (``None``: always passed through).
SCALAR_METRICS = {
    "policy_loss": "log_loss_metrics",
    "value_loss": "log_loss_metrics",
    "gradient_norm": "log_gradient_norms",
    "entropy": None,
    "explained_variance": None,
    "learning_rate": None,
}
MASK_KEYS = ("episode_done_mask", "valid_mask")
STATE_KEYS = ("initial_states", "final_states", "target_states")
NOT_METRICS = ("update_step", "task_ids", *STATE_KEYS, *MASK_KEYS)
STAT_NAMES = ("mean", "std", "max", "min")


def _is_tracer(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def contains_tracer(tree: Any) -> bool:
    return any(_is_tracer(leaf) for leaf in jax.tree.leaves(tree))


@dataclass
class BatchPlan:
    """What to reduce: ``vectors`` (metric prefix → [B] array), ``scalars`` (name → scalar)."""

    batch_size: int | None
    vectors: dict[str, Any] = field(default_factory=dict)
    scalars: dict[str, Any] = field(default_factory=dict)
    mask: Any = None
    per_env: dict[str, Any] = field(default_factory=dict)  # rows to sample: [B, ...] pytrees
    task_names: list[str] | None = None


def _shape(x: Any) -> tuple[int, ...] | None:
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else None


def _is_numeric_array(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    return dtype is not None and (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_))


def _batch_size(batch_data: Mapping[str, Any]) -> int | None:
    for key in ("episode_returns", *VECTOR_METRICS, SUCCESS_KEY):
        shape = _shape(batch_data.get(key))
        if shape is not None and len(shape) == 1 and shape[0] > 0:
            return shape[0]
    for key, value in batch_data.items():
        shape = _shape(value)
        if key not in NOT_METRICS and shape is not None and len(shape) == 1 and shape[0] > 0:
            return shape[0]
    return None


def plan_batch(batch_data: Mapping[str, Any], config: LoggingConfig, *, want_samples: bool) -> BatchPlan:
    """Check every key of ``batch_data`` (shapes and types only: no device work).

    Bad values produce one warning each, naming the key and the problem, and are skipped.
    """
    size = _batch_size(batch_data)
    plan = BatchPlan(batch_size=size)

    def skip(key: str, why: str) -> None:
        logger.warning("batch_data[%r] %s; skipped (the other keys are still logged)", key, why)

    def check_vector(key: str, value: Any) -> bool:
        if isinstance(value, list | tuple):
            skip(key, f"is a {type(value).__name__}, expected an array of shape [B]; pass jnp.asarray(...)")
            return False
        shape = _shape(value)
        if shape is None or not _is_numeric_array(value):
            skip(key, f"is not a numeric array (got {type(value).__name__})")
            return False
        if len(shape) != 1:
            skip(key, f"has shape {shape}, expected [B]" + (f" = [{size}]" if size else ""))
            return False
        if shape[0] == 0:
            skip(key, "is empty")
            return False
        if size is not None and shape[0] != size:
            skip(key, f"has length {shape[0]} but the batch size is {size}")
            return False
        return True

    for key in MASK_KEYS:
        if key in batch_data and check_vector(key, batch_data[key]):
            plan.mask = batch_data[key]
            break

    for key, value in batch_data.items():
        if key in NOT_METRICS:
            continue
        if key in VECTOR_METRICS:
            prefix, flag = VECTOR_METRICS[key]
            if getattr(config, flag) and check_vector(key, value):
                plan.vectors[prefix] = value
            continue
        if key == SUCCESS_KEY:
            if config.log_success_rates and check_vector(key, value):
                plan.vectors["success_rate"] = value
            continue
        if key in SCALAR_METRICS:
            flag = SCALAR_METRICS[key]
            if flag is not None and not getattr(config, flag):
                continue
        scalar = _as_scalar(value)
        if scalar is not None:
            plan.scalars[key] = scalar
        elif key in SCALAR_METRICS:
            skip(key, f"should be a number, got {_describe(value)}")
        elif check_vector(key, value):
            plan.vectors[key] = value

    if want_samples and size is not None:
        for key in ("episode_returns", "episode_lengths", "similarity_scores", SUCCESS_KEY, *MASK_KEYS):
            value = batch_data.get(key)
            if _shape(value) == (size,) and _is_numeric_array(value):
                plan.per_env[key] = value
        ids = batch_data.get("task_ids")
        if isinstance(ids, list | tuple):
            plan.task_names = [str(t) for t in ids] if len(ids) == size else None
            if len(ids) != size:
                skip("task_ids", f"has length {len(ids)} but the batch size is {size}")
        elif ids is not None and _shape(ids) == (size,):
            plan.per_env["task_ids"] = ids
        for key in STATE_KEYS:
            value = batch_data.get(key)
            if value is None:
                continue
            leaves = jax.tree.leaves(value)
            if leaves and all(_shape(leaf) is not None and _shape(leaf)[:1] == (size,) for leaf in leaves):
                plan.per_env[key] = value
            else:
                skip(key, f"must be arrays (or a pytree of arrays) with leading dimension B={size}")
    return plan


def _as_scalar(value: Any) -> Any:
    if isinstance(value, bool | numbers.Number) and not isinstance(value, complex):
        return value
    shape = _shape(value)
    if shape == () and _is_numeric_array(value):
        return value
    if shape == (1,) and _is_numeric_array(value):
        return value.reshape(())
    return None


def _describe(value: Any) -> str:
    shape = _shape(value)
    return f"an array of shape {shape}" if shape is not None else f"{type(value).__name__} {value!r:.40}"


def _stats(x: jax.Array, valid: jax.Array | None) -> dict[str, jax.Array]:
    x = x.astype(jnp.float32)
    finite = jnp.isfinite(x)
    keep = finite if valid is None else finite & valid
    considered = jnp.ones_like(finite) if valid is None else valid
    n = jnp.sum(keep)
    denom = jnp.maximum(n, 1)
    mean = jnp.sum(jnp.where(keep, x, 0.0)) / denom
    var = jnp.sum(jnp.where(keep, jnp.square(x - mean), 0.0)) / denom
    return {
        "count": n,
        "nonfinite": jnp.sum(~finite & considered),
        "mean": mean,
        "std": jnp.sqrt(var),
        "max": jnp.max(jnp.where(keep, x, -jnp.inf)),
        "min": jnp.min(jnp.where(keep, x, jnp.inf)),
    }


@jax.jit
def reduce_batch(vectors: dict[str, jax.Array], scalars: dict[str, jax.Array], mask: jax.Array | None) -> dict[str, Any]:
    """All statistics of all keys in one XLA computation (returns a small pytree)."""
    valid = None if mask is None else mask.astype(bool)
    return {
        "vectors": {k: _stats(v, valid) for k, v in vectors.items()},
        "scalars": {k: jnp.asarray(v, jnp.float32) for k, v in scalars.items()},
    }


_ORDER = {name: i for i, name in enumerate(["reward", "similarity", "episode_length", "success_rate", *SCALAR_METRICS])}


def metrics_from_reduced(reduced: Mapping[str, Any], step: int | None = None) -> dict[str, float]:
    """Turn the fetched reduction into the design's flat ``{metric: float}`` dict.

    Keys with no valid finite entry yield no numbers; non-finite values are counted in
    ``<name>_nonfinite`` and warned about.
    """
    metrics: dict[str, float] = {}
    for name, s in sorted(reduced["vectors"].items(), key=lambda kv: _ORDER.get(kv[0], len(_ORDER))):
        nonfinite = int(s["nonfinite"])
        if nonfinite:
            logger.warning("%s: %d non-finite value(s) (NaN/inf) left out of the statistics%s", name, nonfinite,
                           f" at update {step}" if step is not None else "")
            metrics[f"{name}_nonfinite"] = nonfinite
        if int(s["count"]) == 0:
            continue
        if name == "success_rate":
            metrics[name] = float(s["mean"])
        else:
            for stat in STAT_NAMES:
                metrics[f"{name}_{stat}"] = float(s[stat])
    for name, value in sorted(reduced["scalars"].items(), key=lambda kv: _ORDER.get(kv[0], len(_ORDER))):
        value = float(value)
        if np.isfinite(value):
            metrics[name] = value
        else:
            logger.warning("%s is %s%s; not logged", name, value, f" at update {step}" if step is not None else "")
            metrics[f"{name}_nonfinite"] = 1
    return metrics


def sample_indices(update_step: Any, batch_size: int, num_samples: int) -> jax.Array:
    """``num_samples`` distinct env indices drawn with ``PRNGKey(update_step)`` (all when ``num_samples >= B``)."""
    if num_samples >= batch_size:
        return jnp.arange(batch_size)
    key = jax.random.PRNGKey(update_step)
    return jax.random.choice(key, batch_size, shape=(num_samples,), replace=False)


def _gather(update_step: jax.Array, per_env: dict[str, Any], num_samples: int, batch_size: int):
    idx = sample_indices(update_step, batch_size, num_samples)
    return idx, jax.tree.map(lambda x: jnp.take(jnp.asarray(x), idx, axis=0), per_env)


gather_samples = jax.jit(_gather, static_argnames=("num_samples", "batch_size"))


def summaries_from_samples(update_step: int, idx: np.ndarray, rows: Mapping[str, Any], env_task_names: list[str] | None,
                           task_lookup: list[str] | tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """One design-shaped episode summary per sampled environment (values absent from the batch are ``None``).

    Task ids come from ``env_task_names`` (the batch's list of names, one per environment)
    or from an integer ``task_ids`` row, named through ``task_lookup`` (index → name).
    """

    def pick(key: str, i: int, cast):
        if key not in rows:
            return None
        return cast(np.asarray(rows[key])[i])

    def state(key: str, i: int):
        if key not in rows:
            return None
        return jax.tree.map(lambda leaf: np.asarray(leaf)[i], rows[key])

    valid_key = next((k for k in MASK_KEYS if k in rows), None)
    out = []
    for i, env_id in enumerate(np.asarray(idx).tolist()):
        if env_task_names is not None:
            task_id = env_task_names[env_id]
        elif "task_ids" in rows:
            tid = np.asarray(rows["task_ids"])[i].item()
            task_id = task_lookup[tid] if task_lookup is not None and 0 <= int(tid) < len(task_lookup) else str(tid)
        else:
            task_id = f"batch_task_{env_id}"
        summary = {
            "episode_num": int(update_step),
            "total_reward": pick("episode_returns", i, float),
            "total_steps": pick("episode_lengths", i, int),
            "final_similarity": pick("similarity_scores", i, float),
            "success": pick(SUCCESS_KEY, i, bool),
            "environment_id": int(env_id),
            "task_id": task_id,
            "initial_state": state("initial_states", i),
            "final_state": state("final_states", i),
        }
        if "target_states" in rows:
            summary["target_state"] = state("target_states", i)
        if valid_key is not None:
            summary["episode_finished"] = bool(np.asarray(rows[valid_key])[i])
        out.append(summary)
    return out
