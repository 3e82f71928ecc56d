"""Regenerate the README's benchmark tables from ``benchmarks/results/*.json``.

Each table sits between ``<!-- table:NAME -->`` and ``<!-- /table -->`` in README.md and is
written only by this script, so a table can never disagree with the results file it comes
from. Run after a benchmark:

    python benchmarks/readme_tables.py            # rewrite the tables in README.md
    python benchmarks/readme_tables.py --check    # exit 1 if README.md is out of date (CI)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
FIX = "python benchmarks/readme_tables.py"

WORKLOAD_NAMES = {
    "AGI1 007bbfb7 (30x30)": "ARC-AGI-1 `007bbfb7`, 30×30",
    "AGI1-train tasks <=10x10 (10x10)": "ARC-AGI-1 train tasks ≤ 10×10, padded to 10×10",
    "MiniARC 5x5": "MiniARC, 5×5",
}


def _load(name: str) -> Any:
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def env_throughput() -> list[str]:
    ours = _load("env_throughput")
    sizes = sorted({r["num_envs"] for r in ours["results"]})
    lines = [
        _row(["workload", *(f"N={n:,}" for n in sizes), "compile"]),
        _row(["---"] * (len(sizes) + 2)),
    ]
    ours_workloads = list(dict.fromkeys(r["workload"] for r in ours["results"]))
    for up in _load("upstream")["env_throughput"]:
        if up["workload"] in ours_workloads:
            name = f"{WORKLOAD_NAMES.get(up['workload'], up['workload'])} — upstream JaxARC 1.0.3"
            lines.append(
                _row([name, *(f"{up['steps_per_s'][str(n)]:,}" for n in sizes), up["compile"]])
            )
    for workload in ours_workloads:
        rows = {r["num_envs"]: r for r in ours["results"] if r["workload"] == workload}
        best = max(rows)
        cells = []
        for n in sizes:
            text = f"{rows[n]['steps_per_s']:,.0f}" if n in rows else "—"
            cells.append(f"**{text}**" if n == best else text)
        compile_s = max(r["compile_s"] for r in rows.values())
        name = f"{WORKLOAD_NAMES.get(workload, workload)} — jaxarc"
        lines.append(_row([name, *cells, f"{compile_s:.1f} s"]))
    return lines


def batched_logging() -> list[str]:
    rows = _load("batched_logging")["aggregation"]
    by = {(r["mode"], r["batch_size"]): r for r in rows}
    sizes = sorted({r["batch_size"] for r in rows})
    head = [
        "B",
        "design's `float(jnp.…)` per statistic",
        "jaxarc (one reduction, one transfer)",
        "floor: one `jnp.sum` + one fetch",
        "speed-up",
        "vs floor",
        "design/floor",
    ]
    lines = [_row(head), _row(["---"] * len(head))]

    def pair(b: int, fmt: Callable[[dict[str, Any]], str]) -> str:
        return " / ".join(fmt(by[(mode, b)]) for mode in ("interleaved", "blocks"))

    for b in sizes:
        lines.append(
            _row(
                [
                    f"{b:,}",
                    pair(b, lambda r: f"{r['design_literal_us']:,.0f}") + " µs",
                    pair(b, lambda r: f"{r['ours_us']:,.0f}") + " µs",
                    pair(b, lambda r: f"{r['floor_us']:,.0f}") + " µs",
                    pair(b, lambda r: f"{r['speedup_vs_design']:.1f}×"),
                    pair(b, lambda r: f"{r['ratio_to_floor']:.2f}×"),
                    pair(b, lambda r: f"{r['design_over_floor']:.1f}×"),
                ]
            )
        )
    return lines


def operations() -> list[str]:
    """Each operation id, what it does, ARCLE's id and name, and any difference (from
    ``jaxarc.envs.operations``, not from a results file)."""
    from jaxarc.envs.operations import ARCLE, DESCRIPTIONS
    from jaxarc.types import Operation

    head = ["id", "`jaxarc.Operation`", "what it does", "ARCLE (`O2ARCv2Env`)", "difference"]
    lines = [_row(head), _row(["---"] * len(head))]
    families = [(range(0, 10), "FILL_c", "Color"), (range(10, 20), "FLOOD_FILL_c", "FloodFill")]
    for ids, name, arcle in families:
        what = DESCRIPTIONS[Operation(ids[0])].replace(" 0", " c")
        diff = ARCLE[Operation(ids[0])].difference or "—"
        lines.append(
            _row([f"{ids[0]}–{ids[-1]}", name, what, f"{ids[0]}–{ids[-1]} {arcle}c", diff])
        )
    for op in Operation:
        if op < 20:
            continue
        theirs = ARCLE[op]
        arcle = "—" if theirs.id is None else f"{theirs.id} {theirs.name}"
        lines.append(
            _row([str(int(op)), op.name, DESCRIPTIONS[op], arcle, theirs.difference or "—"])
        )
    return lines


def train_throughput() -> list[str]:
    data = _load("train_throughput")
    head = [
        "envs × steps",
        "`jaxarc train` (default logging)",
        "jaxarc PPO, nothing logged",
        "rejax PPO via `GymnaxARC`",
        "ours / rejax",
    ]
    lines = [_row(head), _row(["---"] * len(head))]
    for r in data["results"]:
        lines.append(
            _row(
                [
                    f"{r['num_envs']} × {r['num_steps']} (width {r['hidden']})",
                    f"{r['jaxarc_train']:,.0f} steps/s",
                    f"{r['jaxarc_ppo_no_logging']:,.0f} steps/s",
                    f"{r['rejax_ppo']:,.0f} steps/s",
                    f"{r['ratio']:.2f}",
                ]
            )
        )
    return lines


def _pm(spread: dict[str, Any], digits: int = 2) -> str:
    return f"{spread['mean']:.{digits}f} ± {spread['std']:.{digits}f}"


def learning() -> list[str]:
    data = _load("learning")
    head = ["experiment (3 seeds each)", "env steps / seed", "success rate", "goal", "met"]
    head += ["test pairs, target hidden: score (2 attempts)"]
    lines = [_row(head), _row(["---"] * len(head))]
    for row in data["single"]["tasks"]:
        reach = [f"{r / 1e3:.0f}k" if r is not None else "never" for r in row["env_steps_to_goal"]]
        lines.append(
            _row(
                [
                    f"(a) ARC-AGI-1 `{row['task']}` alone",
                    f"{row['env_steps_per_seed']:,}",
                    _pm(row["final_success_rate"]),
                    f"≥ 0.9 within 2 M; per seed reached at {', '.join(reach)}",
                    "yes"
                    if row["goal_met"]
                    else f"**not within {row['env_steps_per_seed'] / 1e6:.1f} M**",
                    "—",
                ]
            )
        )
    names = {
        "default": "(b) `jaxarc train` (46 tasks ≤ 6×6)",
        "prioritized": "(b′) the same, `train.task_sampling=prioritized`",
        "miniarc": "(c) MiniARC, all 149 tasks (5×5)",
        "in_context": "(e) in-context (demonstrations in, target hidden): the 46 tasks",
        "heldout": "(f) in-context, MiniARC split 80/20: trained on 119 tasks",
    }
    for key, name in names.items():
        if key not in data:
            continue
        part = data[key]
        if key in IN_CONTEXT:
            lines.append(_in_context_row(name, part))
            continue
        goal = "≥ 0.5 at the end" if part["goal"] else "10 M steps asked"
        met = "—" if part["goal_met"] is None else ("yes" if part["goal_met"] else "**no**")
        ev = part["eval"]
        lines.append(
            _row(
                [
                    name,
                    f"{part['env_steps_per_seed']:,}",
                    _pm(part["final_success_rate"]),
                    goal,
                    met,
                    f"(d) {_pm(ev['score'], 3)} of {ev['tasks']} tasks "
                    f"(greedy {_pm(ev['greedy_score'], 3)})",
                ]
            )
        )
    return lines


IN_CONTEXT = ("in_context", "heldout")


def _in_context_row(name: str, part: dict[str, Any]) -> str:
    """A row of ARC's own problem: train-pair success, and the test-pair score (of the
    held-out tasks for ``heldout``) with and without test-time augmentation."""
    ev = part["eval"]
    where = "held-out tasks" if "holdout" in " ".join(part["overrides"]) else "tasks"
    interval = ev.get("bootstrap_95", {}).get("score")
    ci = f", 95 % CI [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else ""
    return _row(
        [
            name,
            f"{part['env_steps_per_seed']:,}",
            f"{_pm(part['final_success_rate'])} (train pairs)",
            part["goal"].replace("test-pair score (2 attempts) >= ", "test pairs ≥ "),
            "yes" if part["goal_met"] else "**no**",
            f"{_pm(ev['score'], 3)} of {ev['tasks']} {where}{ci}; with TTA "
            f"{_pm(ev['tta_score'], 3)}; mean best similarity {_pm(ev['best_similarity_mean'])}",
        ]
    )


TABLES: dict[str, Callable[[], list[str]]] = {
    "learning": learning,
    "train_throughput": train_throughput,
    "env_throughput": env_throughput,
    "batched_logging": batched_logging,
    "operations": operations,
}

_BLOCK = re.compile(r"(<!-- table:(\w+) -->\n)(.*?)(<!-- /table -->)", re.S)


def render(text: str) -> str:
    """``text`` with every marked table regenerated; unknown table names are an error."""
    found = set()

    def one(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in TABLES:
            raise KeyError(f"README.md has a table named {name!r}; known: {sorted(TABLES)}")
        found.add(name)
        return match.group(1) + "\n".join(TABLES[name]()) + "\n" + match.group(4)

    out = _BLOCK.sub(one, text)
    missing = set(TABLES) - found
    if missing:
        raise KeyError(f"README.md lacks the marked tables {sorted(missing)}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="only check; exit 1 when README.md is stale"
    )
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if args.check:
        if new != text:
            print(f"README.md tables differ from benchmarks/results: run {FIX}")
            return 1
        print("README.md tables match benchmarks/results")
        return 0
    README.write_text(new, encoding="utf-8")
    print("README.md tables regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
