"""Saving and loading the trainer's state with orbax-checkpoint.

A run's checkpoints live in ``<run>/checkpoints/<update>/``, written by an orbax
``CheckpointManager``: each is written to a temporary directory and committed by a rename
(a kill at any moment leaves the previous checkpoints whole and no half-written one is ever
read), and the newest :data:`KEEP` are kept. Each holds three items:

- ``model``: the actor-critic's arrays (what ``jaxarc eval`` reads, alone);
- ``trainer``: the optimizer state, PRNG key, update count, divergence flags, per-task
  statistics and, when one process holds them all, the environments with their episode
  statistics (so that a resumed run continues exactly where the saved one was);
- ``meta``: JSON — the update count, whether the environments are in, the jaxarc version.

``checkpoint.json`` beside the directory repeats the latest update for people and scripts;
it is never trusted for resuming. With several processes only process 0 writes (from host
copies of the replicated arrays: model, optimizer, key, counters, per-task statistics; the
environments, spread over processes, are left out).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..logging.serialization import write_atomic
from .ppo import Runner

logger = logging.getLogger("jaxarc.train")

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_META = "checkpoint.json"
#: how many checkpoints a run keeps (the newest)
KEEP = 2


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed; the message says which file and why."""


def _ocp() -> Any:
    import orbax.checkpoint as ocp  # imported when needed: it is slow to import

    return ocp


def _arrays(tree: Any) -> list[Any]:
    return jax.tree.leaves(eqx.filter(tree, eqx.is_array))


def _trainer(runner: Runner, with_envs: bool) -> tuple[Any, ...]:
    envs = runner.env_state if with_envs else None
    return (runner.opt_state, runner.key, runner.update, runner.diverged, runner.tasks, envs)


def _manager(directory: Path, create: bool) -> Any:
    ocp = _ocp()
    me = jax.process_index()
    if create:
        directory.mkdir(parents=True, exist_ok=True)
    options = ocp.CheckpointManagerOptions(
        max_to_keep=KEEP,
        create=False,
        enable_async_checkpointing=False,
        # one writer: the others hold no run directory (see the module docstring)
        multiprocessing_options=ocp.options.MultiprocessingOptions(
            primary_host=me, active_processes={me}
        ),
    )
    return ocp.CheckpointManager(directory.resolve(), options=options)


def save_checkpoint(run_dir: Path, runner: Runner) -> Path:
    """Write ``<run_dir>/checkpoints/<update>/`` (and ``checkpoint.json``, a readable
    summary), keeping the newest :data:`KEEP`; returns the checkpoint's directory."""
    ocp = _ocp()
    update = runner.updates_done()
    with_envs = jax.process_count() == 1
    directory = run_dir / CHECKPOINT_DIR
    host = [np.asarray(x) for x in _arrays((runner.model, _trainer(runner, with_envs)))]
    n_model = len(_arrays(runner.model))
    meta = {"update": update, "with_envs": with_envs, "version": _version()}
    manager = None
    try:
        manager = _manager(directory, create=True)
        if update in manager.all_steps():  # saved already (the final save after a periodic
            return directory / str(update)  # one): the same update is the same state
        saved = manager.save(
            update,
            args=ocp.args.Composite(
                model=ocp.args.StandardSave(host[:n_model]),
                trainer=ocp.args.StandardSave(host[n_model:]),
                meta=ocp.args.JsonSave(meta),
            ),
        )
        manager.wait_until_finished()
    except Exception as err:  # tensorstore reports I/O errors (a full disk) as ValueError too
        for tmp in directory.glob(f"{update}.orbax-checkpoint-tmp*"):  # what the failure left
            shutil.rmtree(tmp, ignore_errors=True)
        why = err.strerror if isinstance(err, OSError) and err.strerror else err
        raise OSError(f"could not write the checkpoint {directory}: {why}") from err
    finally:
        if manager is not None:
            try:
                manager.close()
            except Exception as err:  # never hide the error that brought us here
                logger.warning("closing the checkpoint manager of %s: %r", directory, err)
    if not saved:  # orbax refuses a step at or below its newest (a reused directory)
        newest = max((int(p.name) for p in directory.iterdir() if p.name.isdigit()), default=None)
        raise CheckpointError(
            f"could not write the checkpoint of update {update} to {directory}: it already "
            f"holds update {newest}; use a new run directory"
        )
    summary = {"update": update, "checkpoint": f"{CHECKPOINT_DIR}/{update}"}
    write_atomic(run_dir / CHECKPOINT_META, json.dumps(summary))
    return directory / str(update)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jaxarc")
    except PackageNotFoundError:
        return "unknown"


