"""Sampled episodes: which environments (``PRNGKey(update_step)``), their rows gathered on
device, and the design's episode summaries built from the fetched rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .contract import MASK_KEYS


def sample_indices(update_step: Any, batch_size: int, num_samples: int) -> jax.Array:
    """``num_samples`` distinct env indices drawn with ``PRNGKey(update_step)`` (all when
    ``num_samples >= B``)."""
    if num_samples >= batch_size:
        return jnp.arange(batch_size)
    key = jax.random.PRNGKey(update_step)
    return jax.random.choice(key, batch_size, shape=(num_samples,), replace=False)


def gather_rows(
    update_step: Any, per_env: Mapping[str, Any], num_samples: int, batch_size: int
) -> tuple[jax.Array, dict[str, Any]]:
    """The sampled indices and only their rows of every per-environment pytree."""
    idx = sample_indices(update_step, batch_size, num_samples)
    return idx, jax.tree.map(lambda x: jnp.take(jnp.asarray(x), idx, axis=0), dict(per_env))


def summaries(
    update_step: int,
    idx: np.ndarray,
    rows: Mapping[str, Any],
    env_task_names: Sequence[str] | None,
    task_lookup: Sequence[str] | None = None,
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
    for i, env_id in enumerate(np.asarray(idx).tolist()):
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
        out.append(summary)
    return out
