"""The functional ARC environment: pure ``reset``/``step`` over padded grids.

``env.reset(key, params)`` and ``env.step(state, action, params)`` have no side effects and
static shapes, so they run under ``jax.jit``, ``jax.vmap``, ``lax.scan`` and sharding. The
same functions are available as :func:`reset` and :func:`step`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..config import ActionConfig, EnvironmentConfig, RewardConfig
from ..types import (
    NUM_OPERATIONS,
    Action,
    Extras,
    InContextObservation,
    Observation,
    Operation,
    State,
    StepType,
    TaskBuffer,
    TimeStep,
)
from . import augment as A
from . import tasks
from .operations import apply_operation
from .reward import compute_reward, similarity
from .spaces import ActionSpace, ObservationSpace


class EnvParams(eqx.Module):
    """Everything ``reset``/``step`` need besides the state: the tasks and the rules."""

    buffer: TaskBuffer
    allowed_operations: jax.Array  # bool[35]
    reward: RewardConfig = eqx.field(static=True)
    max_episode_steps: int = eqx.field(static=True)
    train_mode: bool = eqx.field(static=True)
    #: what the agent sees and how tasks are shown (``EnvironmentConfig``'s keys)
    observe_target: bool = eqx.field(static=True, default=True)
    demonstrations: bool = eqx.field(static=True, default=False)
    augment: bool = eqx.field(static=True, default=False)
    augment_all_colors: bool = eqx.field(static=True, default=False)
    target_hint_share: float = eqx.field(static=True, default=0.0)
    #: ``float32[num_tasks]`` log-weights of the task a reset picks (``None``: uniform);
    #: a trainer may change them between updates (``train.task_sampling=prioritized``)
    task_logits: jax.Array | None = None

    @classmethod
    def create(
        cls,
        buffer: TaskBuffer,
        environment: EnvironmentConfig = EnvironmentConfig(),
        action: ActionConfig = ActionConfig(),
        reward: RewardConfig = RewardConfig(),
    ) -> EnvParams:
        """Params from the environment's own config sections (defaults where not given)."""
        ops = action.allowed_operations
        ids = jnp.asarray(ops if ops is not None else range(NUM_OPERATIONS))
        return cls(
            buffer=buffer,
            allowed_operations=jnp.zeros(NUM_OPERATIONS, bool).at[ids].set(True),
            reward=reward,
            max_episode_steps=environment.max_episode_steps,
            train_mode=environment.episode_mode == "train",
            observe_target=environment.observe_target,
            demonstrations=environment.demonstrations,
            augment=environment.augment,
            augment_all_colors=environment.augment_all_colors,
            target_hint_share=environment.target_hint_share,
        )


def observe(state: State, params: EnvParams) -> Observation:
    """The agent's view of ``state``: the target is hidden in evaluation mode and with
    ``observe_target=False``; with ``demonstrations`` the task's demonstration pairs are
    gathered from ``params.buffer`` (in the episode's augmentation), never kept in the state."""
    hide: bool | jax.Array = not params.train_mode or not params.observe_target
    if hide and params.train_mode and params.target_hint_share > 0:
        hide = ~state.target_hint  # this episode drew the hint
    base = {
        "working_grid": state.working_grid,
        "working_grid_mask": state.working_grid_mask,
        "input_grid": state.input_grid,
        "input_grid_mask": state.input_grid_mask,
        "target_grid": _hidden(hide, state.target_grid),
        "target_grid_mask": _hidden(hide, state.target_grid_mask),
        "selection": state.selection,
        "clipboard": state.clipboard,
        "clipboard_mask": state.clipboard_mask,
        "step_count": state.step_count,
    }
    if not params.demonstrations:
        return Observation(**base)
    d = tasks.demonstrations(
        params.buffer, state.task_index, state.pair_index, test=not params.train_mode
    )
    inputs, input_masks, outputs, output_masks = d.inputs, d.input_masks, d.outputs, d.output_masks
    if params.augment:
        inputs, input_masks = A.apply(state.augmentation, inputs, input_masks)
        outputs, output_masks = A.apply(state.augmentation, outputs, output_masks)
    return InContextObservation(
        **base,
        demo_inputs=inputs,
        demo_input_masks=input_masks,
        demo_outputs=outputs,
        demo_output_masks=output_masks,
        demo_valid=d.valid,
    )


