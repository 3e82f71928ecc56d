"""Wrappers: other action formats, and automatic reset for vectorised training.

Each wrapper exposes the same ``reset``/``step``/``action_space``/``observation_space``
methods as :class:`~jaxarc.envs.environment.Environment` and stays pure.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..types import Action, State, TimeStep
from .environment import Environment, EnvParams, observe
from .operations import NUM_OPERATIONS
from .spaces import Discrete, MultiDiscrete, bbox_to_mask


class Wrapper:
    """Forward everything to the wrapped environment."""

    def __init__(self, env):
        self.env = env

    def reset(self, key, params: EnvParams, task_index=None):
        return self.env.reset(key, params, task_index)

    def step(self, state, action, params: EnvParams):
        return self.env.step(state, action, params)

    def action_space(self, params: EnvParams):
        return self.env.action_space(params)

    def observation_space(self, params: EnvParams):
        return self.env.observation_space(params)

    @property
    def unwrapped(self) -> Environment:
        return getattr(self.env, "unwrapped", self.env)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env!r})"


class BboxActionWrapper(Wrapper):
    """Actions are ``int32[5]``: ``(operation, r1, c1, r2, c2)``, corners inclusive, any order."""

    def to_action(self, action: jax.Array, params: EnvParams) -> Action:
        action = jnp.asarray(action)
        if action.shape[-1:] != (5,):
            raise ValueError(f"a bbox action is (operation, r1, c1, r2, c2), got shape {action.shape}")
        return Action(action[0], bbox_to_mask(action[1], action[2], action[3], action[4], params.buffer.grid_shape))

    def step(self, state, action, params):
        return self.env.step(state, self.to_action(action, params), params)

    def action_space(self, params):
        h, w = params.buffer.grid_shape
        return MultiDiscrete((NUM_OPERATIONS, h, w, h, w))


class PointActionWrapper(Wrapper):
    """Actions are ``int32[3]``: ``(operation, row, col)``, selecting one cell."""

    def to_action(self, action: jax.Array, params: EnvParams) -> Action:
        action = jnp.asarray(action)
        if action.shape[-1:] != (3,):
            raise ValueError(f"a point action is (operation, row, col), got shape {action.shape}")
        return Action(action[0], bbox_to_mask(action[1], action[2], action[1], action[2], params.buffer.grid_shape))

    def step(self, state, action, params):
        return self.env.step(state, self.to_action(action, params), params)

    def action_space(self, params):
        h, w = params.buffer.grid_shape
        return MultiDiscrete((NUM_OPERATIONS, h, w))


class FlatActionWrapper(Wrapper):
    """Actions are one integer ``operation * H * W + row * W + col`` (a point action)."""

    def to_action(self, action: jax.Array, params: EnvParams) -> Action:
        h, w = params.buffer.grid_shape
        action = jnp.asarray(action)
        if action.shape != ():
            raise ValueError(f"a flat action is one integer, got shape {action.shape}")
        op, cell = jnp.divmod(action, h * w)
        r, c = jnp.divmod(cell, w)
        return Action(op, bbox_to_mask(r, c, r, c, (h, w)))

    def step(self, state, action, params):
        return self.env.step(state, self.to_action(action, params), params)

    def action_space(self, params):
        h, w = params.buffer.grid_shape
        return Discrete(NUM_OPERATIONS * h * w)


class AutoResetWrapper(Wrapper):
    """When an episode ends, start the next one in the same ``step`` call.

    The returned timestep keeps the final step's ``step_type``, ``reward`` and ``extras``
    (so returns and success can be counted) while the state and observation are those of
    the fresh episode.
    """

    def step(self, state: State, action, params: EnvParams) -> tuple[State, TimeStep]:
        next_state, timestep = self.env.step(state, action, params)
        key, reset_key = jax.random.split(next_state.key)
        fresh_state, _ = self.env.reset(reset_key, params)
        next_state = eqx.tree_at(lambda s: s.key, next_state, key)
        done = timestep.last()
        state_out = jax.tree.map(lambda a, b: jnp.where(done, a, b), fresh_state, next_state)
        obs = observe(state_out, params)
        return state_out, TimeStep(timestep.step_type, timestep.reward, timestep.discount, obs, timestep.extras)

