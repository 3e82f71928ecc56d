"""A seed axis: ``S`` independent runs in one ``batch_data`` (``train.num_seeds``).

With :attr:`BatchPipeline.num_seeds` ``= S > 1`` every array of ``batch_data`` has a leading
``[S]`` (``[S, B]`` per environment, ``[S]`` per scalar); Python numbers and ``update_step``
are shared. The layout is checked on seed 0's slice; the fused reduction runs vmapped over
seeds (one program, one ``[S, P]`` result, one transfer); sampled rows come from the
``S·B`` environments of all seeds. The fetched numbers become:

- ``seed_<i>/<metric>``: every metric of seed ``i``, as a run of its own would log it;
- ``<metric>``: the mean over seeds, and ``<metric>_seed_std``: the spread across seeds
  (population std), computed from the same fetched numbers;
- shared host scalars once, under their own names.

Sampled episode summaries carry ``seed`` and ``seed_environment_id`` (the environment within
that seed); their ``environment_id`` is the flat index ``seed·B + env``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import reduce as R
from .contract import PER_ENV_KEYS, STATE_KEYS

logger = logging.getLogger("jaxarc.logging.batch")

SEED_PREFIX = "seed_"
SEED_STD_SUFFIX = "_seed_std"
SHARED_KEYS = ("update_step",)


def seed_metric(seed: int, metric: str) -> str:
    return f"{SEED_PREFIX}{seed}/{metric}"


def is_seed_metric(name: str) -> bool:
    """A per-seed metric or an across-seed spread (not a curve of its own in the report)."""
    return name.startswith(SEED_PREFIX) or name.endswith(SEED_STD_SUFFIX)


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray | jax.Array) and np.ndim(x) >= 1


def seed_view(batch_data: Mapping[str, Any], num_seeds: int) -> dict[str, Any]:
    """Seed 0's slice of ``batch_data`` (only shapes and types matter: it is what the layout
    is checked on). A key whose arrays lack the leading ``[S]`` is warned about and left out."""
    view: dict[str, Any] = {}
    for key, value in batch_data.items():
        leaves = jax.tree.leaves(value)
        if key in SHARED_KEYS or not any(_is_array(leaf) for leaf in leaves):
            view[key] = value
        elif all(_is_array(leaf) and np.shape(leaf)[0] == num_seeds for leaf in leaves):
            view[key] = jax.tree.map(lambda x: x[0], value)
        else:
            logger.warning(
                "batch_data[%r] has no leading seed axis of %d (num_seeds); skipped "
                "(the other keys are still logged)",
                key,
                num_seeds,
            )
    return view


def broadcast_scalars(scalars: Sequence[Any], num_seeds: int) -> tuple[Any, ...]:
    """Device scalars shared by every seed, given the seed axis the vmapped reduction needs."""
    return tuple(
        jnp.broadcast_to(jnp.asarray(v), (num_seeds,)) if jnp.ndim(v) == 0 else v for v in scalars
    )


def _reduce_seeds(
    vectors: tuple[jax.Array, ...], scalars: tuple[jax.Array, ...], mask: jax.Array | None
) -> jax.Array:
    """``[S, P]``: :func:`~.reduce.reduce_device` of each seed, as one vmapped program."""
    packed: jax.Array = jax.vmap(lambda v, s, m: R.reduce_device(v, s, m)[0])(
        vectors, scalars, mask
    )
    return packed


reduce_seeds = jax.jit(_reduce_seeds)


def flatten_seeds(batch_data: Mapping[str, Any], num_seeds: int) -> dict[str, Any]:
    """The per-environment keys with seeds and environments as one ``[S·B]`` axis (the rows
    that episodes are sampled from; row ``s·B + e`` is environment ``e`` of seed ``s``)."""
    out: dict[str, Any] = {}
    for key in (*PER_ENV_KEYS, "task_ids", *STATE_KEYS):
        value = batch_data.get(key)
        if value is None or isinstance(value, list | tuple):
            continue
        leaves = jax.tree.leaves(value)
        if leaves and all(_is_array(x) and np.ndim(x) >= 2 for x in leaves):
            out[key] = jax.tree.map(lambda x: x.reshape((-1, *x.shape[2:])), value)
    return out


def merge(per_seed: Sequence[dict[str, float | int]], shared: set[str]) -> dict[str, float | int]:
    """The across-seed mean and spread of every metric, then each seed's own (module doc)."""
    names: dict[str, None] = {}
    for metrics in per_seed:
        names.update(dict.fromkeys(metrics))
    out: dict[str, float | int] = {}
    for name in names:
        values = [m[name] for m in per_seed if name in m]
        if name in shared:
            out[name] = values[0]
            continue
        finite = [float(v) for v in values if math.isfinite(v)]
        if not finite:
            continue
        out[name] = float(np.mean(finite))
        out[name + SEED_STD_SUFFIX] = float(np.std(finite))
    for i, metrics in enumerate(per_seed):
        out.update({seed_metric(i, k): v for k, v in metrics.items() if k not in shared})
    return out


def split_environment(summary: dict[str, Any], batch_size: int) -> dict[str, Any]:
    """Add ``seed`` and ``seed_environment_id`` (the environment within that seed) to a sampled
    summary; ``environment_id`` stays the flat ``S·B`` index, unique in the batch (file names)."""
    seed, env = divmod(int(summary["environment_id"]), batch_size)
    summary["seed"], summary["seed_environment_id"] = seed, env
    return summary
