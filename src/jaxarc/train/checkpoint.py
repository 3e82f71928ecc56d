"""Saving and loading the trainer's state: model, optimizer, environments, PRNG key, update.

Everything that resuming needs is in **one** file, ``checkpoint.eqx``, written to a
temporary name and renamed over the old one, so a checkpoint is always whole: a kill at any
moment leaves the previous checkpoint or the new one, never a mix. ``checkpoint.json`` beside
it repeats the update count for people and scripts; it is never trusted for resuming.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..logging.serialization import write_atomic
from .ppo import Runner

logger = logging.getLogger("jaxarc.train")

CHECKPOINT = "checkpoint.eqx"
CHECKPOINT_META = "checkpoint.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed; the message says which file and why."""


def _payload(runner: Runner, with_envs: bool) -> tuple[object, ...]:
    """What a checkpoint holds. With the environments (their states and episode statistics)
    a resumed run continues exactly where the saved one was; they are left out when several
    processes hold parts of them (each resumed environment then starts a fresh episode)."""
    envs = (runner.env_state, runner.tasks) if with_envs else None
    return (runner.model, runner.opt_state, runner.key, runner.update, envs)


def save_checkpoint(run_dir: Path, runner: Runner) -> Path:
    """Write ``checkpoint.eqx`` atomically (and ``checkpoint.json``, a readable summary)."""
    path = run_dir / CHECKPOINT
    tmp = path.with_name(f".{CHECKPOINT}.{os.getpid()}.tmp")
    try:
        eqx.tree_serialise_leaves(tmp, _payload(runner, jax.process_count() == 1))
        os.replace(tmp, path)  # atomic: the old checkpoint or the new one, never a mix
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(f"could not write the checkpoint {path}: {err.strerror or err}") from err
    write_atomic(run_dir / CHECKPOINT_META, json.dumps({"update": runner.updates_done()}))
    return path


def _read(path: Path, like: tuple[object, ...]) -> tuple[object, ...] | None:
    """The checkpoint read into ``like``, or ``None`` unless it fits exactly (a file that has
    bytes left over, or runs out, was written for another structure or is damaged)."""
    try:
        with open(path, "rb") as f:
            loaded = eqx.tree_deserialise_leaves(f, like)
            return loaded if f.read(1) == b"" else None
    except Exception:  # equinox/numpy raise many kinds for a bad file
        return None


def load_checkpoint(path: str | Path, runner: Runner) -> Runner:
    """``runner`` with the model, optimizer, key and update count of a checkpoint file or of a
    run directory's; a missing, damaged or mismatched checkpoint is a :class:`CheckpointError`
    naming the file (or ``FileNotFoundError`` when there is none)."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path} (pass a run directory or its {CHECKPOINT})"
        )
    loaded = _read(path, _payload(runner, with_envs=True))
    if loaded is None:  # saved without the environments (several processes)?
        loaded = _read(path, _payload(runner, with_envs=False))
        if loaded is not None:
            logger.warning("%s holds no environments: each starts a fresh episode", path)
    if loaded is None:
        raise CheckpointError(
            f"cannot resume from {path}: it is damaged, from another jaxarc version, or was "
            "saved with other settings (train.hidden_dim, train.num_envs, train.num_seeds, "
            "logging.sampling_enabled, the number of operations, the optimizer's); start a new "
            "run or resume with the run's own config"
        )
    model, opt_state, key, update, envs = loaded
    saved: tuple[Any, Any] = (runner.env_state, runner.tasks) if envs is None else envs  # type: ignore[assignment]
    env_state, tasks = saved
    counts = np.asarray(jax.device_get(update)).reshape(-1)
    update = int(counts[0])
    if update < 0 or (counts != update).any():
        raise CheckpointError(f"cannot resume from {path}: its update count is {update}")
    resumed: Runner = eqx.tree_at(
        lambda r: (r.model, r.opt_state, r.key, r.update, r.env_state, r.tasks),
        runner,
        (
            model,
            opt_state,
            jnp.asarray(key, runner.key.dtype),
            jnp.full(jnp.shape(runner.update), update, jnp.int32),
            env_state,
            tasks,
        ),
    )
    return resumed


__all__ = ["CHECKPOINT", "CHECKPOINT_META", "CheckpointError", "load_checkpoint", "save_checkpoint"]
