"""``jaxarc train``: two loops around :class:`PPO`, and :func:`train` that picks one.

- :func:`run_host`: one jitted update per Python iteration; ``log_batch_step`` from Python.
- :func:`run_jit`: ``lax.scan`` over updates with ``log_batch_step`` inside jit, in chunks of
  ``train.checkpoint_every`` updates so that progress, checkpoints and Ctrl-C have a place to
  happen.

Both advance a :class:`Tally` (the latest runner and updates done), so that whatever stops
them — the end, Ctrl-C, divergence — :func:`train` saves and closes from the same place.
"""

from __future__ import annotations

import json
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..config import JaxArcConfig
from ..envs.environment import EnvParams
from ..factory import make
from ..logging import ExperimentLogger
from ..logging.experiment_logger import check_output_dir
from ..logging.reader import BASELINES_FILE
from .baselines import trivial_baselines
from .checkpoint import load_checkpoint, save_checkpoint
from .evaluate import Evaluator
from .ppo import PPO, Runner
from .progress import ProgressBar
from .signals import StopRequest, stop_on_signals, stop_requested

logger = logging.getLogger("jaxarc.train")


class TrainingDiverged(RuntimeError):
    """A loss became NaN/inf; training stopped instead of writing NaN forever."""


@dataclass
class TrainResult:
    run_dir: Path | None
    updates_done: int
    #: the signal that stopped the run early (``signal.SIGINT``/``SIGTERM``), else ``None``
    interrupted: int | None
    seconds: float
    env_steps: int
    #: env steps/s after the first update (compilation left out); None below two updates
    steady_steps_per_second: float | None = None
    #: the update this run started at (0, or the checkpoint's count when resumed)
    first_update: int = 0


@dataclass
class Tally:
    """The latest runner and how many updates it has done, advanced by the loops (``done``
    is a Python int so that the loops never wait on the device to count), and whether a
    signal asked them to stop."""

    runner: Runner
    done: int
    stop: StopRequest = field(default_factory=StopRequest)


def shard_runner(runner: Runner, num_envs: int, num_seeds: int = 1) -> tuple[Runner, Mesh | None]:
    """Shard the environment states over a 1-D mesh of all devices (along the environment
    axis, after the seed axis when there is one); replicate the rest."""
    devices = jax.devices()
    if len(devices) == 1:
        return runner, None
    if num_envs % len(devices):
        raise ValueError(
            f"train.num_envs={num_envs} must be divisible by the number of devices ({len(devices)})"
        )
    mesh = Mesh(np.array(devices), ("envs",))
    envs = NamedSharding(
        mesh, PartitionSpec("envs") if num_seeds == 1 else PartitionSpec(None, "envs")
    )
    replicated = NamedSharding(mesh, PartitionSpec())

    def place(tree: Any, sharding: NamedSharding) -> Any:
        def one(x: Any) -> Any:
            if not isinstance(x, jax.Array):
                return x
            if jax.process_count() == 1:
                return jax.device_put(x, sharding)
            # every process built the same full value: each contributes its own shards
            host = np.asarray(x)
            return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

        return jax.tree.map(one, tree)

    shared = (runner.model, runner.opt_state, runner.key, runner.update, runner.diverged)
    runner = eqx.tree_at(lambda r: r.env_state, runner, place(runner.env_state, envs))
    runner = eqx.tree_at(
        lambda r: (r.model, r.opt_state, r.key, r.update, r.diverged, r.tasks),
        runner,
        place((*shared, runner.tasks), replicated),
    )
    return runner, mesh


def jit_chunk(ppo: PPO, log: ExperimentLogger, length: int) -> Callable[[Runner, int], Runner]:
    """``run(runner, n)``: ``n ≤ length`` updates inside one jitted ``lax.scan`` of ``length``
    steps, logging from inside jit. ``n`` is traced, so a shorter last chunk reuses the one
    compiled program (the steps past ``n`` are a ``lax.cond`` that does nothing)."""

    def one_update(runner: Runner) -> Runner:
        runner, batch = ppo.update(runner)
        batch["update_step"] = jnp.ravel(runner.update)[0] - 1  # every seed has done as many
        log.log_batch_step(batch)
        return runner

    def body(carry: tuple[Runner, jax.Array], i: jax.Array) -> tuple[tuple[Runner, Any], None]:
        runner, n = carry
        runner = jax.lax.cond(i < n, one_update, lambda r: r, runner)
        return (runner, n), None

    def run(runner: Runner, n: jax.Array) -> Runner:
        return jax.lax.scan(body, (runner, n), jnp.arange(length))[0][0]

    jitted = jax.jit(run)
    return lambda runner, n: jitted(runner, jnp.int32(n))


