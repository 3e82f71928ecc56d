"""TensorBoardHandler: scalars through tensorboardX, flushed at every event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import BaseHandler


class TensorBoardHandler(BaseHandler):
    """Writes ``run_dir/tensorboard/events.out.tfevents.*``.

    Tags: ``batch/<metric>`` at the update step; ``step/reward`` and ``step/similarity`` at
    a running environment-step counter; ``episode/return``, ``episode/length``,
    ``episode/similarity`` and ``episode/success`` at the episode number.
    """

    def __init__(self, run_dir: str | Path):
        from tensorboardX import SummaryWriter  # a dependency of jaxarc

        self.writer = SummaryWriter(logdir=str(Path(run_dir) / "tensorboard"), flush_secs=1)
        self._env_steps = 0

    def log_step(self, step_data: dict[str, Any]) -> None:
        self._env_steps += 1
        for key in ("reward", "similarity"):
            if step_data.get(key) is not None:
                self.writer.add_scalar(f"step/{key}", float(step_data[key]), self._env_steps)
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
                self.writer.add_scalar(f"episode/{tag}", float(summary_data[key]), n)
        self.writer.flush()

    def log_aggregated_metrics(self, metrics: dict[str, Any], step: int) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(f"batch/{key}", float(value), int(step))
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
