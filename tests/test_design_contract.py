"""The batched-logging design (``docs/batched-logging-design.md``), read as a contract.

Each test takes the design's own text (its ``LoggingConfig`` class, its ``batched.yaml``,
its aggregation and sampling code) and checks the project against it. Where the project
deliberately differs, the test names the difference, and ``docs/batched-logging.md``'s
"Deliberate differences" table says why (the last test keeps that table complete).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import logging
import re
import threading
import typing
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

import jaxarc
from jaxarc.config import REMOVED_LOGGING_KEYS, JaxArcConfig, LoggingConfig
from jaxarc.config import validate_batched_logging_config as validate
from jaxarc.logging import ExperimentLogger, load_episodes, read_batch_metrics
from jaxarc.logging.batch.sample import DESIGN_SAMPLING_MAX_BATCH, sample_indices
from jaxarc.logging.handlers import (
    FileHandler,
    RichHandler,
    SVGHandler,
    TensorBoardHandler,
    WandbHandler,
)
from jaxarc.types import StepType
from tests.helpers import DESIGN_SUMMARY_KEYS, Recorder, tensorboard_scalars

ROOT = Path(__file__).resolve().parents[1]
DESIGN = (ROOT / "docs" / "batched-logging-design.md").read_text(encoding="utf-8")
OURS = (ROOT / "docs" / "batched-logging.md").read_text(encoding="utf-8")

#: LoggingConfig fields that the design does not have (each documented as an extension)
EXTENSIONS = {"sample_best_worst": False, "per_task_metrics": False}


def design_block(after: str, lang: str) -> str:
    """The first ``lang`` code block of the design after the line containing ``after``."""
    start = DESIGN.index(after)
    match = re.search(rf"```{lang}\n(.*?)```", DESIGN[start:], re.S)
    assert match is not None, after
    return match.group(1)


def design_logging_fields() -> dict[str, object]:
    """The design's ``LoggingConfig`` fields and defaults, in its order."""
    source = design_block("#### Updated LoggingConfig Dataclass", "python")
    fields = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            fields[node.target.id] = ast.literal_eval(node.value)
    return fields


def design_batched_yaml() -> dict[str, object]:
    return yaml.safe_load(design_block("Create `src/jaxarc/conf/logging/batched.yaml`", "yaml"))


def test_docs_hold_the_users_design_verbatim():
    shared = ROOT.parent / "shared" / "design" / "batched-logging-design.md"
    if shared.is_file():  # beside the developers' checkout, and in CI
        assert shared.read_text(encoding="utf-8") == DESIGN


def test_logging_config_has_every_design_field_with_its_default_in_order():
    design = design_logging_fields()
    assert len(design) == 22 and design["structured_logging"] is True
    ours = {f.name: f.default for f in dataclasses.fields(LoggingConfig)}
    assert {k: v for k, v in ours.items() if k not in EXTENSIONS} == design
    assert [k for k in ours if k not in EXTENSIONS] == list(design)
    assert {k: ours[k] for k in EXTENSIONS} == EXTENSIONS  # off: the design's behaviour
    hints = typing.get_type_hints(LoggingConfig)
    assert typing.get_args(hints["log_format"]) == ("json", "text", "structured")
    assert typing.get_args(hints["log_level"]) == ("DEBUG", "INFO", "WARNING", "ERROR")
    assert issubclass(LoggingConfig, jaxarc.config.schema.eqx.Module)


def test_the_async_fields_are_gone_and_old_configs_still_load():
    removed = ("queue_size", "worker_threads", "batch_size", "flush_interval", "enable_compression")
    assert removed == REMOVED_LOGGING_KEYS
    names = {f.name for f in dataclasses.fields(LoggingConfig)}
    assert not names & set(removed)
    with pytest.warns(DeprecationWarning, match="async"):
        cfg = JaxArcConfig.from_hydra(
            {"logging": {"queue_size": 10, "structured_logging": False, "log_key_moments": False}}
        )
    assert (cfg.logging.structured_logging, cfg.logging.log_key_moments) == (False, False)


