"""Batched logging: the design's contract, cadence, sampling, bad input, and the in-jit path."""

import dataclasses
import io
import json
import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from rich.console import Console

from jaxarc.logging import ExperimentLogger, load_episodes, read_run
from jaxarc.logging import batch as B
from jaxarc.logging.batch.contract import STAT_NAMES
from jaxarc.logging.handlers import RichHandler
from jaxarc.logging.reader import read_task_metrics
from tests.helpers import (
    DESIGN_SUMMARY_KEYS,
    Recorder,
    strict_json,
    svg_cells,
    tensorboard_scalars,
    wandb_history,
)

NB = 64


def with_logging(cfg, **kw):
    return dataclasses.replace(cfg, logging=dataclasses.replace(cfg.logging, **kw))


@pytest.fixture
def cfg(tmp_config):
    return with_logging(
        tmp_config,
        batched_logging_enabled=True,
        sampling_enabled=True,
        log_frequency=2,
        sample_frequency=4,
        num_samples=3,
        sample_best_worst=False,  # the design's sampling alone (extremes: their own test)
        compression=False,
    )


def batch(step, n=NB, seed=0, **extra):
    rng = np.random.default_rng(seed + step)
    data = {
        "update_step": step,
        "episode_returns": jnp.asarray(rng.normal(size=n), jnp.float32),
        "episode_lengths": jnp.asarray(rng.integers(1, 20, size=n), jnp.int32),
        "similarity_scores": jnp.asarray(rng.uniform(size=n), jnp.float32),
        "success_mask": jnp.asarray(rng.uniform(size=n) > 0.7),
        "policy_loss": jnp.float32(0.25),
        "value_loss": 0.5,
        "gradient_norm": jnp.float32(1.5),
        "entropy": 2.0,
        "explained_variance": jnp.float32(0.1),
        "learning_rate": 3e-4,
    }
    data.update(extra)
    return data


def test_aggregation_matches_numpy(cfg):
    rec = Recorder()
    log = ExperimentLogger(cfg, handlers={"rec": rec})
    data = batch(0, extra_vec=jnp.arange(NB, dtype=jnp.float32), my_scalar=7)
    log.log_batch_step(data)
    step, m = rec.metrics[0]
    assert step == 0
    for key, prefix in (
        ("episode_returns", "reward"),
        ("similarity_scores", "similarity"),
        ("episode_lengths", "episode_length"),
        ("extra_vec", "extra_vec"),
    ):
        x = np.asarray(data[key], np.float64)
        assert m[f"{prefix}_mean"] == pytest.approx(x.mean(), rel=1e-5, abs=1e-6)
        assert m[f"{prefix}_std"] == pytest.approx(x.std(), rel=1e-4, abs=1e-6)
        assert m[f"{prefix}_max"] == pytest.approx(x.max()) and m[f"{prefix}_min"] == pytest.approx(
            x.min()
        )
    assert m["success_rate"] == pytest.approx(np.asarray(data["success_mask"]).mean())
    for key in (
        "policy_loss",
        "value_loss",
        "gradient_norm",
        "entropy",
        "explained_variance",
        "learning_rate",
        "my_scalar",
    ):
        assert m[key] == pytest.approx(float(data[key]), rel=1e-6)
    assert list(m)[:4] == ["reward_mean", "reward_std", "reward_max", "reward_min"]
    assert log._aggregate_batch_metrics(data) == m


def test_flags_switch_groups_off(cfg):
    rec = Recorder()
    off = with_logging(
        cfg,
        log_aggregated_rewards=False,
        log_aggregated_similarity=False,
        log_loss_metrics=False,
        log_gradient_norms=False,
        log_episode_lengths=False,
        log_success_rates=False,
    )
    ExperimentLogger(off, handlers={"rec": rec}).log_batch_step(batch(0))
    assert set(rec.metrics[0][1]) == {"entropy", "explained_variance", "learning_rate"}


def test_cadence_and_no_device_work_when_skipped(cfg, monkeypatch):
    rec = Recorder()
    log = ExperimentLogger(cfg, handlers={"rec": rec})
    for step in range(9):
        log.log_batch_step(batch(step))
    assert [s for s, _ in rec.metrics] == [0, 2, 4, 6, 8]
    assert sorted({s["episode_num"] for s in rec.summaries}) == [0, 4, 8]
    assert len(rec.summaries) == 9

    def forbidden(*a, **k):
        raise AssertionError("device work on a skipped update")

    from jaxarc.logging.batch import pipeline, plan

    monkeypatch.setattr(plan, "plan_batch", forbidden)
    monkeypatch.setattr(pipeline, "plan_batch", forbidden)
    monkeypatch.setattr(pipeline, "device_stage", forbidden)
    monkeypatch.setattr(pipeline.BatchPipeline, "run", forbidden)
    log.log_batch_step(batch(3))
    log.log_batch_step({"update_step": 5, "episode_returns": "never even looked at"})
    disabled = with_logging(cfg, batched_logging_enabled=False, sampling_enabled=False)
    ExperimentLogger(disabled, handlers={"rec": rec}).log_batch_step(batch(0))


