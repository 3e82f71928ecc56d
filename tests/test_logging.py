"""ExperimentLogger and its handlers with real files, real TensorBoard and real offline wandb."""

import dataclasses
import gzip
import io
import json
import logging
import pickle
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from rich.console import Console

import jaxarc
from jaxarc.envs.payloads import episode_summary_payload, step_payload, task_start_payload
from jaxarc.logging import ExperimentLogger, load_episodes
from jaxarc.logging.handlers import FileHandler, RichHandler, SVGHandler
from jaxarc.viz import ARC_PALETTE
from tests.helpers import strict_json, svg_cells, tensorboard_scalars, wandb_history

STEP = jax.jit(jaxarc.step)


def with_(cfg, **sections):
    return dataclasses.replace(
        cfg, **{k: dataclasses.replace(getattr(cfg, k), **v) for k, v in sections.items()}
    )


def run_episode(log, env, params, steps=4, episode=0):
    state, _ = env.reset(jax.random.PRNGKey(episode), params)
    first, total = state, 0.0
    log.log_task_start(task_start_payload(state, params=params, episode_num=episode))
    for t in range(steps):
        action = env.action_space(params).sample(jax.random.PRNGKey(100 + t))
        nxt, ts = STEP(state, action, params)
        log.log_step(step_payload(state, action, nxt, ts, episode_num=episode))
        total += float(ts.reward)
        state = nxt
    log.log_episode_summary(
        episode_summary_payload(first, state, total, episode_num=episode, params=params)
    )
    return first, state, total


@pytest.fixture
def basic_cfg(tmp_config):
    return with_(
        jaxarc.load_config(
            [
                f"storage.base_output_dir={tmp_config.storage.base_output_dir}",
                "logging=basic",
                "visualization.console=false",
            ]
        ),
        dataset=dataclasses.asdict(tmp_config.dataset),
    )


def test_episode_through_every_handler(basic_cfg, small_env):
    env, params = small_env
    cfg = with_(basic_cfg, wandb={"enabled": True}, visualization={"console": True})
    out = io.StringIO()
    log = ExperimentLogger(cfg)
    log.handlers["rich"] = RichHandler(cfg.visualization, Console(file=out, width=120))
    assert set(log.handlers) == {"file", "svg", "rich", "tensorboard", "wandb"}
    assert (log.run_dir / "config.yaml").exists()
    first, final, total = run_episode(log, env, params)
    log.close()
    log.close()  # idempotent

    # file: strict JSON read back
    episodes = load_episodes(log.run_dir)
    assert len(episodes) == 1
    ep = episodes[0]
    assert len(ep["steps"]) == 4 and ep["summary"]["total_reward"] == pytest.approx(total)
    assert ep["task"]["task_id"] == params.buffer.id_of(int(first.task_index))
    assert ep["steps"][0]["operation_name"].startswith(
        (
            "fill",
            "flood",
            "move",
            "rotate",
            "flip",
            "copy",
            "paste",
            "cut",
            "clear",
            "resize",
            "submit",
        )
    )
    strict_json((log.run_dir / "episodes" / "episode_000000.json").read_text())

    # svg: cells and colours
    svg_dir = log.run_dir / "svg"
    summary = (svg_dir / "episode_000000_summary.svg").read_text()
    fills = svg_cells(summary)
    init = np.asarray(first.working_grid)[np.asarray(first.working_grid_mask)]
    target = np.asarray(final.target_grid)[np.asarray(final.target_grid_mask)]
    fin = np.asarray(final.working_grid)[np.asarray(final.working_grid_mask)]
    assert len(fills) == init.size + fin.size + target.size
    assert sorted(set(fills)) == sorted(
        {ARC_PALETTE[int(v)] for v in np.concatenate([init, fin, target])}
    )
    steps = sorted((svg_dir / "episode_000000").glob("step_*.svg"))
    assert len(steps) == 4 and svg_cells(steps[0].read_text())
    assert len(list(svg_dir.glob("task_*.svg"))) == 1

    # rich
    text = out.getvalue()
    assert "episode 0" in text and "step   1" in text and ("SOLVED" in text or "not solved" in text)

    # tensorboard
    scalars = tensorboard_scalars(log.run_dir)
    assert len(scalars["step/reward"]) == 4
    assert scalars["episode/return"][0][1] == pytest.approx(total, abs=1e-5)

    # wandb offline
    rows = wandb_history(log.run_dir)
    assert [r["step/reward"] for r in rows if "step/reward" in r] == pytest.approx(
        [s["reward"] for s in ep["steps"]], abs=1e-6
    )
    assert any("episode/total_reward" in r for r in rows)
    starts = [r for r in rows if "task/episode_num" in r]  # log_task_start reaches wandb too
    assert (
        len(starts) == 1
        and starts[0]["task/episode_num"] == 0
        and starts[0]["task/num_train_pairs"] >= 1
    )
    pictures = [r for r in rows if "episode/picture._type" in r]
    assert (
        pictures
        and pictures[0]["episode/picture._type"] == "image-file"
        and pictures[0]["episode/picture.format"] == "png"
    )
    assert (
        pictures[0]["episode/picture.width"] > pictures[0]["episode/picture.height"] > 0
    )  # grids side by side


