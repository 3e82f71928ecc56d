"""The training progress bar (rich), a no-op without a console."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any


class ProgressBar:
    """``updates done / total`` and env steps/s since the start."""

    def __init__(self, console: Any, total: int, steps_per_update: int):
        self.steps_per_update = steps_per_update
        self.t0 = time.perf_counter()
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
            TextColumn("[bold]training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("updates"),
            TextColumn("{task.fields[sps]:>10} env steps/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task = self._bar.add_task("train", total=total, completed=0, sps="-")

    def __enter__(self) -> ProgressBar:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def show(self, updates_done: int) -> None:
        """Show ``updates_done`` updates (counted from this bar's start)."""
        if self._bar is not None:
            rate = updates_done * self.steps_per_update / max(time.perf_counter() - self.t0, 1e-9)
            self._bar.update(self._task, completed=updates_done, sps=f"{rate:,.0f}")
