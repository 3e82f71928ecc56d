"""SVGHandler: task overviews, step pictures and episode summaries as SVG files."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from ...config import VisualizationConfig
from ...viz import as_grid, episode_summary_svg, step_svg, task_overview_svg
from ..serialization import write_atomic
from .base import BaseHandler

logger = logging.getLogger("jaxarc.logging.svg")


def sample_stem(step: int, env_id: int, kind: str = "random") -> str:
    """The file stem of a sampled episode's picture: ``update_<step>_env_<id>[_<kind>]``."""
    suffix = "" if kind == "random" else f"_{_safe(kind)}"
    return f"update_{step:06d}_env_{env_id:05d}{suffix}"


def parse_sample_stem(stem: str) -> tuple[int, int, str] | None:
    """``(step, env id, kind)`` of a :func:`sample_stem` (``None`` for another name)."""
    m = re.fullmatch(r"update_(\d+)_env_(\d+)(?:_(\w+))?", stem)
    return None if m is None else (int(m.group(1)), int(m.group(2)), m.group(3) or "random")


def _safe(name: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(name))


class SVGHandler(BaseHandler):
    """Writes under ``run_dir/svg``:

    - ``task_<task_id>.svg``: all train pairs and test inputs (once per task);
    - ``episode_<num>/step_<k>.svg``: before/after with the selection and changed cells
      (when ``visualization.save_step_svgs``);
    - ``episode_<num>_summary.svg``: initial, final and target grids;
    - ``samples/update_<step>_env_<id>.svg``: the same for episodes sampled from a batch.

    Payloads without grids are skipped quietly (batched runs may not carry states).
    """

    def __init__(self, run_dir: str | Path, config: VisualizationConfig):
        self.dir = Path(run_dir) / "svg"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self._tasks_drawn: set[str] = set()

    def log_task_start(self, task_data: dict[str, Any]) -> None:
        task_id = str(task_data.get("task_id", "unknown"))
        pairs = task_data.get("train_pairs")
        if task_id in self._tasks_drawn or not pairs:
            return
        svg = task_overview_svg(
            task_id,
            [(as_grid(a), as_grid(b)) for a, b in pairs],
            [as_grid(t) for t in task_data.get("test_inputs", [])],
            cell=max(self.config.cell_size * 0.75, 4),
        )
        write_atomic(self.dir / f"task_{_safe(task_id)}.svg", svg)
        self._tasks_drawn.add(task_id)

    def log_step(self, step_data: dict[str, Any]) -> None:
        if not self.config.save_step_svgs:
            return
        before, after = as_grid(step_data.get("before_grid")), as_grid(step_data.get("after_grid"))
        if before is None and after is None:
            return
        svg = step_svg(
            before,
            after,
            selection=step_data.get("selection"),
            operation=str(step_data.get("operation_name", step_data.get("operation", ""))),
            reward=step_data.get("reward"),
            step=step_data.get("step_num"),
            similarity=step_data.get("similarity"),
            cell=self.config.cell_size,
        )
        folder = self.dir / f"episode_{int(step_data.get('episode_num', 0)):06d}"
        folder.mkdir(exist_ok=True)
        write_atomic(folder / f"step_{int(step_data.get('step_num', 0)):04d}.svg", svg)

    def log_episode_summary(self, summary_data: dict[str, Any]) -> None:
        initial, final = (
            as_grid(summary_data.get("initial_state")),
            as_grid(summary_data.get("final_state")),
        )
        if initial is None and final is None:
            logger.debug("episode %s has no states to draw", summary_data.get("episode_num"))
            return
        target = as_grid(summary_data.get("target_state"))
        num = int(summary_data.get("episode_num", 0))
        env_id = summary_data.get("environment_id")
        if env_id is None:
            path, title = (
                self.dir / f"episode_{num:06d}_summary.svg",
                f"episode {num} · task {summary_data.get('task_id', '?')}",
            )
        else:
            (self.dir / "samples").mkdir(exist_ok=True)
            kind = summary_data.get("sample_kind", "random")
            path = self.dir / "samples" / f"{sample_stem(num, int(env_id), kind)}.svg"
            title = f"update {num} · env {env_id} · task {summary_data.get('task_id', '?')}"
            title += "" if kind == "random" else f" · {kind} of the batch"
            if summary_data.get("episode_finished") is False:  # its last episode is older
                older = "no episode finished yet" if not summary_data.get("total_steps") else None
                title += f" · {older or 'no episode finished in this update'}"
        svg = episode_summary_svg(
            initial,
            final,
            target,
            title=title,
            similarity=summary_data.get("final_similarity"),
            success=summary_data.get("success"),
            reward=summary_data.get("total_reward"),
            cell=self.config.cell_size,
        )
        write_atomic(path, svg)
