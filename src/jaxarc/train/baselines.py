"""The scores of two trivial policies on a run's tasks, to put beside the learning curves.

- ``submit_at_once``: submits the untouched input. On tasks whose output resembles the
  input this already scores a high similarity, so a learning curve must beat it to mean
  anything.
- ``random``: a uniformly random allowed operation on a uniformly random box at every step.

Both run the episodes the trainer runs (same reset distribution, rules and reward), in one
jitted ``vmap`` over episodes of a ``lax.scan`` over steps.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ..envs.environment import Environment, EnvParams
from ..envs.wrappers import BboxActionWrapper, where
from ..types import Operation

POLICIES = ("submit_at_once", "random")


def _action(policy: jax.Array, key: jax.Array, params: EnvParams) -> jax.Array:
    """``int32[5]`` ``(op, r1, c1, r2, c2)`` of the given policy (0: submit, 1: random)."""
    k_op, k_box = jax.random.split(key)
    allowed = params.allowed_operations
    op = jax.random.choice(k_op, allowed.shape[0], p=allowed / allowed.sum())
    h, w = params.buffer.grid_shape
    box = jax.random.randint(k_box, (4,), 0, jnp.array([h, w, h, w]))
    random = jnp.concatenate([op[None], box]).astype(jnp.int32)
    submit = jnp.array([Operation.SUBMIT, 0, 0, 0, 0], jnp.int32)
    return jnp.where(policy == 0, submit, random)


def _episode(policy: jax.Array, key: jax.Array, params: EnvParams) -> tuple[jax.Array, ...]:
    """(return, final similarity, success, length) of one episode of ``policy``."""
    env = BboxActionWrapper(Environment())
    k_reset, k_steps = jax.random.split(key)
    state, _ = env.reset(k_reset, params)

    def body(carry: tuple[Any, ...], k: jax.Array) -> tuple[tuple[Any, ...], None]:
        state, done, ret, sim, success, length = carry
        nxt, ts = env.step(state, _action(policy, k, params), params)
        live = ~done
        carry = (
            where(live, nxt, state),  # frozen once the episode is over
            done | ts.last(),
            ret + jnp.where(live, ts.reward, 0.0),
            jnp.where(live, ts.extras.similarity, sim),
            success | (live & ts.extras.success),
            length + live.astype(jnp.int32),
        )
        return carry, None

    init = (
        state,
        jnp.bool_(False),
        jnp.float32(0.0),
        state.similarity,
        jnp.bool_(False),
        jnp.int32(0),
    )
    keys = jax.random.split(k_steps, params.max_episode_steps)
    (_, _, ret, sim, success, length), _ = jax.lax.scan(body, init, keys)
    return ret, sim, success, length


@jax.jit
def _scores(params: EnvParams, key: jax.Array, policies: jax.Array) -> tuple[jax.Array, ...]:
    keys = jax.random.split(key, policies.shape[0])
    return jax.vmap(_episode, in_axes=(0, 0, None))(policies, keys, params)


def trivial_baselines(
    params: EnvParams, key: jax.Array, episodes: int = 1024
) -> dict[str, dict[str, float | int]]:
    """Mean return, final similarity, success rate and length of each trivial policy over
    ``episodes`` episodes each (one compiled program for both)."""
    policies = jnp.repeat(jnp.arange(len(POLICIES)), episodes)
    ret, sim, success, length = jax.device_get(_scores(params, key, policies))
    out: dict[str, dict[str, float | int]] = {}
    for i, name in enumerate(POLICIES):
        rows = slice(i * episodes, (i + 1) * episodes)
        out[name] = {
            "reward_mean": float(ret[rows].mean()),
            "similarity_mean": float(sim[rows].mean()),
            "success_rate": float(success[rows].mean()),
            "episode_length_mean": float(length[rows].mean()),
            "episodes": episodes,
        }
    return out
