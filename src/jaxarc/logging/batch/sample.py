"""Sampled episodes: which environments (the design's ``jax.random.choice`` with
``PRNGKey(update_step)``, plus optionally the best and the worst finished episode by
similarity), their rows gathered on device, and the
design's episode summaries built from the fetched rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ...types import operation_name
from .contract import EXTREMES_KEY, MASK_KEYS

#: The largest batch (``B``, times ``S`` seeds) sampled by the design's exact rule. Above it
#: the O(k) draw of :func:`floyd_indices` is used: ``jax.random.choice(replace=False)``
#: permutes all ``B`` entries, and above this size that costs more per update than the whole
#: aggregation at the design's cadences (a sample every 50 updates, statistics every 10):
#: ``python benchmarks/batched_logging.py``, section (e) — at B = 4,096 2.2 ms against
#: 0.45 ms, at 16,384 8.3 ms against 0.55 ms, at 10⁶ 0.6 s (Floyd: 0.46 ms) on 2 cores.
#: The one deliberate difference from the design's sampling.
DESIGN_SAMPLING_MAX_BATCH = 4096


def sample_indices(update_step: Any, batch_size: int, num_samples: int) -> jax.Array:
    """``num_samples`` distinct env indices chosen with ``PRNGKey(update_step)``; all of them
    when ``num_samples >= B``.

    Up to :data:`DESIGN_SAMPLING_MAX_BATCH` this is the design's rule exactly,
    ``jax.random.choice(PRNGKey(update_step), B, shape=(num_samples,), replace=False)``
    (same indices, same order); above it :func:`floyd_indices`.
    """
    if num_samples >= batch_size:
        return jnp.arange(batch_size, dtype=jnp.int32)
    key = jax.random.PRNGKey(update_step)
    if batch_size <= DESIGN_SAMPLING_MAX_BATCH:
        picks = jax.random.choice(key, batch_size, shape=(num_samples,), replace=False)
        return picks.astype(jnp.int32)
    return floyd_indices(key, batch_size, num_samples)


def floyd_indices(key: jax.Array, batch_size: int, num_samples: int) -> jax.Array:
    """``num_samples`` distinct indices below ``batch_size`` with Floyd's algorithm: ``k``
    draws whatever ``B`` (every subset equally likely; the order within it is not uniform,
    and nothing relies on it)."""
    first = batch_size - num_samples

    def draw(i: int | jax.Array, chosen: jax.Array) -> jax.Array:
        # Floyd: draw t from 0..first+i; if taken, take first+i (never taken yet) instead
        top = first + i
        t = jax.random.randint(jax.random.fold_in(key, i), (), 0, top + 1, dtype=jnp.int32)
        return chosen.at[i].set(jnp.where(jnp.any(chosen == t), top, t))

    chosen: jax.Array = jax.lax.fori_loop(
        0, num_samples, draw, jnp.full((num_samples,), -1, jnp.int32)
    )
    return chosen


def extreme_indices(per_env: Mapping[str, Any]) -> jax.Array | None:
    """``[best, worst]``: the finished episodes with the highest and the lowest finite
    similarity (``None`` when the batch has no similarity scores)."""
    if EXTREMES_KEY not in per_env:
        return None
    sim = jnp.asarray(per_env[EXTREMES_KEY]).astype(jnp.float32)
    ok = jnp.isfinite(sim)
    mask_key = next((k for k in MASK_KEYS if k in per_env), None)
    if mask_key is not None:
        ok = ok & jnp.asarray(per_env[mask_key]).astype(bool)
    best = jnp.argmax(jnp.where(ok, sim, -jnp.inf))
    worst = jnp.argmin(jnp.where(ok, sim, jnp.inf))
    return jnp.stack([best, worst]).astype(jnp.int32)


def gather_rows(
    update_step: Any,
    per_env: Mapping[str, Any],
    num_samples: int,
    batch_size: int,
    extremes: bool = False,
) -> tuple[jax.Array, dict[str, Any]]:
    """The sampled indices and only their rows of every per-environment pytree; with
    ``extremes`` the best and worst episode's indices follow the random ones."""
    idx = sample_indices(update_step, batch_size, num_samples).astype(jnp.int32)
    pair = extreme_indices(per_env) if extremes else None
    if pair is not None:
        idx = jnp.concatenate([idx, pair])
    return idx, jax.tree.map(lambda x: jnp.take(jnp.asarray(x), idx, axis=0), dict(per_env))