def test_sampling_is_deterministic_and_without_replacement(cfg):
    rec = Recorder()
    log = ExperimentLogger(cfg, handlers={"rec": rec})
    data = batch(4, task_ids=[f"task{i}" for i in range(NB)])
    log.log_batch_step(data)
    ids = [s["environment_id"] for s in rec.summaries]
    from jaxarc.logging.batch.sample import sample_indices

    expected = np.asarray(sample_indices(4, NB, 3)).tolist()  # PRNGKey(update_step) decides
    assert ids == expected and len(set(ids)) == 3
    s = rec.summaries[0]
    i = ids[0]
    assert set(s) >= DESIGN_SUMMARY_KEYS
    assert s["episode_num"] == 4 and s["task_id"] == f"task{i}"
    assert s["total_reward"] == pytest.approx(float(data["episode_returns"][i]))
    assert s["total_steps"] == int(data["episode_lengths"][i]) and s["success"] == bool(
        data["success_mask"][i]
    )
    assert s["initial_state"] is None  # absent from the batch: nothing invented
    rec2 = Recorder()
    ExperimentLogger(cfg, handlers={"rec": rec2}).log_batch_step(batch(4))
    assert [x["environment_id"] for x in rec2.summaries] == ids
    assert [x["environment_id"] for x in log._sample_episodes_from_batch(data)] == ids
    small = Recorder()
    ExperimentLogger(cfg, handlers={"rec": small}).log_batch_step(batch(0, n=2))
    assert [x["environment_id"] for x in small.summaries] == [0, 1]


def test_validity_mask_limits_statistics(cfg):
    rec = Recorder()
    log = ExperimentLogger(cfg, handlers={"rec": rec})
    data = batch(2)
    mask = np.arange(NB) % 4 == 0
    log.log_batch_step({**data, "episode_done_mask": jnp.asarray(mask)})
    m = rec.metrics[0][1]
    x = np.asarray(data["episode_returns"])[mask]
    assert m["reward_mean"] == pytest.approx(x.mean(), rel=1e-5) and m[
        "reward_max"
    ] == pytest.approx(x.max())
    log.log_batch_step({**batch(6), "episode_done_mask": jnp.zeros(NB, bool)})
    m = rec.metrics[1][1]
    assert not any(
        k.startswith(("reward_", "similarity_", "episode_length_", "success_rate")) for k in m
    )
    assert m["policy_loss"] == pytest.approx(0.25)


def test_bad_inputs_warn_skip_and_keep_the_rest(cfg, caplog):
    rec = Recorder()
    log = ExperimentLogger(cfg, handlers={"rec": rec})
    returns = np.asarray(batch(0)["episode_returns"]).copy()
    returns[:3] = [np.nan, np.inf, -np.inf]
    bad = batch(
        0,
        episode_returns=jnp.asarray(returns),
        similarity_scores=jnp.zeros((0,)),
        episode_lengths=jnp.ones(NB + 1),
        success_mask=jnp.ones((NB, 2)),
        extra_list=[1.0, 2.0],
        name="hello",
        value_loss=float("nan"),
    )
    with caplog.at_level(logging.WARNING, logger="jaxarc"):
        log.log_batch_step(bad)
    text = caplog.text
    assert "'similarity_scores'] is empty" in text
    assert "'episode_lengths'] has length 65 but the batch size is 64" in text
    assert "'success_mask'] has shape (64, 2), expected [B] = [64]" in text
    assert "'extra_list'] is a list" in text
    assert "'name'] is not a numeric array" in text
    assert "reward: 3 non-finite value(s)" in text
    assert "value_loss is nan" in text
    m = rec.metrics[0][1]
    finite = returns[3:]
    assert m["reward_mean"] == pytest.approx(finite.mean(), rel=1e-5) and m["reward_nonfinite"] == 3
    assert (
        m["policy_loss"] == pytest.approx(0.25)
        and "value_loss" not in m
        and m["value_loss_nonfinite"] == 1
    )
    assert not any(
        k.startswith(("similarity_", "episode_length_", "success_rate", "extra_list", "name"))
        for k in m
    )

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="jaxarc"):
        log.log_batch_step({"episode_returns": jnp.ones(4)})  # counted as update 1: not logged
        log.log_batch_step({"episode_returns": jnp.ones(4)})  # update 2: logged
    assert "no 'update_step'" in caplog.text
    assert rec.metrics[-1][0] == 2 and rec.metrics[-1][1]["reward_mean"] == 1.0


