"""The fast batched reduction against the plain numpy reference
(``jaxarc.logging.batch.reference``).

Property tests (hypothesis) over batch sizes from 1 to 100,000 including every fold
boundary and the shortcut threshold, masks, NaN/±inf anywhere, the dtypes a trainer sends,
host and device scalars; explicit cases for the paths a wrong fast path would break; and
the in-jit path under ``lax.scan``. Sizes come from a fixed list so compiles are shared.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxarc.envs.config import LoggingConfig
from jaxarc.logging import ExperimentLogger
from jaxarc.logging.batch import BatchPipeline, reference
from jaxarc.logging.batch.reduce import FOLD, MIN_WIDTH, SHORTCUT_MIN_BATCH

CONFIG = LoggingConfig(batched_logging_enabled=True, sampling_enabled=False, log_frequency=1)
EPS32 = float(np.finfo(np.float32).eps)


def _sizes() -> list[int]:
    edges = {1, 2, 100_000, SHORTCUT_MIN_BATCH}
    for level in (1, 2, 3):
        edges |= {FOLD**level, MIN_WIDTH * FOLD**level}  # a padding multiple, a fold-level change
    return sorted({n + d for n in edges for d in (-1, 0, 1) if 1 <= n + d <= 100_000})


SIZES = _sizes()


@pytest.fixture(scope="module")
def pipe() -> BatchPipeline:
    return BatchPipeline(CONFIG)


def assert_matches(ours: dict, ref: dict, data: dict) -> None:
    """Same metric names in the same order; integers exact; floats to float32 precision."""
    assert list(ours) == list(ref)
    for name, want in ref.items():
        got = ours[name]
        if isinstance(want, int):
            assert isinstance(got, int) and got == want, name
            continue
        scale = _scale(name, data)
        tol = 8 * EPS32 * max(scale, abs(want)) + 1e-30
        assert abs(got - want) <= tol, f"{name}: {got!r} vs {want!r} (tolerance {tol:.3g})"


def _scale(name: str, data: dict) -> float:
    """The magnitude the statistic of ``name`` is computed from
    (its input's largest kept |value|)."""
    from jaxarc.logging.batch.contract import BY_METRIC

    base = (
        name.rsplit("_", 1)[0] if name.rsplit("_", 1)[-1] in ("mean", "std", "max", "min") else name
    )
    spec = BY_METRIC.get(base) or BY_METRIC.get(name)
    key = spec.key if spec is not None else base
    x = np.asarray(data.get(key, 0.0), np.float64)
    finite = x[np.isfinite(x)]
    return float(np.abs(finite).max()) if finite.size else 0.0


# --- strategies --------------------------------------------------------------------------
FLOATS = ("float32", "float16", "bfloat16")
ANY = ("bool", "int8", "int32", *FLOATS)


def _values(rng: np.random.Generator, n: int, dtype: str, big: bool) -> np.ndarray:
    if dtype == "bool":
        return rng.uniform(size=n) < 0.4
    if dtype == "int8":
        return rng.integers(-128, 128, n).astype(np.int8)
    if dtype == "int32":
        lo, hi = (-(2**31), 2**31 - 1) if big else (-1000, 1000)
        return rng.integers(lo, hi, n, endpoint=True).astype(np.int32)
    scale = {"float16": 6e4, "bfloat16": 1e12, "float32": 1e12}[dtype] if big else 3.0
    return (rng.normal(0.5, 1.0, n) * scale).astype(np.float32)


def _device(x: np.ndarray, dtype: str) -> jax.Array:
    return jnp.asarray(x).astype(jnp.dtype(dtype))


@st.composite
def batches(draw: st.DrawFn) -> dict:
    n = draw(st.sampled_from(SIZES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    big = draw(st.booleans())
    dtypes = {
        "episode_returns": draw(st.sampled_from(FLOATS)),
        "similarity_scores": "float32",
        "episode_lengths": draw(st.sampled_from(("int8", "int32"))),
        "success_mask": "bool",
        "custom": draw(st.sampled_from(ANY)),
    }
    data: dict = {"update_step": 0}
    for key, dtype in dtypes.items():
        x = _values(rng, n, dtype, big and key != "similarity_scores")
        if dtype in FLOATS and draw(st.booleans()):  # NaN/±inf anywhere, from one to all of them
            k = draw(st.sampled_from((1, 3, max(1, n // 2), n)))
            at = rng.choice(n, min(k, n), replace=False)
            x[at] = rng.choice([np.nan, np.inf, -np.inf], len(at))
        data[key] = _device(x, dtype)
    mask = draw(st.sampled_from(("none", "some", "all", "nothing finished")))
    if mask != "none":
        done = {
            "some": rng.uniform(size=n) < 0.5,
            "all": np.ones(n, bool),
            "nothing finished": np.zeros(n, bool),
        }[mask]
        data["episode_done_mask"] = jnp.asarray(done)
    scalar = draw(
        st.sampled_from(
            (
                "host float",
                "host int",
                "numpy",
                "device float",
                "device int",
                "device bool",
                "non-finite",
            )
        )
    )
    data["value_loss"] = {
        "host float": 0.3,
        "host int": 16_777_217 + 2**40,
        "numpy": np.float64(0.1),
        "device float": jnp.float32(0.3),
        "device int": jnp.int32(16_777_217),
        "device bool": jnp.bool_(True),
        "non-finite": jnp.float32(np.nan),
    }[scalar]
    data["total_env_steps"] = 524_288_123
    return data


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(batches())
def test_fast_reduction_matches_the_reference(pipe: BatchPipeline, data: dict) -> None:
    assert_matches(pipe.aggregate(data), reference(data, CONFIG), data)


# --- exactness (the defects the reference caught) ----------------------------------------
def test_host_scalars_pass_through_unchanged(pipe: BatchPipeline) -> None:
    data = {
        "update_step": 0,
        "episode_returns": jnp.ones(4),
        "value_loss": 0.3,
        "total_env_steps": 16_777_217,
        "big": 524_288_123,
        "huge": 10**30,
        "np_float": np.float64(0.1),
        "np_int": np.int64(2**40 + 1),
        "flag": True,
    }
    m = pipe.aggregate(data)
    assert m["value_loss"] == 0.3 and repr(m["value_loss"]) == "0.3"
    assert m["total_env_steps"] == 16_777_217 and isinstance(m["total_env_steps"], int)
    assert m["big"] == 524_288_123 and m["huge"] == 10**30
    assert m["np_float"] == 0.1 and m["np_int"] == 2**40 + 1 and m["flag"] == 1


def test_device_scalars_and_integer_extremes_are_exact(pipe: BatchPipeline) -> None:
    data = {
        "update_step": 0,
        "counts": jnp.asarray([16_777_217, 20_000_001, 3], jnp.int32),
        "ucounts": jnp.asarray([2**32 - 1, 5], jnp.uint32)[jnp.asarray([0, 1, 1])],
        "steps": jnp.int32(16_777_217),
        "neg": jnp.int32(-(2**31)),
        "loss": jnp.float32(0.3),
        "ok": jnp.bool_(True),
    }
    m = pipe.aggregate(data)
    assert (m["counts_max"], m["counts_min"]) == (20_000_001, 3)
    assert (m["ucounts_max"], m["ucounts_min"]) == (2**32 - 1, 5)
    assert m["steps"] == 16_777_217 and m["neg"] == -(2**31) and m["ok"] == 1
    assert m["loss"] == float(np.float32(0.3))


# --- the paths a wrong fast path would break ---------------------------------------------
@pytest.mark.parametrize("n", [SHORTCUT_MIN_BATCH, SHORTCUT_MIN_BATCH + 5, 100_000])
@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_large_unmasked_batch_with_a_nonfinite_value_falls_back(
    pipe: BatchPipeline, n: int, special: float
) -> None:
    rng = np.random.default_rng(n)
    x = rng.normal(2.0, 1.0, n).astype(np.float32)
    x[rng.integers(n)] = special
    data = {
        "update_step": 0,
        "episode_returns": jnp.asarray(x),
        "episode_lengths": jnp.asarray(rng.integers(1, 9, n)),
    }
    m = pipe.aggregate(data)
    assert m["reward_nonfinite"] == 1 and math.isfinite(m["reward_mean"])
    assert_matches(m, reference(data, CONFIG), data)


@pytest.mark.parametrize("n", SIZES)
def test_every_fold_boundary(pipe: BatchPipeline, n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.normal(0.0, 1.0, n).astype(np.float32)
    x[-1] = 50.0 + n  # the largest value at the very end: a dropped tail or a bad pad shows
    x[0] = -50.0 - n
    done = rng.uniform(size=n) < 0.8
    done[[0, -1]] = True
    for data in (
        {"episode_returns": jnp.asarray(x)},
        {"episode_returns": jnp.asarray(x), "valid_mask": jnp.asarray(done)},
    ):
        data["update_step"] = 0
        assert_matches(pipe.aggregate(data), reference(data, CONFIG), data)


def test_mask_excludes_unfinished_episodes(pipe: BatchPipeline) -> None:
    x = jnp.asarray([1.0, 100.0, 3.0, np.nan], jnp.float32)
    lengths = jnp.asarray([4, 99, 6, 7], jnp.int32)
    done = jnp.asarray([True, False, True, False])
    m = pipe.aggregate(
        {
            "update_step": 0,
            "episode_returns": x,
            "episode_lengths": lengths,
            "success_mask": jnp.asarray([True, True, False, True]),
            "episode_done_mask": done,
        }
    )
    assert (m["reward_mean"], m["reward_max"], m["episode_length_max"]) == (2.0, 3.0, 6)
    assert m["success_rate"] == 0.5 and "reward_nonfinite" not in m  # the NaN was not finished


def test_flags_and_reference_agree_on_what_is_left_out(pipe: BatchPipeline) -> None:
    off = dataclasses.replace(CONFIG, log_aggregated_rewards=False, log_loss_metrics=False)
    data = {
        "update_step": 0,
        "episode_returns": jnp.ones(8),
        "similarity_scores": jnp.ones(8) / 2,
        "policy_loss": 1.0,
    }
    ours = BatchPipeline(off).aggregate(data)
    assert ours == reference(data, off) and "reward_mean" not in ours and "policy_loss" not in ours


# --- the in-jit path under lax.scan -------------------------------------------------------
class Recorder:
    def __init__(self) -> None:
        self.metrics: list[tuple[int, dict]] = []

    def log_aggregated_metrics(self, metrics: dict, step: int) -> None:
        self.metrics.append((step, metrics))


def test_in_jit_path_matches_the_reference(tmp_config) -> None:
    cfg = dataclasses.replace(tmp_config, logging=dataclasses.replace(CONFIG, log_frequency=3))
    rec = Recorder()
    log = ExperimentLogger(cfg, handlers={"rec": rec})
    n = 777

    def update(key, step):
        key, k1, k2 = jax.random.split(key, 3)
        returns = jax.random.normal(k1, (n,)) * 1e3
        returns = jnp.where(jax.random.uniform(k2, (n,)) < 0.01, jnp.nan, returns)
        data = {
            "update_step": step,
            "episode_returns": returns,
            "episode_lengths": (step * 7_000_000 + jnp.arange(n)).astype(jnp.int32),
            "episode_done_mask": jax.random.uniform(k2, (n,)) < 0.6,
            "policy_loss": jnp.mean(jnp.nan_to_num(returns)),
            "value_loss": 0.3,
            "total_env_steps": 16_777_217,
        }
        log.log_batch_step(data)
        return key, data

    _, datas = jax.jit(lambda key: jax.lax.scan(update, key, jnp.arange(10)))(jax.random.PRNGKey(1))
    log.close()
    assert [s for s, _ in rec.metrics] == [0, 3, 6, 9]
    for step, m in rec.metrics:
        data = {k: (v[step] if isinstance(v, jax.Array) else v) for k, v in datas.items()}
        data |= {"value_loss": 0.3, "total_env_steps": 16_777_217}
        assert_matches(m, reference(data, CONFIG), data)
        assert m["episode_length_max"] == step * 7_000_000 + int(
            np.flatnonzero(np.asarray(data["episode_done_mask"])).max()
        )
