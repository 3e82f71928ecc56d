"""WandbHandler: real Weights & Biases, offline by default, every event kept (custom x-axes)."""

from __future__ import annotations

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

#: each x-axis metric and the panels (key prefixes) drawn against it
X_AXES: dict[str, tuple[str, ...]] = {
    "update_step": ("batch", "sample"),
    "env_step": ("task", "step", "episode"),
}


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

    wandb silently drops a ``log(..., step=s)`` whose ``s`` is below the last one, so no
    call passes ``step=``: each panel has its own x-axis metric (wandb's ``define_metric(...,
    step_metric=...)``) sent with the values, and events whose steps arrive out of order or
    repeat (several trainers sharing a logger, a restarted worker) are all kept. Aggregated
    metrics go under ``batch/`` and sampled episodes under ``sample/``, both against
    ``update_step``; task starts (``task/``), single steps (``step/``) and episode summaries
    (``episode/``) against ``env_step``, a running environment-step counter. Summaries carry
    an initial | final | target image.
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
        for axis, prefixes in X_AXES.items():
            self.run.define_metric(axis)
            for prefix in prefixes:
                self.run.define_metric(f"{prefix}/*", step_metric=axis)
        self._env_steps = 0
        self._samples_at: tuple[int, int] = (-1, 0)  # (update step, pictures logged at it)
        self._task_id: Any = None

    def _log(self, data: dict[str, Any], axis: str, x: int) -> None:
        if self.run is None or not data:
            return
        self.run.log({**data, axis: x})

    def log_task_start(self, task_data: dict[str, Any]) -> None:
        """An episode begins: its numbers under ``task/`` at the running env-step counter, and
        the task id in the run summary (``task_id``) and in the episode picture's caption."""
        self._task_id = task_data.get("task_id")
        data = {
            f"task/{k}": float(task_data[k])
            for k in ("episode_num", "pair_index", "num_train_pairs", "num_test_pairs")
            if task_data.get(k) is not None
        }
        self._log(data, "env_step", self._env_steps)
        if self.run is not None and self._task_id is not None:
            self.run.summary["task_id"] = str(self._task_id)

    def log_step(self, step_data: dict[str, Any]) -> None:
        self._env_steps += 1
        data = {
            f"step/{k}": float(step_data[k])
            for k in ("reward", "similarity")
            if step_data.get(k) is not None
        }
        self._log(data, "env_step", self._env_steps)

    def log_episode_summary(self, summary_data: dict[str, Any]) -> None:
        sampled = "environment_id" in summary_data
        prefix = "sample" if sampled else "episode"
        step = int(summary_data.get("episode_num", 0)) if sampled else self._env_steps
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
        self._log(data, "update_step" if sampled else "env_step", step)

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
        self._log(
            {f"batch/{key}": value for key, value in metrics.items()}, "update_step", int(step)
        )

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None