def _hidden(hide: bool | jax.Array, x: jax.Array) -> jax.Array:
    """``x``, or zeros where ``hide`` (a Python bool decides at trace time: no work)."""
    if isinstance(hide, bool):
        return jnp.zeros_like(x) if hide else x
    return jnp.where(hide, jnp.zeros_like(x), x)


def initial_state(
    grid: jax.Array,
    grid_mask: jax.Array,
    target: jax.Array,
    target_mask: jax.Array,
    key: jax.Array,
    task_index: jax.typing.ArrayLike = 0,
    pair_index: jax.typing.ArrayLike = 0,
    augmentation: A.Augmentation | None = None,
) -> State:
    """The state an episode starts in: the working grid is the input grid, nothing is
    selected or copied, no step taken (the grids are already in ``augmentation``'s frame;
    ``None``: the identity)."""
    sim = similarity(grid, grid_mask, target, target_mask)
    return State(
        working_grid=grid,
        working_grid_mask=grid_mask,
        input_grid=grid,
        input_grid_mask=grid_mask,
        target_grid=target,
        target_grid_mask=target_mask,
        selection=jnp.zeros_like(grid_mask),
        clipboard=jnp.zeros_like(grid),
        clipboard_mask=jnp.zeros_like(grid_mask),
        step_count=jnp.int32(0),
        similarity=sim,
        best_similarity=sim,
        task_index=jnp.asarray(task_index, jnp.int32),
        pair_index=jnp.asarray(pair_index, jnp.int32),
        key=key,
        done=jnp.bool_(False),
        augmentation=A.Augmentation.identity() if augmentation is None else augmentation,
    )


def reset(
    key: jax.Array,
    params: EnvParams,
    task_index: jax.Array | int | None = None,
    pair_index: jax.Array | int | None = None,
    augmentation: A.Augmentation | None = None,
) -> tuple[State, TimeStep]:
    """Start an episode on a random task (or ``task_index``) and a random pair of it (or
    ``pair_index``, clipped to the task's pairs). The task is uniform, or drawn by
    ``params.task_logits`` when set.

    Training mode uses the task's train pairs, evaluation mode its test pairs (see
    :mod:`jaxarc.envs.tasks`). With ``params.augment`` the episode draws an augmentation
    and shows the pair in it (:mod:`jaxarc.envs.augment`); an ``augmentation`` given here is
    used instead (test-time augmentation plays one pair under chosen ones; the
    demonstrations follow it when ``params.augment`` is on).
    """
    buf = params.buffer
    key, k_task, k_pair = jax.random.split(key, 3)
    if task_index is None:
        if params.task_logits is None:
            task_index = jax.random.randint(k_task, (), 0, buf.num_tasks)
        else:
            task_index = jax.random.categorical(k_task, params.task_logits)
    task_index = jnp.asarray(task_index, jnp.int32)
    test = not params.train_mode
    num_pairs = tasks.num_pairs(buf, task_index, test)
    if pair_index is None:
        pair_index = jax.random.randint(k_pair, (), 0, num_pairs)
    pair_index = jnp.clip(jnp.asarray(pair_index, jnp.int32), 0, num_pairs - 1)
    q = tasks.query(buf, task_index, pair_index, test)
    grid, grid_mask, target, target_mask = q.input, q.input_mask, q.output, q.output_mask
    if augmentation is None and params.augment:  # its own key: other draws stay the same
        augmentation = A.Augmentation.sample(
            jax.random.fold_in(k_task, 1), params.augment_all_colors
        )
    if augmentation is not None:
        grid, grid_mask = A.apply(augmentation, grid, grid_mask)
        target, target_mask = A.apply(augmentation, target, target_mask)
    state = initial_state(
        grid, grid_mask, target, target_mask, key, task_index, pair_index, augmentation
    )
    if params.target_hint_share > 0:
        hint = jax.random.bernoulli(jax.random.fold_in(k_task, 2), params.target_hint_share)
        state = eqx.tree_at(lambda s: s.target_hint, state, hint, is_leaf=lambda x: x is None)
    timestep = TimeStep(
        step_type=jnp.int8(StepType.FIRST),
        reward=jnp.float32(0.0),
        discount=jnp.float32(1.0),
        observation=observe(state, params),
        extras=Extras(state.similarity, jnp.int32(-1), jnp.bool_(False), jnp.bool_(False)),
    )
    return state, timestep


