"""The one batched-logging pipeline, for a host loop and for the inside of ``jax.jit``.

    cadence (decided before any device work)
      → plan (keys checked once per layout)
      → device stage: one jitted reduction + the sampled rows gathered on device
      → one transfer (``jax.device_get``; an ordered ``io_callback`` inside jit)
      → host stage: decode into metrics and episode summaries → handlers

Both paths run the same device stage and the same host stage; they differ only in how the
gate is taken (a Python ``if`` or a ``lax.cond``) and how the numbers reach the host.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import io_callback

from ...config import LoggingConfig
from . import reduce as R
from . import seeds as S
from .plan import Layout, Plan, PlanCache, is_tracer, plan_batch, signature
from .sample import gather_rows, summaries

logger = logging.getLogger("jaxarc.logging.batch")


@dataclass(frozen=True)
class Cadence:
    """When an update is logged: aggregated every ``log_every`` updates, sampled every
    ``sample_every`` (``None``: never), and both at ``last_step`` (the run's final update,
    when the caller knows it). Works on Python ints and on traced steps."""

    log_every: int | None
    sample_every: int | None
    last_step: int | None = None

    @classmethod
    def from_config(cls, config: LoggingConfig) -> Cadence:
        return cls(
            config.log_frequency if config.batched_logging_enabled else None,
            config.sample_frequency if config.sampling_enabled else None,
        )

    def _due(self, step: Any, every: int | None) -> Any:
        if every is None:
            return False
        if type(step) is int:  # the host fast path: plain Python, no device work
            return step % every == 0 or step == self.last_step
        due = step % every == 0
        return due if self.last_step is None else due | (step == self.last_step)

    def should_log(self, step: Any) -> Any:
        return self._due(step, self.log_every)

    def should_sample(self, step: Any) -> Any:
        return self._due(step, self.sample_every)


class Event(NamedTuple):
    """What one logged update sends to the handlers."""

    step: int
    metrics: dict[str, float | int]
    summaries: list[dict[str, Any]]
    #: ``logging.per_task_metrics``: ``{task: {"episodes", "successes", "success_rate",
    #: "similarity_mean"}}`` of the tasks with a counted episode (all seeds together)
    tasks: dict[str, dict[str, float | int]] | None = None


_gather_rows_jit = jax.jit(gather_rows, static_argnames=("num_samples", "batch_size", "extremes"))


#: (packed statistics, (sampled indices, rows), per-task statistics), each None when not asked
Fetched = tuple[Any, Any, Any]

#: the batch keys the per-task statistics read (``task_ids`` must be integer ids)
TASK_KEYS = ("task_ids", "episode_done_mask", "success_mask", "similarity_scores")


def task_inputs(
    batch_data: Mapping[str, Any], num_tasks: int | None, seeds: int = 1
) -> tuple[Any, ...] | None:
    """``(task_ids, done, success, similarity)`` for :func:`~.reduce.per_task_stats`, or
    ``None`` when there are no integer ``task_ids`` of the batch's shape (the optional
    keys are ``None`` when missing or of another shape)."""
    ids = batch_data.get("task_ids")
    shape = getattr(ids, "shape", None)
    dtype = getattr(ids, "dtype", None)
    if not num_tasks or shape is None or dtype is None or len(shape) != (1 if seeds == 1 else 2):
        return None
    if not np.issubdtype(np.dtype(dtype), np.integer):
        return None
    out = [ids]
    for key in TASK_KEYS[1:]:
        value = batch_data.get(key)
        out.append(value if getattr(value, "shape", None) == shape else None)
    return tuple(out)


def device_stage(
    plan: Plan,
    step: Any,
    *,
    reduce: bool,
    num_samples: int,
    extremes: bool = False,
    seeds: int = 1,
    tasks: tuple[Any, ...] | None = None,
    num_tasks: int = 0,
) -> Fetched:
    """The event's device work: the packed statistics, the sampled rows and the per-task
    statistics of ``tasks`` (:func:`task_inputs`; each ``None`` when not asked for). With
    ``seeds > 1`` the statistics are ``[S, P]`` (one vmapped reduction) and the rows and the
    per-task counts come from all ``S·B`` environments (see :mod:`.seeds`).

    Two jitted programs from the host (dispatched asynchronously; both results travel in
    the one transfer of :func:`fetch`); inlined into the caller's program inside jit.
    """
    stats = samples = per_task = None
    traced = is_tracer(step)
    if reduce and seeds == 1:
        stats = R.reduce_device(plan.vectors, plan.device_scalars, plan.mask)[0]  # by-product
    elif reduce:
        reduce_seeds = S._reduce_seeds if traced else S.reduce_seeds
        stats = reduce_seeds(
            plan.vectors, S.broadcast_scalars(plan.device_scalars, seeds), plan.mask
        )
    if num_samples and plan.batch_size is not None:
        gather = gather_rows if traced else _gather_rows_jit
        samples = gather(
            step if traced else np.int32(step % 2**31),  # the key of steps ≥ 2³¹ wraps
            plan.per_env,
            num_samples=num_samples,
            batch_size=plan.batch_size * seeds,
            extremes=extremes,
        )
    if reduce and tasks is not None and num_tasks:
        per_task_fn = R.per_task_stats if traced else R.per_task_stats_jit
        ids, done, success, similarity = tasks
        per_task = per_task_fn(ids, done, success, similarity, num_tasks=num_tasks)
    return stats, samples, per_task


def fetch(out: Fetched) -> Fetched:
    """The one device→host transfer of an event (every process joins when there are several)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        gathered: Fetched = multihost_utils.process_allgather(out, tiled=True)
        return gathered
    if out[1] is None and out[2] is None:  # the common event: one small array
        return (None if out[0] is None else np.asarray(out[0])), None, None
    fetched: Fetched = jax.device_get(out)
    return fetched


