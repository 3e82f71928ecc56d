"""Read a run directory back into Python."""

from __future__ import annotations

import gzip
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .handlers.file import BATCH_METRICS_FILE, TASK_METRICS_FILE

logger = logging.getLogger("jaxarc.logging.reader")

#: the trivial policies' scores on a run's tasks (written by `jaxarc train`):
#: ``{"submit_at_once": {"reward_mean": ..., "similarity_mean": ..., "success_rate": ...,
#: "episodes": ...}, "random": {...}}``
BASELINES_FILE = "baselines.json"


@dataclass
class RunData:
    """A run's batch metrics as columns: ``metrics[name][i]`` is the value at ``steps[i]``
    (``None`` where that event did not log the metric)."""

    run_dir: Path
    steps: list[int]
    metrics: dict[str, list[float | None]]
    timestamps: list[float]
    config: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.run_dir.name


def read_batch_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every ``{"timestamp", "step", "metrics"}`` record of a run's ``batch_metrics.jsonl``.

    Records of one step are merged into one (see :func:`_merge_steps`). Also reads runs
    still being written: a torn (incomplete) last line is ignored. Lines that
    are not UTF-8 or JSON, or whose step is not an integer, are skipped, and values that are
    not numbers are dropped — counted in one warning per file. Raises ``FileNotFoundError``
    when the directory does not exist or holds no batch metrics (naming the runs inside it
    when it is a folder of runs).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} does not exist (or is not a directory)")
    path = run_dir / BATCH_METRICS_FILE
    if not path.is_file():
        inside = runs_in(run_dir)
        if inside:
            names = ", ".join(r.name for r in inside[:5]) + (" …" if len(inside) > 5 else "")
            raise FileNotFoundError(
                f"{run_dir} is a folder of {len(inside)} runs ({names}): pass the runs themselves"
            )
        raise FileNotFoundError(
            f"{run_dir} has no {BATCH_METRICS_FILE}: it is not a batched-logging run directory "
            "(run `jaxarc train`, or log with ExperimentLogger.log_batch_step)"
        )
    records, skipped, dropped = [], 0, 0
    lines = path.read_bytes().splitlines()
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            if i == len(lines) - 1:
                logger.info("%s: ignoring an incomplete last line (run still being written?)", path)
            else:
                skipped += 1
            continue
        step = rec.get("step") if isinstance(rec, dict) else None
        if type(step) is not int or not isinstance(rec.get("metrics"), dict):
            skipped += 1
            continue
        clean = {k: v for k, v in rec["metrics"].items() if _is_number(v)}
        dropped += len(rec["metrics"]) - len(clean)
        stamp = rec.get("timestamp")
        records.append(
            {"step": step, "timestamp": stamp if _is_number(stamp) else 0.0, "metrics": clean}
        )
    if skipped or dropped:
        logger.warning(
            "%s: skipped %d unreadable line(s) and %d value(s) that are not numbers",
            path,
            skipped,
            dropped,
        )
    records.sort(key=lambda r: (r["step"], r["timestamp"] or 0.0))
    return _merge_steps(records)


