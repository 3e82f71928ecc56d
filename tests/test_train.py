"""`jaxarc train`: learning happens, both loops log the same, resume, Ctrl-C, bad input,
many devices."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import jaxarc
from jaxarc.cli import main as cli_main
from jaxarc.logging import load_episodes, read_run
from jaxarc.logging.reader import read_evaluations
from jaxarc.report import build_report
from jaxarc.train import TrainingDiverged, train
from tests.helpers import tensorboard_scalars, wandb_history

pytestmark = pytest.mark.slow


def easy_overrides(easy_dir, out, updates, loop="host", extra=()):
    return [
        "dataset=folder",
        f"dataset.data_dir={easy_dir}",
        "dataset.max_grid_size=3",
        "action=fill_only",
        "environment.max_episode_steps=4",
        "train.num_envs=32",
        "train.num_steps=8",
        "train.num_minibatches=2",
        "train.hidden_dim=16",
        f"train.num_updates={updates}",
        "train.learning_rate=0.003",
        "train.update_epochs=2",
        "train.checkpoint_every=10",
        "logging.log_frequency=5",
        "logging.sample_frequency=10",
        "visualization.console=false",
        f"storage.base_output_dir={out}",
        f"train.loop={loop}",
        *extra,
    ]


@pytest.fixture(scope="module")
def host_run(easy_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("host")
    return train(jaxarc.load_config(easy_overrides(easy_dir, out, 40)))


def test_learning_happens_on_easy_tasks(host_run):
    run = read_run(host_run.run_dir)
    sim = run.metrics["similarity_mean"]
    assert run.steps == [0, 5, 10, 15, 20, 25, 30, 35, 39]  # every 5th and the final update
    assert sim[0] < 0.5 and np.mean(sim[-2:]) > sim[0] + 0.35, sim


def test_trainer_speaks_the_batch_contract(host_run):
    from jaxarc.logging.batch.contract import spec_of

    names = set(read_run(host_run.run_dir).metrics)
    assert names and all(spec_of(name) is not None for name in names), names - {
        n for n in names if spec_of(n)
    }


def test_run_directory_has_everything(host_run):
    d = host_run.run_dir
    assert (d / "config.yaml").exists()
    # orbax keeps the last two checkpoints (every 10 updates, and the final one)
    assert sorted(int(p.name) for p in (d / "checkpoints").iterdir()) == [30, 40]
    assert json.loads((d / "checkpoint.json").read_text())["update"] == 40
    records = [json.loads(line) for line in (d / "batch_metrics.jsonl").read_text().splitlines()]
    assert set(records[0]["metrics"]) >= {
        "reward_mean",
        "similarity_mean",
        "episode_length_mean",
        "success_rate",
        "policy_loss",
        "value_loss",
        "gradient_norm",
        "entropy",
        "explained_variance",
        "learning_rate",
    }
    logged = [*range(0, 40, 5), 39]  # the final update is always logged
    assert [s for s, _ in tensorboard_scalars(d)["batch/similarity_mean"]] == logged
    samples = sorted((d / "svg" / "samples").glob("*.svg"))
    per_update = {}
    for p in samples:  # updates 0, 10, 20, 30 and the final 39: 3 random + the best and worst
        per_update.setdefault(p.stem.split("_env_")[0], []).append(p.stem)
    assert len(per_update) == 5 and all(3 <= len(v) <= 5 for v in per_update.values())
    assert any(stem.endswith(("_best", "_worst")) for v in per_update.values() for stem in v)
    # progress metrics: exact env steps after each logged update, steady throughput, N
    assert [r["metrics"]["env_steps"] for r in records] == [(s + 1) * 32 * 8 for s in logged]
    assert "env_steps_per_second" not in records[0]["metrics"]  # the first includes compiling
    assert all(r["metrics"]["env_steps_per_second"] > 0 for r in records[1:])
    assert all(0 <= r["metrics"]["episodes_counted"] <= 32 for r in records)
    # the trivial policies on the same tasks, for the report's reference lines
    baselines = json.loads((d / "baselines.json").read_text())
    assert baselines["submit_at_once"]["episode_length_mean"] == 1.0
    assert baselines["random"]["episodes"] == 1024 and set(baselines) == {
        "submit_at_once",
        "random",
    }
    assert "submit at once" in build_report([d], d / "r.html").read_text()
    summaries = [
        e["summary"] for e in load_episodes(d) if e["summary"] and "environment_id" in e["summary"]
    ]
    assert {s["task_id"] for s in summaries} <= {"fill1", "fill2"}


def test_jit_loop_logs_the_same_numbers(host_run, easy_dir, tmp_path):
    jit = train(
        jaxarc.load_config(
            easy_overrides(easy_dir, tmp_path, 40, loop="jit", extra=["wandb.enabled=true"])
        )
    )
    a, b = read_run(host_run.run_dir), read_run(jit.run_dir)
    rows = [
        r for r in wandb_history(jit.run_dir) if "batch/similarity_mean" in r
    ]  # logged from inside jit
    assert [r["update_step"] for r in rows] == b.steps
    np.testing.assert_allclose(
        [r["batch/similarity_mean"] for r in rows], b.metrics["similarity_mean"], rtol=1e-6
    )
    assert a.steps == b.steps
    for key in ("similarity_mean", "reward_mean", "episode_length_mean", "success_rate"):
        np.testing.assert_allclose(a.metrics[key], b.metrics[key], rtol=1e-3, atol=1e-4)
    assert sorted(p.name for p in (jit.run_dir / "svg" / "samples").iterdir()) == sorted(
        p.name for p in (host_run.run_dir / "svg" / "samples").iterdir()
    )


def test_resume_continues_the_step_counter(host_run, easy_dir, tmp_path):
    cfg = jaxarc.load_config(
        easy_overrides(easy_dir, tmp_path, 10, extra=[f"train.resume={host_run.run_dir}"])
    )
    resumed = train(cfg)
    run = read_run(resumed.run_dir)
    assert run.steps == [40, 45, 49] and resumed.updates_done == 50
    assert run.metrics["similarity_mean"][0] > 0.6  # the trained policy, not a fresh one
    assert json.loads((resumed.run_dir / "checkpoint.json").read_text())["update"] == 50


def test_ctrl_c_stops_cleanly(easy_dir, tmp_path, monkeypatch):
    from jaxarc.logging import ExperimentLogger

    original = ExperimentLogger.log_batch_step

    def interrupt_at_7(self, batch_data):
        if batch_data["update_step"] == 7:
            raise KeyboardInterrupt
        original(self, batch_data)

    monkeypatch.setattr(ExperimentLogger, "log_batch_step", interrupt_at_7)
    result = train(jaxarc.load_config(easy_overrides(easy_dir, tmp_path, 40)))
    assert (
        result.interrupted and result.updates_done == 8
    )  # update 7 finished; its logging was interrupted
    run = read_run(result.run_dir)
    assert run.steps == [0, 5]
    assert json.loads((result.run_dir / "checkpoint.json").read_text())["update"] == 8
    assert all(
        line.endswith("}")
        for line in (result.run_dir / "batch_metrics.jsonl").read_text().splitlines()
    )


def test_divergence_stops_with_a_clear_message(easy_dir, tmp_path, caplog):
    cfg = jaxarc.load_config(
        easy_overrides(
            easy_dir, tmp_path, 30, extra=["train.learning_rate=1e30", "train.max_grad_norm=1e30"]
        )
    )
    with pytest.raises(TrainingDiverged, match="NaN/inf"):
        train(cfg)
    run_dir = next(Path(tmp_path).iterdir())
    text = (run_dir / "batch_metrics.jsonl").read_text()
    assert "NaN" not in text and "_nonfinite" in text
    assert "training diverged" in caplog.text


def test_bad_overrides_fail_before_compiling(capsys):
    assert cli_main(["train", "train.num_envs=0"]) == 2
    assert "train.num_envs must be positive" in capsys.readouterr().err
    assert cli_main(["train", "train.num_env=8"]) == 2
    assert "did you mean 'train.num_envs'" in capsys.readouterr().err
    assert cli_main(["train", "dataset=nope"]) == 2
    assert "valid choices for 'dataset': agi1" in capsys.readouterr().err
    assert cli_main(["train", "dataset.task_ids=[zzzz]"]) == 2
    assert "unknown task id" in capsys.readouterr().err


def test_sharded_training_gives_the_same_statistics(easy_dir, tmp_path):
    code = textwrap.dedent(
        f"""
        import json, jax, jaxarc
        from jaxarc.train import train
        from tests.test_train import easy_overrides
        assert len(jax.devices()) == 4
        r = train(
            jaxarc.load_config(easy_overrides({str(easy_dir)!r}, {str(tmp_path / "multi")!r}, 6))
        )
        print("RUN", r.run_dir)
        """
    )
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).parents[1],
    )
    assert "RUN" in out.stdout, out.stderr[-3000:]
    multi = read_run(Path(out.stdout.split("RUN", 1)[1].strip()))
    single = read_run(
        train(jaxarc.load_config(easy_overrides(easy_dir, tmp_path / "single", 6))).run_dir
    )
    assert multi.steps == single.steps == [0, 5]
    for key in ("similarity_mean", "reward_mean", "episode_length_mean"):
        np.testing.assert_allclose(multi.metrics[key], single.metrics[key], rtol=1e-4, atol=1e-5)


def test_progress_bar_says_compiling_then_steady_throughput():
    from rich.console import Console

    from jaxarc.train.progress import ProgressBar

    bar = ProgressBar(Console(record=True, width=120), total=10, steps_per_update=100, start=0)
    task = bar._bar.tasks[0]
    assert task.description.startswith("compiling")
    bar.show(1)  # the first update finished: it included compilation
    assert task.description == "training" and task.fields["sps"] == "-"
    assert bar.steady_rate(1) is None
    bar.show(3)
    assert task.completed == 3 and bar.steady_rate(3) > 0 and task.fields["sps"] != "-"
    bar.log_aggregated_metrics({}, 6)  # as a logging handler (the jit loop's updates)
    assert task.completed == 7


def test_short_jit_run_from_the_cli_logs_its_final_update(easy_dir, tmp_path, capsys):
    from jaxarc.cli import main as cli_main

    overrides = easy_overrides(
        easy_dir,
        tmp_path,
        3,
        loop="jit",
        extra=["logging.log_frequency=10", "visualization.console=true", "wandb.enabled=true"],
    )
    assert cli_main(["train", *overrides]) == 0
    out = capsys.readouterr().out
    assert "dataset   " in out and "2 tasks at 3×3" in out and "32 envs × 8 steps" in out
    assert "3/3" in out  # the bar reached the end from inside jit
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert f"run dir   {run_dir}" in out.replace("\n", "")
    assert f"wandb sync {run_dir}/wandb/offline-run-*" in out
    run = read_run(run_dir)  # shorter than log_frequency, yet it has metrics: 0 and the final 2
    assert run.steps == [0, 2] and run.metrics["env_steps"] == [256, 768]
    assert cli_main(["report", str(run_dir)]) == 0
    # --resume takes the run's saved configuration (its tasks, sizes, loop), then the overrides
    capsys.readouterr()
    assert cli_main(["train", "--resume", str(run_dir), "train.num_updates=2"]) == 0
    out = capsys.readouterr().out
    assert f"resuming {run_dir} with its saved configuration; overrides: train.num_updates=2" in out
    assert "2 updates (updates 3–4), 512 env steps" in out, out[-600:]
    resumed = read_run(next(p for p in tmp_path.iterdir() if p.is_dir() and p != run_dir))
    assert resumed.config["dataset"]["data_dir"] == str(easy_dir)
    assert resumed.config["train"]["loop"] == "jit" and resumed.steps == [4]


def test_sampled_episodes_replay_to_their_recorded_final_grid(host_run):
    """Actions recorded on device for every env, only the sampled ones written; replaying
    them from the initial grid gives exactly the final grid the trainer logged."""
    from jaxarc.replay import replay
    from jaxarc.types import to_numpy_grid

    episodes = [
        e for e in load_episodes(host_run.run_dir) if "environment_id" in (e["summary"] or {})
    ]
    replayed = 0
    for e in episodes:
        s = e["summary"]
        if not s.get("episode_finished"):
            continue
        assert len(e["steps"]) == s["total_steps"] and e["steps"][0]["step_num"] == 1
        result = replay(s, e["steps"], allowed_operations=list(range(10)) + [34])
        assert result.matches_final
        frames = result.frames
        final = to_numpy_grid(
            np.asarray(s["final_state"]["grid"]), np.asarray(s["final_state"]["mask"], bool)
        )
        assert np.array_equal(frames[-1][1], final), (s["episode_num"], s["environment_id"])
        replayed += 1
    kinds = {e["summary"]["sample_kind"] for e in episodes}
    assert replayed >= 10 and {"random", "best", "worst"} <= kinds
    page = build_report([host_run.run_dir], host_run.run_dir / "replay.html").read_text()
    assert page.count("<details class='replay'>") >= 5 and "· best" in page


@pytest.mark.parametrize(("loop", "every"), [("host", 1), ("jit", 1), ("host", 10)])
def test_sigterm_ends_with_a_checkpoint_where_the_logs_end(easy_dir, tmp_path, loop, every):
    """SLURM/Kubernetes send SIGTERM before they kill: the update (or jit chunk) in progress
    finishes, its logs are written, the checkpoint is of the same update, handlers close."""
    import signal
    import subprocess
    import sys
    import time

    extra = ["train.checkpoint_every=5", f"logging.log_frequency={every}", "train.baselines=false"]
    args = [
        sys.executable,
        "-m",
        "jaxarc.train",
        *easy_overrides(easy_dir, tmp_path, 10**6, loop, extra),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    metrics = None
    while time.time() < deadline and proc.poll() is None:
        found = list(tmp_path.glob("*/batch_metrics.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= (3 if every == 1 else 2):
            metrics = found[0]
            break
        time.sleep(0.2)
    assert metrics is not None, proc.stderr.read() if proc.poll() is not None else "no metrics"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "SIGTERM received" in err and "Traceback" not in err
    lines = metrics.read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines]  # every line complete, strict JSON
    update = json.loads((metrics.parent / "checkpoint.json").read_text())["update"]
    assert steps[-1] == update - 1  # the update in progress was finished, logged and saved
    assert steps[:-1] == list(range(0, steps[-1], every))


def test_damaged_or_mismatched_checkpoints_are_one_clear_error(host_run, easy_dir, tmp_path):
    import shutil

    import jax

    from jaxarc.train.checkpoint import CheckpointError, load_checkpoint
    from jaxarc.train.ppo import PPO

    cfg = jaxarc.load_config(easy_overrides(easy_dir, tmp_path, 1))
    _, params = jaxarc.make(None, cfg)
    runner = PPO(cfg.train, params, record_actions=4).init(jax.random.PRNGKey(0))  # as saved
    # the json beside the checkpoint is never trusted: a stale one does not change the update
    run = tmp_path / "copy"
    shutil.copytree(host_run.run_dir, run)
    (run / "checkpoint.json").write_text('{"update": 2}')
    assert int(load_checkpoint(run, runner).update) == 40
    # damage: the newest checkpoint's files emptied, cut, replaced by noise, or gone
    files = sorted(p for p in (run / "checkpoints" / "40").rglob("*") if p.is_file())
    assert files
    good = {p: p.read_bytes() for p in files}
    damages = [lambda b: b"", lambda b: b[: len(b) // 2], lambda b: bytes(range(256)) * 4]
    for damage in damages:
        for p, data in good.items():
            p.write_bytes(damage(data))
        with pytest.raises(CheckpointError, match=r"cannot resume from .*40: it is damaged"):
            load_checkpoint(run, runner)
    shutil.rmtree(run / "checkpoints" / "40" / "trainer")
    with pytest.raises(CheckpointError, match=r"cannot resume from .*40: it is damaged"):
        load_checkpoint(run, runner)
    assert int(load_checkpoint(run / "checkpoints" / "30", runner).update) == 30  # the older one
    with pytest.raises(CheckpointError, match=r"is a file; pass a run directory"):
        load_checkpoint(run / "config.yaml", runner)
    smaller = dataclasses.replace(cfg.train, hidden_dim=8)
    other = PPO(smaller, params, record_actions=4).init(jax.random.PRNGKey(0))
    with pytest.raises(CheckpointError, match="train.hidden_dim"):
        load_checkpoint(run / "checkpoints" / "30", other)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nowhere", runner)


@pytest.mark.parametrize("anneal", [False, True])
def test_straight_equals_half_resume_half(easy_dir, tmp_path, monkeypatch, anneal):
    """10 updates in one go, or 5 + resume + 5: the same parameters and the same metrics.
    With ``train.anneal_lr`` the first half is a 10-update run stopped (as by SIGTERM) after
    5, resumed with ``num_updates=5``: the learning rate follows the 10-update schedule."""
    from jaxarc.train import loop

    extra = ["logging.log_frequency=1", "train.baselines=false", "train.checkpoint_every=100"]
    extra += [f"train.anneal_lr={anneal}"]
    straight = train(jaxarc.load_config(easy_overrides(easy_dir, tmp_path / "a", 10, extra=extra)))
    if anneal:  # the first run plans 10 updates and is stopped after its 5th
        calls = iter(range(1, 100))
        monkeypatch.setattr(loop, "stop_requested", lambda stop: next(calls) >= 5)
        first = train(jaxarc.load_config(easy_overrides(easy_dir, tmp_path / "b", 10, extra=extra)))
        monkeypatch.undo()
        assert first.updates_done == 5
    else:
        first = train(jaxarc.load_config(easy_overrides(easy_dir, tmp_path / "b", 5, extra=extra)))
    again = [*extra, f"train.resume={first.run_dir}"]
    second = train(jaxarc.load_config(easy_overrides(easy_dir, tmp_path / "c", 5, extra=again)))
    assert (straight.updates_done, second.updates_done) == (10, 10)
    a, b = read_run(straight.run_dir), read_run(second.run_dir)
    assert b.steps == [5, 6, 7, 8, 9]
    if anneal:
        lr = a.metrics["learning_rate"]  # the rate of the next update: 0 after the last
        assert lr[0] > lr[8] > 0 and abs(lr[9]) < 1e-6
    keys = ("reward_mean", "similarity_mean", "policy_loss", "value_loss", "entropy")
    for key in (*keys, "learning_rate"):
        np.testing.assert_allclose(b.metrics[key], a.metrics[key][5:], rtol=1e-5, atol=1e-6)
    import equinox as eqx
    import jax

    from jaxarc.train.checkpoint import load_checkpoint
    from jaxarc.train.ppo import PPO

    cfg = jaxarc.load_config(easy_overrides(easy_dir, tmp_path, 5, extra=extra))
    _, params = jaxarc.make(None, cfg)
    template = PPO(cfg.train, params, record_actions=4).init(jax.random.PRNGKey(99))
    one, two = (load_checkpoint(r.run_dir, template) for r in (straight, second))
    assert int(one.update) == int(two.update) == 10
    for x, y in zip(
        jax.tree.leaves(eqx.filter(one.model, eqx.is_array)),
        jax.tree.leaves(eqx.filter(two.model, eqx.is_array)),
        strict=True,
    ):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)
    trained = jax.tree.leaves(eqx.filter(template.model, eqx.is_array))[0]
    assert not np.allclose(
        np.asarray(trained), np.asarray(jax.tree.leaves(eqx.filter(one.model, eqx.is_array))[0])
    )


def test_seeds_as_a_batch_axis_are_the_separate_runs(easy_dir, tmp_path):
    """``train.num_seeds=2`` (one jitted program) logs, per seed, what ``train.seed=0`` and
    ``train.seed=1`` log alone; it resumes; the report draws each seed and the band."""
    extra = ["logging.log_frequency=1", "train.baselines=false", "train.checkpoint_every=100"]
    runs = [
        train(
            jaxarc.load_config(
                easy_overrides(easy_dir, tmp_path / f"s{s}", 4, extra=[*extra, f"train.seed={s}"])
            )
        )
        for s in (0, 1)
    ]
    both = train(
        jaxarc.load_config(
            easy_overrides(easy_dir, tmp_path / "both", 4, extra=[*extra, "train.num_seeds=2"])
        )
    )
    seeded = read_run(both.run_dir)
    alone = [read_run(r.run_dir) for r in runs]
    assert seeded.steps == alone[0].steps == [0, 1, 2, 3]
    for key in ("reward_mean", "similarity_mean", "success_rate", "policy_loss", "entropy"):
        for s in (0, 1):
            np.testing.assert_allclose(
                seeded.metrics[f"seed_{s}/{key}"], alone[s].metrics[key], rtol=1e-4, atol=1e-5
            )
        pair = np.array([alone[0].metrics[key], alone[1].metrics[key]])
        np.testing.assert_allclose(seeded.metrics[key], pair.mean(0), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(
            seeded.metrics[f"{key}_seed_std"], pair.std(0), rtol=1e-3, atol=1e-5
        )
    # env_steps counts one agent's experience; the sampled episodes name their seed
    assert seeded.metrics["env_steps"] == alone[0].metrics["env_steps"]
    assert {e["summary"]["seed"] for e in load_episodes(both.run_dir)} <= {0, 1}
    again = [*extra, "train.num_seeds=2", f"train.resume={both.run_dir}"]
    resumed = train(jaxarc.load_config(easy_overrides(easy_dir, tmp_path / "r", 2, extra=again)))
    assert (resumed.first_update, resumed.updates_done) == (4, 6)
    assert cli_main(["eval", str(both.run_dir)]) == 0  # every seed is evaluated
    (doc,) = read_evaluations(both.run_dir)
    assert len(doc["seeds"]) == 2
    page = build_report([both.run_dir]).read_text(encoding="utf-8")
    assert (
        "mean of 2 seeds" in page
        and "seed_0/" not in page.split("id='curves'")[1].split("</section>")[0]
    )


def test_eval_cli_scores_a_trained_run_and_the_report_shows_it(host_run, capsys):
    """`jaxarc eval RUN`: the run's checkpoint on its tasks' test pairs, target hidden; the
    JSON, the logged eval/ metrics and the report's section agree."""
    run_dir = host_run.run_dir
    assert cli_main(["eval", str(run_dir), "--attempts", "3", "--name", "easy"]) == 0
    assert "score (a pair solved by one of 3 sampled attempts)" in capsys.readouterr().out
    (doc,) = read_evaluations(run_dir)
    assert doc["name"] == "easy" and doc["attempts"] == 3 and doc["update"] == 40
    tasks = doc["seeds"][0]["tasks"]
    assert [t["task_id"] for t in tasks] == ["fill1", "fill2"]
    for t in tasks:
        assert len(t["attempts_solved"]) == t["test_pairs"] == 1
        assert len(t["attempts_solved"][0]) == 3
        assert t["score"] == float(any(t["attempts_solved"][0]))
    assert doc["aggregate"]["score"] == np.mean([t["score"] for t in tasks])
    line = json.loads((run_dir / "eval" / "batch_metrics.jsonl").read_text().splitlines()[-1])
    assert line["step"] == 39 and line["metrics"]["eval/easy/score"] == doc["aggregate"]["score"]
    # the same seed gives the same result; a bad run directory is one clear line
    assert cli_main(["eval", str(run_dir), "--attempts", "3", "--name", "again"]) == 0
    again = json.loads((run_dir / "eval" / "again.json").read_text())
    assert again["seeds"] == doc["seeds"]
    assert cli_main(["eval", str(run_dir / "nope")]) == 2
    assert "is not a run directory" in capsys.readouterr().err
    page = build_report([run_dir]).read_text(encoding="utf-8")
    assert "id='evaluation'" in page and "fill1" in page.split("id='evaluation'")[1]


