"""``jaxarc eval``: a trained policy on the **test pairs** of a task set, scored as ARC scores.

Evaluation mode hides the target from the agent (``environment.episode_mode=eval``). Every
test pair of every task is played ``attempts`` times with the sampled policy (independent
keys) and once with the greedy policy (each head's argmax), all as one ``jit(vmap)`` over
tasks × pairs × attempts, deterministic given ``seed``. An episode *solves* its pair when it
submits a grid equal to the target (similarity 1); a pair counts as solved when one of its
``attempts`` sampled episodes does (the ARC Prize allows 2 attempts), and a task's score is
the fraction of its test pairs solved.

Results go to ``<run>/eval/<name>.json`` (per task and aggregate; see :func:`evaluate_run`)
and, as ``eval/<name>/<metric>``, through the run's logger (``eval/batch_metrics.jsonl`` and
TensorBoard), at the checkpoint's update. ``jaxarc report`` shows them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..config import JaxArcConfig, load_config
from ..data import resolve_dataset_id
from ..envs.augment import Augmentation, invert
from ..envs.environment import Environment, EnvParams, observe, reset
from ..envs.wrappers import BboxActionWrapper
from ..factory import make
from ..logging import ExperimentLogger
from ..logging.reader import EVAL_DIR
from ..logging.serialization import write_atomic
from ..types import Observation, StepType
from .checkpoint import checkpoint_update, load_model
from .networks import ActorCritic, greedy_action, make_model, sample_action

logger = logging.getLogger("jaxarc.train")

_STEP = BboxActionWrapper(Environment())


Policy = Callable[[Observation, jax.Array], jax.Array]


def model_policy(model: ActorCritic, params: EnvParams, greedy: bool) -> Policy:
    """``policy(obs, key) -> (op, r1, c1, r2, c2)`` of a trained model: greedy or sampled."""
    allowed = params.allowed_operations
    if greedy:
        return lambda obs, key: greedy_action(model, obs, allowed)
    return lambda obs, key: sample_action(model, obs, allowed, key)[0]


def _episode(
    policy: Policy,
    params: EnvParams,
    task: jax.Array,
    pair: jax.Array,
    key: jax.Array,
    augmentation: Augmentation | None = None,
) -> dict[str, jax.Array]:
    """One evaluation episode, played to its end (frozen after it): whether it solved the
    pair, its last similarity and step count, whether it submitted, and its last grid mapped
    back to the task's own frame (``augmentation``: the one it is played under)."""
    k_reset, k_act = jax.random.split(key)
    state, _ = reset(k_reset, params, task, pair, augmentation)

    def body(carry: Any, k: jax.Array) -> tuple[Any, None]:
        state, done, success, submitted, sim, steps = carry
        nxt, ts = _STEP.step(state, policy(observe(state, params), k), params)
        live = ~done
        state = jax.tree.map(lambda a, b: jnp.where(live, a, b), nxt, state)
        success = success | (live & ts.extras.success)
        submitted = submitted | (live & (ts.step_type == StepType.TERMINATED))
        sim = jnp.where(live, ts.extras.similarity, sim)
        steps = steps + live.astype(jnp.int32)
        return (state, done | ts.last(), success, submitted, sim, steps), None

    no = jnp.bool_(False)
    init = (state, no, no, no, state.similarity, jnp.int32(0))
    keys = jax.random.split(k_act, params.max_episode_steps)
    (state, _, success, submitted, sim, steps), _ = jax.lax.scan(body, init, keys)
    grid, mask = invert(state.augmentation, state.working_grid, state.working_grid_mask)
    return {
        "success": success,
        "similarity": sim,
        "steps": steps,
        "submitted": submitted,
        "grid": grid,
        "mask": mask,
    }