def _check_action(action: Action, state: State) -> None:
    if not isinstance(action, Action):
        raise TypeError(
            f"step expects a jaxarc.Action, got {type(action).__name__}; "
            "use a wrapper for bbox/point/flat actions"
        )
    if action.selection.shape != state.working_grid.shape:
        raise ValueError(
            f"action.selection has shape {action.selection.shape}, "
            f"but the grid is {state.working_grid.shape}; "
            "pass a boolean mask of the padded grid shape (params.buffer.grid_shape)"
        )
    if action.operation.shape != ():
        raise ValueError(f"action.operation must be a scalar, got shape {action.operation.shape}")
    if not isinstance(action.operation, jax.core.Tracer):
        op = int(action.operation)
        if not 0 <= op < NUM_OPERATIONS:
            raise ValueError(
                f"operation id {op} is out of range: valid ids are 0..{NUM_OPERATIONS - 1} "
                "(see jaxarc.Operation)"
            )


def is_allowed(op: jax.Array, allowed_operations: jax.Array) -> jax.Array:
    """Whether ``op`` is in range and allowed (``allowed_operations``: ``bool[NUM_OPERATIONS]``)."""
    in_range = (op >= 0) & (op < NUM_OPERATIONS)
    return in_range & allowed_operations[jnp.clip(op, 0, NUM_OPERATIONS - 1)]


def effective_operation(op: jax.Array, allowed_operations: jax.Array) -> jax.Array:
    """The operation that runs: ``op`` when allowed, else submit's grid-untouched no-op
    (``step`` also penalises a disallowed one, and it never ends the episode)."""
    return jnp.where(is_allowed(op, allowed_operations), op, jnp.int32(Operation.SUBMIT))


def step(state: State, action: Action, params: EnvParams) -> tuple[State, TimeStep]:
    """Apply ``action`` and return the next state and timestep.

    A disallowed or (inside jit) out-of-range operation is a no-op that costs
    ``reward.invalid_action_penalty``. Submit (34) terminates the episode; reaching
    ``max_episode_steps`` truncates it.
    """
    _check_action(action, state)
    op = action.operation
    allowed = is_allowed(op, params.allowed_operations)
    effective = jnp.where(allowed, op, jnp.int32(Operation.SUBMIT))  # submit: grid untouched
    new = apply_operation(state, effective, action.selection)
    sim = similarity(new.working_grid, new.working_grid_mask, new.target_grid, new.target_grid_mask)
    submitted = allowed & (op == Operation.SUBMIT)
    steps = state.step_count + 1
    truncated = (steps >= params.max_episode_steps) & ~submitted
    reward = compute_reward(
        params.reward,
        old_similarity=state.similarity,
        new_similarity=sim,
        best_similarity=state.best_similarity,
        submitted=submitted,
        invalid=~allowed,
        train_mode=params.train_mode,
    )
    new = eqx.tree_at(
        lambda s: (s.step_count, s.similarity, s.best_similarity, s.done),
        new,
        (steps, sim, jnp.maximum(state.best_similarity, sim), submitted | truncated),
    )
    step_type = jnp.where(
        submitted, StepType.TERMINATED, jnp.where(truncated, StepType.TRUNCATED, StepType.MID)
    )
    timestep = TimeStep(
        step_type=step_type.astype(jnp.int8),
        reward=reward,
        discount=jnp.where(submitted, 0.0, 1.0).astype(jnp.float32),
        observation=observe(new, params),
        extras=Extras(sim, op, submitted & (sim >= 1.0), ~allowed),
    )
    return new, timestep


class Environment:
    """Object-style access to :func:`reset`/:func:`step` (stateless; params passed in)."""

    def reset(
        self, key: jax.Array, params: EnvParams, task_index: jax.Array | int | None = None
    ) -> tuple[State, TimeStep]:
        return reset(key, params, task_index)

    def step(self, state: State, action: Action, params: EnvParams) -> tuple[State, TimeStep]:
        return step(state, action, params)

    def action_space(self, params: EnvParams) -> ActionSpace:
        return ActionSpace(params.buffer.grid_shape, params.allowed_operations)

    def observation_space(self, params: EnvParams) -> ObservationSpace:
        return ObservationSpace(params.buffer.grid_shape)

    def __repr__(self) -> str:
        return "Environment()"
