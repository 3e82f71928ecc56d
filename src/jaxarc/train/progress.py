"""The training progress bar (rich), a no-op without a console.

It is also a logging handler: registered with the :class:`ExperimentLogger`, it moves on
every logged update, which is how the in-jit loop (whose updates report only through the
logger's callback) drives it.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any


class ProgressBar:
    """``updates done / total`` and the steady-state env steps/s (compilation left out)."""

    def __init__(self, console: Any, total: int, steps_per_update: int, start: int = 0):
        self.steps_per_update = steps_per_update
        self.start = start
        self._first: tuple[int, float] | None = None  # (updates, time) when the first finished
        self._bar: Any = None
        self._task: Any = None
        if console is None:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("updates"),
            TextColumn("{task.fields[sps]:>10} env steps/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task = self._bar.add_task(
            "compiling the update (first call)", total=total, completed=0, sps="-"
        )

    def __enter__(self) -> ProgressBar:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def steady_rate(self, updates_done: int) -> float | None:
        """Env steps/s since the first update finished (``None`` until a second one has)."""
        if self._first is None or updates_done <= self._first[0]:
            return None
        seconds = max(time.perf_counter() - self._first[1], 1e-9)
        return (updates_done - self._first[0]) * self.steps_per_update / seconds

    def show(self, updates_done: int) -> None:
        """Show ``updates_done`` updates in all (counted from the run's first update, 0)."""
        if self._first is None:
            self._first = (updates_done, time.perf_counter())
        if self._bar is not None:
            rate = self.steady_rate(updates_done)
            self._bar.update(
                self._task,
                description="training",
                completed=updates_done - self.start,
                sps="-" if rate is None else f"{rate:,.0f}",
            )

    # as a logging handler: the in-jit loop's updates arrive here ------------------------
    def log_aggregated_metrics(self, metrics: dict[str, Any], step: int) -> None:
        self.show(step + 1)