def host_stage(
    step: int,
    layout: Layout,
    host_scalars: dict[str, int | float],
    fetched: Fetched,
    task_names: Sequence[str] | None,
    task_lookup: Sequence[str] | None,
    num_random: int | None = None,
    seeds: int = 1,
    host_vectors: tuple[np.ndarray, ...] = (),
    mask: Any = None,
) -> Event:
    """Decode the fetched numbers into the design's metrics and episode summaries
    (``num_random``: how many of the sampled rows are random; best and worst follow;
    ``seeds``: the seed axis of :mod:`.seeds`; ``host_vectors``: the values of
    ``layout.host_vectors``, reduced here with the validity ``mask``)."""
    stats, samples, per_task = fetched
    metrics: dict[str, float | int] = {}
    host_stats: list[dict[str, Any]] = [{}] * seeds
    if stats is not None and layout.host_vectors:
        done = None if mask is None else np.asarray(mask)  # a transfer only when on device
        host_stats = [
            R.host_vector_stats(
                layout.host_vectors,
                tuple(v if seeds == 1 else v[s] for v in host_vectors),
                None if done is None else (done if seeds == 1 else done[s]),
            )
            for s in range(seeds)
        ]
    if stats is not None and seeds == 1:
        metrics = R.decode(stats, layout, host_scalars, step, host_stats[0])
    elif stats is not None:
        per_seed = [
            R.decode(row, layout, host_scalars, step, host_stats[s])
            for s, row in enumerate(np.asarray(stats))
        ]
        metrics = S.merge(per_seed, set(host_scalars))
    episodes: list[dict[str, Any]] = []
    if samples is not None:
        idx, rows = samples  # what gather_rows returned: the sampled indices and their rows
        episodes = summaries(step, idx, rows, task_names, task_lookup, num_random)
        if seeds > 1 and layout.batch_size:
            episodes = [S.split_environment(e, layout.batch_size) for e in episodes]
    tasks = None
    if per_task is not None:
        with_similarity = any(slot.key == TASK_KEYS[3] for slot in layout.vectors)
        tasks = R.decode_tasks(per_task, task_lookup, similarity=with_similarity)
    return Event(step, metrics, episodes, tasks)


