"""What a handler is: up to six methods, each optional.

The :class:`~jaxarc.logging.ExperimentLogger` calls, on every handler that has it:

- ``log_task_start(task_data)`` — an episode begins;
- ``log_step(step_data)`` — one environment step;
- ``log_episode_summary(summary_data)`` — an episode ended (sampled ones carry ``environment_id``);
- ``log_aggregated_metrics(metrics, step)`` — one batched-logging event's statistics;
- ``log_task_metrics(tasks, step)`` — the same event's per-task statistics
  (``logging.per_task_metrics``): ``{task: {"episodes", "successes", "success_rate",
  "similarity_mean"}}``;
- ``close()`` — flush and release.

A handler may be any object with some of these (duck typing); :class:`Handler` states the
full interface for type checkers, and :class:`BaseHandler` gives no-op defaults to
subclass. A method a handler leaves at the default is never called.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

HANDLER_METHODS = (
    "log_task_start",
    "log_step",
    "log_episode_summary",
    "log_aggregated_metrics",
    "log_task_metrics",
    "close",
)


@runtime_checkable
class Handler(Protocol):
    """The full handler interface (every method optional for the logger)."""

    def log_task_start(self, task_data: dict[str, Any]) -> None: ...

    def log_step(self, step_data: dict[str, Any]) -> None: ...

    def log_episode_summary(self, summary_data: dict[str, Any]) -> None: ...

    def log_aggregated_metrics(self, metrics: dict[str, Any], step: int) -> None: ...

    def log_task_metrics(self, tasks: dict[str, dict[str, Any]], step: int) -> None: ...

    def close(self) -> None: ...


class BaseHandler:
    """No-op defaults for every :class:`Handler` method; override the ones you need."""

    def log_task_start(self, task_data: dict[str, Any]) -> None:
        return None

    def log_step(self, step_data: dict[str, Any]) -> None:
        return None

    def log_episode_summary(self, summary_data: dict[str, Any]) -> None:
        return None

    def log_aggregated_metrics(self, metrics: dict[str, Any], step: int) -> None:
        return None

    def log_task_metrics(self, tasks: dict[str, dict[str, Any]], step: int) -> None:
        return None

    def close(self) -> None:
        return None


def handler_method(handler: Any, method: str) -> Any:
    """``handler.method`` bound, or ``None`` when it lacks it or leaves it at the no-op default."""
    fn = getattr(handler, method, None)
    if fn is None or getattr(type(handler), method, None) is getattr(BaseHandler, method):
        return None
    return fn
