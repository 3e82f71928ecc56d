"""ExperimentLogger: fans logging events out to handlers, isolates their failures.

Single episodes go through ``log_task_start`` / ``log_step`` / ``log_episode_summary``.
Batched training goes through :meth:`ExperimentLogger.log_batch_step`, which works both
from a host loop and from inside ``jax.jit`` / ``lax.scan``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np
import yaml

from ..config import JaxArcConfig
from ..types import StepType
from . import batch as B
from .handlers.base import HANDLER_METHODS, handler_method

logger = logging.getLogger("jaxarc.logging")


#: Consecutive failures after which a handler is switched off.
MAX_CONSECUTIVE_FAILURES = 3

_STEP_CONTENT = {
    "log_operations": ("operation", "operation_name"),
    "log_grid_changes": ("before_grid", "after_grid", "selection"),
    "log_rewards": ("reward",),
}


def check_output_dir(base: Path) -> None:
    """Raise one clear ``ValueError`` when runs cannot be written under ``base`` (a file, a
    path under a file, a read-only directory) — before anything is compiled."""
    for parent in (base, *base.parents):
        if parent.exists():
            if not parent.is_dir():
                where = "is a file" if parent == base else f"is under the file {parent}"
                raise ValueError(f"storage.base_output_dir {base} {where}; choose a directory")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ValueError(
                    f"storage.base_output_dir {base}: {parent} is not writable; "
                    "choose a directory you can write to"
                )
            return


def _new_run_dir(base: Path, name: str | None) -> Path:
    check_output_dir(base)
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


#: (switched on?, module, extra, setting) for each handler that needs an optional package
_EXTRAS: tuple[tuple[Callable[[JaxArcConfig], bool], str, str, str], ...] = (
    (lambda c: c.wandb.enabled, "wandb", "wandb", "wandb.enabled"),
)


def check_extras(config: JaxArcConfig) -> None:
    """Raise one ``ImportError`` line naming the extra to install when a handler the config
    switches on lacks its package (checked before any run directory is made)."""
    import importlib.util

    for wanted, module, extra, setting in _EXTRAS:
        if wanted(config) and importlib.util.find_spec(module) is None:
            raise ImportError(
                f"{setting}=true needs the {module} package: pip install 'jaxarc[{extra}]' "
                f"(or set {setting}=false)"
            )


def default_handlers(config: JaxArcConfig, run_dir: Path) -> dict[str, Any]:
    """The handlers the configuration asks for (see the README's table of keys). One that
    cannot start for lack of disk or permissions is left out with an error message."""
    from .handlers import FileHandler, RichHandler, SVGHandler, TensorBoardHandler, WandbHandler

    wanted: dict[str, tuple[bool, Callable[[], Any]]] = {
        "file": (config.storage.file_logging, lambda: FileHandler(run_dir, config.logging)),
        "svg": (config.visualization.enabled, lambda: SVGHandler(run_dir, config.visualization)),
        "rich": (config.visualization.console, lambda: RichHandler(config.visualization)),
        "tensorboard": (config.storage.tensorboard, lambda: TensorBoardHandler(run_dir)),
        "wandb": (
            config.wandb.enabled,
            lambda: WandbHandler(run_dir, config.wandb, config.to_dict()),
        ),
    }
    handlers: dict[str, Any] = {}
    for name, (on, make) in wanted.items():
        if not on:
            continue
        try:
            handlers[name] = make()
        except OSError as err:
            logger.error("handler %r could not start (%s); the run goes on without it", name, err)
    return handlers


class _Handlers(dict[str, Any]):
    """The logger's name → handler dict: adding or removing one re-reads the routes."""

    def __init__(self, on_change: Any, handlers: Mapping[str, Any]):
        super().__init__(handlers)
        self._on_change = on_change

    def __setitem__(self, name: str, handler: Any) -> None:
        super().__setitem__(name, handler)
        self._on_change()

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        self._on_change()


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

    def __init__(
        self,
        config: JaxArcConfig,
        handlers: Mapping[str, Any] | None = None,
        run_dir: str | Path | None = None,
    ):
        self.config = config
        self.is_main_process = jax.process_index() == 0
        self.run_dir: Path | None = None
        self.handlers = {}
        self._failures: dict[str, int] = {}
        self._disabled: set[str] = set()
        self._closed = False
        self._auto_step = 0
        self._pipeline = B.BatchPipeline(config.logging)  # cadence, plans checked once per layout
        # integer task_ids → names (e.g. buffer.task_ids)
        self.task_names: list[str] | tuple[str, ...] | None = None
        #: env steps per update: when set, every logged update also gets ``env_steps`` and
        #: ``env_steps_per_second`` (between logged updates, so compilation is left out)
        self.env_steps_per_update: int | None = None
        self._last_event: tuple[int, float] | None = None  # (step, time) of the last metrics
        #: the highest step logged so far per stream ("batch", "metrics"), and the streams
        #: already warned about a step that goes back
        self._last_logged: dict[str, int] = {}
        self._warned_order: set[str] = set()
        self._solved_episodes: set[Any] = set()  # episodes whose first success was logged
        # several threads may share one logger: handler calls and the step bookkeeping are
        # serialised, so no line is torn and no event lost (the device work is not)
        self._lock = threading.RLock()
        if not self.is_main_process:
            return
        if handlers is None:
            check_extras(config)
        self.run_dir = (
            Path(run_dir)
            if run_dir is not None
            else _new_run_dir(Path(config.storage.base_output_dir), config.storage.run_name)
        )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.yaml").write_text(
            yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8"
        )
        self.handlers = (
            dict(handlers) if handlers is not None else default_handlers(config, self.run_dir)
        )
        logger.info("logging to %s with handlers %s", self.run_dir, list(self.handlers))

    # context manager -------------------------------------------------------------------
    def __enter__(self) -> ExperimentLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # dispatch --------------------------------------------------------------------------
    @property
    def handlers(self) -> dict[str, Any]:
        """Name → handler. Assigning a new mapping re-reads which methods each one has."""
        return self._handlers

    @handlers.setter
    def handlers(self, handlers: Mapping[str, Any]) -> None:
        self._handlers = _Handlers(self._route, handlers)
        self._route()

    def _route(self) -> None:
        """Which handler has which method, read once per change of the handler set."""
        self._routes = {
            method: [
                (name, fn)
                for name, h in self._handlers.items()
                if (fn := handler_method(h, method)) is not None
            ]
            for method in HANDLER_METHODS
        }

    def _dispatch(self, method: str, *args: Any) -> None:
        with self._lock:
            self._dispatch_locked(method, *args)

    def _dispatch_locked(self, method: str, *args: Any) -> None:
        for name, fn in self._routes[method]:
            if name in self._disabled:
                continue
            try:
                fn(*args)
            except Exception as err:  # a handler never takes training down
                self._failures[name] = self._failures.get(name, 0) + 1
                if self._failures[name] >= MAX_CONSECUTIVE_FAILURES:
                    self._disabled.add(name)
                    logger.error(
                        "handler %r disabled after %d consecutive failures; last one in %s: %r",
                        name,
                        self._failures[name],
                        method,
                        err,
                    )
                elif self._failures[name] == 1:
                    logger.warning(
                        "handler %r failed in %s: %r (the other handlers go on)", name, method, err
                    )
            else:
                self._failures[name] = 0

    @property
    def active_handlers(self) -> list[str]:
        return [n for n in self.handlers if n not in self._disabled]

    # single episodes -------------------------------------------------------------------
    def log_task_start(self, task_data: dict[str, Any]) -> None:
        """An episode begins (``task_id``, ``episode_num``, the task's pairs...)."""
        self._solved_episodes.discard(task_data.get("episode_num", 0))  # a new episode
        if self.handlers and self.config.logging.log_episode_start:
            self._dispatch("log_task_start", task_data)

    def log_step(self, step_data: dict[str, Any]) -> None:
        """One environment step; content flags ``log_operations``, ``log_grid_changes`` and
        ``log_rewards`` decide whether operations, grids and rewards are kept.

        With ``log_key_moments`` a key moment of the episode — ``first_success`` (the first
        step with ``success`` true) and ``episode_end`` (a terminated or truncated
        ``step_type``) — is kept whole, whatever the content flags say, and its record names
        it: ``"key_moments": ["first_success", "episode_end"]`` (one or both).
        """
        if not self.handlers:
            return
        moments = self._key_moments(step_data) if self.config.logging.log_key_moments else []
        if moments:
            self._dispatch("log_step", {**step_data, "key_moments": moments})
            return
        drop = {
            k
            for flag, keys in _STEP_CONTENT.items()
            if not getattr(self.config.logging, flag)
            for k in keys
        }
        self._dispatch(
            "log_step", {k: v for k, v in step_data.items() if k not in drop} if drop else step_data
        )

    def _key_moments(self, step_data: Mapping[str, Any]) -> list[str]:
        """Which key moments of its episode a step is (see :meth:`log_step`)."""
        moments = []
        episode = step_data.get("episode_num", 0)
        if step_data.get("success") and episode not in self._solved_episodes:
            self._solved_episodes.add(episode)
            moments.append("first_success")
        if step_data.get("step_type") in (StepType.TERMINATED, StepType.TRUNCATED):
            moments.append("episode_end")
        return moments

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
        the sampled rows. Do not call it under ``vmap``. See ``docs/batched-logging.md``.
        """
        step = batch_data.get("update_step")
        cadence = self._pipeline.cadence
        if type(step) is int and not cadence.should_log(step) and not cadence.should_sample(step):
            self._auto_step = step + 1  # the common case, decided before any other work
            return
        if B.is_tracer(step) or (step is None and B.contains_tracer(batch_data)):
            self._pipeline.run_traced(batch_data, self._emit_from_device, self.task_names)
            return
        step = self._host_step(step)
        do_log, do_sample = bool(cadence.should_log(step)), bool(cadence.should_sample(step))
        multi_process = jax.process_count() > 1  # every process joins the (global) reduction
        if (do_log or do_sample) and (self.handlers or multi_process):
            event = self._pipeline.run(
                batch_data, step, log=do_log, sample=do_sample, task_lookup=self.task_names
            )
            if self.handlers:
                self._emit(event)

    def log_metrics(self, metrics: Mapping[str, float | int], step: int) -> None:
        """Send ready-made metrics (evaluation results, say) to every handler's
        ``log_aggregated_metrics`` at ``step``, as an aggregated batch event would be."""
        if self.handlers and not self._closed:
            with self._lock:
                self._check_order(int(step), "metrics")
                self._dispatch("log_aggregated_metrics", dict(metrics), int(step))

    @property
    def num_seeds(self) -> int:
        """``S`` > 1: ``batch_data`` carries a leading seed axis on every array (``train.num_seeds``
        runs); each metric is logged per seed as ``seed_<i>/<metric>``, and as the across-seed
        mean ``<metric>`` with its spread ``<metric>_seed_std``. See ``logging/batch/seeds.py``."""
        return self._pipeline.num_seeds

    @num_seeds.setter
    def num_seeds(self, num_seeds: int) -> None:
        if int(num_seeds) < 1:
            raise ValueError(f"num_seeds must be positive (got {num_seeds})")
        self._pipeline.num_seeds = int(num_seeds)

    @property
    def final_step(self) -> int | None:
        """The run's last update: it is logged and sampled whatever the frequencies say."""
        return self._pipeline.cadence.last_step

    @final_step.setter
    def final_step(self, step: int | None) -> None:
        cadence = self._pipeline.cadence
        self._pipeline.cadence = dataclasses.replace(
            cadence, last_step=None if step is None else int(step)
        )

    def _host_step(self, step: Any) -> int:
        """The update step of a host call; the logger's own count when it is missing or bad."""
        if step is None:
            logger.warning(
                "batch_data has no 'update_step'; using the logger's own count (%d). "
                "Pass update_step=<int>.",
                self._auto_step,
            )
            step = self._auto_step
        elif (
            isinstance(step, np.ndarray | jax.Array)
            and step.size == 1
            and not isinstance(step, jax.core.Tracer)
            and np.issubdtype(step.dtype, np.integer)
        ):
            step = int(np.asarray(step).reshape(()))  # a one-element integer array is its value
        elif isinstance(step, bool) or not isinstance(step, int | np.integer | jax.Array):
            logger.warning(
                "batch_data['update_step'] must be an integer, got %r; "
                "using the logger's own count (%d)",
                step,
                self._auto_step,
            )
            step = self._auto_step
        number = int(step)
        self._auto_step = number + 1
        return number

    def _check_order(self, step: int, stream: str) -> None:
        """Note an event's step. A step below the highest one of its stream (several
        trainers sharing a logger, a restarted worker, an update logged again) or a negative
        one is logged all the same, with one warning per stream; the report sorts by step."""
        last = self._last_logged.get(stream)
        back = step < 0 or (last is not None and step < last)
        if back and stream not in self._warned_order:
            self._warned_order.add(stream)
            why = "is negative" if step < 0 else f"goes back from the last logged step {last}"
            logger.warning(
                "%s step %d %s; it is logged all the same, as is every later such step "
                "(warned once; readers sort by step)",
                stream,
                step,
                why,
            )
        self._last_logged[stream] = step if last is None else max(last, step)

    def _aggregate_batch_metrics(self, batch_data: dict[str, Any]) -> dict[str, float | int]:
        """The design's aggregation: every statistic from one jitted reduction and one transfer."""
        return self._pipeline.aggregate(batch_data)

    def _sample_episodes_from_batch(self, batch_data: dict[str, Any]) -> list[dict[str, Any]]:
        """The design's sampling: ``num_samples`` episode summaries gathered on device."""
        return self._pipeline.sample(batch_data, self.task_names)

    def _emit(self, event: B.Event) -> None:
        with self._lock:  # one event's lines together, whatever other threads log
            self._check_order(event.step, "batch")
            if event.metrics:
                if self.env_steps_per_update:
                    event.metrics.update(self._throughput(event.step))
                self._dispatch("log_aggregated_metrics", event.metrics, event.step)
            if event.tasks is not None:
                self._dispatch("log_task_metrics", event.tasks, event.step)
            for summary in event.summaries:
                self.log_episode_summary(summary)

    def _emit_from_device(
        self, step: Any, fetched: B.Fetched, do_log: Any, do_sample: Any, plan: B.Plan
    ) -> None:
        # runs on the host inside a callback: numpy only, and it must never raise
        try:
            if not self.handlers or self._closed:
                return
            self._emit(
                B.host_stage(
                    int(step),
                    plan.layout,
                    plan.host_scalars,
                    B.select(fetched, do_log, do_sample),
                    plan.task_names,
                    self.task_names,
                    self._pipeline.num_random(plan.layout.batch_size),
                    self._pipeline.num_seeds,
                )
            )
        except Exception as err:
            logger.warning("batched logging callback failed at update %s: %r", step, err)

    def _throughput(self, step: int) -> dict[str, float | int]:
        """``env_steps`` done after update ``step`` (by each seed: an agent's experience), and
        env steps/s since the last event (all seeds together: the machine's rate)."""
        per_update = int(self.env_steps_per_update or 0)
        now = time.perf_counter()
        out: dict[str, float | int] = {"env_steps": (step + 1) * per_update}
        if self._last_event is not None and step > self._last_event[0]:
            seconds = max(now - self._last_event[1], 1e-9)
            steps = (step - self._last_event[0]) * per_update * self.num_seeds
            out["env_steps_per_second"] = steps / seconds
        if self._last_event is None or step > self._last_event[0]:
            self._last_event = (step, now)  # a step that goes back has no rate of its own
        return out

    # shutdown --------------------------------------------------------------------------
    def close(self) -> None:
        """Wait for in-flight callbacks, flush and close every handler (idempotent)."""
        if self._closed:
            return
        jax.effects_barrier()
        self._closed = True
        for name, fn in self._routes["close"]:
            try:
                fn()
            except Exception as err:
                logger.warning("handler %r failed to close: %r", name, err)
        if self.run_dir is not None:
            logger.info("run written to %s", self.run_dir)