class BatchPipeline:
    """Cadence, plan cache and both paths of :meth:`ExperimentLogger.log_batch_step`.

    Args:
        config: the logging section.
    """

    def __init__(self, config: LoggingConfig):
        self.config = config
        self.cadence = Cadence.from_config(config)
        self.plans = PlanCache(config)
        #: ``S`` > 1: every array of ``batch_data`` has a leading seed axis (see :mod:`.seeds`)
        self.num_seeds = 1
        self._seed_layouts: dict[tuple[Any, ...], Layout] = {}
        self._warned_tasks = False

    def plan(self, batch_data: Mapping[str, Any], *, want_samples: bool) -> Plan:
        """The checked plan of ``batch_data`` (remembered per layout; see :mod:`.plan`)."""
        if self.num_seeds == 1:
            return self.plans.plan(batch_data, want_samples=want_samples)
        return self._seeded_plan(batch_data, want_samples, traced=False)

    def _seeded_plan(self, batch_data: Mapping[str, Any], want_samples: bool, traced: bool) -> Plan:
        """The layout checked on seed 0's slice, holding every seed's values."""
        sig = None if traced else signature(batch_data)
        layout = None if sig is None else self._seed_layouts.get(sig)
        if layout is None:
            view = S.seed_view(batch_data, self.num_seeds)
            layout = plan_batch(view, self.config, want_samples=False).layout
            if sig is not None:
                self._seed_layouts[sig] = layout
        plan = layout.take(batch_data)
        if want_samples and layout.batch_size is not None:
            flat = S.flatten_seeds(batch_data, self.num_seeds)
            rows = plan_batch(flat, self.config, want_samples=True, warn=False)
            plan.per_env = rows.per_env
        return plan

    def run(
        self,
        batch_data: Mapping[str, Any],
        step: int,
        *,
        log: bool,
        sample: bool,
        task_lookup: Sequence[str] | None = None,
    ) -> Event:
        """The host path: plan, one device program, one transfer, decode."""
        plan = self.plan(batch_data, want_samples=sample)
        plan, tasks = one_device_set(plan, self.task_inputs(batch_data, task_lookup), step)
        out = self._device_stage(plan, step, log, sample, tasks, task_lookup)
        return host_stage(
            step,
            plan.layout,
            plan.host_scalars,
            fetch(out),
            plan.task_names,
            task_lookup,
            self.num_random(plan.batch_size),
            self.num_seeds,
            host_vectors=plan.host_vectors,
            mask=plan.mask,
        )

    def _device_stage(
        self,
        plan: Plan,
        step: Any,
        log: bool,
        sample: bool,
        tasks: tuple[Any, ...] | None,
        task_lookup: Sequence[str] | None,
    ) -> Fetched:
        """:func:`device_stage` with this pipeline's settings (both paths call it)."""
        return device_stage(
            plan,
            step,
            reduce=log,
            num_samples=self.config.num_samples if sample else 0,
            extremes=self.extremes,
            seeds=self.num_seeds,
            tasks=tasks,
            num_tasks=len(task_lookup or ()),
        )

    def task_inputs(
        self, batch_data: Mapping[str, Any], task_lookup: Sequence[str] | None
    ) -> tuple[Any, ...] | None:
        """What the per-task statistics read, when ``logging.per_task_metrics`` is on and the
        task names (their number) are known; warned about once when they cannot be had."""
        if not self.config.per_task_metrics:
            return None
        tasks = task_inputs(batch_data, len(task_lookup or ()), self.num_seeds)
        if tasks is None and not self._warned_tasks:
            self._warned_tasks = True
            logger.warning(
                "logging.per_task_metrics needs integer batch_data['task_ids'] of the batch's "
                "shape and ExperimentLogger.task_names (one name per task id); no per-task "
                "metrics are logged"
            )
        return tasks

    @property
    def extremes(self) -> bool:
        return self.config.sample_best_worst

    def num_random(self, batch_size: int | None) -> int | None:
        """How many sampled rows are random (best and worst follow them), if extremes are on."""
        if not self.extremes or batch_size is None:
            return None
        return min(self.config.num_samples, batch_size * self.num_seeds)

    def run_traced(
        self,
        batch_data: Mapping[str, Any],
        emit: Callable[..., None],
        task_lookup: Sequence[str] | None = None,
    ) -> None:
        """The in-jit path: the gate is a ``lax.cond`` around the device stage and one ordered
        ``io_callback``; ``emit(step, fetched, do_log, do_sample, plan=...)`` runs on the host."""
        if "update_step" not in batch_data:
            logger.warning(
                "log_batch_step inside jit needs batch_data['update_step']; "
                "nothing will be logged from this call site"
            )
            return
        cfg = self.config
        step = jnp.asarray(batch_data["update_step"], jnp.int32)
        if self.num_seeds == 1:
            plan = plan_batch(batch_data, cfg, want_samples=cfg.sampling_enabled)
        else:
            plan = self._seeded_plan(batch_data, cfg.sampling_enabled, traced=True)
        want_log = cfg.batched_logging_enabled
        want_sample = cfg.sampling_enabled and plan.batch_size is not None
        if not (want_log or want_sample):
            return
        do_log = jnp.asarray(self.cadence.should_log(step)) & want_log
        do_sample = jnp.asarray(self.cadence.should_sample(step)) & want_sample
        # only names and Python values go to the host side: the callback must not keep tracers alive
        static = Plan(plan.layout, host_scalars=plan.host_scalars, task_names=plan.task_names)
        tasks = self.task_inputs(batch_data, task_lookup) if want_log else None

        def on_device(_: None) -> None:
            out = self._device_stage(plan, step, want_log, want_sample, tasks, task_lookup)
            io_callback(
                partial(emit, plan=static), None, step, out, do_log, do_sample, ordered=True
            )

        jax.lax.cond(do_log | do_sample, on_device, lambda _: None, None)

    # the design's two halves of an event, for callers that want one of them
    def aggregate(self, batch_data: Mapping[str, Any]) -> dict[str, float | int]:
        return self.run(batch_data, _step_or_zero(batch_data), log=True, sample=False).metrics

    def sample(
        self, batch_data: Mapping[str, Any], task_lookup: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        return self.run(
            batch_data, _step_or_zero(batch_data), log=False, sample=True, task_lookup=task_lookup
        ).summaries


def _devices(x: Any) -> frozenset[Any] | None:
    """The devices a committed ``jax.Array`` lives on (``None`` for anything else)."""
    if isinstance(x, jax.Array) and not is_tracer(x) and getattr(x, "committed", False):
        return frozenset(x.devices())
    return None


def _on(x: Any, devices: frozenset[Any] | None) -> Any:
    """``x``, or its host copy when it is committed to other ``devices`` (a host array is
    uncommitted: the reduction's program places it with the others)."""
    own = _devices(x)
    return x if own is None or devices is None or own == devices else np.asarray(x)


def one_device_set(
    plan: Plan, tasks: tuple[Any, ...] | None, step: int
) -> tuple[Plan, tuple[Any, ...] | None]:
    """``plan`` (and the per-task inputs) with every array on the devices of the first:
    arrays committed to other devices (which one jitted program cannot take together) are
    copied to the host, each with a warning naming its key; the rest is untouched."""
    named = [(s.key, v) for s, v in zip(plan.layout.vectors, plan.vectors, strict=True)]
    named += [
        (s.key, v) for s, v in zip(plan.layout.device_scalars, plan.device_scalars, strict=True)
    ]
    if plan.mask is not None:
        named.append((plan.layout.mask_key or "mask", plan.mask))
    named += [(key, leaf) for key, tree in plan.per_env.items() for leaf in jax.tree.leaves(tree)]
    named += list(zip(TASK_KEYS, tasks or (), strict=False))
    sets = [d for _, v in named if (d := _devices(v)) is not None]
    if len(set(sets)) <= 1:
        return plan, tasks
    target = sets[0]
    for key, value in named:
        own = _devices(value)
        if own is not None and own != target:
            logger.warning(
                "batch_data[%r] is on %s, other arrays on %s; copied to the host so the event "
                "is logged together (update %d)",
                key,
                sorted(str(d) for d in own),
                sorted(str(d) for d in target),
                step,
            )
    plan.vectors = tuple(_on(v, target) for v in plan.vectors)
    plan.device_scalars = tuple(_on(v, target) for v in plan.device_scalars)
    plan.mask = _on(plan.mask, target)
    plan.per_env = {k: jax.tree.map(lambda x: _on(x, target), t) for k, t in plan.per_env.items()}
    return plan, None if tasks is None else tuple(_on(x, target) for x in tasks)


def _step_or_zero(batch_data: Mapping[str, Any]) -> int:
    return int(batch_data.get("update_step", 0))


def select(fetched: Fetched, do_log: Any, do_sample: Any) -> Fetched:
    """The parts of an in-jit event's fetched numbers that its gates asked for."""
    stats, samples, per_task = fetched
    logged = bool(np.asarray(do_log))
    return (
        stats if logged else None,
        samples if bool(np.asarray(do_sample)) else None,
        per_task if logged else None,
    )