def test_jsonl_is_strict_and_handler_failure_is_isolated(cfg, caplog):
    class Broken:
        def log_aggregated_metrics(self, metrics, step):
            raise OSError("full disk")

    log = ExperimentLogger(cfg)
    log.handlers = {"broken": Broken(), **log.handlers}
    returns = np.full(NB, np.nan, np.float32)
    returns[0] = 1.0
    with caplog.at_level(logging.WARNING, logger="jaxarc"):
        log.log_batch_step(batch(0, episode_returns=jnp.asarray(returns)))
        log.log_batch_step(batch(2, episode_returns=jnp.full(NB, np.inf)))
    log.close()
    lines = (log.run_dir / "batch_metrics.jsonl").read_text().splitlines()
    records = [strict_json(line) for line in lines]
    assert [r["step"] for r in records] == [0, 2] and set(records[0]) == {
        "timestamp",
        "step",
        "metrics",
    }
    assert (
        records[0]["metrics"]["reward_mean"] == 1.0
        and records[0]["metrics"]["reward_nonfinite"] == NB - 1
    )
    assert (
        "reward_mean" not in records[1]["metrics"]
        and records[1]["metrics"]["reward_nonfinite"] == NB
    )
    assert "handler 'broken' failed in log_aggregated_metrics" in caplog.text


def states(n, size=4, value=0):
    return {
        "grid": jnp.full((n, size, size), value, jnp.int8),
        "mask": jnp.ones((n, size, size), bool),
    }


def test_end_to_end_files_rich_tensorboard_wandb(cfg):
    cfg = dataclasses.replace(
        cfg,
        wandb=dataclasses.replace(cfg.wandb, enabled=True),
        visualization=dataclasses.replace(cfg.visualization, console=True),
    )
    out = io.StringIO()
    log = ExperimentLogger(cfg)
    log.handlers["rich"] = RichHandler(cfg.visualization, Console(file=out, width=100))
    for step in range(5):
        log.log_batch_step(
            batch(
                step,
                initial_states=states(NB, value=1),
                final_states=states(NB, value=2),
                target_states=states(NB, value=2),
                task_ids=[f"t{i}" for i in range(NB)],
                custom=jnp.ones(NB),
            )
        )
    log.close()
    run = read_run(log.run_dir)
    assert run.steps == [0, 2, 4]
    assert run.metrics["reward_mean"][0] == pytest.approx(
        float(jnp.mean(batch(0)["episode_returns"])), rel=1e-5
    )
    samples = sorted((log.run_dir / "svg" / "samples").glob("*.svg"))
    assert len(samples) == 6 and samples[0].name.startswith("update_000000_env_")
    fills = svg_cells(samples[0].read_text())
    assert len(fills) == 3 * 16 and set(fills) == {"#0074D9", "#FF4136"}
    sampled = [
        e
        for e in load_episodes(log.run_dir)
        if "_env" in json.dumps(e.get("summary", {}))
        or e["summary"].get("environment_id") is not None
    ]
    assert len(sampled) == 6
    text = out.getvalue()
    for section in (
        "Batch Metrics - Step 4",
        "Reward",
        "Similarity",
        "Episode length",
        "Success rate",
        "Training",
        "Other",
        "Custom",
    ):
        assert section in text
    reward_row = [line for line in text.splitlines() if "Reward " in line][
        -1
    ]  # the table of step 4
    m = run.metrics
    for stat in ("mean", "std", "min", "max"):
        assert f"{m[f'reward_{stat}'][-1]:.4f}" in reward_row
    tb = tensorboard_scalars(log.run_dir)
    assert [s for s, _ in tb["batch/reward_mean"]] == [0, 2, 4]
    rows = [r for r in wandb_history(log.run_dir) if "batch/reward_mean" in r]
    assert [r["update_step"] for r in rows] == [0, 2, 4]
    assert rows[1]["batch/success_rate"] == pytest.approx(run.metrics["success_rate"][1], rel=1e-6)


def make_jit_loop(log, n_updates, n=NB):
    def update(carry, step):
        key = carry
        key, k = jax.random.split(key)
        returns = jax.random.normal(k, (n,))
        data = {
            "update_step": step,
            "episode_returns": returns,
            "episode_lengths": jnp.arange(n, dtype=jnp.int32) + step,
            "similarity_scores": jax.nn.sigmoid(returns),
            "success_mask": returns > 1.0,
            "policy_loss": jnp.mean(returns),
            "value_loss": jnp.float32(0.5),
            "gradient_norm": jnp.max(returns),
            "task_ids": jnp.arange(n) % 3,
            "final_states": states(n, value=3),
        }
        log.log_batch_step(data)
        return key, data

    @jax.jit
    def train(key):
        return jax.lax.scan(update, key, jnp.arange(n_updates))

    return train


