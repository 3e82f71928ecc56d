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


_gather_rows_jit = jax.jit(gather_rows, static_argnames=("num_samples", "batch_size", "extremes"))


Fetched = tuple[Any, Any]  # (packed statistics or None, (sampled indices, rows) or None)


def device_stage(
    plan: Plan,
    step: Any,
    *,
    reduce: bool,
    num_samples: int,
    extremes: bool = False,
    seeds: int = 1,
) -> Fetched:
    """The event's device work: the packed statistics and the sampled rows (each ``None`` when
    not asked for). With ``seeds > 1`` the statistics are ``[S, P]`` (one vmapped reduction)
    and the rows come from all ``S·B`` environments (see :mod:`.seeds`).

    Two jitted programs from the host (dispatched asynchronously; both results travel in
    the one transfer of :func:`fetch`); inlined into the caller's program inside jit.
    """
    stats = samples = None
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
    return stats, samples


def fetch(out: Fetched) -> Fetched:
    """The one device→host transfer of an event (every process joins when there are several)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        gathered: Fetched = multihost_utils.process_allgather(out, tiled=True)
        return gathered
    if out[1] is None:  # the common event: one small array, no pytree machinery
        return (None if out[0] is None else np.asarray(out[0])), None
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
) -> Event:
    """Decode the fetched numbers into the design's metrics and episode summaries
    (``num_random``: how many of the sampled rows are random; best and worst follow;
    ``seeds``: the seed axis of :mod:`.seeds`)."""
    stats, samples = fetched
    metrics: dict[str, float | int] = {}
    if stats is not None and seeds == 1:
        metrics = R.decode(stats, layout, host_scalars, step)
    elif stats is not None:
        per_seed = [R.decode(row, layout, host_scalars, step) for row in np.asarray(stats)]
        metrics = S.merge(per_seed, set(host_scalars))
    episodes: list[dict[str, Any]] = []
    if samples is not None:
        idx, rows = samples  # what gather_rows returned: the sampled indices and their rows
        episodes = summaries(step, idx, rows, task_names, task_lookup, num_random)
        if seeds > 1 and layout.batch_size:
            episodes = [S.split_environment(e, layout.batch_size) for e in episodes]
    return Event(step, metrics, episodes)


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
        k = self.config.num_samples if sample else 0
        out = device_stage(
            plan, step, reduce=log, num_samples=k, extremes=self.extremes, seeds=self.num_seeds
        )
        return host_stage(
            step,
            plan.layout,
            plan.host_scalars,
            fetch(out),
            plan.task_names,
            task_lookup,
            self.num_random(plan.batch_size),
            self.num_seeds,
        )

    @property
    def extremes(self) -> bool:
        return self.config.sample_best_worst

    def num_random(self, batch_size: int | None) -> int | None:
        """How many sampled rows are random (best and worst follow them), if extremes are on."""
        if not self.extremes or batch_size is None:
            return None
        return min(self.config.num_samples, batch_size * self.num_seeds)

    def run_traced(self, batch_data: Mapping[str, Any], emit: Callable[..., None]) -> None:
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

        def on_device(_: None) -> None:
            k = cfg.num_samples if want_sample else 0
            out = device_stage(
                plan,
                step,
                reduce=want_log,
                num_samples=k,
                extremes=self.extremes,
                seeds=self.num_seeds,
            )
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


def _step_or_zero(batch_data: Mapping[str, Any]) -> int:
    return int(batch_data.get("update_step", 0))


def select(fetched: Fetched, do_log: Any, do_sample: Any) -> Fetched:
    """The parts of an in-jit event's fetched numbers that its gates asked for."""
    stats, samples = fetched
    return (stats if bool(np.asarray(do_log)) else None), (
        samples if bool(np.asarray(do_sample)) else None
    )
