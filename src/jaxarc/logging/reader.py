"""Read a run directory back into Python."""

from __future__ import annotations

import gzip
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .handlers.file import BATCH_METRICS_FILE

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
    """Every ``{"timestamp", "step", "metrics"}`` record of ``batch_metrics.jsonl``.

    Also reads runs still being written: a torn (incomplete) last line is ignored. Raises
    ``FileNotFoundError`` when the run has no batch metrics.
    """
    if not Path(run_dir).is_dir():
        raise FileNotFoundError(f"{run_dir} does not exist (or is not a directory)")
    paths = sorted(Path(run_dir).glob(f"**/{BATCH_METRICS_FILE}"))
    if not paths:
        raise FileNotFoundError(
            f"{run_dir} has no {BATCH_METRICS_FILE}: it is not a batched-logging run directory "
            "(run `jaxarc train`, or log with ExperimentLogger.log_batch_step)"
        )
    records = []
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                if i == len(lines) - 1:
                    logger.info(
                        "%s: ignoring an incomplete last line (run still being written?)", path
                    )
                else:
                    logger.warning("%s: skipping unreadable line %d", path, i + 1)
                continue
            if isinstance(rec, dict) and isinstance(rec.get("metrics"), dict) and "step" in rec:
                records.append(rec)
    records.sort(key=lambda r: (r["step"], r.get("timestamp", 0)))
    return records


def read_run(run_dir: str | Path) -> RunData:
    """A run's metrics as columns, plus its saved configuration."""
    run_dir = Path(run_dir)
    records = read_batch_metrics(run_dir)
    names: list[str] = []
    for rec in records:
        for key in rec["metrics"]:
            if key not in names:
                names.append(key)
    metrics = {name: [rec["metrics"].get(name) for rec in records] for name in names}
    config_path = run_dir / "config.yaml"
    config = yaml.safe_load(config_path.read_text()) if config_path.exists() else {}
    return RunData(
        run_dir=run_dir,
        steps=[int(r["step"]) for r in records],
        metrics=metrics,
        timestamps=[float(r.get("timestamp", 0.0)) for r in records],
        config=config or {},
        baselines=read_baselines(run_dir),
    )


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
    """The episode files written by the FileHandler (``.json`` and ``.json.gz``) whose name
    matches ``pattern`` (default: all; ``episode_000050_env*``: those sampled at update 50),
    in name order."""
    folder = Path(run_dir) / "episodes"
    out = []
    for path in sorted(folder.glob(f"{pattern}.json*")):
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as f:
                out.append(json.load(f))
        elif path.suffix == ".json":
            out.append(json.loads(path.read_text(encoding="utf-8")))
    return out