def test_in_jit_path_under_scan_writes_the_same_files(cfg):
    jit_log = ExperimentLogger(cfg)
    jit_log.task_names = ["a", "b", "c"]
    _, datas = make_jit_loop(jit_log, 9)(jax.random.PRNGKey(0))
    jax.block_until_ready(datas)
    jit_log.close()

    host_log = ExperimentLogger(cfg)
    host_log.task_names = ["a", "b", "c"]
    for step in range(9):
        host_log.log_batch_step(jax.tree.map(lambda x, s=step: x[s], datas) | {"update_step": step})
    host_log.close()

    jit_run, host_run = read_run(jit_log.run_dir), read_run(host_log.run_dir)
    assert jit_run.steps == host_run.steps == [0, 2, 4, 6, 8]
    assert jit_run.metrics.keys() == host_run.metrics.keys()
    for key in host_run.metrics:
        np.testing.assert_allclose(jit_run.metrics[key], host_run.metrics[key], rtol=1e-6)
    strip = lambda eps: [e["summary"] for e in eps]  # noqa: E731
    jit_eps, host_eps = (
        strip(load_episodes(jit_log.run_dir)),
        strip(load_episodes(host_log.run_dir)),
    )
    assert len(jit_eps) == len(host_eps) == 9
    assert jit_eps == host_eps
    assert {e["task_id"] for e in jit_eps} <= {"a", "b", "c"}
    assert sorted(p.name for p in (jit_log.run_dir / "svg" / "samples").iterdir()) == sorted(
        p.name for p in (host_log.run_dir / "svg" / "samples").iterdir()
    )


@pytest.mark.parametrize("n", [1000, 10_007, 100_000])
def test_folded_reduction_on_large_batches(cfg, n):
    rng = np.random.default_rng(n)
    x = rng.normal(3.0, 2.0, n).astype(np.float32)
    x[rng.choice(n, 5, replace=False)] = np.nan
    mask = rng.uniform(size=n) < 0.7
    rec = Recorder()
    ExperimentLogger(cfg, handlers={"rec": rec}).log_batch_step(
        {
            "update_step": 0,
            "episode_returns": jnp.asarray(x),
            "episode_lengths": jnp.asarray(rng.integers(0, 50, n)),
            "episode_done_mask": jnp.asarray(mask),
        }
    )
    m = rec.metrics[0][1]
    sel = x[mask & np.isfinite(x)]
    assert m["reward_mean"] == pytest.approx(sel.mean(), rel=1e-4)
    assert m["reward_std"] == pytest.approx(sel.std(), rel=1e-3)
    assert (m["reward_max"], m["reward_min"]) == (
        pytest.approx(sel.max()),
        pytest.approx(sel.min()),
    )
    assert m["reward_nonfinite"] == int((~np.isfinite(x) & mask).sum())
    assert m["episode_length_max"] <= 49


@pytest.mark.parametrize("masked", [False, True])
def test_all_finite_shortcut_on_large_batches(cfg, masked):
    n = B.SHORTCUT_MIN_BATCH + 5
    rng = np.random.default_rng(7)
    x = rng.normal(100.0, 0.5, n).astype(
        np.float32
    )  # a large mean and a small spread: the variance stays exact
    lengths = rng.integers(1, 30, n).astype(np.int32)
    mask = rng.uniform(size=n) < 0.4 if masked else np.ones(n, bool)
    data = {
        "update_step": 0,
        "episode_returns": jnp.asarray(x),
        "episode_lengths": jnp.asarray(lengths),
        "success_mask": jnp.asarray(lengths > 20),
    }
    if masked:
        data["episode_done_mask"] = jnp.asarray(mask)
    rec = Recorder()
    ExperimentLogger(cfg, handlers={"rec": rec}).log_batch_step(data)
    m = rec.metrics[0][1]
    sel, lsel = x[mask].astype(np.float64), lengths[mask]
    assert m["reward_mean"] == pytest.approx(sel.mean(), rel=1e-6)
    assert m["reward_std"] == pytest.approx(sel.std(), rel=1e-3)
    assert (m["reward_max"], m["reward_min"]) == (
        pytest.approx(sel.max()),
        pytest.approx(sel.min()),
    )
    assert (m["episode_length_max"], m["episode_length_min"]) == (lsel.max(), lsel.min())
    assert m["success_rate"] == pytest.approx((lsel > 20).mean(), rel=1e-6)
    assert "reward_nonfinite" not in m


