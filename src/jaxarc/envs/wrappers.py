"""Wrappers: other action formats, automatic reset, and episode statistics.

Each wrapper exposes the same ``reset``/``step``/``action_space``/``observation_space``
methods as :class:`~jaxarc.envs.environment.Environment` and stays pure. For vectorised
training, stack ``EpisodeStatsWrapper(AutoResetWrapper(env))``: the trainer then never
resets by hand and reads each environment's last finished episode from the state.
"""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ..types import NUM_OPERATIONS, Action, State, TimeStep
from .environment import Environment, EnvParams, observe
from .spaces import Discrete, MultiDiscrete, bbox_to_mask


class Wrapper:
    """Forward everything to the wrapped environment."""

    def __init__(self, env: Any):
        self.env = env

    def reset(
        self, key: jax.Array, params: EnvParams, task_index: Any = None
    ) -> tuple[Any, TimeStep]:
        return self.env.reset(key, params, task_index)  # type: ignore[no-any-return]

    def step(self, state: Any, action: Any, params: EnvParams) -> tuple[Any, TimeStep]:
        return self.env.step(state, action, params)  # type: ignore[no-any-return]

    def action_space(self, params: EnvParams) -> Any:
        return self.env.action_space(params)

    def observation_space(self, params: EnvParams) -> Any:
        return self.env.observation_space(params)

    @property
    def unwrapped(self) -> Environment:
        return getattr(self.env, "unwrapped", self.env)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env!r})"


class ActionWrapper(Wrapper, abc.ABC):
    """Translate another action format into :class:`~jaxarc.types.Action` before ``step``."""

    @abc.abstractmethod
    def to_action(self, action: jax.Array, params: EnvParams) -> Action:
        """The :class:`~jaxarc.types.Action` that ``action`` (this wrapper's format) means."""

    def step(self, state: Any, action: Any, params: EnvParams) -> tuple[Any, TimeStep]:
        return self.env.step(state, self.to_action(action, params), params)  # type: ignore[no-any-return]


class BboxActionWrapper(ActionWrapper):
    """Actions are ``int32[5]``: ``(operation, r1, c1, r2, c2)``, corners inclusive, any order."""

    def to_action(self, action: jax.Array, params: EnvParams) -> Action:
        action = jnp.asarray(action)
        if action.shape[-1:] != (5,):
            raise ValueError(
                f"a bbox action is (operation, r1, c1, r2, c2), got shape {action.shape}"
            )
        mask = bbox_to_mask(action[1], action[2], action[3], action[4], params.buffer.grid_shape)
        return Action(action[0], mask)

    def action_space(self, params: EnvParams) -> MultiDiscrete:
        h, w = params.buffer.grid_shape
        return MultiDiscrete((NUM_OPERATIONS, h, w, h, w))


class PointActionWrapper(ActionWrapper):
    """Actions are ``int32[3]``: ``(operation, row, col)``, selecting one cell."""

    def to_action(self, action: jax.Array, params: EnvParams) -> Action:
        action = jnp.asarray(action)
        if action.shape[-1:] != (3,):
            raise ValueError(f"a point action is (operation, row, col), got shape {action.shape}")
        mask = bbox_to_mask(action[1], action[2], action[1], action[2], params.buffer.grid_shape)
        return Action(action[0], mask)

    def action_space(self, params: EnvParams) -> MultiDiscrete:
        h, w = params.buffer.grid_shape
        return MultiDiscrete((NUM_OPERATIONS, h, w))


class FlatActionWrapper(ActionWrapper):
    """Actions are one integer ``operation * H * W + row * W + col`` (a point action)."""

    def to_action(self, action: jax.Array, params: EnvParams) -> Action:
        h, w = params.buffer.grid_shape
        action = jnp.asarray(action)
        if action.shape != ():
            raise ValueError(f"a flat action is one integer, got shape {action.shape}")
        op, cell = jnp.divmod(action, h * w)
        r, c = jnp.divmod(cell, w)
        return Action(op, bbox_to_mask(r, c, r, c, (h, w)))

    def action_space(self, params: EnvParams) -> Discrete:
        return Discrete(NUM_OPERATIONS * params.buffer.num_cells)


