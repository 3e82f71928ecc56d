"""Sampled episodes: which environments (``PRNGKey(update_step)``, plus optionally the best
and the worst finished episode by similarity), their rows gathered on device, and the
design's episode summaries built from the fetched rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ...types import operation_name
from .contract import EXTREMES_KEY, MASK_KEYS


def sample_indices(update_step: Any, batch_size: int, num_samples: int) -> jax.Array:
    """``num_samples`` distinct env indices drawn with ``PRNGKey(update_step)`` (all when
    ``num_samples >= B``)."""
    if num_samples >= batch_size:
        return jnp.arange(batch_size)
    key = jax.random.PRNGKey(update_step)
    return jax.random.choice(key, batch_size, shape=(num_samples,), replace=False)


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

    Task ids come from ``env_task_names`` (the batch's list of names, one per environment)
    or from an integer ``task_ids`` row, named through ``task_lookup`` (index → name).
    """

    def pick(key: str, i: int, cast: Any) -> Any:
        return None if key not in rows else cast(np.asarray(rows[key])[i])

    def state(key: str, i: int) -> Any:
        return (
            None if key not in rows else jax.tree.map(lambda leaf: np.asarray(leaf)[i], rows[key])
        )

    valid_key = next((k for k in MASK_KEYS if k in rows), None)
    out = []
    ids = np.asarray(idx).tolist()
    kinds = ["random"] * len(ids)
    if num_random is not None and len(ids) == num_random + 2:
        kinds[num_random:] = ["best", "worst"]
    seen: set[int] = set()
    for i, (env_id, kind) in enumerate(zip(ids, kinds, strict=True)):
        if kind != "random" and (
            env_id in seen
            or (valid_key is not None and not bool(np.asarray(rows[valid_key])[i]))
            or (EXTREMES_KEY in rows and not np.isfinite(np.asarray(rows[EXTREMES_KEY])[i]))
        ):
            continue  # already shown, or no finished episode to be best or worst
        seen.add(env_id)
        if env_task_names is not None:
            task_id = env_task_names[env_id]
        elif "task_ids" in rows:
            tid = int(np.asarray(rows["task_ids"])[i].item())
            task_id = (
                task_lookup[tid]
                if task_lookup is not None and 0 <= tid < len(task_lookup)
                else str(tid)
            )
        else:
            task_id = f"batch_task_{env_id}"
        summary = {
            "episode_num": int(update_step),
            "total_reward": pick("episode_returns", i, float),
            "total_steps": pick("episode_lengths", i, int),
            "final_similarity": pick("similarity_scores", i, float),
            "success": pick("success_mask", i, bool),
            "environment_id": int(env_id),
            "task_id": task_id,
            "initial_state": state("initial_states", i),
            "final_state": state("final_states", i),
        }
        if "target_states" in rows:
            summary["target_state"] = state("target_states", i)
        if valid_key is not None:
            summary["episode_finished"] = bool(np.asarray(rows[valid_key])[i])
        if "episode_actions" in rows:
            summary["actions"] = _actions(np.asarray(rows["episode_actions"])[i])
        summary["sample_kind"] = kind
        out.append(summary)
    return out


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