def test_plan_is_checked_once_per_layout(cfg, caplog):
    rec = Recorder()
    log = ExperimentLogger(cfg, handlers={"rec": rec})
    with caplog.at_level(logging.WARNING, logger="jaxarc"):
        log.log_batch_step(batch(0, extra_list=[1.0, 2.0]))
        log.log_batch_step(batch(2, extra_list=[3.0, 4.0]))  # same layout: no second warning
        log.log_batch_step(batch(4, extra_list=[3.0, 4.0, 5.0]))  # a new layout is checked again
    assert caplog.text.count("'extra_list'] is a list") == 2
    assert [step for step, _ in rec.metrics] == [0, 2, 4]
    for step, m in rec.metrics:  # the values are read anew every time
        x = np.asarray(batch(step)["episode_returns"])
        assert m["reward_mean"] == pytest.approx(x.mean(), rel=1e-5) and m["policy_loss"] == 0.25
    # a scalar passed as a (1,) array and a changed dtype are separate layouts, both decoded right
    log.log_batch_step(batch(6, policy_loss=jnp.asarray([0.75])))
    log.log_batch_step(batch(8, episode_lengths=jnp.arange(NB, dtype=jnp.float32)))
    assert rec.metrics[-2][1]["policy_loss"] == 0.75
    assert rec.metrics[-1][1]["episode_length_max"] == NB - 1


def test_best_and_worst_episodes_are_sampled_beside_the_random_ones(cfg):
    rec = Recorder()
    log = ExperimentLogger(with_logging(cfg, sample_best_worst=True), handlers={"rec": rec})
    data = batch(0)
    sims = np.asarray(data["similarity_scores"])
    done = sims < 0.9  # the highest similarities belong to unfinished episodes: never "best"
    log.log_batch_step({**data, "episode_done_mask": jnp.asarray(done)})
    kinds = [s["sample_kind"] for s in rec.summaries]
    by_kind = {s["sample_kind"]: s for s in rec.summaries}
    assert kinds[:3] == ["random"] * 3
    finished = np.where(done, sims, np.nan)
    assert by_kind["best"]["environment_id"] == int(np.nanargmax(finished))
    assert by_kind["worst"]["environment_id"] == int(np.nanargmin(finished))
    assert by_kind["best"]["final_similarity"] == pytest.approx(np.nanmax(finished))
    # no environment shown twice
    ids = [s["environment_id"] for s in rec.summaries]
    assert len(ids) == len(set(ids))


def test_floyd_subsets_are_uniform_and_cost_k_draws():
    """Above ``DESIGN_SAMPLING_MAX_BATCH``: Floyd's algorithm, every environment equally
    likely, never twice in one draw, no permutation of B entries."""
    from jaxarc.logging.batch.sample import floyd_indices, sample_indices

    def floyd(step, b, k):
        return floyd_indices(jax.random.PRNGKey(step), b, k)

    draw = jax.jit(jax.vmap(floyd, in_axes=(0, None, None)), static_argnums=(1, 2))
    picks = np.asarray(draw(jnp.arange(3000), 10, 3))
    assert all(len(set(row)) == 3 for row in picks.tolist())
    counts = np.bincount(picks.ravel(), minlength=10)  # expected 900 each
    chi2 = float(((counts - 900) ** 2 / 900).sum())
    assert chi2 < 27.9, counts  # chi-square, 9 degrees of freedom, p = 0.001
    assert picks.min() >= 0 and picks.max() < 10
    big = np.asarray(sample_indices(7, 10**6, 5))  # Floyd: no permutation of a million entries
    assert big.tolist() == np.asarray(floyd(7, 10**6, 5)).tolist()
    assert len(set(big.tolist())) == 5 and big.max() < 10**6


def test_hostile_batches_warn_and_log_the_rest(cfg, caplog):
    rec = Recorder()
    log = ExperimentLogger(
        with_logging(cfg, log_frequency=1, sample_frequency=1), handlers={"rec": rec}
    )
    clashes = {"reward": jnp.ones(NB), "reward_mean": 99.0, "success_rate": 7.0}
    with caplog.at_level("WARNING", logger="jaxarc"):
        log.log_batch_step({**batch(0), **clashes})
        log.log_batch_step({**batch(1), "update_step": np.array([1])})  # a one-element array
        log.log_batch_step({**batch(2), "update_step": 2**31})  # beyond int32: still sampled
        log.log_batch_step({**batch(3), "update_step": -5})
        log.log_batch_step({**batch(4), "update_step": 7})  # goes back
    data = batch(0)
    metrics = rec.metrics[0][1]
    assert metrics["reward_mean"] == pytest.approx(float(np.mean(data["episode_returns"])))
    assert metrics["success_rate"] != 7.0
    for key in clashes:
        assert f"batch_data[{key!r}] would overwrite the metrics" in caplog.text
    # a negative step and one going back are logged all the same (one warning for both)
    assert [s for s, _ in rec.metrics] == [0, 1, 2**31, -5, 7]
    assert {s["episode_num"] for s in rec.summaries} == {0, 1, 2**31, -5, 7}
    assert "batch step -5 is negative; it is logged all the same" in caplog.text
    assert "it is logged all the same" in caplog.text
    assert caplog.text.count("logged all the same") == 1


