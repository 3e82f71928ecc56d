"""``jaxarc report``: run directories as one self-contained HTML page (and PNGs).

Everything is inline: plots are matplotlib SVGs, episode pictures are the run's own SVGs,
there are no scripts and nothing is fetched from the network.
"""

from __future__ import annotations

import html
import io
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .logging.batch.contract import CONTRACT, PANELS, better_of, bounds_of
from .logging.batch.seeds import SEED_PREFIX, SEED_STD_SUFFIX, is_seed_metric, seed_metric
from .logging.handlers.svg import parse_sample_stem
from .logging.reader import (
    RunData,
    load_episodes,
    read_evaluations,
    read_run,
    read_task_metrics,
    runs_in,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger("jaxarc.report")

#: (section title, metric prefix or names), from the batch contract. Prefix groups get
#: mean ± std bands and min/max lines.
GROUPS = tuple((title, names[0] if is_vector else names) for title, names, is_vector in PANELS)
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
MAX_GALLERY_STEPS = 8


#: which baseline numbers go on which panel, and how each is drawn
BASELINE_PANELS = {
    "Reward": "reward_mean",
    "Similarity": "similarity_mean",
    "Success rate": "success_rate",
}
BASELINE_STYLES = {
    "submit_at_once": ("submit at once", (0, (4, 2))),
    "random": ("random", (0, (1, 2))),
}


def _series(run: RunData, name: str, x: str = "update") -> tuple[np.ndarray, np.ndarray]:
    """``(x, values)`` of one metric where it was logged; ``x`` is the update or env steps."""
    values = run.metrics.get(name)
    if values is None:
        return np.array([]), np.array([])
    env_steps = run.metrics.get("env_steps") if x == "env_steps" else None
    xs: Sequence[float | int | None] = env_steps if env_steps is not None else run.steps
    pairs = [(s, v) for s, v in zip(xs, values, strict=True) if v is not None and s is not None]
    if not pairs:
        return np.array([]), np.array([])
    s, v = zip(*pairs, strict=True)
    return np.asarray(s), np.asarray(v, float)


def _x_axis(runs: Sequence[RunData]) -> str:
    """Env steps when every run logged them (runs compare at equal experience), else updates."""
    have = all(run.metrics.get("env_steps") for run in runs)
    return "env_steps" if have else "update"


def _is_constant(runs: Sequence[RunData], names: Sequence[str]) -> float | None:
    """The one value every logged point of ``names`` has, if there is one (e.g. a fixed
    learning rate); such a panel is stated in words instead of drawn (only for metrics
    without a "better" direction: a success rate stuck at 0 is still drawn, with its N)."""
    values = {v for run in runs for n in names for v in run.metrics.get(n, []) if v is not None}
    return values.pop() if len(values) == 1 else None


def _group_metrics(spec: str | Sequence[str]) -> list[str]:
    return (
        [f"{spec}_mean", f"{spec}_std", f"{spec}_min", f"{spec}_max"]
        if isinstance(spec, str)
        else list(spec)
    )


def _other_metrics(runs: Sequence[RunData]) -> list[str]:
    """Metrics outside every panel (counters such as ``env_steps`` are not curves)."""
    known = {m for _, spec in GROUPS for m in _group_metrics(spec)}
    known |= {n for spec in CONTRACT if spec.panel is None for n in spec.names}
    names: list[str] = []
    for run in runs:
        names += [
            k for k in run.metrics if k not in known and k not in names and not is_seed_metric(k)
        ]
    return names


def _seeds(run: RunData) -> int:
    """How many seeds the run trained as a batch axis (0 for a plain run)."""
    prefixes = {k.split("/", 1)[0] for k in run.metrics if k.startswith(SEED_PREFIX)}
    return len(prefixes)


def _seed_curves(
    ax: Any, run: RunData, name: str, colour: str, x: str, label: str | None, ls: str = "-"
) -> bool:
    """A seeded run's ``name``: one thin line per seed, the across-seed mean, and a band of ±
    the across-seed std (clipped to the metric's physical limits)."""
    steps, mean = _series(run, name, x)
    if not len(steps):
        return False
    for i in range(_seeds(run)):
        s, v = _series(run, seed_metric(i, name), x)
        ax.plot(s, v, color=colour, lw=0.7, ls=ls, alpha=0.45, label=None)
    ax.plot(steps, mean, color=colour, lw=1.8, ls=ls, label=label or f"mean of {_seeds(run)} seeds")
    _, spread = _series(run, name + SEED_STD_SUFFIX, x)
    _band(ax, name, steps, mean, spread, colour, None if label else "± std across seeds")
    return True


def _band(
    ax: Any,
    metric: str,
    steps: np.ndarray,
    mean: np.ndarray,
    spread: np.ndarray,
    colour: str,
    label: str | None,
) -> None:
    """A band of ``mean ± spread``, clipped to ``metric``'s physical limits (a spread never
    crosses them); nothing when the two series do not line up."""
    if len(spread) != len(mean):
        return
    low, high = bounds_of(metric)
    low, high = -np.inf if low is None else low, np.inf if high is None else high
    ax.fill_between(
        steps,
        np.clip(mean - spread, low, high),
        np.clip(mean + spread, low, high),
        color=colour,
        alpha=0.18,
        lw=0,
        label=label,
    )


def _figure(
    title: str,
    runs: Sequence[RunData],
    spec: str | Sequence[str],
    names: list[str] | None = None,
    x: str = "update",
) -> Figure | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.4), dpi=100)
    drawn = False
    for i, run in enumerate(runs):
        colour = COLOURS[i % len(COLOURS)]
        label = run.name if len(runs) > 1 else None
        if _seeds(run):
            for j, name in enumerate([f"{spec}_mean"] if isinstance(spec, str) else names or spec):
                ls = ("-", "--", ":", "-.")[j % 4]
                named = label if isinstance(spec, str) else (f"{label}: {name}" if label else name)
                drawn |= _seed_curves(ax, run, name, colour, x, named, ls)
        elif isinstance(spec, str):
            steps, mean = _series(run, f"{spec}_mean", x)
            if not len(steps):
                continue
            drawn = True
            ax.plot(steps, mean, color=colour, lw=1.8, label=label or "mean")
            _, std = _series(run, f"{spec}_std", x)
            _band(ax, f"{spec}_mean", steps, mean, std, colour, None if label else "± std")
            for stat, style in (("min", ":"), ("max", "--")):
                s, v = _series(run, f"{spec}_{stat}", x)
                if len(s):
                    ax.plot(s, v, color=colour, lw=0.7, ls=style, label=None if label else stat)
        else:
            for j, name in enumerate(names or spec):
                steps, v = _series(run, name, x)
                if len(steps):
                    drawn = True
                    ls = ("-", "--", ":", "-.")[j % 4]
                    ax.plot(
                        steps,
                        v,
                        color=colour,
                        lw=1.6,
                        ls=ls,
                        label=f"{run.name}: {name}" if len(runs) > 1 else name,
                    )
    if not drawn:
        plt.close(fig)
        return None
    _draw_baselines(ax, title, runs)
    ax.set_title(_title(title, runs), fontsize=11)
    ax.set_xlabel("env steps" if x == "env_steps" else "update")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def _draw_baselines(ax: Any, title: str, runs: Sequence[RunData]) -> None:
    """Horizontal lines at the trivial policies' scores on this run's tasks."""
    metric = BASELINE_PANELS.get(title)
    if metric is None:
        return
    for i, run in enumerate(runs):
        for name, scores in run.baselines.items():
            if name in BASELINE_STYLES and isinstance(scores.get(metric), int | float):
                label, dashes = BASELINE_STYLES[name]
                ax.axhline(
                    scores[metric],
                    color=COLOURS[i % len(COLOURS)],
                    lw=0.9,
                    ls=dashes,
                    alpha=0.8,
                    label=f"{label} ({scores[metric]:.3g})",
                )


