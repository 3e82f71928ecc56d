"""Similarity and reward.

Similarity is the fraction of cells matched over the union of the working and target grid
areas, so a grid of the wrong size can never score 1.0 (size mismatches count as misses).

Reward (training mode)::

    similarity_weight · Δsimilarity + step_penalty
      + success_bonus · [submitted and solved]
      + unsolved_submission_penalty · [submitted, not solved]
      + invalid_action_penalty · [disallowed operation]

Evaluation mode drops the similarity term (the agent does not see the target there).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..config import RewardConfig


def similarity(
    grid: jax.Array, mask: jax.Array, target: jax.Array, target_mask: jax.Array
) -> jax.Array:
    """Fraction of cells matched; 1.0 only when size and every cell agree."""
    matched = jnp.sum(mask & target_mask & (grid == target))
    area = jnp.sum(mask | target_mask)
    return (matched / jnp.maximum(area, 1)).astype(jnp.float32)


def compute_reward(
    config: RewardConfig,
    *,
    old_similarity: jax.Array,
    new_similarity: jax.Array,
    submitted: jax.Array,
    invalid: jax.Array,
    train_mode: bool,
) -> jax.Array:
    """The reward of one step (a float32 scalar)."""
    solved = new_similarity >= 1.0
    reward = jnp.float32(config.step_penalty)
    if train_mode:
        reward = reward + config.similarity_weight * (new_similarity - old_similarity)
    reward = reward + jnp.where(submitted & solved, config.success_bonus, 0.0)
    reward = reward + jnp.where(submitted & ~solved, config.unsolved_submission_penalty, 0.0)
    reward = reward + jnp.where(invalid, config.invalid_action_penalty, 0.0)
    out: jax.Array = reward.astype(jnp.float32)
    return out