def test_host_int64_arrays_are_reduced_exactly_on_the_host(cfg, caplog):
    """Host int64/uint64 arrays never round through float32 (nor wrap at 2**31): max and min
    are the exact ints, mean and std float64; the mask applies; no warning."""
    rec = Recorder()
    log = ExperimentLogger(
        with_logging(cfg, log_frequency=1, sampling_enabled=False), handlers={"rec": rec}
    )
    big = np.arange(4, dtype=np.int64) + 2**40 + 1  # float32 would round these to 2**40
    huge = np.array([2**64 - 1, 2**63, 3, 4], np.uint64)
    done = np.array([True, True, True, False])
    with caplog.at_level("WARNING", logger="jaxarc"):
        log.log_batch_step({"update_step": 0, "big": big})
        log.log_batch_step(
            {"update_step": 1, "big": big, "huge": huge, "episode_done_mask": done, "r": np.ones(4)}
        )
    m0, m1 = rec.metrics[0][1], rec.metrics[1][1]
    assert (m0["big_max"], m0["big_min"]) == (2**40 + 4, 2**40 + 1)
    assert type(m0["big_max"]) is int
    assert m0["big_mean"] == 2**40 + 2.5 and m0["big_std"] == pytest.approx(np.std([1, 2, 3, 4]))
    assert (m1["big_max"], m1["big_mean"]) == (2**40 + 3, 2**40 + 2.0)  # the last is unfinished
    assert (m1["huge_max"], m1["huge_min"]) == (2**64 - 1, 3)
    assert m1["huge_mean"] == pytest.approx((2**64 - 1 + 2**63 + 3) / 3, rel=1e-12)
    assert m1["r_mean"] == 1.0
    assert set(m1) == {f"{k}_{s}" for k in ("big", "huge", "r") for s in STAT_NAMES}
    assert "float32" not in caplog.text


def test_in_jit_steps_that_go_back_are_logged_too(cfg, caplog):
    rec = Recorder()
    log = ExperimentLogger(
        with_logging(cfg, log_frequency=1, sampling_enabled=False), handlers={"rec": rec}
    )

    def body(carry, step):
        log.log_batch_step({"update_step": step, "episode_returns": jnp.arange(4.0) + step})
        return carry, None

    with caplog.at_level("WARNING", logger="jaxarc"):
        jax.jit(lambda steps: jax.lax.scan(body, 0, steps))(jnp.array([0, 3, 2, 4]))
        log.close()
    assert [s for s, _ in rec.metrics] == [0, 3, 2, 4]
    assert [m["reward_min"] for _, m in rec.metrics] == [0.0, 3.0, 2.0, 4.0]
    assert "batch step 2 goes back from the last logged step 3" in caplog.text


def seeded_batch(step, num_seeds, n=NB):
    """``num_seeds`` batches of :func:`batch` stacked on a leading seed axis (Python numbers
    stay shared), with per-env task ids and final states."""
    parts = [
        batch(step, n, seed=100 * s, task_ids=jnp.arange(n) % 3, final_states=states(n, value=s))
        for s in range(num_seeds)
    ]
    out = {}
    for key, value in parts[0].items():
        if key == "update_step" or isinstance(value, int | float):
            out[key] = value
        else:
            out[key] = jax.tree.map(lambda *xs: jnp.stack(xs), *(p[key] for p in parts))
    return parts, out


def test_seed_axis_logs_each_seed_and_the_spread_across_seeds(cfg, caplog):
    """Each ``seed_<i>/`` metric is what that seed alone would log; the plain name is the
    across-seed mean and ``_seed_std`` the spread; a key without the seed axis is warned about
    and skipped; sampled episodes name their seed and environment."""
    rec, alone = Recorder(), Recorder()
    log = ExperimentLogger(cfg, handlers={"rec": rec})
    log.num_seeds = 3
    parts, data = seeded_batch(0, 3)
    data["no_seed_axis"] = jnp.ones(NB)  # [B], not [S, B]
    with caplog.at_level(logging.WARNING, logger="jaxarc"):
        log.log_batch_step(data)
    assert "batch_data['no_seed_axis'] has no leading seed axis of 3" in caplog.text
    _, m = rec.metrics[0]
    single = ExperimentLogger(cfg, handlers={"rec": alone})
    per_seed = []
    for part in parts:
        single.log_batch_step(part)
        per_seed.append(alone.metrics[-1][1])
    for name in per_seed[0]:
        values = [seed_metrics[name] for seed_metrics in per_seed]
        if name in ("value_loss", "entropy", "learning_rate"):  # Python numbers: shared
            assert m[name] == values[0] and f"seed_0/{name}" not in m
            continue
        for i, v in enumerate(values):
            assert m[f"seed_{i}/{name}"] == pytest.approx(v, rel=1e-6, abs=1e-7), name
        assert m[name] == pytest.approx(np.mean(values), rel=1e-6, abs=1e-7)
        assert m[f"{name}_seed_std"] == pytest.approx(np.std(values), rel=1e-5, abs=1e-7)
    assert not any("no_seed_axis" in k for k in m)
    # sampling (step 0 samples): rows from all S·B environments, seed and env id split out
    assert len(rec.summaries) == 3
    for s in rec.summaries:
        assert 0 <= s["seed"] < 3 and 0 <= s["seed_environment_id"] < NB
        assert s["environment_id"] == s["seed"] * NB + s["seed_environment_id"]  # unique
        expected = float(parts[s["seed"]]["episode_returns"][s["seed_environment_id"]])
        assert s["total_reward"] == pytest.approx(expected)
        assert s["final_state"]["grid"].max() == s["seed"]  # states(n, value=seed)


