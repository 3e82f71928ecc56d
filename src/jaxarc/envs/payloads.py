"""Build logger payloads from an environment's ``(state, timestep, action)``.

These are the host side of single-episode logging: each fetches what it needs from the
device in one ``jax.device_get`` (two for ``task_start_payload``, whose second fetch
depends on the task index) and returns plain dicts of numpy values that every handler
understands. All three take the states first and everything else by keyword::

    logger.log_task_start(task_start_payload(state, params=params, episode_num=0))
    logger.log_step(step_payload(prev_state, action, state, timestep, episode_num=0))
    logger.log_episode_summary(
        episode_summary_payload(first_state, state, total_reward, params=params, episode_num=0)
    )
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from ..types import Action, State, TimeStep, to_numpy_grid
from .environment import EnvParams
from .operations import operation_name


def _grids(s: State) -> dict[str, np.ndarray]:
    """Cropped grids of a state already fetched to the host."""
    return {
        "grid": to_numpy_grid(s.working_grid, s.working_grid_mask),
        "input": to_numpy_grid(s.input_grid, s.input_grid_mask),
        "target": to_numpy_grid(s.target_grid, s.target_grid_mask),
        "selection": np.asarray(s.selection),
    }


def task_start_payload(state: State, *, params: EnvParams, episode_num: int = 0) -> dict[str, Any]:
    """Task id, the task's train pairs and test inputs, and the episode's input/target."""
    buf = params.buffer
    state = jax.device_get(state)
    t = int(state.task_index)
    ti, tim, to, tom, si, sim, n_train, n_test = jax.device_get(
        (
            buf.train_inputs[t],
            buf.train_input_masks[t],
            buf.train_outputs[t],
            buf.train_output_masks[t],
            buf.test_inputs[t],
            buf.test_input_masks[t],
            buf.num_train_pairs[t],
            buf.num_test_pairs[t],
        )
    )
    n_train, n_test = int(n_train), int(n_test)
    g = _grids(state)
    return {
        "episode_num": int(episode_num),
        "task_id": buf.id_of(t),
        "task_index": t,
        "pair_index": int(state.pair_index),
        "num_train_pairs": n_train,
        "num_test_pairs": n_test,
        "train_pairs": [
            (to_numpy_grid(ti[i], tim[i]), to_numpy_grid(to[i], tom[i])) for i in range(n_train)
        ],
        "test_inputs": [to_numpy_grid(si[i], sim[i]) for i in range(n_test)],
        "input_grid": g["input"],
        "target_grid": g["target"],
        "similarity": float(state.similarity),
    }


def step_payload(
    before: State,
    action: Action,
    after: State,
    timestep: TimeStep,
    *,
    episode_num: int = 0,
    step_num: int | None = None,
) -> dict[str, Any]:
    """One step: the operation, reward, similarity and before/after grids with the selection."""
    before, after, op, ts = jax.device_get(
        (before, after, action.operation, (timestep.reward, timestep.step_type, timestep.extras))
    )
    b, a = _grids(before), _grids(after)
    op = int(op)
    return {
        "episode_num": int(episode_num),
        "step_num": int(after.step_count) if step_num is None else int(step_num),
        "operation": op,
        "operation_name": operation_name(op),
        "reward": float(ts[0]),
        "step_type": int(ts[1]),
        "similarity": float(ts[2]["similarity"]),
        "success": bool(ts[2]["success"]),
        "invalid_action": bool(ts[2]["invalid_action"]),
        "before_grid": b["grid"],
        "after_grid": a["grid"],
        "selection": a["selection"][: b["grid"].shape[0], : b["grid"].shape[1]],
    }


def episode_summary_payload(
    initial: State,
    final: State,
    total_reward: float,
    *,
    params: EnvParams | None = None,
    episode_num: int = 0,
    success: bool | None = None,
) -> dict[str, Any]:
    """The design's episode-summary keys for a single episode."""
    initial, final = jax.device_get((initial, final))
    i, f = _grids(initial), _grids(final)
    sim = float(final.similarity)
    return {
        "episode_num": int(episode_num),
        "total_reward": float(total_reward),
        "total_steps": int(final.step_count),
        "final_similarity": sim,
        "success": bool(sim >= 1.0) if success is None else bool(success),
        "task_id": params.buffer.id_of(int(final.task_index))
        if params is not None
        else str(int(final.task_index)),
        "initial_state": i["grid"],
        "final_state": f["grid"],
        "target_state": f["target"],
    }