def _merge_steps(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per step: events logged at one step (say a batch event and the in-training
    evaluation after it) are one row, the later value winning where both have a metric."""
    merged: list[dict[str, Any]] = []
    for rec in records:
        if merged and merged[-1]["step"] == rec["step"]:
            merged[-1]["metrics"].update(rec["metrics"])
            merged[-1]["timestamp"] = rec["timestamp"]
        else:
            merged.append(rec)
    return merged


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def runs_in(folder: str | Path) -> list[Path]:
    """``folder`` itself when it is a run, else the runs directly inside it (sorted)."""
    folder = Path(folder)
    if (folder / BATCH_METRICS_FILE).is_file():
        return [folder]
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / BATCH_METRICS_FILE).is_file())


def read_run(run_dir: str | Path, follow_resume: bool = False) -> RunData:
    """A run's metrics as columns, plus its saved configuration.

    With ``follow_resume``, a run started with ``--resume`` is read as one series with the
    runs it continues: each earlier run contributes the updates before the next one's first
    (the updates it logged after its last checkpoint were done again by the resumed run and
    are dropped, so no step appears twice).
    """
    run_dir = Path(run_dir)
    records = read_batch_metrics(run_dir)
    if follow_resume:
        records = _with_ancestors(run_dir, records)
    names: list[str] = []
    for rec in records:
        for key in rec["metrics"]:
            if key not in names:
                names.append(key)
    metrics = {name: [rec["metrics"].get(name) for rec in records] for name in names}
    return RunData(
        run_dir=run_dir,
        steps=[r["step"] for r in records],
        metrics=metrics,
        timestamps=[float(r["timestamp"] or 0.0) for r in records],
        config=_read_config(run_dir),
        baselines=read_baselines(run_dir),
    )


def _parent(run_dir: Path) -> Path | None:
    resume = (_read_config(run_dir).get("train") or {}).get("resume")
    if not resume:
        return None
    parent = Path(resume)
    parent = parent if parent.is_dir() else parent.parent
    return parent if (parent / BATCH_METRICS_FILE).is_file() else None


def _with_ancestors(run_dir: Path, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen = {run_dir.resolve()}
    parent = _parent(run_dir)
    while parent is not None and parent.resolve() not in seen:  # a cycle would never end
        seen.add(parent.resolve())
        first = records[0]["step"] if records else None
        earlier = [r for r in read_batch_metrics(parent) if first is None or r["step"] < first]
        records = earlier + records
        parent = _parent(parent)
    return records


def _read_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.yaml"
    if not path.exists():
        return {}
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        logger.warning("%s is unreadable (%s); the report goes on without it", path, err)
        return {}
    return config if isinstance(config, dict) else {}


def read_baselines(run_dir: str | Path) -> dict[str, dict[str, float]]:
    """The run's ``baselines.json`` (``{}`` when absent; unreadable is a warning, not an error)."""
    path = Path(run_dir) / BASELINES_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        logger.warning("%s is unreadable (%r); going on without baselines", path, err)
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def load_episodes(run_dir: str | Path, pattern: str = "episode_*") -> list[dict[str, Any]]:
    """The episode files written by the FileHandler (``.json``, and ``.jsonl`` of
    ``log_format="structured"``, each maybe ``.gz``) whose name matches ``pattern`` (default:
    all; ``episode_000050_env*``: those sampled at update 50), in name order, each as one
    ``{"episode_num", "task", "steps", "summary"}`` document."""
    folder = Path(run_dir) / "episodes"
    out = []
    for path in sorted(folder.glob(f"{pattern}.json*")):
        name = path.name.removesuffix(".gz")
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as f:
                text = f.read()
        else:
            text = path.read_text(encoding="utf-8")
        if name.endswith(".json"):
            out.append(json.loads(text))
        elif name.endswith(".jsonl"):
            out.append(_episode_from_lines(text))
    return out


def _episode_from_lines(text: str) -> dict[str, Any]:
    """One structured (JSON Lines) episode file as the JSON document of the default format."""
    episode: dict[str, Any] = {"episode_num": 0, "task": None, "steps": [], "summary": None}
    for line in text.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        event = record.pop("event", None)
        if event == "step":
            episode["steps"].append(record)
        elif event in ("task_start", "summary"):
            episode["task" if event == "task_start" else "summary"] = record
            episode["episode_num"] = record.get("episode_num", episode["episode_num"])
    return episode


#: ``jaxarc eval`` writes ``<run>/eval/<name>.json`` (its metrics: ``eval/batch_metrics.jsonl``)
EVAL_DIR = "eval"


def read_evaluations(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every ``jaxarc eval`` result of a run (``eval/*.json``), oldest first; unreadable files
    are skipped with a warning."""
    folder = Path(run_dir) / EVAL_DIR
    docs = []
    for path in (
        sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    ):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(doc, dict) and isinstance(doc.get("aggregate"), dict):
                docs.append(doc)
                continue
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            pass
        logger.warning("%s is not a jaxarc eval result; skipped", path)
    return docs


def read_task_metrics(run_dir: str | Path) -> list[tuple[int, dict[str, dict[str, float]]]]:
    """``(step, {task: {"episodes", "successes", "success_rate", "similarity_mean"}})`` of each
    line of a run's ``task_metrics.jsonl`` (``logging.per_task_metrics``), by step; empty when
    there is none. Unreadable lines (a torn last one included) are skipped with a count."""
    path = Path(run_dir) / TASK_METRICS_FILE
    if not path.is_file():
        return []
    out, skipped = [], 0
    for raw in path.read_bytes().splitlines():
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            skipped += 1
            continue
        step = rec.get("step") if isinstance(rec, dict) else None
        tasks = rec.get("tasks") if isinstance(rec, dict) else None
        if type(step) is not int or not isinstance(tasks, dict):
            skipped += 1
            continue
        out.append((step, {str(k): v for k, v in tasks.items() if isinstance(v, dict)}))
    if skipped:
        logger.warning("%s: skipped %d unreadable line(s)", path, skipped)
    out.sort(key=lambda r: r[0])
    return out