class AutoResetWrapper(Wrapper):
    """When an episode ends, start the next one in the same ``step`` call.

    The returned timestep keeps the final step's ``step_type``, ``reward`` and ``extras``
    (so returns and success can be counted) while the state and ``observation`` are those of
    the fresh episode; ``final_observation`` is the observation the episode ended in (equal
    to ``observation`` while the episode goes on).
    """

    def step(self, state: State, action: Any, params: EnvParams) -> tuple[State, TimeStep]:
        next_state, timestep = self.env.step(state, action, params)
        key, reset_key = jax.random.split(next_state.key)
        fresh_state, _ = self.env.reset(reset_key, params)
        next_state = eqx.tree_at(lambda s: s.key, next_state, key)
        state_out = where(timestep.last(), fresh_state, next_state)
        timestep = eqx.tree_at(
            lambda t: (t.observation, t.final_observation),
            timestep,
            (observe(state_out, params), timestep.observation),
            is_leaf=lambda x: x is None,
        )
        return state_out, timestep


def where(condition: jax.Array, if_true: Any, if_false: Any) -> Any:
    """Leaf-wise ``jnp.where`` of two pytrees of one structure; ``condition`` broadcasts from
    the left (a ``[N]`` condition picks whole ``[N, ...]`` rows)."""

    def pick(a: jax.Array, b: jax.Array) -> jax.Array:
        c = jnp.reshape(
            condition, jnp.shape(condition) + (1,) * (jnp.ndim(a) - jnp.ndim(condition))
        )
        return jnp.where(c, a, b)

    return jax.tree.map(pick, if_true, if_false)


class EpisodeStats(eqx.Module):
    """The running episode and the last finished one, for one environment (PureJaxRL's
    ``LogWrapper`` idea, plus the grids that the logger draws)."""

    running_return: jax.Array  # f32[]
    initial_grid: jax.Array  # int8[H, W]: the running episode's first grid
    initial_mask: jax.Array
    target_grid: jax.Array  # the running episode's target (also in evaluation mode)
    target_mask: jax.Array
    episodes_finished: jax.Array  # int32[]: how many episodes have ended
    last_return: jax.Array  # the last finished episode: ...
    last_length: jax.Array
    last_similarity: jax.Array
    last_success: jax.Array
    last_task: jax.Array
    last_initial_grid: jax.Array
    last_initial_mask: jax.Array
    last_final_grid: jax.Array
    last_final_mask: jax.Array
    last_target_grid: jax.Array
    last_target_mask: jax.Array
    # the running and the last episode's augmentation (``jaxarc.envs.augment``): the grids
    # above are in its frame, and it maps them back
    augmentation: Any = None
    last_augmentation: Any = None

    @classmethod
    def start(cls, state: State) -> EpisodeStats:
        """Statistics before any episode has finished (the ``last_*`` fields are placeholders)."""
        g, m = state.working_grid, state.working_grid_mask
        t, tm = state.target_grid, state.target_grid_mask
        zf, zi, zb = jnp.float32(0.0), jnp.int32(0), jnp.bool_(False)
        aug = state.augmentation
        return cls(zf, g, m, t, tm, zi, zf, zi, zf, zb, zi, g, m, g, m, t, tm, aug, aug)