def _locate(path: str | Path) -> tuple[Path, int]:
    """``(checkpoints directory, update)`` of a run directory (its latest checkpoint), its
    ``checkpoints`` directory, or one checkpoint's directory."""
    path = Path(path)
    if path.is_file():
        raise CheckpointError(
            f"{path} is a file; pass a run directory (checkpoints live in "
            f"<run>/{CHECKPOINT_DIR}/<update>/, written by jaxarc ≥ 0.2)"
        )
    one = path.name.isdigit() and path.parent.name == CHECKPOINT_DIR
    directory = (
        path.parent if one else path if path.name == CHECKPOINT_DIR else path / CHECKPOINT_DIR
    )
    steps = (
        sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit() and p.is_dir())
        if directory.is_dir()
        else []
    )
    if one and int(path.name) not in steps:
        raise FileNotFoundError(
            f"no checkpoint at {path}; {directory} holds updates {steps or 'none'}"
        )
    if not steps:
        raise FileNotFoundError(
            f"no checkpoint at {path} (pass a run directory with a {CHECKPOINT_DIR}/ folder)"
        )
    return directory, int(path.name) if one else steps[-1]


def _restore(directory: Path, update: int, items: dict[str, Any]) -> dict[str, Any]:
    """The ``items`` (name → list of template arrays, or ``None`` for JSON) of one checkpoint."""
    ocp = _ocp()
    args = {
        name: ocp.args.JsonRestore()
        if like is None
        else ocp.args.StandardRestore([jax.ShapeDtypeStruct(x.shape, x.dtype) for x in like])
        for name, like in items.items()
    }
    manager = _manager(directory, create=False)
    try:
        out = dict(manager.restore(update, args=ocp.args.Composite(**args)))
    finally:
        manager.close()
    for name, like in items.items():  # orbax hands back what is stored, whatever was asked
        got = out[name] if like is not None else []
        if like is not None and (
            len(got) != len(like)
            or any(np.shape(g) != tuple(x.shape) for g, x in zip(got, like, strict=True))
        ):
            raise ValueError(f"the stored {name} has other shapes than this configuration's")
    return out


def _mismatch(where: Path, err: Exception) -> CheckpointError:
    return CheckpointError(
        f"cannot resume from {where}: it is damaged, from another jaxarc version, or was "
        "saved with other settings (train.hidden_dim, train.num_envs, train.num_seeds, "
        "logging.sampling_enabled, the number of operations or tasks, the optimizer's); start "
        f"a new run or resume with the run's own config ({type(err).__name__})"
    )


def _combine(like: Any, arrays: list[Any]) -> Any:
    params, static = eqx.partition(like, eqx.is_array)
    leaves, treedef = jax.tree.flatten(params)
    filled = [jnp.asarray(a, x.dtype) for a, x in zip(arrays, leaves, strict=True)]
    return eqx.combine(jax.tree.unflatten(treedef, filled), static)


def load_model(path: str | Path, like: Any) -> Any:
    """The model of a checkpoint (a run directory's latest, or one checkpoint's directory),
    shaped like ``like`` (with a leading seed axis for runs of several seeds)."""
    directory, update = _locate(path)
    try:
        out = _restore(directory, update, {"model": _arrays(like)})
    except Exception as err:
        raise CheckpointError(
            f"cannot read the model in {directory / str(update)}: damaged, or saved with "
            f"another train.hidden_dim/train.num_seeds ({type(err).__name__})"
        ) from err
    return _combine(like, out["model"])


def checkpoint_update(path: str | Path) -> int:
    """The update count of the latest checkpoint at ``path`` (see :func:`load_model`)."""
    return _locate(path)[1]


def load_checkpoint(path: str | Path, runner: Runner) -> Runner:
    """``runner`` with the model, optimizer, key, update count (and environments) of a
    checkpoint; a missing, damaged or mismatched one is a :class:`CheckpointError` naming
    it (or ``FileNotFoundError`` when there is none)."""
    directory, update = _locate(path)
    where = directory / str(update)
    try:
        meta = _restore(directory, update, {"meta": None})["meta"]
        with_envs = bool(meta["with_envs"])
        trainer_like = _trainer(runner, with_envs)
        out = _restore(
            directory, update, {"model": _arrays(runner.model), "trainer": _arrays(trainer_like)}
        )
    except Exception as err:
        raise _mismatch(where, err) from err
    if not with_envs:
        logger.warning("%s holds no environments: each starts a fresh episode", where)
    model = _combine(runner.model, out["model"])
    opt_state, key, count, diverged, tasks, envs = _combine(trainer_like, out["trainer"])
    counts = np.asarray(jax.device_get(count)).reshape(-1)
    if counts[0] < 0 or (counts != counts[0]).any() or int(counts[0]) != int(meta["update"]):
        raise CheckpointError(f"cannot resume from {where}: its update count is {counts[0]}")
    env_state = runner.env_state if envs is None else envs
    resumed: Runner = eqx.tree_at(
        lambda r: (r.model, r.opt_state, r.key, r.update, r.diverged, r.env_state, r.tasks),
        runner,
        (model, opt_state, key, count, diverged, env_state, tasks),
    )
    return resumed


__all__ = [
    "CHECKPOINT_DIR",
    "CHECKPOINT_META",
    "CheckpointError",
    "checkpoint_update",
    "load_checkpoint",
    "load_model",
    "save_checkpoint",
]