def _episodes(params: EnvParams, attempts: int) -> tuple[jax.Array, jax.Array, tuple[int, ...]]:
    """Task and pair index of every task × test pair × attempt, and that ``[T, P, A]`` shape
    (``P`` = the most test pairs any task has)."""
    buf = params.buffer
    t, p = buf.num_tasks, max(int(np.max(np.asarray(buf.num_test_pairs))), 1)
    grid = np.meshgrid(np.arange(t), np.arange(p), np.arange(attempts), indexing="ij")
    return jnp.asarray(grid[0].ravel()), jnp.asarray(grid[1].ravel()), (t, p, attempts)


def _play(
    policy: Policy,
    params: EnvParams,
    tasks: jax.Array,
    pairs: jax.Array,
    key: jax.Array,
    augmentations: Augmentation | None = None,
) -> dict[str, jax.Array]:
    keys = jax.random.split(key, tasks.shape[0])
    if augmentations is None:
        return jax.vmap(lambda ti, pi, k: _episode(policy, params, ti, pi, k))(tasks, pairs, keys)
    return jax.vmap(lambda ti, pi, k, aug: _episode(policy, params, ti, pi, k, aug))(
        tasks, pairs, keys, augmentations
    )


def play(policy: Policy, params: EnvParams, attempts: int, key: jax.Array) -> dict[str, np.ndarray]:
    """``[T, P, A]`` arrays (``success``, ``similarity`` at the end, ``steps``,
    ``submitted``) and ``[T, P, A, H, W]`` last grids (``grid``, ``mask``) for every task ×
    test pair (``P`` = the most any task has; see ``num_test_pairs``) × attempt, as one
    ``jit(vmap)``; deterministic given ``key``. ``params`` should be in evaluation mode."""
    tasks, pairs, shape = _episodes(params, attempts)
    # params as an argument, not a constant: XLA would fold every task's gathers at compile
    run = jax.jit(lambda p, k: _play(policy, p, tasks, pairs, k))
    return _shaped(jax.device_get(run(params, key)), shape)