def test_batched_preset_is_the_designs_file_and_composes_to_its_values():
    design = design_batched_yaml()
    preset = yaml.safe_load(
        (ROOT / "src" / "jaxarc" / "conf" / "logging" / "batched.yaml").read_text()
    )
    assert preset == design
    composed = jaxarc.load_config(["logging=batched"]).logging
    assert {k: getattr(composed, k) for k in design} == design
    assert (composed.structured_logging, composed.log_key_moments) == (True, True)


def test_validation_is_the_designs():
    ok = LoggingConfig()
    assert validate(ok) == []
    bad = dataclasses.replace(ok, num_samples=0, sample_frequency=-1, log_frequency=0)
    errors = validate(bad)
    assert len(errors) == 3
    for name in ("num_samples", "sample_frequency", "log_frequency"):
        assert any(name in e and "must be positive" in e for e in errors)


def test_validation_warns_about_very_many_samples(caplog):
    with caplog.at_level(logging.WARNING, logger="jaxarc"):
        assert validate(dataclasses.replace(LoggingConfig(), num_samples=1001)) == []
    assert "num_samples is very large: 1001" in caplog.text


# --- sampling ---------------------------------------------------------------------------


def design_choice(step: int, batch_size: int, num_samples: int) -> list[int]:
    """The design's ``_sample_episodes_from_batch`` index rule, as written there."""
    if num_samples >= batch_size:
        return list(range(batch_size))
    key = jax.random.PRNGKey(step)
    picks = jax.random.choice(key, batch_size, shape=(num_samples,), replace=False)
    return np.asarray(picks).tolist()


def test_sampled_indices_are_the_designs():
    assert design_choice(50, 64, 3) == [9, 47, 21]  # pinned: B = 64, update 50, 3 samples
    for step, b, k in [(50, 64, 3), (0, 10, 3), (7, 1000, 5), (123, DESIGN_SAMPLING_MAX_BATCH, 3)]:
        assert np.asarray(sample_indices(step, b, k)).tolist() == design_choice(step, b, k)
        traced = jax.jit(sample_indices, static_argnums=(1, 2))(jnp.int32(step), b, k)
        assert np.asarray(traced).tolist() == design_choice(step, b, k)
    assert np.asarray(sample_indices(3, 2, 3)).tolist() == [0, 1]  # num_samples >= B: all


def test_difference_sampling_above_the_threshold_is_floyds_draw():
    """Deliberate difference: above ``DESIGN_SAMPLING_MAX_BATCH`` the indices come from
    Floyd's O(k) draw (the design's rule permutes all B)."""
    b = DESIGN_SAMPLING_MAX_BATCH + 1
    picks = np.asarray(sample_indices(5, b, 3)).tolist()
    assert len(set(picks)) == 3 and max(picks) < b
    assert picks != design_choice(5, b, 3)
    assert "DESIGN_SAMPLING_MAX_BATCH" in OURS


def design_batch(step: int, b: int = 64) -> dict:
    """The design's "Batch Data Structure" with random values (no mask, all finite)."""
    rng = np.random.default_rng(step)
    return {
        "update_step": step,
        "episode_returns": jnp.asarray(rng.normal(size=b), jnp.float32),
        "episode_lengths": jnp.asarray(rng.integers(1, 20, size=b), jnp.int32),
        "similarity_scores": jnp.asarray(rng.uniform(size=b), jnp.float32),
        "success_mask": jnp.asarray(rng.uniform(size=b) > 0.5),
        "policy_loss": 0.25,
        "value_loss": 0.5,
        "gradient_norm": 1.5,
        "task_ids": [f"t{i}" for i in range(b)],
    }


def logger_for(tmp_config, handlers=None, **logging_kw):
    config = dataclasses.replace(
        tmp_config, logging=dataclasses.replace(LoggingConfig(), **logging_kw)
    )
    return ExperimentLogger(config, handlers=handlers)