def summaries(
    update_step: int,
    idx: np.ndarray,
    rows: Mapping[str, Any],
    env_task_names: Sequence[str] | None,
    task_lookup: Sequence[str] | None = None,
    num_random: int | None = None,
) -> list[dict[str, Any]]:
    """One design-shaped episode summary per sampled environment (values absent from the batch
    are ``None``).

    The first ``num_random`` rows are the random samples; when two more follow they are the
    best and the worst (``gather_rows(extremes=True)``): each summary's ``sample_kind`` says
    which, and an environment drawn twice is shown once, under its rank. Task ids come from
    ``env_task_names`` (the batch's list of names, one per environment) or from an integer
    ``task_ids`` row, named through ``task_lookup`` (index → name).
    """
    ids = np.asarray(idx).tolist()
    kinds = ["random"] * len(ids)
    if num_random is not None and len(ids) == num_random + 2:
        kinds[num_random:] = ["best", "worst"]
    shown: dict[int, dict[str, Any]] = {}
    for i, (env_id, kind) in enumerate(zip(ids, kinds, strict=True)):
        if kind != "random":
            if not _finished(rows, i):
                continue  # no finished episode in the batch to be the best or the worst
            if env_id in shown:  # drawn at random too: one picture, labelled with its rank
                if shown[env_id]["sample_kind"] == "random":
                    shown[env_id]["sample_kind"] = kind
                continue
        task_id = _task_id(rows, i, env_id, env_task_names, task_lookup)
        shown[env_id] = _summary(update_step, rows, i, env_id, task_id, kind)
    return list(shown.values())


def _finished(rows: Mapping[str, Any], i: int) -> bool:
    """Row ``i`` holds a finished episode with a finite similarity."""
    valid_key = next((k for k in MASK_KEYS if k in rows), None)
    if valid_key is not None and not bool(np.asarray(rows[valid_key])[i]):
        return False
    return EXTREMES_KEY not in rows or bool(np.isfinite(np.asarray(rows[EXTREMES_KEY])[i]))


def _task_id(
    rows: Mapping[str, Any],
    i: int,
    env_id: int,
    env_task_names: Sequence[str] | None,
    task_lookup: Sequence[str] | None,
) -> str:
    if env_task_names is not None:
        return str(env_task_names[env_id])
    if "task_ids" not in rows:
        return f"batch_task_{env_id}"
    tid = int(np.asarray(rows["task_ids"])[i].item())
    return task_lookup[tid] if task_lookup is not None and 0 <= tid < len(task_lookup) else str(tid)


def _summary(
    update_step: int, rows: Mapping[str, Any], i: int, env_id: int, task_id: str, kind: str
) -> dict[str, Any]:
    def pick(key: str, cast: Any) -> Any:
        return None if key not in rows else cast(np.asarray(rows[key])[i])

    def state(key: str) -> Any:
        return (
            None if key not in rows else jax.tree.map(lambda leaf: np.asarray(leaf)[i], rows[key])
        )

    summary = {
        "episode_num": int(update_step),  # the update it was sampled at
        "total_reward": pick("episode_returns", float),
        "total_steps": pick("episode_lengths", int),
        "final_similarity": pick("similarity_scores", float),
        "success": pick("success_mask", bool),
        "environment_id": int(env_id),
        "task_id": task_id,
        "initial_state": state("initial_states"),
        "final_state": state("final_states"),
    }
    if "target_states" in rows:
        summary["target_state"] = state("target_states")
    valid_key = next((k for k in MASK_KEYS if k in rows), None)
    if valid_key is not None:
        summary["episode_finished"] = bool(np.asarray(rows[valid_key])[i])
    if "episode_actions" in rows:
        summary["actions"] = _actions(np.asarray(rows["episode_actions"])[i])
    summary["sample_kind"] = kind
    return summary


def _actions(rows: np.ndarray) -> list[dict[str, Any]]:
    """The recorded ``(op, r1, c1, r2, c2)`` rows of one episode as step records."""
    out = []
    for step, row in enumerate(rows.reshape(-1, 5).tolist()):
        if row[0] < 0:
            break
        out.append(
            {
                "step_num": step + 1,
                "operation": int(row[0]),
                "operation_name": operation_name(int(row[0])),
                "box": [int(v) for v in row[1:]],
            }
        )
    return out