class ActionLog(eqx.Module):
    """The bbox actions ``(op, r1, c1, r2, c2)`` of the running and the last finished
    episode: two ``int16[S, 5]`` buffers that swap roles when an episode ends (nothing is
    copied; one row is written per step)."""

    buffers: jax.Array  # int16[2, S, 5]
    current: jax.Array  # int32[]: the buffer the running episode writes into

    @classmethod
    def empty(cls, steps: int) -> ActionLog:
        return cls(jnp.full((2, steps, 5), -1, jnp.int16), jnp.int32(0))

    def record(self, index: jax.Array, action: jax.Array, done: jax.Array) -> ActionLog:
        row = jnp.asarray(action).astype(jnp.int16)
        buffers = self.buffers.at[self.current, index].set(row, mode="drop")  # past S: dropped
        return ActionLog(buffers, jnp.where(done, 1 - self.current, self.current))

    def last(self, length: jax.Array) -> jax.Array:
        """``int16[S, 5]``: the last finished episode's actions, ``-1`` past its ``length``."""
        rows = self.buffers[1 - self.current]
        return jnp.where((jnp.arange(rows.shape[0]) < length)[:, None], rows, jnp.int16(-1))


class StatsState(eqx.Module):
    """The wrapped environment's state and the episode statistics."""

    env_state: State
    stats: EpisodeStats
    actions: ActionLog | None = None


class EpisodeStatsWrapper(Wrapper):
    """Track each environment's running return and its last finished episode.

    Wrap an :class:`AutoResetWrapper` (the statistics need its ``final_observation``)::

        env = EpisodeStatsWrapper(AutoResetWrapper(jaxarc.Environment()))
        state, ts = env.reset(key, params)          # state.stats.episodes_finished == 0
        state, ts = env.step(state, action, params)  # ts.last() → state.stats.last_* updated

    ``state.stats.episodes_finished`` counts finished episodes, so "did an episode end
    during this rollout" is a comparison of two counters and the trainer never clears a flag.

    With ``record_actions=S`` (bbox actions ``int[5]`` only) the first ``S`` actions of the
    running and the last finished episode are kept too (``state.actions``, 20·S bytes per
    environment), so that a sampled episode can be replayed step by step.
    """

    def __init__(self, env: Any, record_actions: int = 0):
        super().__init__(env)
        self.record_actions = record_actions

    def reset(
        self, key: jax.Array, params: EnvParams, task_index: Any = None
    ) -> tuple[StatsState, TimeStep]:
        env_state, timestep = self.env.reset(key, params, task_index)
        log = ActionLog.empty(self.record_actions) if self.record_actions else None
        return StatsState(env_state, EpisodeStats.start(env_state), log), timestep

    def step(
        self, state: StatsState, action: Any, params: EnvParams
    ) -> tuple[StatsState, TimeStep]:
        env_state, ts = self.env.step(state.env_state, action, params)
        if ts.final_observation is None:
            raise TypeError(
                "EpisodeStatsWrapper needs an AutoResetWrapper inside it (for final_observation)"
            )
        s, done, final = state.stats, ts.last(), ts.final_observation
        ret = s.running_return + ts.reward
        ended = EpisodeStats(
            running_return=jnp.float32(0.0),
            initial_grid=env_state.working_grid,
            initial_mask=env_state.working_grid_mask,
            target_grid=env_state.target_grid,
            target_mask=env_state.target_grid_mask,
            episodes_finished=s.episodes_finished + 1,
            last_return=ret,
            last_length=final.step_count,
            last_similarity=ts.extras.similarity,
            last_success=ts.extras.success,
            last_task=state.env_state.task_index,
            last_initial_grid=s.initial_grid,
            last_initial_mask=s.initial_mask,
            last_final_grid=final.working_grid,
            last_final_mask=final.working_grid_mask,
            last_target_grid=s.target_grid,
            last_target_mask=s.target_mask,
            augmentation=env_state.augmentation,
            last_augmentation=s.augmentation,
        )
        going_on = eqx.tree_at(lambda x: x.running_return, s, ret)
        log = state.actions
        if log is not None:
            if jnp.shape(action) != (5,):
                raise TypeError(
                    f"record_actions keeps bbox actions (op, r1, c1, r2, c2), got shape "
                    f"{jnp.shape(action)}; wrap a BboxActionWrapper or set record_actions=0"
                )
            log = log.record(state.env_state.step_count, action, done)
        return StatsState(env_state, where(done, ended, going_on), log), ts
