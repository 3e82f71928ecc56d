"""RichHandler: a concise console view of episodes and batched metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ...config import VisualizationConfig
from ...viz import ARC_PALETTE, as_grid
from ..batch.contract import GROUPS, group_of
from ..batch.seeds import SEED_PREFIX, is_seed_metric
from .base import BaseHandler


def group_metrics(metrics: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Split metric names into the contract's display groups, keys outside it under "Other"."""
    groups: dict[str, dict[str, Any]] = {}
    for key, value in metrics.items():
        groups.setdefault(group_of(key), {})[key] = value
    return [(title, groups[title]) for title in GROUPS if title in groups]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if value == 0 or 1e-3 <= abs(value) < 1e5 else f"{value:.3g}"
    return str(value)


def _grid_text(grid: np.ndarray) -> Text:
    text = Text()
    for row in grid:
        for v in row:
            text.append("  ", style=f"on {ARC_PALETTE[int(v)]}" if 0 <= v <= 9 else "")
        text.append("\n")
    return text


class RichHandler(BaseHandler):
    """Task panel at task start, one compact line per step (whole grids when
    ``console_verbosity == "full"``), an episode summary panel, and a metric table per
    aggregated batch event."""

    def __init__(self, config: VisualizationConfig, console: Console | None = None):
        self.config = config
        self.console = console or Console()

    def log_task_start(self, task_data: dict[str, Any]) -> None:
        body = Text(
            f"task {task_data.get('task_id')}  pair {task_data.get('pair_index')}  "
            f"train pairs {task_data.get('num_train_pairs')}  "
            f"test pairs {task_data.get('num_test_pairs')}"
        )
        grid = as_grid(task_data.get("input_grid"))
        if grid is not None:
            body.append(f"\ninput {grid.shape[0]}×{grid.shape[1]}")
            target = as_grid(task_data.get("target_grid"))
            if target is not None:
                body.append(f"  target {target.shape[0]}×{target.shape[1]}")
            if self.config.console_verbosity == "full":
                body.append("\n")
                body.append(_grid_text(grid))
        self.console.print(
            Panel(body, title=f"episode {task_data.get('episode_num')}", expand=False)
        )

    def log_step(self, step_data: dict[str, Any]) -> None:
        reward = step_data.get("reward")
        sim = step_data.get("similarity")
        line = (
            f"[dim]ep {step_data.get('episode_num')}[/] step {step_data.get('step_num'):>3}  "
            f"{step_data.get('operation_name', step_data.get('operation', '?')):<16}"
            + (f" reward {reward:+.3f}" if reward is not None else "")
            + (f"  similarity {sim:.3f}" if sim is not None else "")
        )
        self.console.print(line, highlight=False)
        if self.config.console_verbosity == "full":
            after = as_grid(step_data.get("after_grid"))
            if after is not None:
                self.console.print(_grid_text(after))

    def log_episode_summary(self, summary_data: dict[str, Any]) -> None:
        success = summary_data.get("success")
        title = f"episode {summary_data.get('episode_num')}"
        if "environment_id" in summary_data:
            env = summary_data.get("environment_id")
            if "seed" in summary_data:
                env = f"seed {summary_data['seed']} · env {summary_data.get('seed_environment_id')}"
            else:
                env = f"env {env}"
            title = f"update {summary_data.get('episode_num')} · {env}"
        body = (
            f"task {summary_data.get('task_id')}  return {_fmt(summary_data.get('total_reward'))}  "
            f"steps {summary_data.get('total_steps')}  "
            f"similarity {_fmt(summary_data.get('final_similarity'))}  "
            + ("[bold green]SOLVED[/]" if success else "[red]not solved[/]")
        )
        self.console.print(Panel(body, title=title, expand=False), highlight=False)

    def log_aggregated_metrics(self, metrics: dict[str, Any], step: int) -> None:
        """One compact table: a row per statistic group (mean, std, min, max), scalars in
        the first column, grouped as rewards, similarity, episode length, success rate,
        training and other."""
        seeds = {k.split("/", 1)[0] for k in metrics if k.startswith(SEED_PREFIX)}
        metrics = {k: v for k, v in metrics.items() if not is_seed_metric(k)}  # seeds: the mean
        nonfinite = any(k.endswith("_nonfinite") for k in metrics)
        title = f"Batch Metrics - Step {step}" + (f" (mean of {len(seeds)} seeds)" if seeds else "")
        table = Table(title=title, title_justify="left")
        table.add_column("Metric", style="cyan")
        for stat in (*STATS, *(("non-finite",) if nonfinite else ())):
            table.add_column(stat, style="green", justify="right")
        for title, part in group_metrics(metrics):
            if title in SECTIONS:
                table.add_section()
                table.add_row(f"[bold]{title}[/bold]")
            for label, values in _rows(part):
                cells = [_fmt(values[s]) if s in values else "" for s in STATS]
                if nonfinite:
                    cells.append(_fmt(values["nonfinite"]) if "nonfinite" in values else "")
                table.add_row(("  " if title in SECTIONS else "") + label, *cells)
        self.console.print(table)


STATS = ("mean", "std", "min", "max")
#: groups of plain scalars, shown under a header of their own
SECTIONS = ("Training", "Progress", "Other")


def _rows(part: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Metric names folded into rows: ``reward_mean`` … ``reward_max`` → ("Reward", {...})."""
    rows: dict[str, dict[str, Any]] = {}
    for key, value in part.items():
        base, _, stat = key.rpartition("_")
        if stat in (*STATS, "nonfinite") and base:
            rows.setdefault(base, {})[stat] = value
        else:
            rows.setdefault(key, {})["mean"] = value
    return [(name.replace("_", " ").capitalize(), values) for name, values in rows.items()]