def test_compression_full_states_and_text(basic_cfg, small_env):
    env, params = small_env
    cfg = with_(
        basic_cfg,
        logging={"compression": True, "include_full_states": True, "log_format": "text"},
        visualization={"enabled": False},
        storage={"tensorboard": False},
    )
    with ExperimentLogger(cfg) as log:
        run_episode(log, env, params, steps=2)
    files = sorted(p.name for p in (log.run_dir / "episodes").iterdir())
    assert files == ["episode_000000.json.gz", "episode_000000.txt", "episode_000000_states.pkl.gz"]
    with gzip.open(log.run_dir / "episodes" / "episode_000000_states.pkl.gz", "rb") as f:
        states = pickle.load(f)
    assert len(states["steps"]) == 2 and states["steps"][0]["before_grid"].ndim == 2
    assert "step 1:" in (log.run_dir / "episodes" / "episode_000000.txt").read_text()
    assert len(load_episodes(log.run_dir)[0]["steps"]) == 2


def test_nan_becomes_null_and_nothing_is_overwritten(tmp_path):
    h = FileHandler(tmp_path, jaxarc.load_config(["logging=basic"]).logging)
    for _ in range(2):
        h.log_step(
            {
                "episode_num": 3,
                "step_num": 1,
                "reward": float("nan"),
                "similarity": np.float32(np.inf),
            }
        )
        h.log_episode_summary(
            {
                "episode_num": 3,
                "total_reward": float("-inf"),
                "final_similarity": np.array([1.0, np.nan]),
            }
        )
    h.close()
    files = sorted((tmp_path / "episodes").glob("*.json"))
    assert [p.name for p in files] == ["episode_000003.json", "episode_000003_1.json"]
    data = strict_json(files[0].read_text())
    assert data["steps"][0]["reward"] is None and data["steps"][0]["similarity"] is None
    assert data["summary"]["total_reward"] is None and data["summary"]["final_similarity"] == [
        1.0,
        None,
    ]


def test_close_flushes_an_unfinished_episode(tmp_path):
    h = FileHandler(tmp_path, jaxarc.load_config(["logging=basic"]).logging)
    h.log_task_start({"episode_num": 7, "task_id": "t"})
    h.log_step({"episode_num": 7, "step_num": 1, "reward": 0.5})
    h.close()
    data = json.loads((tmp_path / "episodes" / "episode_000007.json").read_text())
    assert data["summary"] is None and len(data["steps"]) == 1


class Boom:
    def __init__(self):
        self.calls = 0

    def log_step(self, step_data):
        self.calls += 1
        raise RuntimeError("disk on fire")


class Recorder:
    def __init__(self):
        self.steps = []

    def log_step(self, step_data):
        self.steps.append(step_data)


def test_failing_handler_is_isolated_then_switched_off(basic_cfg, caplog):
    boom, rec = Boom(), Recorder()
    log = ExperimentLogger(basic_cfg, handlers={"boom": boom, "rec": rec})
    with caplog.at_level(logging.WARNING, logger="jaxarc"):
        for i in range(6):
            log.log_step({"episode_num": 0, "step_num": i})
        log.log_task_start({"episode_num": 0})  # Recorder lacks it: skipped, no error
    assert len(rec.steps) == 6 and boom.calls == 3
    warnings = [
        r for r in caplog.records if "boom" in r.getMessage() and r.levelno >= logging.WARNING
    ]
    assert len(warnings) == 2  # one warning, then one "disabled" message
    assert (
        "failed in log_step" in warnings[0].getMessage()
        and "disk on fire" in warnings[0].getMessage()
    )
    assert "disabled after 3 consecutive failures" in warnings[1].getMessage()
    assert log.active_handlers == ["rec"]
    log.close()


def test_run_directories_are_unique(basic_cfg):
    cfg = with_(basic_cfg, storage={"run_name": "same"})
    a, b = ExperimentLogger(cfg, handlers={}), ExperimentLogger(cfg, handlers={})
    assert a.run_dir != b.run_dir and a.run_dir.name == "same" and b.run_dir.name == "same-1"
    assert len({ExperimentLogger(basic_cfg, handlers={}).run_dir for _ in range(3)}) == 3


def test_content_flags_drop_fields(basic_cfg):
    cfg = with_(basic_cfg, logging={"log_rewards": False, "log_grid_changes": False})
    rec = Recorder()
    ExperimentLogger(cfg, handlers={"rec": rec}).log_step(
        {"reward": 1.0, "before_grid": [[1]], "operation": 3, "step_num": 1}
    )
    assert rec.steps == [{"operation": 3, "step_num": 1}]


