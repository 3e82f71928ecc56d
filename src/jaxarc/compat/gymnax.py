"""jaxarc as a gymnax environment, for trainers written against gymnax (PureJaxRL, rejax).

    from jaxarc.compat.gymnax import GymnaxARC
    env = GymnaxARC(params)                    # params: from jaxarc.make(...)
    obs, state = env.reset(key, env.default_params)
    obs, state, reward, done, info = env.step(key, state, action, env.default_params)

- **Observations** (``observation=``): ``"flat"`` (default) is one float32 vector for MLP
  agents (:func:`~jaxarc.compat.common.flat_observation`: one-hot grids, selection, step
  fraction) in a ``spaces.Box``; ``"dict"`` is the :class:`~jaxarc.types.Observation`'s fields
  as a ``dict`` of arrays in a ``spaces.Dict`` of ``Box``.
- **Actions** (``action=``): ``"point"`` (default) is a ``spaces.Discrete`` over allowed
  operation × cell (:func:`~jaxarc.compat.common.point_action`), what discrete-action trainers
  expect; ``"bbox"`` is an ``int32[5]`` ``(operation, r1, c1, r2, c2)`` in a ``spaces.Box``.
- **Episodes**: ``step`` resets automatically when an episode ends, as gymnax does (the
  reward and ``done`` are the final step's, the observation is the new episode's first).
  ``done`` is true on submit and on truncation; ``info["discount"]`` is 0 only on submit,
  ``info["truncated"]`` marks the other, and ``info`` also carries ``similarity``,
  ``success`` and ``invalid_action``.
- **Params**: :class:`GymnaxParams` wraps jaxarc's :class:`~jaxarc.envs.environment.EnvParams`
  and gives ``max_steps_in_episode`` (read by rejax's evaluation).

Tested with gymnax 0.0.9 (what rejax 0.1.3 and PureJaxRL run with).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from . import require

require("gymnax", "gymnax")

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from gymnax.environments import environment, spaces  # noqa: E402

from ..envs.environment import EnvParams, observe, reset, step  # noqa: E402
from ..types import NUM_OPERATIONS, State, StepType  # noqa: E402
from .common import (  # noqa: E402
    allowed_operation_ids,
    bbox_action,
    flat_observation,
    flat_size,
    point_action,
)

OBSERVATIONS = ("flat", "dict")
ACTIONS = ("point", "bbox")


class GymnaxParams(eqx.Module):
    """gymnax's ``params``: jaxarc's :class:`EnvParams` under ``arc``."""

    arc: EnvParams

    @property
    def max_steps_in_episode(self) -> int:
        return self.arc.max_episode_steps


def _where(done: jax.Array, if_true: Any, if_false: Any) -> Any:
    return jax.tree.map(lambda a, b: jax.lax.select(done, a, b), if_true, if_false)


class GymnaxARC(environment.Environment):  # type: ignore[misc]
    """A ``gymnax.environments.environment.Environment`` over jaxarc's tasks (module docstring)."""

    def __init__(self, params: EnvParams, observation: str = "flat", action: str = "point"):
        super().__init__()
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {OBSERVATIONS}, got {observation!r}")
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {action!r}")
        self.params = GymnaxParams(params)
        self.observation = observation
        self.action = action
        self.operations = allowed_operation_ids(params)
        self.grid_shape = params.buffer.grid_shape

    @property
    def default_params(self) -> GymnaxParams:
        return self.params

    # gymnax's step, with the auto-reset done leaf by leaf (so that dict observations work too)
    @partial(jax.jit, static_argnames=("self",))
    def step(
        self,
        key: jax.Array,
        state: State,
        action: Any,
        params: GymnaxParams | None = None,
    ) -> tuple[Any, State, jax.Array, jax.Array, dict[str, jax.Array]]:
        params = self.default_params if params is None else params
        key_step, key_reset = jax.random.split(key)
        obs_st, state_st, reward, done, info = self.step_env(key_step, state, action, params)
        obs_re, state_re = self.reset_env(key_reset, params)
        return (
            _where(done, obs_re, obs_st),
            _where(done, state_re, state_st),
            reward,
            done,
            info,
        )

    def step_env(
        self, key: jax.Array, state: State, action: Any, params: GymnaxParams
    ) -> tuple[Any, State, jax.Array, jax.Array, dict[str, jax.Array]]:
        del key  # the step is deterministic; the reset key comes from ``step``
        if self.action == "point":
            arc_action = point_action(action, self.operations, self.grid_shape)
        else:
            arc_action = bbox_action(action, self.grid_shape)
        state, ts = step(state, arc_action, params.arc)
        info = {
            "discount": ts.discount,
            "truncated": ts.step_type == StepType.TRUNCATED,
            "similarity": ts.extras.similarity,
            "success": ts.extras.success,
            "invalid_action": ts.extras.invalid_action,
        }
        return self.get_obs(state, params), state, ts.reward, ts.last(), info

    def reset_env(self, key: jax.Array, params: GymnaxParams) -> tuple[Any, State]:
        state, _ = reset(key, params.arc)
        return self.get_obs(state, params), state

    def get_obs(self, state: State, params: Any = None, key: Any = None) -> Any:
        p = self.default_params if params is None else params
        obs = observe(state, p.arc)
        if self.observation == "flat":
            return flat_observation(obs, p.arc.max_episode_steps)
        return {name: getattr(obs, name) for name in obs.__dataclass_fields__}

    def is_terminal(self, state: State, params: GymnaxParams) -> jax.Array:
        return state.done

    @property
    def name(self) -> str:
        return "jaxarc-ARC"

    @property
    def num_actions(self) -> int:
        h, w = self.grid_shape
        return len(self.operations) * h * w if self.action == "point" else 5

    def action_space(self, params: GymnaxParams | None = None) -> spaces.Space:
        h, w = self.grid_shape
        if self.action == "point":
            return spaces.Discrete(self.num_actions)
        high = jnp.array([NUM_OPERATIONS - 1, h - 1, w - 1, h - 1, w - 1], jnp.int32)
        return spaces.Box(jnp.zeros(5, jnp.int32), high, (5,), jnp.int32)

    def observation_space(self, params: GymnaxParams | None = None) -> spaces.Space:
        h, w = self.grid_shape
        if self.observation == "flat":
            return spaces.Box(0.0, 1.0, (flat_size(self.grid_shape),), jnp.float32)
        p = self.default_params if params is None else params
        grid = spaces.Box(0, 9, (h, w), jnp.int8)
        mask = spaces.Box(0, 1, (h, w), jnp.bool_)
        return spaces.Dict(
            {
                "working_grid": grid,
                "working_grid_mask": mask,
                "input_grid": grid,
                "input_grid_mask": mask,
                "target_grid": grid,
                "target_grid_mask": mask,
                "selection": mask,
                "clipboard": grid,
                "clipboard_mask": mask,
                "step_count": spaces.Box(0, p.arc.max_episode_steps, (), jnp.int32),
            }
        )

    def __repr__(self) -> str:
        return (
            f"GymnaxARC(tasks={self.params.arc.buffer.num_tasks}, grid={self.grid_shape}, "
            f"observation={self.observation!r}, action={self.action!r}, "
            f"operations={np.asarray(self.operations).tolist()})"
        )
