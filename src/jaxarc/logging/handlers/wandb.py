"""WandbHandler: real Weights & Biases, offline by default, steps kept monotonic."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ...config import WandbConfig
from ...viz import as_grid, episode_summary_svg
from ...viz.grids import grids_rgb
from .base import BaseHandler

if TYPE_CHECKING:
    from wandb import Html as WandbHtml
    from wandb import Image as WandbImage
    from wandb import Run as WandbRun

logger = logging.getLogger("jaxarc.logging.wandb")


def _import_wandb() -> ModuleType:
    try:
        import wandb
    except ImportError as err:
        raise ImportError(
            "wandb.enabled=true needs the wandb package: pip install 'jaxarc[wandb]' "
            "(or set wandb.enabled=false)"
        ) from err
    return wandb


class WandbHandler(BaseHandler):
    """Logs to a wandb run whose files live in ``run_dir/wandb``.

    Every ``log`` carries an explicit ``step=``; a step lower than the last one sent is
    warned about and not sent (wandb would otherwise drop it silently). Aggregated metrics
    go under ``batch/``; task starts under ``task/`` and single steps under ``step/`` at a
    running env-step counter; episode
    summaries under ``episode/`` (sampled ones under ``sample/``) with an
    initial | final | target image.
    """

    def __init__(
        self, run_dir: str | Path, config: WandbConfig, run_config: dict[str, Any] | None = None
    ):
        wandb = _import_wandb()
        self._wandb = wandb
        self.config = config
        wandb_dir = Path(run_dir)
        os.environ.setdefault("WANDB_CACHE_DIR", str(wandb_dir / "wandb" / ".cache"))
        os.environ.setdefault("WANDB_DATA_DIR", str(wandb_dir / "wandb" / ".data"))
        self.run: WandbRun | None = wandb.init(
            project=config.project,
            entity=config.entity,
            tags=list(config.tags),
            group=config.group,
            mode=config.mode,
            dir=str(wandb_dir),
            name=Path(run_dir).name,
            config=run_config or {},
            settings=wandb.Settings(silent=True, console="off"),
            reinit="create_new",
        )
        self._last_step = -1
        self._env_steps = 0
        self._samples_at: tuple[int, int] = (-1, 0)  # (update step, pictures logged at it)
        self._task_id: Any = None

    def _log(self, data: dict[str, Any], step: int) -> None:
        if self.run is None or not data:
            return
        if step < self._last_step:
            logger.warning(
                "wandb: step %d is lower than the last step sent (%d); "
                "these values are not sent: %s",
                step,
                self._last_step,
                sorted(data),
            )
            return
        self.run.log(data, step=step)
        self._last_step = step

    def log_task_start(self, task_data: dict[str, Any]) -> None:
        """An episode begins: its numbers under ``task/`` at the running env-step counter, and
        the task id in the run summary (``task_id``) and in the episode picture's caption."""
        self._task_id = task_data.get("task_id")
        data = {
            f"task/{k}": float(task_data[k])
            for k in ("episode_num", "pair_index", "num_train_pairs", "num_test_pairs")
            if task_data.get(k) is not None
        }
        self._log(data, max(self._last_step, self._env_steps, 0))
        if self.run is not None and self._task_id is not None:
            self.run.summary["task_id"] = str(self._task_id)

    def log_step(self, step_data: dict[str, Any]) -> None:
        self._env_steps += 1
        data = {
            f"step/{k}": float(step_data[k])
            for k in ("reward", "similarity")
            if step_data.get(k) is not None
        }
        self._log(data, max(self._env_steps, self._last_step))

    def log_episode_summary(self, summary_data: dict[str, Any]) -> None:
        sampled = "environment_id" in summary_data
        prefix = "sample" if sampled else "episode"
        step = (
            int(summary_data.get("episode_num", 0))
            if sampled
            else max(self._last_step, self._env_steps, 0)
        )
        data: dict[str, Any] = {
            f"{prefix}/{k}": float(summary_data[k])
            for k in ("total_reward", "total_steps", "final_similarity", "success")
            if summary_data.get(k) is not None
        }
        if self.config.log_images:
            picture = self._picture(summary_data, prefix)
            if picture is not None:
                if sampled:  # several samples share one update step: number their pictures
                    k = self._samples_at[1] if self._samples_at[0] == step else 0
                    self._samples_at = (step, k + 1)
                    data[f"sample/picture_{k}"] = picture
                else:
                    data["episode/picture"] = picture
        self._log(data, step)

    def _picture(self, summary_data: dict[str, Any], prefix: str) -> WandbImage | WandbHtml | None:
        """Initial | final | target as a ``wandb.Image`` (``wandb.Html`` SVG without Pillow)."""
        grids = [
            as_grid(summary_data.get(k)) for k in ("initial_state", "final_state", "target_state")
        ]
        if grids[0] is None and grids[1] is None:
            return None
        task = summary_data.get("task_id") or self._task_id
        caption = (
            f"{prefix} {summary_data.get('episode_num')}"
            + (f" ({task})" if task else "")
            + ": initial | final | target"
        )
        try:
            image: WandbImage = self._wandb.Image(grids_rgb(grids), caption=caption)
            return image
        except ImportError:
            svg = episode_summary_svg(
                *grids,
                title=caption,
                similarity=summary_data.get("final_similarity"),
                success=summary_data.get("success"),
            )
            page: WandbHtml = self._wandb.Html(svg, inject=False)
            return page

    def log_aggregated_metrics(self, metrics: dict[str, float], step: int) -> None:
        self._log({f"batch/{key}": value for key, value in metrics.items()}, int(step))

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None