def _check_diverged(runner: Runner, update: int) -> None:
    seeds = runner.diverged_seeds()
    if seeds:
        which = "" if jnp.ndim(runner.diverged) == 0 else f" (seeds {seeds})"
        raise TrainingDiverged(f"a loss became NaN/inf by update {update}{which}")


def run_host(
    ppo: PPO, log: ExperimentLogger, tally: Tally, end: int, on_progress: Callable[[int], None]
) -> None:
    """Updates ``tally.done .. end - 1``, one jitted update per iteration."""
    c, log_frequency = ppo.config, log.config.logging.log_frequency
    update = jax.jit(ppo.update)
    while tally.done < end:
        u = tally.done
        runner, batch = update(tally.runner)
        tally.runner, tally.done = runner, u + 1
        batch["update_step"] = u
        stopping = stop_requested(tally.stop)  # read once: it decides both the log and the end
        if stopping:
            log.final_step = u  # the last update before stopping is logged like a final one
        log.log_batch_step(batch)
        run_dir = log.run_dir if tally.done % c.checkpoint_every == 0 else None
        if u % log_frequency == 0 or tally.done == end or run_dir or stopping:  # host syncs
            _check_diverged(runner, u)  # never checkpoint NaN parameters
        if run_dir is not None:
            save_checkpoint(run_dir, runner)
        on_progress(tally.done)
        if stopping:
            return


def run_jit(
    ppo: PPO, log: ExperimentLogger, tally: Tally, end: int, on_progress: Callable[[int], None]
) -> None:
    """Updates ``tally.done .. end - 1`` in jitted chunks of ``train.checkpoint_every``."""
    run_chunk = jit_chunk(ppo, log, min(ppo.config.checkpoint_every, end - tally.done))
    while tally.done < end:
        n = min(ppo.config.checkpoint_every, end - tally.done)
        runner = jax.block_until_ready(run_chunk(tally.runner, n))
        tally.runner, tally.done = runner, tally.done + n
        _check_diverged(runner, tally.done - 1)
        if log.run_dir is not None:
            save_checkpoint(log.run_dir, runner)
        on_progress(tally.done)
        if stop_requested(tally.stop):
            return


LOOPS = {"host": run_host, "jit": run_jit}


def write_baselines(run_dir: Path, params: EnvParams, seed: int) -> dict[str, dict[str, Any]]:
    """``baselines.json``: the trivial policies' scores on these tasks (see ``baselines.py``)."""
    scores = trivial_baselines(params, jax.random.PRNGKey(seed))
    (run_dir / BASELINES_FILE).write_text(json.dumps(scores, indent=1), encoding="utf-8")
    return scores


def _logging_line(config: JaxArcConfig) -> str:
    lg = config.logging
    stats = (
        f"statistics every {lg.log_frequency} updates and the last"
        if lg.batched_logging_enabled
        else "batched statistics off"
    )
    extremes = " + the best and worst" if lg.sample_best_worst else ""
    samples = (
        f"{lg.num_samples} episodes{extremes} sampled every {lg.sample_frequency} updates"
        if lg.sampling_enabled
        else "no sampled episodes"
    )
    return f"{stats}; {samples}"


def describe_run(
    config: JaxArcConfig,
    params: EnvParams,
    run_dir: Path | None,
    start: int,
    baselines: dict[str, dict[str, Any]] | None = None,
) -> str:
    """What is about to be trained, on what, and where it goes (printed at the start)."""
    c, d = config.train, config.dataset
    h, w = params.buffer.grid_shape
    source = d.data_dir if d.source == "folder" else f"{d.source} {d.split}"
    limits = [f"max_task_size={d.max_task_size}"] if d.max_task_size else []
    limits += [f"max_tasks={d.max_tasks}"] if d.max_tasks else []
    limits += [f"{len(d.task_ids)} chosen ids"] if d.task_ids else []
    devices = jax.devices()
    seeds = (
        f"{c.num_seeds} seeds ({c.seed}–{c.seed + c.num_seeds - 1}) × " if c.num_seeds > 1 else ""
    )
    lines = [
        f"dataset   {source}: {params.buffer.num_tasks} tasks at {h}×{w}"
        + (f" ({', '.join(limits)})" if limits else ""),
        f"training  PPO, {seeds}{c.num_envs} envs × {c.num_steps} steps = "
        f"{c.num_seeds * c.num_envs * c.num_steps:,} env steps per update, updates {start}–"
        f"{start + c.num_updates - 1}, {c.loop} loop, "
        f"{len(devices)} {devices[0].platform} device(s), "
        f"episodes ≤ {params.max_episode_steps} steps",
        "logging   " + _logging_line(config),
        f"run dir   {run_dir}" if run_dir is not None else "run dir   (not the main process)",
    ]
    if baselines:
        lines.append(
            "baselines "
            + "; ".join(
                f"{name.replace('_', ' ')}: similarity {b['similarity_mean']:.3f}, "
                f"reward {b['reward_mean']:+.3f}, success {b['success_rate']:.1%}"
                for name, b in baselines.items()
            )
        )
    return "\n".join(lines)