def test_log_batch_step_samples_the_designs_environments_num_samples_of_them(tmp_config):
    rec = Recorder()
    log = logger_for(tmp_config, {"rec": rec}, batched_logging_enabled=True, sample_frequency=50)
    for step in range(0, 101):
        log.log_batch_step(design_batch(step))
    assert [s for s, _ in rec.metrics] == list(range(0, 101, 10))  # every log_frequency
    by_step: dict[int, list[int]] = {}
    for summary in rec.summaries:
        by_step.setdefault(summary["episode_num"], []).append(summary["environment_id"])
    assert by_step == {s: design_choice(s, 64, 3) for s in (0, 50, 100)}  # exactly 3 each
    data = design_batch(50)
    first = next(s for s in rec.summaries if s["episode_num"] == 50)
    i = first["environment_id"]
    assert set(first) >= DESIGN_SUMMARY_KEYS
    assert first["total_reward"] == float(data["episode_returns"][i])
    assert first["total_steps"] == int(data["episode_lengths"][i])
    assert first["task_id"] == f"t{i}"


def test_aggregated_metric_names_and_values_are_the_designs(tmp_config):
    """The design's ``_aggregate_batch_metrics`` run as written, against ours."""
    data = design_batch(0)
    source = design_block("#### Aggregation Logic", "python")
    scope: dict = {"Dict": dict, "Any": typing.Any}
    exec(compile(source, "design", "exec"), scope)
    design_self = type("Design", (), {"config": JaxArcConfig()})()
    expected = scope["_aggregate_batch_metrics"](design_self, data)
    log = logger_for(tmp_config, {}, batched_logging_enabled=True)
    ours = log._aggregate_batch_metrics(data)
    assert list(ours) == list(expected)
    for name, value in expected.items():
        assert ours[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name


def test_every_handler_has_log_aggregated_metrics(tmp_path):
    for cls in (FileHandler, SVGHandler, RichHandler, TensorBoardHandler, WandbHandler):
        assert callable(getattr(cls, "log_aggregated_metrics", None)), cls.__name__
    config = jaxarc.load_config([f"storage.base_output_dir={tmp_path}"])
    handlers = [
        FileHandler(tmp_path, config.logging),
        SVGHandler(tmp_path, config.visualization),
        TensorBoardHandler(tmp_path),
    ]
    for handler in handlers:
        handler.log_aggregated_metrics({"reward_mean": 0.5}, 3)
        handler.close()
    line = json.loads((tmp_path / "batch_metrics.jsonl").read_text())
    assert set(line) == {"timestamp", "step", "metrics"}  # the design's record
    assert (line["step"], line["metrics"]) == (3, {"reward_mean": 0.5})
    assert tensorboard_scalars(tmp_path)["batch/reward_mean"] == [(3, 0.5)]


# --- out-of-order steps, threads -------------------------------------------------------


def test_threads_sharing_a_logger_lose_no_event_and_tear_no_line(tmp_config, caplog):
    """Several trainers (threads) share one logger, each with its own step range: every
    event reaches the file and TensorBoard, every line is valid JSON, one warning in all."""
    log = logger_for(
        tmp_config,
        None,
        batched_logging_enabled=True,
        log_frequency=1,
        sample_frequency=7,
        compression=False,
    )
    per_thread, threads = 25, 6
    arrays = design_batch(0, b=16)

    def trainer(t: int) -> None:
        for i in range(per_thread):
            log.log_batch_step({**arrays, "update_step": 1000 * t + i})

    workers = [threading.Thread(target=trainer, args=(t,)) for t in range(threads)]
    with caplog.at_level(logging.WARNING, logger="jaxarc"):
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        log.close()
    expected = sorted(1000 * t + i for t in range(threads) for i in range(per_thread))
    lines = (log.run_dir / "batch_metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]  # raises on a torn line
    assert sorted(r["step"] for r in records) == expected
    assert [r["step"] for r in read_batch_metrics(log.run_dir)] == expected  # sorted by step
    assert sorted(s for s, _ in tensorboard_scalars(log.run_dir)["batch/reward_mean"]) == expected
    sampled = {e["episode_num"] for e in load_episodes(log.run_dir, "episode_*_env*")}
    assert sampled == {s for s in expected if s % 7 == 0}
    assert caplog.text.count("logged all the same") <= 1


# --- structured_logging, log_format, log_key_moments ------------------------------------


def one_episode(log: ExperimentLogger) -> None:
    log.log_task_start({"episode_num": 1, "task_id": "t"})
    common = {"episode_num": 1, "before_grid": [[1]], "after_grid": [[2]], "operation": 3}
    log.log_step({**common, "step_num": 1, "reward": 0.1, "success": False, "step_type": 1})
    log.log_step({**common, "step_num": 2, "reward": 1.0, "success": True, "step_type": 1})
    log.log_step({**common, "step_num": 3, "reward": 0.0, "success": True, "step_type": 2})
    log.log_episode_summary({"episode_num": 1, "total_reward": 1.1, "success": True})
    log.close()


@pytest.mark.parametrize(
    ("structured", "fmt", "files"),
    [
        (True, "json", {".json"}),
        (True, "structured", {".jsonl"}),
        (True, "text", {".json", ".txt"}),
        (False, "json", {".txt"}),
    ],
)
def test_structured_logging_and_log_format_choose_the_episode_files(
    tmp_config, structured, fmt, files
):
    log = logger_for(
        tmp_config, None, structured_logging=structured, log_format=fmt, compression=False
    )
    one_episode(log)
    written = list((log.run_dir / "episodes").iterdir())
    assert {p.suffix for p in written} == files
    if structured:
        (episode,) = load_episodes(log.run_dir)
        assert episode["task"]["task_id"] == "t" and episode["summary"]["total_reward"] == 1.1
        assert [s["step_num"] for s in episode["steps"]] == [1, 2, 3]
    if fmt == "structured":
        events = [json.loads(x)["event"] for x in written[0].read_text().splitlines()]
        assert events == ["task_start", "step", "step", "step", "summary"]
    if ".txt" in files:
        text = next(p for p in written if p.suffix == ".txt").read_text()
        assert "step 2" in text and "[first_success]" in text and "[episode_end]" in text


@pytest.mark.parametrize("key_moments", [True, False])
def test_log_key_moments_keeps_first_success_and_episode_end_whole(tmp_config, key_moments):
    rec = type("Steps", (), {"log_step": lambda self, s: self.steps.append(s)})()
    rec.steps = []
    log = logger_for(tmp_config, {"rec": rec}, log_key_moments=key_moments)
    assert not log.config.logging.log_grid_changes  # ordinary steps lose their grids
    one_episode(log)
    first, solved, last = rec.steps
    assert "before_grid" not in first and "key_moments" not in first
    if key_moments:
        assert solved["key_moments"] == ["first_success"] and solved["before_grid"] == [[1]]
        assert last["key_moments"] == ["episode_end"] and last["reward"] == 0.0
        assert last["step_type"] == StepType.TERMINATED
    else:
        assert "key_moments" not in solved and "before_grid" not in last


# --- the deliberate differences, all documented ----------------------------------------

#: each deliberate difference from the design's sketches: a phrase of its row in
#: docs/batched-logging.md's table, and the test (or module) that shows it
DIFFERENCES = {
    "one jitted reduction, one transfer": "test_batch_reference.py",
    "`episode_done_mask`": "test_batch_reference.py",
    "`success_rate` over the batch": "test_batch_reference.py",
    "`None` for values absent from the batch": "test_batch_logging.py",
    "a missing `update_step` uses the logger's running count": "test_batch_logging.py",
    "one compact row per statistic group": "test_batch_logging.py",
    "`define_metric(..., step_metric=...)`": "test_logging.py (wandb keeps every event)",
    "`<name>_nonfinite` counts": "test_batch_reference.py",
    "`DESIGN_SAMPLING_MAX_BATCH`": "test_difference_sampling_above_the_threshold_is_floyds_draw",
    "`sample_best_worst`": "test_batch_logging.py (extremes), EXTENSIONS above",
    "`per_task_metrics`": "test_batch_logging.py (per-task metrics), EXTENSIONS above",
    "`ExperimentLogger.final_step`": "test_batch_logging.py",
    "`typing.Protocol`": "test_logging.py",
}


def test_every_deliberate_difference_is_in_the_docs_table():
    section = OURS[OURS.index("## Deliberate differences") :]
    table = section[section.index("| the design's sketch") :].split("\n\n")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) - 1 == len(DIFFERENCES)  # the header row aside
    for phrase in DIFFERENCES:
        assert phrase in table, phrase
