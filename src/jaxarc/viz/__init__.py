"""SVG pictures of ARC grids, tasks, steps and episodes (drawsvg, no web fonts)."""

from .grids import ARC_PALETTE, as_grid
from .svg import episode_summary_svg, grid_svg, replay_svg, step_svg, task_overview_svg

__all__ = [
    "ARC_PALETTE",
    "as_grid",
    "episode_summary_svg",
    "grid_svg",
    "replay_svg",
    "step_svg",
    "task_overview_svg",
]