def evaluate_every(
    every: int,
    evaluator: Evaluator,
    log: ExperimentLogger,
    tally: Tally,
    end: int,
    show: Callable[[int], None],
) -> Callable[[int], None]:
    """The loops' progress callback with ``train.eval_every``: show progress, and after every
    ``every``-th update (the in-jit loop: the chunk that reaches it) and the last, log the
    current model's ``eval/`` metrics at the latest update."""
    last = tally.done

    def on_progress(done: int) -> None:
        nonlocal last
        show(done)
        if done > last and (done // every > last // every or done == end):
            last = done
            log.log_metrics(evaluator(tally.runner.model), done - 1)

    return on_progress


def train(config: JaxArcConfig, console: Any = None) -> TrainResult:
    """Train PPO as ``config.train`` says, logging as ``config.logging`` says."""
    c = config.train
    if jax.process_index() == 0:  # the one that writes: fail before loading or compiling
        check_output_dir(Path(config.storage.base_output_dir))
    _, params = make(None, config)
    # sampled episodes carry their actions (for replays in the report) when sampling is on
    record = params.max_episode_steps if config.logging.sampling_enabled else 0
    ppo = PPO(c, params, record_actions=record)
    runner = ppo.init(ppo.seed_keys())
    if c.resume:
        runner = load_checkpoint(c.resume, runner)
        logger.info("resumed from %s at update %d", c.resume, runner.updates_done())
        if c.anneal_lr:  # the schedule spans the series: same optimizer, a longer horizon
            ppo = PPO(c, params, record_actions=record, first_update=runner.updates_done())
    runner, _ = shard_runner(runner, c.num_envs, c.num_seeds)
    start = runner.updates_done()
    tally = Tally(runner, start)
    steps_per_update = c.num_seeds * c.num_envs * c.num_steps  # env steps of all seeds

    log = ExperimentLogger(config)
    log.task_names = params.buffer.task_ids
    log.num_seeds = c.num_seeds
    log.final_step = start + c.num_updates - 1  # the last update is always logged
    log.env_steps_per_update = c.num_envs * c.num_steps  # per seed (the logger knows S)
    rich = log.handlers.get("rich")
    console = console or (rich.console if rich is not None else None)
    baselines = None
    if c.baselines and log.run_dir is not None:
        baselines = write_baselines(log.run_dir, params, c.seed)
    summary = describe_run(config, params, log.run_dir, start, baselines)
    if console is not None:
        console.print(summary, highlight=False)
    else:
        logger.info("%s", summary)
    t0 = time.perf_counter()
    interrupted: int | None = None
    bar = ProgressBar(console, c.num_updates, steps_per_update, start)
    end = start + c.num_updates
    on_progress: Callable[[int], None] = bar.show
    if c.eval_every:
        on_progress = evaluate_every(
            c.eval_every, Evaluator(config, seed=c.seed), log, tally, end, bar.show
        )
    with bar, stop_on_signals() as stop:
        if log.handlers:
            log.handlers["progress"] = bar  # the in-jit loop reports through the logger
        tally.stop = stop
        try:
            LOOPS[c.loop](ppo, log, tally, end, on_progress)
            jax.block_until_ready(tally.runner)
            interrupted = stop.signal
        except KeyboardInterrupt:
            interrupted = stop.signal or int(signal.SIGINT)
        except TrainingDiverged as err:
            logger.error(
                "training diverged: %s; stopping "
                "(see the *_nonfinite metrics in batch_metrics.jsonl)",
                err,
            )
            log.close()
            raise
        if interrupted is not None:
            logger.warning(
                "stopped after update %d: saving a checkpoint and closing the logs", tally.done
            )
        seconds = time.perf_counter() - t0
        steady = bar.steady_rate(tally.done)
        try:  # still under our signal handlers: a signal now does not cut the save short
            if log.run_dir is not None and not tally.runner.diverged_seeds():
                save_checkpoint(log.run_dir, tally.runner)
        finally:
            log.close()
    env_steps = (tally.done - start) * steps_per_update
    return TrainResult(log.run_dir, tally.done, interrupted, seconds, env_steps, steady, start)