def _title(title: str, runs: Sequence[RunData]) -> str:
    """The panel title; the success rate says from how many episodes it comes."""
    if title != "Success rate":
        return title
    counts = [v for run in runs for v in run.metrics.get("episodes_counted", []) if v is not None]
    if not counts:
        return title
    low, high = int(min(counts)), int(max(counts))
    return (
        f"{title} (N = {low}–{high} episodes per update)" if low != high else f"{title} (N = {low})"
    )


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _summary_rows(
    runs: Sequence[RunData],
) -> list[tuple[str, str, float | None, float | None, int | None]]:
    rows: list[tuple[str, str, float | None, float | None, int | None]] = []
    for run in runs:
        for name in run.metrics:
            steps, v = _series(run, name)
            if not len(v) or is_seed_metric(name):  # seeds: the across-seed mean's row
                continue
            better = better_of(name)
            if (
                better is None
            ):  # a best value means nothing for this metric (a spread, a length, a rate schedule)
                rows.append((run.name, name, float(v[-1]), None, None))
                continue
            best_i = int(np.argmin(v) if better == "lower" else np.argmax(v))
            rows.append((run.name, name, float(v[-1]), float(v[best_i]), int(steps[best_i])))
    return rows


#: one gallery entry: (label, the summary picture, the replay picture or "")
Sample = tuple[str, str, str]