def test_seed_axis_inside_jit_matches_the_host_path(cfg):
    def loop(log):
        def body(_, step):
            data = seeded_batch(0, 2)[1] | {"update_step": step}
            log.log_batch_step(data)
            return None, None

        jax.jit(lambda: jax.lax.scan(body, None, jnp.arange(3))[0])()
        jax.effects_barrier()

    jit_rec, host_rec = Recorder(), Recorder()
    jit_log = ExperimentLogger(cfg, handlers={"rec": jit_rec})
    jit_log.num_seeds = 2
    loop(jit_log)
    host_log = ExperimentLogger(cfg, handlers={"rec": host_rec})
    host_log.num_seeds = 2
    for step in range(3):
        host_log.log_batch_step(seeded_batch(0, 2)[1] | {"update_step": step})
    assert [s for s, _ in jit_rec.metrics] == [s for s, _ in host_rec.metrics] == [0, 2]
    for (_, a), (_, b) in zip(jit_rec.metrics, host_rec.metrics, strict=True):
        assert a.keys() == b.keys() and "seed_1/reward_mean" in a
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-7), k
    assert [(s["seed"], s["environment_id"]) for s in jit_rec.summaries] == [
        (s["seed"], s["environment_id"]) for s in host_rec.summaries
    ]


def task_batch(step, n=NB, num_tasks=5, seed=0):
    """A batch with integer task ids (one out of range), a done mask and a NaN similarity."""
    rng = np.random.default_rng(100 + seed + step)
    ids = rng.integers(0, num_tasks, size=n)
    ids[0] = num_tasks + 3  # not a task: left out
    sims = rng.uniform(size=n).astype(np.float32)
    sims[1] = np.nan  # its episode counts, its similarity does not
    return batch(
        step,
        n,
        seed,
        task_ids=jnp.asarray(ids, jnp.int32),
        episode_done_mask=jnp.asarray(rng.uniform(size=n) > 0.3),
        similarity_scores=jnp.asarray(sims),
    )


def numpy_per_task(data, num_tasks, names):
    """The per-task statistics in plain numpy: the reference."""
    ids, done = np.asarray(data["task_ids"]), np.asarray(data["episode_done_mask"])
    success, sims = np.asarray(data["success_mask"]), np.asarray(data["similarity_scores"])
    out = {}
    for t in range(num_tasks):
        rows = (ids == t) & done
        if rows.sum() == 0:
            continue
        finite = rows & np.isfinite(sims)
        out[names[t]] = {
            "episodes": int(rows.sum()),
            "successes": int(success[rows].sum()),
            "success_rate": float(success[rows].mean()),
            "similarity_mean": float(sims[finite].sum() / rows.sum()),
        }
    return out


class TaskRecorder(Recorder):
    def __init__(self):
        super().__init__()
        self.tasks = []

    def log_task_metrics(self, tasks, step):
        self.tasks.append((step, tasks))


def assert_tasks_equal(got, want):
    assert got.keys() == want.keys()
    for name, entry in want.items():
        assert got[name]["episodes"] == entry["episodes"], name
        assert got[name]["successes"] == entry["successes"], name
        for key in ("success_rate", "similarity_mean"):
            assert got[name][key] == pytest.approx(entry[key], rel=1e-5, abs=1e-6), (name, key)


