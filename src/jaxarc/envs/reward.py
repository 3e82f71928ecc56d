"""Similarity and reward.

Similarity is the fraction of cells matched over the union of the working and target grid
areas, so a grid of the wrong size can never score 1.0 (size mismatches count as misses).

Reward (training mode)::

    similarity_weight · progress + step_penalty
      + success_bonus · [submitted and solved]
      + unsolved_submission_penalty · [submitted, not solved]
      + invalid_action_penalty · [disallowed operation]

``progress`` is, by ``similarity_reward``:

- ``"delta"``: the change of similarity (potential-based: a damaged cell costs what its
  repair earns back);
- ``"best"``: how far the step raises the episode's best similarity so far, minus
  ``regression_weight`` times any fall. Repairing one's own damage earns nothing, so with
  ``regression_weight`` ≥ 0 it cannot be farmed (the positive part totals at most
  ``similarity_weight · (1 - initial similarity)``), and with a small ``regression_weight``
  a random policy's return stays close to "submit at once", which keeps an untrained agent
  exploring instead of learning to give up.

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
    best_similarity: jax.Array | None = None,
    submitted: jax.Array,
    invalid: jax.Array,
    train_mode: bool,
) -> jax.Array:
    """The reward of one step (a float32 scalar)."""
    solved = new_similarity >= 1.0
    reward = jnp.float32(config.step_penalty)
    if train_mode:
        if config.similarity_reward == "best" and best_similarity is not None:
            progress = jnp.maximum(new_similarity - best_similarity, 0.0)
            progress = progress + config.regression_weight * jnp.minimum(
                new_similarity - old_similarity, 0.0
            )
        else:
            progress = new_similarity - old_similarity
        reward = reward + config.similarity_weight * progress
    reward = reward + jnp.where(submitted & solved, config.success_bonus, 0.0)
    reward = reward + jnp.where(submitted & ~solved, config.unsolved_submission_penalty, 0.0)
    reward = reward + jnp.where(invalid, config.invalid_action_penalty, 0.0)
    out: jax.Array = reward.astype(jnp.float32)
    return out
