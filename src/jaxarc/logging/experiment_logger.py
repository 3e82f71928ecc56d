"""ExperimentLogger: fans logging events out to handlers, isolates their failures.

Single episodes go through ``log_task_start`` / ``log_step`` / ``log_episode_summary``.
Batched training goes through :meth:`ExperimentLogger.log_batch_step`, which works both
from a host loop and from inside ``jax.jit`` / ``lax.scan``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import yaml
from jax.experimental import io_callback

from ..envs.config import JaxArcConfig
from . import batch as B

logger = logging.getLogger("jaxarc.logging")

_Tracer = jax.core.Tracer
_NEVER = 2**62  # a modulus no update step reaches (step 0 takes the full path, which checks the flags)

#: Consecutive failures after which a handler is switched off.
MAX_CONSECUTIVE_FAILURES = 3

_STEP_CONTENT = {
    "log_operations": ("operation", "operation_name"),
    "log_grid_changes": ("before_grid", "after_grid", "selection"),
    "log_rewards": ("reward",),
}


def _new_run_dir(base: Path, name: str | None) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    stem = name or f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    for n in range(10_000):
        path = base / (stem if n == 0 else f"{stem}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a new run directory under {base}")


def default_handlers(config: JaxArcConfig, run_dir: Path) -> dict[str, Any]:
    """The handlers the configuration asks for (see the README's table of keys)."""
    from .handlers import FileHandler, RichHandler, SVGHandler, TensorBoardHandler, WandbHandler

    handlers: dict[str, Any] = {}
    if config.storage.file_logging:
        handlers["file"] = FileHandler(run_dir, config.logging)
    if config.visualization.enabled:
        handlers["svg"] = SVGHandler(run_dir, config.visualization)
    if config.visualization.console:
        handlers["rich"] = RichHandler(config.visualization)
    if config.storage.tensorboard:
        handlers["tensorboard"] = TensorBoardHandler(run_dir)
    if config.wandb.enabled:
        handlers["wandb"] = WandbHandler(run_dir, config.wandb, config.to_dict())
    return handlers


class ExperimentLogger:
    """Central coordinator of the logging handlers.

    Args:
        config: the run's :class:`JaxArcConfig`; which handlers run comes from
            ``storage.file_logging``, ``visualization.enabled`` (SVG), ``visualization.console``
            (Rich), ``storage.tensorboard`` and ``wandb.enabled``.
        handlers: use these handlers (name → object) instead of the configured ones.
        run_dir: write here instead of a new directory under ``storage.base_output_dir``.

    Only ``jax.process_index() == 0`` creates a run directory and handlers; on other
    processes every method is a no-op (but in-jit calls still trace the same program).
    """

    def __init__(self, config: JaxArcConfig, handlers: Mapping[str, Any] | None = None, run_dir: str | Path | None = None):
        self.config = config
        self.is_main_process = jax.process_index() == 0
        logging.getLogger("jaxarc").setLevel(config.logging.log_level)
        self.run_dir: Path | None = None
        self.handlers: dict[str, Any] = {}
        self._failures: dict[str, int] = {}
        self._disabled: set[str] = set()
        self._closed = False
        self._auto_step = 0
        self._plans = B.PlanCache(config.logging)  # checks run once per batch layout
        # cadence, precomputed for the fast path of log_batch_step (a gate that is off never matches)
        lc = config.logging
        self._log_every = lc.log_frequency if lc.batched_logging_enabled else _NEVER
        self._sample_every = lc.sample_frequency if lc.sampling_enabled else _NEVER
        self.task_names: list[str] | tuple[str, ...] | None = None  # integer task_ids → names (e.g. buffer.task_ids)
        if not self.is_main_process:
            return
        self.run_dir = Path(run_dir) if run_dir is not None else _new_run_dir(Path(config.storage.base_output_dir), config.storage.run_name)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
        self.handlers = dict(handlers) if handlers is not None else default_handlers(config, self.run_dir)
        logger.info("logging to %s with handlers %s", self.run_dir, list(self.handlers))

    # context manager -------------------------------------------------------------------
    def __enter__(self) -> ExperimentLogger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # dispatch --------------------------------------------------------------------------
    def _dispatch(self, method: str, *args: Any) -> None:
        for name, handler in self.handlers.items():
            if name in self._disabled:
                continue
            fn = getattr(handler, method, None)
            if fn is None:
                continue
            try:
                fn(*args)
            except Exception as err:  # a handler never takes training down
                self._failures[name] = self._failures.get(name, 0) + 1
                if self._failures[name] >= MAX_CONSECUTIVE_FAILURES:
                    self._disabled.add(name)
                    logger.error("handler %r disabled after %d consecutive failures; last one in %s: %r",
                                 name, self._failures[name], method, err)
                elif self._failures[name] == 1:
                    logger.warning("handler %r failed in %s: %r (the other handlers go on)", name, method, err)
            else:
                self._failures[name] = 0

    @property
    def active_handlers(self) -> list[str]:
        return [n for n in self.handlers if n not in self._disabled]

    # single episodes -------------------------------------------------------------------
    def log_task_start(self, task_data: dict[str, Any]) -> None:
        """An episode begins (``task_id``, ``episode_num``, the task's pairs...)."""
        if self.handlers and self.config.logging.log_episode_start:
            self._dispatch("log_task_start", task_data)

    def log_step(self, step_data: dict[str, Any]) -> None:
        """One environment step; content flags ``log_operations``, ``log_grid_changes`` and
        ``log_rewards`` decide whether operations, grids and rewards are kept."""
        if not self.handlers:
            return
        drop = {k for flag, keys in _STEP_CONTENT.items() if not getattr(self.config.logging, flag) for k in keys}
        self._dispatch("log_step", {k: v for k, v in step_data.items() if k not in drop} if drop else step_data)

    def log_episode_summary(self, summary_data: dict[str, Any]) -> None:
        """An episode ended (``total_reward``, ``final_similarity``, ``success``, states...)."""
        if self.handlers and self.config.logging.log_episode_end:
            self._dispatch("log_episode_summary", summary_data)

    # batched training ------------------------------------------------------------------
    def log_batch_step(self, batch_data: dict[str, Any]) -> None:
        """Log data from a batched training step (see the design's "Batch Data Structure").

        Every ``log_frequency`` updates the statistics of every key are computed in one
        jitted reduction and fetched with one transfer, then sent to each handler's
        ``log_aggregated_metrics``. Every ``sample_frequency`` updates ``num_samples``
        environments (chosen with ``PRNGKey(update_step)``) are gathered on device and sent
        through :meth:`log_episode_summary`. On any other update nothing is computed.

        Works from a host loop (pass ``update_step`` as a Python int) and inside
        ``jax.jit``/``lax.scan`` (a traced ``update_step``): there the gate is a
        ``lax.cond`` around one ordered host callback that receives only reduced numbers and
        the sampled rows. Do not call it under ``vmap``.
        """
        step = batch_data.get("update_step")
        if type(step) is int and step % self._log_every and step % self._sample_every:
            self._auto_step = step + 1  # the common case, decided before any other work
            return
        cfg = self.config.logging
        if isinstance(step, _Tracer) or (step is None and B.contains_tracer(batch_data)):
            self._log_batch_traced(batch_data)
            return
        if step is None:
            step = self._auto_step
            logger.warning("batch_data has no 'update_step'; using the logger's own count (%d). Pass update_step=<int>.", step)
        elif isinstance(step, bool) or not isinstance(step, int | np.integer | jax.Array):
            logger.warning("batch_data['update_step'] must be an integer, got %r; using the logger's own count (%d)", step, self._auto_step)
            step = self._auto_step
        step = int(step)
        self._auto_step = step + 1
        do_log = cfg.batched_logging_enabled and step % cfg.log_frequency == 0
        do_sample = cfg.sampling_enabled and step % cfg.sample_frequency == 0
        multi_process = jax.process_count() > 1  # every process joins the (global) reduction
        if not (do_log or do_sample) or not (self.handlers or multi_process):
            return
        plan = self._plans.plan(batch_data, want_samples=do_sample)
        packed = B.reduce_batch(plan) if do_log else None
        samples = None
        if do_sample and plan.batch_size is not None:
            samples = B.gather_samples(jnp.int32(step), plan.per_env, num_samples=cfg.num_samples, batch_size=plan.batch_size)
        if multi_process:
            from jax.experimental import multihost_utils

            packed, samples = multihost_utils.process_allgather((packed, samples), tiled=True)
        elif samples is not None:
            packed, samples = jax.device_get((packed, samples))  # the one transfer of this event
        elif packed is not None:
            packed = np.asarray(packed)  # one small array
        if self.handlers:
            self._emit(step, plan, packed, samples)

    def _aggregate_batch_metrics(self, batch_data: dict[str, Any]) -> dict[str, float]:
        """The design's aggregation: every statistic from one jitted reduction and one transfer."""
        plan = self._plans.plan(batch_data)
        return B.metrics_from_packed(np.asarray(B.reduce_batch(plan)), plan)

    def _sample_episodes_from_batch(self, batch_data: dict[str, Any]) -> list[dict[str, Any]]:
        """The design's sampling: ``num_samples`` episode summaries gathered on device."""
        plan = self._plans.plan(batch_data, want_samples=True)
        if plan.batch_size is None:
            return []
        step = int(batch_data.get("update_step", 0))
        idx, rows = jax.device_get(B.gather_samples(jnp.int32(step), plan.per_env, num_samples=self.config.logging.num_samples,
                                                    batch_size=plan.batch_size))
        return B.summaries_from_samples(step, idx, rows, plan.task_names, self.task_names)

    def _emit(self, step: int, plan: B.BatchPlan, packed: np.ndarray | None, samples: Any) -> None:
        if packed is not None:
            metrics = B.metrics_from_packed(packed, plan, step)
            if metrics:
                self._dispatch("log_aggregated_metrics", metrics, step)
        if samples is not None:
            idx, rows = samples
            for summary in B.summaries_from_samples(step, idx, rows, plan.task_names, self.task_names):
                self.log_episode_summary(summary)

    def _log_batch_traced(self, batch_data: dict[str, Any]) -> None:
        cfg = self.config.logging
        if "update_step" not in batch_data:
            logger.warning("log_batch_step inside jit needs batch_data['update_step']; nothing will be logged from this call site")
            return
        step = jnp.asarray(batch_data["update_step"], jnp.int32)
        want_log = cfg.batched_logging_enabled
        plan = B.plan_batch(batch_data, cfg, want_samples=cfg.sampling_enabled)
        want_sample = cfg.sampling_enabled and plan.batch_size is not None
        if not (want_log or want_sample):
            return
        do_log = (step % cfg.log_frequency == 0) & want_log
        do_sample = (step % cfg.sample_frequency == 0) & want_sample

        layout = plan.layout()  # names only: the callback must not keep tracers alive

        def emit(_):
            packed = B.reduce_batch(plan) if want_log else None
            samples = B.gather_rows(step, plan.per_env, cfg.num_samples, plan.batch_size) if want_sample else None
            io_callback(partial(self._emit_from_device, plan=layout), None, step, do_log, do_sample, packed, samples, ordered=True)

        jax.lax.cond(do_log | do_sample, emit, lambda _: None, None)

    def _emit_from_device(self, step, do_log, do_sample, packed, samples, plan) -> None:
        # runs on the host inside a callback: numpy only, and it must never raise
        try:
            if not self.handlers or self._closed:
                return
            self._emit(int(step), plan, packed if bool(do_log) else None, samples if bool(do_sample) else None)
        except Exception as err:
            logger.warning("batched logging callback failed at update %s: %r", step, err)

    # shutdown --------------------------------------------------------------------------
    def close(self) -> None:
        """Wait for in-flight callbacks, flush and close every handler (idempotent)."""
        if self._closed:
            return
        jax.effects_barrier()
        self._closed = True
        for name, handler in self.handlers.items():
            fn = getattr(handler, "close", None)
            if fn is None:
                continue
            try:
                fn()
            except Exception as err:
                logger.warning("handler %r failed to close: %r", name, err)
        if self.run_dir is not None:
            logger.info("run written to %s", self.run_dir)

