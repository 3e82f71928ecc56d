"""FileHandler: episodes as strict JSON (optionally gzip), full states as pickle, batch metrics
as JSONL."""

from __future__ import annotations

import gzip
import logging
import pickle
import time
from pathlib import Path
from typing import Any, TextIO

from ...config import LoggingConfig
from ..serialization import dumps, write_atomic
from .base import BaseHandler

logger = logging.getLogger("jaxarc.logging.file")

BATCH_METRICS_FILE = "batch_metrics.jsonl"
#: ``logging.per_task_metrics``: one ``{"timestamp", "step", "tasks": {task: {...}}}`` line per
#: aggregated event
TASK_METRICS_FILE = "task_metrics.jsonl"


class FileHandler(BaseHandler):
    """Writes under ``run_dir``:

    - ``episodes/episode_<num>[_env<id>].json`` (``.json.gz`` when ``compression``): the task,
      every logged step and the summary (``log_format="json"``, the default). A name already
      taken gets a ``_<n>`` suffix, so nothing is ever overwritten.
    - ``episodes/…jsonl[.gz]`` instead with ``log_format="structured"``: JSON Lines, one
      record per event, ``{"event": "task_start" | "step" | "summary", ...}``.
    - ``episodes/…txt``, one line per event, beside the JSON with ``log_format="text"``, and
      alone (no JSON at all) with ``structured_logging=false``.
    - ``episodes/…_states.pkl[.gz]`` with the raw step payloads when ``include_full_states``.
    - ``batch_metrics.jsonl``: one ``{"timestamp", "step", "metrics"}`` line per aggregated event.
    - ``task_metrics.jsonl``: one ``{"timestamp", "step", "tasks"}`` line per aggregated event
      with ``logging.per_task_metrics`` (episodes, successes, success rate and mean
      similarity of each task with a finished episode).
    """

    def __init__(self, run_dir: str | Path, config: LoggingConfig):
        self.run_dir = Path(run_dir)
        self.config = config
        self.episode_dir = self.run_dir / "episodes"
        self.episode_dir.mkdir(parents=True, exist_ok=True)
        self._episode: dict[str, Any] | None = None
        self._raw_steps: list[dict[str, Any]] = []
        self._metrics_file: TextIO | None = None
        self._tasks_file: TextIO | None = None

    # single episodes -------------------------------------------------------------------
    def log_task_start(self, task_data: dict[str, Any]) -> None:
        self._flush_open_episode()
        self._episode = {
            "episode_num": task_data.get("episode_num", 0),
            "task": task_data,
            "steps": [],
            "summary": None,
        }
        self._raw_steps = []

    def log_step(self, step_data: dict[str, Any]) -> None:
        if self._episode is None:
            self._episode = {
                "episode_num": step_data.get("episode_num", 0),
                "task": None,
                "steps": [],
                "summary": None,
            }
        self._episode["steps"].append(step_data)
        if self.config.include_full_states:
            self._raw_steps.append(step_data)

    def log_episode_summary(self, summary_data: dict[str, Any]) -> None:
        num = summary_data.get("episode_num", 0)
        if "environment_id" in summary_data:
            # sampled from a batch: a file of its own (the open episode is untouched); its
            # steps are the actions recorded on device, when the trainer recorded them
            summary = {k: v for k, v in summary_data.items() if k != "actions"}
            steps = summary_data.get("actions", [])
            self._write_episode(
                {"episode_num": num, "task": None, "steps": steps, "summary": summary},
                summary_data["environment_id"],
                [],
            )
            return
        if self._episode is None or self._episode["episode_num"] != num:
            self._flush_open_episode()
            self._episode = {"episode_num": num, "task": None, "steps": []}
        self._episode["summary"] = summary_data
        self._write_episode(self._episode, None, self._raw_steps)
        self._episode, self._raw_steps = None, []

    # batched ---------------------------------------------------------------------------
    def log_aggregated_metrics(self, metrics: dict[str, float], step: int) -> None:
        if self._metrics_file is None:
            self._metrics_file = open(self.run_dir / BATCH_METRICS_FILE, "a", encoding="utf-8")  # noqa: SIM115
        self._metrics_file.write(
            dumps({"timestamp": time.time(), "step": int(step), "metrics": metrics}) + "\n"
        )
        self._metrics_file.flush()

    def log_task_metrics(self, tasks: dict[str, dict[str, Any]], step: int) -> None:
        if self._tasks_file is None:
            self._tasks_file = open(self.run_dir / TASK_METRICS_FILE, "a", encoding="utf-8")  # noqa: SIM115
        self._tasks_file.write(
            dumps({"timestamp": time.time(), "step": int(step), "tasks": tasks}) + "\n"
        )
        self._tasks_file.flush()

    def close(self) -> None:
        self._flush_open_episode()
        if self._tasks_file is not None:
            self._tasks_file.close()
            self._tasks_file = None
        if self._metrics_file is not None:
            self._metrics_file.close()
            self._metrics_file = None

    # internals -------------------------------------------------------------------------
    def _flush_open_episode(self) -> None:
        if self._episode is not None and (
            self._episode["steps"] or self._episode["task"] is not None
        ):
            self._episode.setdefault("summary", None)
            self._write_episode(self._episode, None, self._raw_steps)
        self._episode, self._raw_steps = None, []

    def _unique(self, stem: str, suffix: str) -> Path:
        path = self.episode_dir / f"{stem}{suffix}"
        n = 1
        while path.exists():
            path = self.episode_dir / f"{stem}_{n}{suffix}"
            n += 1
        return path

    def _write_episode(
        self, episode: dict[str, Any], environment_id: Any, raw_steps: list[dict[str, Any]]
    ) -> None:
        stem = f"episode_{int(episode['episode_num']):06d}" + (
            f"_env{int(environment_id):05d}" if environment_id is not None else ""
        )
        gz = self.config.compression
        structured = self.config.structured_logging
        kind = ".jsonl" if self.config.log_format == "structured" else ".json"
        path = self._unique(stem, kind + (".gz" if gz else "") if structured else ".txt")
        base = path.name.split(".")[0]  # the unique stem, shared by the files beside it
        if structured:
            text = _json_lines(episode) if kind == ".jsonl" else dumps(episode)
            write_atomic(path, gzip.compress(text.encode("utf-8")) if gz else text)
        if not structured or self.config.log_format == "text":
            self._write_text(self.episode_dir / f"{base}.txt", episode)
        if self.config.include_full_states and (raw_steps or episode.get("summary")):
            pkl = base + "_states.pkl" + (".gz" if gz else "")
            states = {
                "steps": raw_steps,
                "summary": episode.get("summary"),
                "task": episode.get("task"),
            }
            data = pickle.dumps(states)
            write_atomic(self.episode_dir / pkl, gzip.compress(data) if gz else data)
        logger.debug("wrote %s", path)

    @staticmethod
    def _write_text(path: Path, episode: dict[str, Any]) -> None:
        lines = []
        task = episode.get("task") or {}
        if task:
            lines.append(f"task {task.get('task_id')} episode {episode['episode_num']}")
        for s in episode["steps"]:
            lines.append(
                f"step {s.get('step_num')}: {s.get('operation_name', s.get('operation'))} "
                f"reward={s.get('reward')} similarity={s.get('similarity')}"
                + (f" [{', '.join(s['key_moments'])}]" if s.get("key_moments") else "")
            )
        if episode.get("summary"):
            sm = episode["summary"]
            lines.append(
                f"summary: return={sm.get('total_reward')} steps={sm.get('total_steps')} "
                f"similarity={sm.get('final_similarity')} success={sm.get('success')}"
            )
        write_atomic(path, "\n".join(lines) + "\n")


def _json_lines(episode: dict[str, Any]) -> str:
    """An episode as JSON Lines: its task start, each step and its summary, one record each."""
    records = []
    if episode.get("task") is not None:
        records.append({"event": "task_start", **episode["task"]})
    records += [{"event": "step", **step} for step in episode["steps"]]
    if episode.get("summary") is not None:
        records.append({"event": "summary", **episode["summary"]})
    return "".join(dumps(r) + "\n" for r in records)
