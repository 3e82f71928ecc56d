"""TensorBoardHandler: scalars through tensorboardX, flushed at every event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import BaseHandler

#: tensorboardX's event queue length (its default, 10, blocks a writer whose thread died)
QUEUE = 10_000


class TensorBoardHandler(BaseHandler):
    """Writes ``run_dir/tensorboard/events.out.tfevents.*``.

    Tags: ``batch/<metric>`` at the update step; ``step/reward`` and ``step/similarity`` at
    a running environment-step counter; ``episode/return``, ``episode/length``,
    ``episode/similarity`` and ``episode/success`` at the episode number.
    """

    def __init__(self, run_dir: str | Path):
        from tensorboardX import SummaryWriter  # a dependency of jaxarc

        # a queue far longer than one event's scalars: if the writer thread dies (a full disk)
        # mid-event, the event's remaining puts still fit, and the next event sees it dead
        self.writer = SummaryWriter(
            logdir=str(Path(run_dir) / "tensorboard"), flush_secs=1, max_queue=QUEUE
        )
        self._env_steps = 0

    def _writer_alive(self) -> bool:
        """tensorboardX writes from a thread fed by a bounded queue: when a write fails (a full
        disk) the thread dies and the next ``put`` would block forever. Check it first."""
        try:
            worker = self.writer._get_file_writer().event_writer._worker
        except AttributeError:  # another tensorboardX layout: nothing to check
            return True
        return bool(worker.is_alive())

    def _scalar(self, tag: str, value: float, step: int) -> None:
        if not self._writer_alive():
            raise OSError(
                f"the TensorBoard writer of {self.writer.logdir} stopped (is the disk full?)"
            )
        self.writer.add_scalar(tag, value, step)

    def log_step(self, step_data: dict[str, Any]) -> None:
        self._env_steps += 1
        for key in ("reward", "similarity"):
            if step_data.get(key) is not None:
                self._scalar(f"step/{key}", float(step_data[key]), self._env_steps)
        self.writer.flush()

    def log_episode_summary(self, summary_data: dict[str, Any]) -> None:
        if "environment_id" in summary_data:
            return  # sampled episodes are already covered by the batch statistics
        n = int(summary_data.get("episode_num", 0))
        for tag, key in (
            ("return", "total_reward"),
            ("length", "total_steps"),
            ("similarity", "final_similarity"),
            ("success", "success"),
        ):
            if summary_data.get(key) is not None:
                self._scalar(f"episode/{tag}", float(summary_data[key]), n)
        self.writer.flush()

    def log_aggregated_metrics(self, metrics: dict[str, Any], step: int) -> None:
        if len(metrics) >= QUEUE:
            raise ValueError(f"{len(metrics)} metrics in one event; at most {QUEUE - 1}")
        for key, value in metrics.items():
            self._scalar(f"batch/{key}", float(value), int(step))
        self.writer.flush()

    def close(self) -> None:
        if self._writer_alive():  # a dead writer's queue may be full: closing would block
            self.writer.close()