def test_jit_loop_compiles_once_when_the_last_chunk_is_shorter(tmp_config):
    """``train.loop=jit`` runs chunks of ``checkpoint_every`` updates; a shorter last chunk
    reuses the compiled program (the update is traced once) and logs exactly its updates."""
    from jaxarc.logging import ExperimentLogger
    from jaxarc.train import loop
    from jaxarc.train.ppo import PPO

    cfg = jaxarc.load_config(
        [
            f"storage.base_output_dir={tmp_config.storage.base_output_dir}",
            "dataset=agi1", "dataset.max_grid_size=6", "dataset.max_task_size=6",
            "dataset.max_tasks=4", "train.num_envs=8", "train.num_steps=4",
            "train.num_minibatches=2", "train.hidden_dim=8", "visualization.enabled=false",
            "visualization.console=false", "logging.log_frequency=1",
        ]
    )  # fmt: skip
    _, params = jaxarc.make(None, cfg)
    ppo = PPO(cfg.train, params)
    traces = []
    update = ppo.update
    ppo.update = lambda runner: (traces.append(1), update(runner))[1]
    log = ExperimentLogger(cfg)
    log.task_names = params.buffer.task_ids
    run = loop.jit_chunk(ppo, log, 3)
    runner = run(run(ppo.init(ppo.seed_keys()), 3), 2)
    import jax

    jax.block_until_ready(runner)
    jax.effects_barrier()
    log.close()
    assert len(traces) == 1 and runner.updates_done() == 5
    assert read_run(log.run_dir).steps == [0, 1, 2, 3, 4]


def test_resume_from_one_checkpoint_uses_the_runs_config(host_run, capsys):
    """``--resume RUN/checkpoints/<update>`` reads RUN's config.yaml (the dataset, the
    learning rate …), not the defaults; a checkpoint that is gone lists the ones there."""
    from jaxarc.cli import _saved_config

    one = host_run.run_dir / "checkpoints" / "30"
    for path in (one, one.parent, host_run.run_dir):
        assert _saved_config(str(path)) == host_run.run_dir / "config.yaml"
    assert cli_main(["train", "--resume", str(host_run.run_dir / "checkpoints" / "7")]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint at" in err and "holds updates [30, 40]" in err, err