def test_per_task_metrics_match_numpy_on_host_in_jit_and_with_seeds(cfg, caplog):
    """``logging.per_task_metrics``: each task's finished episodes, successes and mean
    similarity equal a numpy reference on the host path, inside jit, and over a seed axis
    (all seeds pooled); written to task_metrics.jsonl and read back."""
    cfg = with_logging(cfg, per_task_metrics=True)
    names = ["t0", "t1", "t2", "t3", "t4"]
    rec = TaskRecorder()
    log = ExperimentLogger(cfg, handlers={"rec": rec})
    log.task_names = names
    datas = [task_batch(step) for step in range(3)]
    for data in datas:
        log.log_batch_step(data)
    assert [s for s, _ in rec.tasks] == [0, 2]  # with the aggregated events only
    for (_, tasks), data in zip(rec.tasks, (datas[0], datas[2]), strict=True):
        assert_tasks_equal(tasks, numpy_per_task(data, 5, names))

    # inside jit: the same numbers
    jit_rec = TaskRecorder()
    jit_log = ExperimentLogger(cfg, handlers={"rec": jit_rec})
    jit_log.task_names = names
    stacked = jax.tree.map(
        lambda *xs: jnp.stack(xs), *[{k: v for k, v in d.items()} for d in datas]
    )

    def body(_, data):
        jit_log.log_batch_step(data)
        return None, None

    jax.jit(lambda d: jax.lax.scan(body, None, d)[0])(
        {k: v for k, v in stacked.items() if k not in ("value_loss", "entropy", "learning_rate")}
        | {"update_step": jnp.arange(3)}
    )
    jax.effects_barrier()
    assert [s for s, _ in jit_rec.tasks] == [0, 2]
    for (_, a), (_, b) in zip(jit_rec.tasks, rec.tasks, strict=True):
        assert_tasks_equal(a, b)

    # a seed axis: every seed's environments pooled per task
    seed_rec = TaskRecorder()
    seed_log = ExperimentLogger(cfg, handlers={"rec": seed_rec})
    seed_log.task_names = names
    seed_log.num_seeds = 2
    parts = [task_batch(0, seed=s) for s in range(2)]
    seeded = {k: jnp.stack([p[k] for p in parts]) for k in ("task_ids", "episode_done_mask",
              "success_mask", "similarity_scores", "episode_returns")}  # fmt: skip
    seed_log.log_batch_step(seeded | {"update_step": 0})
    pooled = {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in seeded}
    assert_tasks_equal(seed_rec.tasks[0][1], numpy_per_task(pooled, 5, names))

    # the file handler writes task_metrics.jsonl; the reader gets the same back
    file_log = ExperimentLogger(cfg)
    file_log.task_names = names
    for data in datas:
        file_log.log_batch_step(data)
    file_log.close()
    read = read_task_metrics(file_log.run_dir)
    assert [s for s, _ in read] == [0, 2]
    assert_tasks_equal(read[1][1], numpy_per_task(datas[2], 5, names))

    # without integer task ids (or names), one warning and the rest is logged
    warn_rec = TaskRecorder()
    warn_log = ExperimentLogger(cfg, handlers={"rec": warn_rec})
    with caplog.at_level(logging.WARNING, logger="jaxarc"):
        warn_log.log_batch_step(task_batch(0))
        warn_log.log_batch_step(task_batch(2))
    assert caplog.text.count("per_task_metrics needs") == 1
    assert len(warn_rec.metrics) == 2 and warn_rec.tasks == []


def test_arrays_on_different_devices_warn_and_log_everything(tmp_path):
    """Arrays committed to different devices (two forced CPU devices, in a subprocess):
    each odd one is named in a warning, copied to the host, and every metric is logged with
    the same values as on one device."""
    import os
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import json, logging, jax, jax.numpy as jnp, numpy as np
        import jaxarc
        from jaxarc.logging import ExperimentLogger

        class Rec:
            def __init__(self): self.metrics = []
            def log_aggregated_metrics(self, m, step): self.metrics.append(m)

        logging.basicConfig(level=logging.WARNING, format="WARN %(message)s")
        cfg = jaxarc.load_config(["storage.base_output_dir={tmp_path}",
                                  "visualization.console=false", "logging.log_frequency=1",
                                  "logging.sampling_enabled=false"])
        d0, d1 = jax.devices()[:2]
        rng = np.random.default_rng(0)
        raw = {{"episode_returns": rng.normal(size=32).astype(np.float32),
               "similarity_scores": rng.uniform(size=32).astype(np.float32),
               "policy_loss": np.float32(0.5)}}
        out = []
        for placement in ([d0, d0, d0], [d0, d1, d1]):
            data = {{k: jax.device_put(jnp.asarray(v), d)
                    for (k, v), d in zip(raw.items(), placement)}}
            rec = Rec()
            log = ExperimentLogger(cfg, handlers={{"rec": rec}})
            log.log_batch_step(data | {{"update_step": 0}})
            out.append(rec.metrics[0])
        print("RESULT" + json.dumps(out))
        """
    )
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = json.loads(done.stdout.split("RESULT", 1)[1])
    assert one.keys() == two.keys() and "reward_mean" in one and "similarity_mean" in one
    for key in one:
        assert two[key] == pytest.approx(one[key], rel=1e-6), key
    warned = [line for line in done.stderr.splitlines() if line.startswith("WARN ")]
    assert any("similarity_scores" in w and "copied to the host" in w for w in warned), warned
    assert any("policy_loss" in w for w in warned) and not any(
        "episode_returns" in w for w in warned
    )
