"""``jaxarc train``: the host loop and the fully jitted loop around :class:`PPO`.

Both loops log through :meth:`ExperimentLogger.log_batch_step`: the host loop from Python
after each jitted update, the jitted loop from inside ``lax.scan`` (it runs in chunks of
``train.checkpoint_every`` updates so that progress, checkpoints and Ctrl-C have a place
to happen).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..envs.config import JaxArcConfig
from ..envs.factory import make
from ..logging import ExperimentLogger
from .ppo import PPO, Runner

logger = logging.getLogger("jaxarc.train")

CHECKPOINT = "checkpoint.eqx"
CHECKPOINT_META = "checkpoint.json"


class TrainingDiverged(RuntimeError):
    """A loss became NaN/inf; training stopped instead of writing NaN forever."""


@dataclass
class TrainResult:
    run_dir: Path | None
    updates_done: int
    interrupted: bool
    seconds: float
    env_steps: int


def shard_runner(runner: Runner, num_envs: int) -> tuple[Runner, Mesh | None]:
    """Shard the environment states and episode trackers over a 1-D mesh of all devices;
    replicate the model, optimizer state and counters."""
    devices = jax.devices()
    if len(devices) == 1:
        return runner, None
    if num_envs % len(devices):
        raise ValueError(f"train.num_envs={num_envs} must be divisible by the number of devices ({len(devices)})")
    mesh = Mesh(np.array(devices), ("envs",))
    envs = NamedSharding(mesh, PartitionSpec("envs"))
    replicated = NamedSharding(mesh, PartitionSpec())

    def place(tree, sharding):
        def one(x):
            if not isinstance(x, jax.Array):
                return x
            if jax.process_count() == 1:
                return jax.device_put(x, sharding)
            # every process built the same full value: each contributes its own shards
            host = np.asarray(x)
            return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

        return jax.tree.map(one, tree)

    per_env = (runner.env_state, runner.episodes)
    shared = (runner.model, runner.opt_state, runner.key, runner.update, runner.diverged)
    runner = eqx.tree_at(lambda r: (r.env_state, r.episodes), runner, place(per_env, envs))
    runner = eqx.tree_at(lambda r: (r.model, r.opt_state, r.key, r.update, r.diverged), runner, place(shared, replicated))
    return runner, mesh


def save_checkpoint(run_dir: Path, runner: Runner) -> Path:
    path = run_dir / CHECKPOINT
    tmp = path.with_suffix(".tmp")
    eqx.tree_serialise_leaves(tmp, (runner.model, runner.opt_state))
    tmp.replace(path)
    meta = {"update": int(runner.update), "key": np.asarray(runner.key).tolist()}
    (run_dir / CHECKPOINT_META).write_text(json.dumps(meta))
    return path


def load_checkpoint(path: str | Path, runner: Runner) -> Runner:
    """Load model and optimizer from a checkpoint file or run directory; the update counter continues."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path} (pass a run directory or its {CHECKPOINT})")
    model, opt_state = eqx.tree_deserialise_leaves(path, (runner.model, runner.opt_state))
    meta = json.loads((path.parent / CHECKPOINT_META).read_text())
    key = jnp.asarray(meta["key"], dtype=runner.key.dtype)
    return eqx.tree_at(lambda r: (r.model, r.opt_state, r.key, r.update), runner, (model, opt_state, key, jnp.int32(meta["update"])))


def jit_chunk(ppo: PPO, log: ExperimentLogger):
    """``run(runner, n)``: ``n`` updates inside one jitted ``lax.scan``, logging from inside jit."""

    def body(runner, _):
        runner, batch = ppo.update(runner)
        batch["update_step"] = runner.update - 1
        log.log_batch_step(batch)
        return runner, None

    return jax.jit(lambda runner, n: jax.lax.scan(body, runner, None, length=n)[0], static_argnums=1)


def _progress(console):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(), TextColumn("updates"),
        TextColumn("{task.fields[sps]:>10} env steps/s"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=console, transient=False,
    )


def train(config: JaxArcConfig, console=None) -> TrainResult:
    """Train PPO as ``config.train`` says, logging as ``config.logging`` says."""
    c = config.train
    _, params = make(None, config)
    ppo = PPO(c, params)
    runner = ppo.init(jax.random.PRNGKey(c.seed))
    if c.resume:
        runner = load_checkpoint(c.resume, runner)
        logger.info("resumed from %s at update %d", c.resume, int(runner.update))
    runner, _ = shard_runner(runner, c.num_envs)
    start = int(runner.update)
    steps_per_update = c.num_envs * c.num_steps

    log = ExperimentLogger(config)
    log.task_names = params.buffer.task_ids
    rich = log.handlers.get("rich")
    console = console or (rich.console if rich is not None else None)
    t0 = time.perf_counter()
    done, interrupted = start, False
    progress = _progress(console) if console is not None else None
    task = progress.add_task("train", total=c.num_updates, completed=0, sps="-") if progress is not None else None

    def show_progress() -> None:
        if progress is not None:
            rate = (done - start) * steps_per_update / max(time.perf_counter() - t0, 1e-9)
            progress.update(task, completed=done - start, sps=f"{rate:,.0f}")

    try:
        if progress is not None:
            progress.start()
        if c.loop == "host":
            update = jax.jit(ppo.update)
            for u in range(start, start + c.num_updates):
                runner, batch = update(runner)
                done = u + 1
                batch["update_step"] = u
                log.log_batch_step(batch)
                check_due = u % config.logging.log_frequency == 0 or done == start + c.num_updates
                if check_due and bool(runner.diverged):
                    raise TrainingDiverged(f"a loss became NaN/inf by update {u}")
                if done % c.checkpoint_every == 0 and log.run_dir is not None:
                    save_checkpoint(log.run_dir, runner)
                show_progress()
        else:
            run_chunk = jit_chunk(ppo, log)
            while done < start + c.num_updates:
                n = min(c.checkpoint_every, start + c.num_updates - done)
                runner = jax.block_until_ready(run_chunk(runner, n))
                done += n
                if bool(runner.diverged):
                    raise TrainingDiverged(f"a loss became NaN/inf by update {done - 1}")
                if log.run_dir is not None:
                    save_checkpoint(log.run_dir, runner)
                show_progress()
        jax.block_until_ready(runner)
    except KeyboardInterrupt:
        interrupted = True
        logger.warning("interrupted after update %d: saving a checkpoint and closing the logs", done)
    except TrainingDiverged as err:
        logger.error("training diverged: %s; stopping (see the *_nonfinite metrics in batch_metrics.jsonl)", err)
        log.close()
        raise
    finally:
        if progress is not None:
            progress.stop()
    seconds = time.perf_counter() - t0
    try:
        if log.run_dir is not None and not bool(runner.diverged):
            save_checkpoint(log.run_dir, runner)
    finally:
        log.close()
    return TrainResult(log.run_dir, done, interrupted, seconds, (done - start) * steps_per_update)