def _recorded_steps(
    run: RunData, step: int
) -> dict[tuple[int, str], tuple[dict[str, Any], list[Any]]]:
    """(env id, kind) → (summary, recorded steps) of the episodes sampled at ``step``."""
    out = {}
    for episode in load_episodes(run.run_dir, f"episode_{step:06d}_env*"):
        summary = episode.get("summary") or {}
        if "environment_id" in summary and episode.get("steps"):
            kind = str(summary.get("sample_kind", "random"))
            out[(int(summary["environment_id"]), kind)] = (summary, episode["steps"])
    return out


def _replay(run: RunData, recorded: tuple[dict[str, Any], list[Any]] | None) -> str:
    if recorded is None:
        return ""
    from .replay import replay
    from .viz import replay_svg

    summary, steps = recorded
    allowed = (run.config.get("action") or {}).get("allowed_operations")
    result = replay(summary, steps, allowed)
    if result is None:
        return ""
    title = f"{len(steps)} steps"
    if summary.get("total_steps") and len(steps) < summary["total_steps"]:
        title = f"the first {len(steps)} of {summary['total_steps']} steps"
    if not result.matches_final:
        title += " (the replay differs from the logged final grid)"
    return replay_svg(result.frames, title, cell=9)


def _read_svg(path: Path) -> str:
    """The picture's text, or "" (with a warning) when it is empty, cut short or unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        logger.warning("skipping the picture %s: %s", path, err)
        return ""
    if "<svg" not in text or "</svg>" not in text:
        logger.warning("skipping the picture %s: it is empty or incomplete", path)
        return ""
    return text


def _gallery(run: RunData) -> list[tuple[int, list[Sample]]]:
    """The sampled updates shown (at most MAX_GALLERY_STEPS), each with its pictures; only
    their episodes are read and replayed."""
    folder = run.run_dir / "svg" / "samples"
    files: dict[int, list[tuple[int, str, Path]]] = {}
    for path in sorted(folder.glob("update_*_env_*.svg")) if folder.is_dir() else []:
        parsed = parse_sample_stem(path.stem)
        if parsed is not None:
            files.setdefault(parsed[0], []).append((parsed[1], parsed[2], path))
    steps = sorted(files)
    if len(steps) > MAX_GALLERY_STEPS:  # first, last and evenly spaced in between
        picks = np.linspace(0, len(steps) - 1, MAX_GALLERY_STEPS).round().astype(int)
        steps = [steps[i] for i in sorted(set(picks.tolist()))]
    gallery = []
    for step in steps:
        recorded = _recorded_steps(run, step)
        samples = [
            (
                f"env {env}" + ("" if kind == "random" else f" · {kind}"),
                svg,
                _replay(run, recorded.get((env, kind))),
            )
            for env, kind, path in files[step]
            if (svg := _read_svg(path))
        ]
        gallery.append((step, samples))
    return gallery


CSS = (
    "\n"
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;"
    "max-width:1180px;color:#1b1b1b;padding:0 16px}\n"
    "h1{font-size:22px;margin-bottom:4px} "
    "h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}\n"
    ".muted{color:#666;font-size:13px} "
    ".plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}\n"
    ".plot svg{width:100%;height:auto} table{border-collapse:collapse;font-size:13px} "
    "td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}\n"
    "th{background:#f4f4f4} td.l,th.l{text-align:left} "
    ".gallery{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}\n"
    ".sample{border:1px solid #e2e2e2;border-radius:4px;padding:4px;background:#fff} "
    ".sample svg{max-width:360px;height:auto}\n"
    ".swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}\n"
    ".replay{max-width:1100px;overflow-x:auto;font-size:12px} .replay svg{max-width:none}\n"
    ".att{display:inline-block;width:10px;height:10px;margin:1px;border-radius:2px}"
    " .att.ok{background:#2ECC40} .att.no{background:#ccc}\n"
)


def render_report(runs: Sequence[RunData]) -> tuple[str, dict[str, Any]]:
    """The HTML page, and the matplotlib figures by section (for ``--png``)."""
    figures: dict[str, Any] = {}
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>jaxarc report: {html.escape(', '.join(r.name for r in runs))}</title>"
        f"<style>{CSS}</style></head><body>",
        *_header(runs),
        *_curves(runs, figures),
        *_tasks(runs, figures),
        *_summary(runs),
        *_evaluation(runs),
        *_configuration(runs),
        *_gallery_section(runs),
        "</body></html>",
    ]
    return "".join(parts), figures


#: the heatmap shows at most this many tasks (the most and the least learnt beyond it)
MAX_HEATMAP_TASKS = 60


def task_matrix(
    records: Sequence[tuple[int, dict[str, dict[str, Any]]]],
) -> tuple[list[str], list[int], np.ndarray]:
    """``(tasks, steps, success[tasks, steps])`` of ``read_task_metrics`` records: NaN where
    a task had no finished episode at that update. Tasks are ordered by their success rate
    over the run (episodes pooled), the most learnt first, ties by name."""
    steps = [step for step, _ in records]
    totals: dict[str, list[float]] = {}
    for _, tasks in records:
        for name, t in tasks.items():
            acc = totals.setdefault(name, [0.0, 0.0])
            acc[0] += float(t.get("successes", 0))
            acc[1] += float(t.get("episodes", 0))
    names = sorted(totals, key=lambda n: (-totals[n][0] / max(totals[n][1], 1.0), n))
    row = {n: i for i, n in enumerate(names)}
    grid = np.full((len(names), len(steps)), np.nan)
    for j, (_, tasks) in enumerate(records):
        for name, t in tasks.items():
            if t.get("episodes"):
                grid[row[name], j] = float(t.get("success_rate", 0.0))
    return names, steps, grid


def _tasks(runs: Sequence[RunData], figures: dict[str, Any]) -> list[str]:
    """Per task (``logging.per_task_metrics``): a tasks × updates heatmap of success rates."""
    parts: list[str] = []
    for run in runs:
        names, steps, grid = task_matrix(read_task_metrics(run.run_dir))
        if not names:
            continue
        ever = int(np.sum(np.nansum(grid, axis=1) > 0))
        shown = list(range(len(names)))
        if len(names) > MAX_HEATMAP_TASKS:
            half = MAX_HEATMAP_TASKS // 2
            shown = shown[:half] + shown[-half:]
        fig = _heatmap([names[i] for i in shown], steps, grid[shown], run.name)
        figures[f"Tasks {run.name}"] = fig
        more = (
            f" The {len(shown)} shown are the {len(shown) // 2} most and least learnt."
            if len(shown) < len(names)
            else ""
        )
        parts.append(
            f"<p>{html.escape(run.name)}: {ever} of {len(names)} tasks solved at least once "
            f"in the logged updates; {len(names) - ever} never.{more}</p>"
            f"<div class='plot' id='plot-tasks-{len(parts)}'>{_svg_text(fig)}</div>"
        )
    if not parts:
        return []
    return [
        "<section id='tasks'><h2>Per task: success rate by update</h2>"
        "<p class='muted'>Each row is a task, each column a logged update; grey: no finished "
        "episode of that task in that update.</p>",
        *parts,
        "</section>",
    ]


def _heatmap(names: list[str], steps: list[int], grid: np.ndarray, title: str) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height = min(2.0 + 0.16 * len(names), 12.0)
    fig, ax = plt.subplots(figsize=(7.5, height), dpi=100)
    cmap = plt.get_cmap("viridis")
    cmap = cmap.with_extremes(bad="#dddddd")
    image = ax.imshow(
        np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, vmin=0.0, vmax=1.0,
        interpolation="nearest",
    )  # fmt: skip
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=max(4, min(8, 400 // max(len(names), 1))))
    ticks = np.linspace(0, len(steps) - 1, min(len(steps), 8)).round().astype(int)
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(steps[t]) for t in ticks])
    ax.set_xlabel("update")
    ax.set_title(f"{title}: success rate per task")
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="success rate")
    fig.tight_layout()
    return fig


def _attempt_cells(solved: list[list[int]]) -> str:
    """One small square per test pair × attempt: green solved, grey not."""
    rows = []
    for pair in solved:
        cells = "".join(
            f"<span class='att {'ok' if ok else 'no'}' title='{'solved' if ok else 'not solved'}'>"
            "</span>"
            for ok in pair
        )
        rows.append(cells)
    return "<br>".join(rows)


def _evaluation(runs: Sequence[RunData]) -> list[str]:
    """``jaxarc eval`` results: the aggregate, and per task its score and the tasks × attempts
    view."""
    parts: list[str] = []
    for run in runs:
        for doc in read_evaluations(run.run_dir):
            agg, seeds = doc["aggregate"], doc.get("seeds") or [{}]
            e = html.escape
            parts.append(
                f"<h3>{e(run.name)}: {e(str(doc.get('name')))}</h3><p>"
                f"{e(str(doc.get('dataset')))} — {e(str(doc.get('episode_mode', '')))}, checkpoint "
                f"at update {doc.get('update')}, {doc.get('attempts')} sampled attempts per pair"
                f"{f', mean of {len(seeds)} seeds' if len(seeds) > 1 else ''}: "
                f"<b>score {agg.get('score', 0):.3f}</b> ({agg.get('tasks_solved', 0):g} of "
                f"{agg.get('tasks', 0):g} tasks solved), greedy {agg.get('greedy_score', 0):.3f}, "
                f"mean best similarity {agg.get('best_similarity_mean', 0):.3f}</p>"
                "<table><tr><th class='l'>task</th><th>test pairs</th><th>score</th>"
                "<th>greedy</th><th>best similarity</th><th>steps to solve</th>"
                "<th class='l'>pairs × attempts</th></tr>"
            )
            tasks = sorted(
                seeds[0].get("tasks", []), key=lambda t: (-t["score"], -t["best_similarity"])
            )
            for t in tasks:
                steps = "—" if t.get("steps_to_solve") is None else str(t["steps_to_solve"])
                parts.append(
                    f"<tr><td class='l'>{e(str(t['task_id']))}</td><td>{t['test_pairs']}</td>"
                    f"<td>{t['score']:.2f}</td><td>{t['greedy_score']:.2f}</td>"
                    f"<td>{t['best_similarity']:.3f}</td><td>{steps}</td>"
                    f"<td class='l'>{_attempt_cells(t.get('attempts_solved', []))}</td></tr>"
                )
            parts.append("</table>")
    if not parts:
        return []
    return ["<section id='evaluation'><h2>Evaluation (test pairs)</h2>", *parts, "</section>"]


def _header(runs: Sequence[RunData]) -> list[str]:
    parts = ["<h1>jaxarc report</h1><p class='muted'>"]
    for i, run in enumerate(runs):
        last = run.steps[-1] if run.steps else "-"
        parts.append(
            f"<span class='swatch' style='background:{COLOURS[i % len(COLOURS)]}'></span>"
            f"{html.escape(run.name)} ({len(run.steps)} logged updates, last update {last}"
            + (
                f", {_seeds(run)} seeds: thin lines each, bands ± std across seeds"
                if _seeds(run)
                else ""
            )
            + ")<br>"
        )
    parts.append("</p>")
    return parts


def _curves(runs: Sequence[RunData], figures: dict[str, Any]) -> list[str]:
    """One plot per panel; a panel whose value never changed is stated in words instead."""
    parts = ["<section id='curves'><h2>Learning curves</h2><div class='plots'>"]
    others = tuple(_other_metrics(runs))
    sections = [*GROUPS, ("Other metrics", others)] if others else list(GROUPS)
    x, constant = _x_axis(runs), []
    for title, spec in sections:
        foldable = not isinstance(spec, str) and all(better_of(n) is None for n in spec)
        if foldable and (value := _is_constant(runs, spec)) is not None:
            constant.append(f"{html.escape(title)}: {value:.4g} throughout")
            continue
        fig = _figure(title, runs, spec, x=x)
        if fig is None:
            continue
        figures[title] = fig
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        parts.append(
            f"<div class='plot' id='plot-{slug}' data-metric-group='{html.escape(title)}'>"
            f"{_svg_text(fig)}</div>"
        )
    parts.append("</div>")
    if constant:
        listed = "; ".join(constant)
        parts.append(f"<p class='muted' id='constants'>Not drawn (constant): {listed}.</p>")
    parts.append("</section>")
    return parts


def _summary(runs: Sequence[RunData]) -> list[str]:
    parts = [
        "<section id='summary'><h2>Final and best values</h2><table><tr>"
        "<th class='l'>run</th><th class='l'>metric</th>"
        "<th>final</th><th>best</th><th>best at update</th></tr>"
    ]
    for run_name, name, final, best, at in _summary_rows(runs):
        parts.append(
            f"<tr><td class='l'>{html.escape(run_name)}</td><td class='l'>{html.escape(name)}</td>"
            f"<td data-value='{final!r}'>{final:.4g}</td>"
            + (
                "<td>—</td><td>—</td></tr>"
                if best is None
                else f"<td data-value='{best!r}'>{best:.4g}</td><td>{at}</td></tr>"
            )
        )
    parts.append("</table>")
    baselines = [(run, run.baselines) for run in runs]
    if any(b for _, b in baselines):
        parts.append(
            "<h3>Trivial policies on the same tasks</h3><table id='baselines'><tr>"
            "<th class='l'>run</th><th class='l'>policy</th><th>reward</th><th>similarity</th>"
            "<th>success rate</th><th>episodes</th></tr>"
        )
        for run, table in baselines:
            for name, scores in table.items():
                cells = "".join(
                    f"<td>{scores[k]:.4g}</td>"
                    if isinstance(scores.get(k), int | float)
                    else "<td>—</td>"
                    for k in ("reward_mean", "similarity_mean", "success_rate", "episodes")
                )
                label = BASELINE_STYLES.get(name, (name, None))[0]
                parts.append(
                    f"<tr><td class='l'>{html.escape(run.name)}</td>"
                    f"<td class='l'>{html.escape(label)}</td>{cells}</tr>"
                )
        parts.append("</table>")
    parts.append("</section>")
    return parts


def _configuration(runs: Sequence[RunData]) -> list[str]:
    flat = [_flatten(r.config) for r in runs]
    keys = sorted({k for f in flat for k in f})
    differing = [k for k in keys if len({repr(f.get(k)) for f in flat}) > 1]
    parts = ["<section id='config'><h2>Configuration</h2>"]
    if len(runs) > 1 and differing:
        parts.append(
            "<table><tr><th class='l'>key</th>"
            + "".join(f"<th class='l'>{html.escape(r.name)}</th>" for r in runs)
            + "</tr>"
        )
        for k in differing:
            parts.append(
                f"<tr><td class='l'>{html.escape(k)}</td>"
                + "".join(f"<td class='l'>{html.escape(repr(f.get(k)))}</td>" for f in flat)
                + "</tr>"
            )
        parts.append("</table>")
    elif len(runs) > 1:
        parts.append("<p class='muted'>The runs have the same configuration.</p>")
    shown = flat[0] if flat else {}
    parts.append(
        f"<details><summary>Full configuration of {html.escape(runs[0].name)}</summary><table>"
    )
    for k in sorted(shown):
        parts.append(
            f"<tr><td class='l'>{html.escape(k)}</td>"
            f"<td class='l'>{html.escape(repr(shown[k]))}</td></tr>"
        )
    parts.append("</table></details></section>")
    return parts


def _gallery_section(runs: Sequence[RunData]) -> list[str]:
    parts = [
        "<section id='gallery'><h2>Sampled episodes</h2>"
        "<p class='muted'>Initial, final and target grids of the environments sampled at "
        "each logged update (random ones, and the best and worst finished episode of the "
        "batch); open <i>step by step</i> to replay an episode's recorded actions.</p>"
    ]
    any_samples = False
    for run in runs:
        for step, samples in _gallery(run):
            any_samples = True
            parts.append(
                f"<h3 class='muted'>{html.escape(run.name)} · update {step}</h3>"
                "<div class='gallery'>"
            )
            for label, svg, replay in samples:
                parts.append(f"<div class='sample' title='{html.escape(label)}'>")
                parts.append(svg[svg.index("<svg") :])
                if replay:
                    parts.append(
                        "<details class='replay'><summary>step by step</summary>"
                        f"{replay[replay.index('<svg') :]}</details>"
                    )
                parts.append("</div>")
            parts.append("</div>")
    if not any_samples:
        parts.append(
            "<p class='muted'>No pictures of sampled episodes were written (sampling or "
            "visualization.enabled off, or the run is too short).</p>"
        )
    parts.append("</section>")
    return parts


def _svg_text(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def build_report(
    run_dirs: Sequence[str | Path], output: str | Path | None = None, png: bool = False
) -> Path:
    """Write the report for ``run_dirs`` to ``output`` (default ``<first run>/report.html``)."""
    # a folder of runs is each of its runs, never one merged series
    expanded = [run for d in run_dirs for run in (runs_in(d) or [Path(d)])]
    runs = [read_run(d, follow_resume=True) for d in expanded]  # a resumed run: one series
    page, figures = render_report(runs)
    out = Path(output) if output else runs[0].run_dir / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    if png:
        for title, fig in figures.items():
            slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
            fig.savefig(out.with_name(f"{out.stem}_{slug}.png"), dpi=110)
    import matplotlib.pyplot as plt

    for fig in figures.values():
        plt.close(fig)
    logger.info("report for %d run(s) written to %s", len(runs), out)
    return out
