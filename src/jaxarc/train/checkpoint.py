"""Saving and loading the trainer's parameters and optimizer state."""

from __future__ import annotations

import json
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .ppo import Runner

CHECKPOINT = "checkpoint.eqx"
CHECKPOINT_META = "checkpoint.json"


def save_checkpoint(run_dir: Path, runner: Runner) -> Path:
    """Write ``checkpoint.eqx`` (model, optimizer) and ``checkpoint.json`` (update, key)."""
    path = run_dir / CHECKPOINT
    tmp = path.with_suffix(".tmp")
    eqx.tree_serialise_leaves(tmp, (runner.model, runner.opt_state))
    tmp.replace(path)
    meta = {"update": int(runner.update), "key": np.asarray(runner.key).tolist()}
    (run_dir / CHECKPOINT_META).write_text(json.dumps(meta))
    return path


def load_checkpoint(path: str | Path, runner: Runner) -> Runner:
    """Load model and optimizer from a checkpoint file or run dir; the update count goes on."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path} (pass a run directory or its {CHECKPOINT})"
        )
    model, opt_state = eqx.tree_deserialise_leaves(path, (runner.model, runner.opt_state))
    meta = json.loads((path.parent / CHECKPOINT_META).read_text())
    key = jnp.asarray(meta["key"], dtype=runner.key.dtype)
    update = jnp.int32(meta["update"])
    loaded: Runner = eqx.tree_at(
        lambda r: (r.model, r.opt_state, r.key, r.update), runner, (model, opt_state, key, update)
    )
    return loaded