def test_wandb_keeps_every_event_whatever_the_order_of_steps(basic_cfg):
    """wandb drops ``log(step=s)`` below the last step: the handler sends ``update_step`` as
    a custom x-axis instead, so a step that goes back or repeats is still in the history."""
    cfg = with_(
        basic_cfg,
        wandb={"enabled": True},
        visualization={"enabled": False},
        storage={"file_logging": False, "tensorboard": False},
    )
    log = ExperimentLogger(cfg)
    wb = log.handlers["wandb"]
    wb.log_aggregated_metrics({"loss": 1.0}, 10)
    wb.log_aggregated_metrics({"loss": 2.0}, 5)
    wb.log_aggregated_metrics({"loss": 3.0}, 20)
    wb.log_aggregated_metrics({"loss": 4.0}, 20)
    log.close()
    rows = [r for r in wandb_history(log.run_dir) if "batch/loss" in r]
    assert [(r["update_step"], r["batch/loss"]) for r in rows] == [
        (10, 1.0),
        (5, 2.0),
        (20, 3.0),
        (20, 4.0),
    ]


def test_wandb_missing_gives_one_clear_error(basic_cfg, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ImportError, match=r"pip install 'jaxarc\[wandb\]'"):
        ExperimentLogger(with_(basic_cfg, wandb={"enabled": True}))
    ExperimentLogger(basic_cfg)  # not asked for: nothing happens


def test_svg_handler_degrades_without_states(tmp_path):
    h = SVGHandler(tmp_path, jaxarc.load_config().visualization)
    h.log_episode_summary({"episode_num": 1, "environment_id": 3, "total_reward": 1.0})
    h.log_step({"episode_num": 1, "step_num": 1})
    assert not list((tmp_path / "svg").rglob("*.svg"))


def test_sampled_summary_does_not_cut_an_open_episode(tmp_path):
    h = FileHandler(tmp_path, jaxarc.load_config(["logging=basic"]).logging)
    h.log_task_start({"episode_num": 1, "task_id": "t"})
    h.log_step({"episode_num": 1, "step_num": 1})
    h.log_episode_summary({"episode_num": 40, "environment_id": 2, "total_reward": 1.0})
    h.log_step({"episode_num": 1, "step_num": 2})
    h.log_episode_summary({"episode_num": 1, "total_reward": 0.5})
    h.close()
    names = sorted(p.name for p in (tmp_path / "episodes").iterdir())
    assert names == ["episode_000001.json", "episode_000040_env00002.json"]
    episode = json.loads((tmp_path / "episodes" / "episode_000001.json").read_text())
    assert [s["step_num"] for s in episode["steps"]] == [1, 2] and episode["summary"][
        "total_reward"
    ] == 0.5


def test_grid_svg_draws_every_cell():
    from jaxarc.viz import grid_svg

    fills = svg_cells(grid_svg(np.array([[0, 1, 2], [3, 4, 5]]), title="g"))
    assert fills == list(ARC_PALETTE[:6])


def test_a_full_disk_never_hangs_and_leaves_no_truncated_files(tmp_path, caplog, monkeypatch):
    """Simulated ENOSPC: the TensorBoard writer thread dies; the handler notices instead of
    blocking on its queue, is switched off, and the other handlers go on; a picture that
    cannot be written leaves no 0-byte file; a checkpoint error says why."""
    import errno
    import threading

    import tensorboardX.event_file_writer as efw

    import jaxarc.logging.serialization as ser

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    cfg = jaxarc.load_config(
        [f"storage.base_output_dir={tmp_path}", "visualization.console=false",
         "logging.log_frequency=1", "logging.sampling_enabled=false"]
    )  # fmt: skip
    log = ExperimentLogger(cfg)
    monkeypatch.setattr(efw.EventsWriter, "write_event", full)  # the disk fills up now

    def run():
        for step in range(40):
            log.log_batch_step({"update_step": step, "episode_returns": np.arange(4.0)})
        log.close()

    worker = threading.Thread(target=run, daemon=True)
    with caplog.at_level("WARNING", logger="jaxarc"):
        worker.start()
        worker.join(timeout=60)
    assert not worker.is_alive(), "logging hung on a full disk"
    assert "handler 'tensorboard' disabled" in caplog.text and "disk full" in caplog.text
    lines = (log.run_dir / "batch_metrics.jsonl").read_text().splitlines()
    assert len(lines) == 40  # the file handler went on
    # an atomic write that fails leaves nothing behind
    real_write = Path.write_text
    monkeypatch.setattr(
        Path,
        "write_text",
        lambda self, *a, **k: full() if ".tmp" in self.name else real_write(self, *a, **k),
    )
    with pytest.raises(OSError):
        ser.write_atomic(tmp_path / "picture.svg", "<svg></svg>")
    assert not list(tmp_path.glob("*picture*"))