def _shaped(out: dict[str, Any], shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Flat per-episode results as ``[*shape, ...]`` arrays (grids keep their ``H, W``)."""
    return {k: np.asarray(v).reshape(shape + np.shape(v)[1:]) for k, v in out.items()}


def tta_augmentations(num: int, key: jax.Array, permute_all: bool = False) -> Augmentation:
    """``[num]`` augmentations for test-time augmentation: the identity, then random ones."""
    keys = jax.random.split(key, num)
    sampled = jax.vmap(lambda k: Augmentation.sample(k, permute_all))(keys)
    first = Augmentation.identity()
    augs: Augmentation = jax.tree.map(lambda all_, one: all_.at[0].set(one), sampled, first)
    return augs


def play_augmented(
    policy: Policy, params: EnvParams, attempts: int, num_augmentations: int, key: jax.Array
) -> dict[str, np.ndarray]:
    """:func:`play` under ``num_augmentations`` views of each test pair (the identity and
    random symmetries × colour permutations, the demonstrations transformed alike): arrays
    ``[T, P, K·A]``, last grids mapped back to each task's own frame."""
    k_aug, k_play = jax.random.split(key)
    augs = tta_augmentations(num_augmentations, k_aug, params.augment_all_colors)
    view = dataclasses.replace(params, augment=True)  # demonstrations follow the augmentation
    tasks, pairs, (t, p, _) = _episodes(params, num_augmentations * attempts)
    per = jnp.repeat(jnp.arange(num_augmentations), attempts)
    index = jnp.tile(per, t * p)
    chosen = jax.tree.map(lambda x: x[index], augs)
    run = jax.jit(lambda p, k: _play(policy, p, tasks, pairs, k, chosen))
    return _shaped(jax.device_get(run(view, k_play)), (t, p, num_augmentations * attempts))


def vote(
    grids: np.ndarray, masks: np.ndarray, submitted: np.ndarray, top: int = 2
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``top`` most frequent submitted grids among candidates ``[N, H, W]`` (ties: the
    first seen first) — the ARC Prize 2024 winners' vote over augmented attempts."""
    counts: dict[bytes, list[Any]] = {}
    for g, m, ok in zip(grids, masks, submitted, strict=True):
        if not ok:
            continue
        cell = np.where(m, g, -1).astype(np.int8)
        entry = counts.setdefault(cell.tobytes() + m.tobytes(), [0, g, m])
        entry[0] += 1
    ranked = sorted(counts.values(), key=lambda e: -e[0])  # stable: first seen wins ties
    return [(g, m) for _, g, m in ranked[:top]]


def tta_solved(buffer: Any, played: dict[str, np.ndarray]) -> np.ndarray:
    """``bool[T, P]``: whether one of the 2 voted grids of each test pair is its output."""
    outputs, masks = np.asarray(buffer.test_outputs), np.asarray(buffer.test_output_masks)
    counts = np.asarray(buffer.num_test_pairs)
    t, p = played["submitted"].shape[:2]
    solved = np.zeros((t, p), bool)
    for i in range(t):
        for j in range(min(max(int(counts[i]), 1), p)):
            for g, m in vote(played["grid"][i, j], played["mask"][i, j], played["submitted"][i, j]):
                same_shape = np.array_equal(m, masks[i, j])
                if same_shape and np.array_equal(np.where(m, g, 0), np.where(m, outputs[i, j], 0)):
                    solved[i, j] = True
    return solved


def seed_models(model: ActorCritic, num_seeds: int) -> list[ActorCritic]:
    """Each seed's model of a (seed-vmapped, when ``num_seeds`` > 1) model."""
    if num_seeds == 1:
        return [model]
    return [
        jax.tree.map(lambda x, s=s: x[s] if eqx.is_array(x) else x, model) for s in range(num_seeds)
    ]


class Evaluator:
    """``train.eval_every``: the current model on the run's test pairs with the target hidden,
    scored as :func:`evaluate_run` scores (``attempts`` sampled + one greedy per pair), the
    same ``key`` each time. Compiled once: the model is an argument, not a constant."""

    def __init__(self, config: JaxArcConfig, attempts: int = 2, seed: int = 0):
        _, self.params = make(None, eval_config(config, None))
        self.attempts, self.key = attempts, jax.random.PRNGKey(seed)
        self.num_seeds = config.train.num_seeds
        tasks, pairs, self._shape = _episodes(self.params, attempts)
        greedy_tasks, greedy_pairs, self._greedy_shape = _episodes(self.params, 1)
        allowed = self.params.allowed_operations

        def run(model: ActorCritic, key: jax.Array) -> tuple[Any, Any]:
            sampled = _play(
                lambda obs, k: sample_action(model, obs, allowed, k)[0],
                self.params, tasks, pairs, key,
            )  # fmt: skip
            greedy = _play(
                lambda obs, k: greedy_action(model, obs, allowed),
                self.params, greedy_tasks, greedy_pairs, key,
            )  # fmt: skip
            return sampled, greedy

        self._run = eqx.filter_jit(run)

    def __call__(self, model: ActorCritic) -> dict[str, float | int]:
        """``eval/<metric>`` of :func:`score`'s aggregate (the mean over seeds, and
        ``seed_<i>/eval/<metric>`` each, for a seeded model)."""
        buf = self.params.buffer
        per_seed = []
        for one in seed_models(model, self.num_seeds):
            sampled, greedy = jax.device_get(self._run(one, self.key))
            _, agg = score(
                buf.task_ids,
                np.asarray(buf.num_test_pairs),
                _shaped(sampled, self._shape),
                _shaped(greedy, self._greedy_shape),
            )
            per_seed.append(agg)
        metrics: dict[str, float | int] = {
            f"eval/{k}": float(np.mean([a[k] for a in per_seed])) for k in EVAL_CURVES
        }
        if self.num_seeds > 1:
            for i, agg in enumerate(per_seed):
                metrics.update({f"seed_{i}/eval/{k}": agg[k] for k in EVAL_CURVES})
        return metrics


#: the aggregate numbers ``train.eval_every`` logs as ``eval/<name>``
EVAL_CURVES = ("score", "greedy_score", "best_similarity_mean", "tasks_solved")


def score(
    task_ids: list[str] | tuple[str, ...],
    num_pairs: np.ndarray,
    sampled: dict[str, np.ndarray],
    greedy: dict[str, np.ndarray],
    tta: np.ndarray | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-task rows and the aggregate (module docstring for the scoring rules); with
    ``tta`` (``bool[T, P]``, :func:`tta_solved`) also ``tta_score``, the score with
    test-time augmentation."""
    rows = []
    for i, task_id in enumerate(task_ids):
        n = max(int(num_pairs[i]), 1)
        s_ok = sampled["success"][i, :n]  # [pairs, attempts]
        g_ok = greedy["success"][i, :n, 0]
        solve_steps = [
            int(st)
            for st, ok in zip(sampled["steps"][i, :n].ravel(), s_ok.ravel(), strict=True)
            if ok
        ] + [int(st) for st, ok in zip(greedy["steps"][i, :n, 0], g_ok, strict=True) if ok]
        rows.append(
            {
                "task_id": str(task_id),
                "test_pairs": n,
                "score": float(s_ok.any(axis=1).mean()),
                "greedy_score": float(g_ok.mean()),
                "attempts_solved": s_ok.astype(int).tolist(),  # [pair][attempt]: 1 solved
                "best_similarity": float(
                    max(sampled["similarity"][i, :n].max(), greedy["similarity"][i, :n].max())
                ),
                "steps_to_solve": min(solve_steps) if solve_steps else None,
            }
        )
        if tta is not None:
            rows[-1]["tta_score"] = float(tta[i, :n].mean())
    agg = {
        "tasks": len(rows),
        "test_pairs": int(sum(r["test_pairs"] for r in rows)),
        "score": float(np.mean([r["score"] for r in rows])) if rows else 0.0,
        "tasks_solved": int(sum(r["score"] == 1.0 for r in rows)),
        "greedy_score": float(np.mean([r["greedy_score"] for r in rows])) if rows else 0.0,
        "best_similarity_mean": float(np.mean([r["best_similarity"] for r in rows]))
        if rows
        else 0.0,
    }
    if tta is not None:
        agg["tta_score"] = float(np.mean([r["tta_score"] for r in rows])) if rows else 0.0
    return rows, agg


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "eval"


def eval_config(
    run_config: JaxArcConfig, dataset: str | None, heldout: bool = True
) -> JaxArcConfig:
    """The run's config in evaluation mode, on ``dataset`` (default: the run's tasks — its
    held-out part when it trained on ``dataset.holdout_part=train`` and ``heldout``) with the
    run's grid-size limits."""
    data = (
        run_config.dataset if dataset is None else resolve_dataset_id(dataset, run_config.dataset)
    )
    if heldout and data.holdout_part == "train":
        data = dataclasses.replace(data, holdout_part="heldout")
    # the test pairs as they are (test-time augmentation chooses its own views)
    env = dataclasses.replace(run_config.environment, episode_mode="eval", augment=False)
    return dataclasses.replace(run_config, dataset=data, environment=env)


def evaluate_run(
    run_dir: str | Path,
    dataset: str | None = None,
    attempts: int = 2,
    seed: int = 0,
    name: str | None = None,
    overrides: list[str] | None = None,
    augment: int = 0,
) -> dict[str, Any]:
    """Evaluate a run's checkpoint; write ``<run>/eval/<name>.json`` and log ``eval/`` metrics.

    ``augment = K > 0`` adds test-time augmentation: each test pair is also played
    ``attempts`` times under each of ``K`` views (the identity and ``K - 1`` random
    symmetries × colour permutations), each submitted grid is mapped back, and the 2 most
    frequent are the pair's 2 attempts (``tta_score``, beside the plain ``score``).

    Returns the written document: ``{"name", "dataset", "attempts", "update", "seeds":
    [{"aggregate", "tasks"}] (one per trained seed), "aggregate"}`` (the mean over seeds).
    """
    run_dir = Path(run_dir)
    saved = run_dir / "config.yaml"
    if not saved.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.yaml)")
    if attempts < 1:
        raise ValueError(f"attempts must be positive (got {attempts})")
    if augment < 0:
        raise ValueError(f"augment must be 0 (off) or the number of views (got {augment})")
    run_config = load_config(list(overrides or []), config_file=saved)
    chosen = any(o.split("=", 1)[0].lstrip("+") == "dataset.holdout_part" for o in overrides or [])
    config = eval_config(run_config, dataset, heldout=not chosen)
    _, params = make(None, config)
    c = run_config.train

    def new_model(key: jax.Array) -> ActorCritic:
        return make_model(c.hidden_dim, key, demonstrations=params.demonstrations)

    template = new_model(jax.random.PRNGKey(0))
    if c.num_seeds > 1:
        template = eqx.filter_vmap(new_model)(jax.random.split(jax.random.PRNGKey(0), c.num_seeds))
    model = load_model(run_dir, template)
    update = checkpoint_update(run_dir)
    buf = params.buffer
    num_pairs = np.asarray(buf.num_test_pairs)
    per_seed: list[dict[str, Any]] = []
    for one in seed_models(model, c.num_seeds):
        key = jax.random.PRNGKey(seed)
        sampled = play(model_policy(one, params, greedy=False), params, attempts, key)
        greedy = play(model_policy(one, params, greedy=True), params, 1, key)
        tta = None
        if augment:
            policy = model_policy(one, params, greedy=False)
            tta = tta_solved(buf, play_augmented(policy, params, attempts, augment, key))
        rows, agg = score(buf.task_ids, num_pairs, sampled, greedy, tta)
        per_seed.append({"aggregate": agg, "tasks": rows})
    aggregate = {
        k: float(np.mean([p["aggregate"][k] for p in per_seed])) for k in per_seed[0]["aggregate"]
    }
    label = dataset or (
        "heldout-tasks" if config.dataset.holdout_part == "heldout" else "run-tasks"
    )
    name = _slug(name or f"{label}-test")
    doc = {
        "name": name,
        "dataset": label,
        "episode_mode": "eval (target hidden), test pairs",
        "attempts": attempts,
        "test_time_augmentations": augment,
        "seed": seed,
        "update": update,
        "max_episode_steps": params.max_episode_steps,
        "aggregate": aggregate,
        "seeds": per_seed,
    }
    out_dir = run_dir / EVAL_DIR
    out_dir.mkdir(exist_ok=True)
    write_atomic(out_dir / f"{name}.json", json.dumps(doc, indent=1))
    _log(config, run_dir, name, aggregate, per_seed, update)
    return doc


def _log(
    config: JaxArcConfig,
    run_dir: Path,
    name: str,
    aggregate: dict[str, float],
    per_seed: list[dict[str, Any]],
    update: int | None,
) -> None:
    """``eval/<name>/<metric>`` through the logger: ``eval/batch_metrics.jsonl`` and
    TensorBoard (when the run has it)."""
    from ..logging.handlers import FileHandler, TensorBoardHandler

    handlers: dict[str, Any] = {"file": FileHandler(run_dir / EVAL_DIR, config.logging)}
    if config.storage.tensorboard:
        handlers["tensorboard"] = TensorBoardHandler(run_dir)
    metrics: dict[str, float | int] = {f"eval/{name}/{k}": v for k, v in aggregate.items()}
    if len(per_seed) > 1:
        for i, p in enumerate(per_seed):
            metrics.update({f"seed_{i}/eval/{name}/{k}": v for k, v in p["aggregate"].items()})
    log = ExperimentLogger(config, handlers=handlers, run_dir=run_dir / EVAL_DIR)
    log.log_metrics(metrics, max((update or 1) - 1, 0))
    log.close()
