"""Batched-logging costs, each ratio measured in the same run.

(a) our aggregation (``ExperimentLogger._aggregate_batch_metrics``: one jitted reduction,
    one transfer) vs the design document's literal version (one ``float(jnp.…)`` per
    statistic) — target >= 10x faster at B = 10,000;
(b) our aggregation vs the floor (one jitted ``jnp.sum`` per array + one ``device_get``)
    — target <= 2x the floor. ``design/floor`` is the largest speed-up over the design's
    version that any aggregation could reach on this machine (one that costs just the floor);
    when it is below 10 the 10x target of (a) cannot be met here;
(c) the cost of ``log_batch_step`` on an update that logs nothing — target <= 5 us;
(d) resident memory growth over 10,000 logged events (File handler on), and live device
    arrays before/after — target <= 20 MB, none kept alive;
(e) sampling: the design's rule (``jax.random.choice(PRNGKey(step), B, replace=False)``,
    which permutes all B) vs Floyd's O(k) draw, beside the aggregation of the same batch —
    the largest B where the design's rule costs no more per update than the aggregation at
    the design's cadences (a sample every 50 updates, statistics every 10: choice <= 5 x
    aggregation) is ``DESIGN_SAMPLING_MAX_BATCH`` (``jaxarc/logging/batch/sample.py``); and
    a whole sampled event at B = 10**6 (above it) — target <= 1 ms.

    python benchmarks/batched_logging.py [--sizes 100 1000 10000 100000] \
[--out benchmarks/results/batched_logging.json]

Why the reducer (``jaxarc/logging/batch/reduce.py``) looks the way it does — each choice
measured with this script on the 2-core CPU VM (XLA:CPU, jax 0.10):

- Folding. XLA:CPU compiles ``jnp.sum(x, axis=1)`` over a long row to a serial loop that
  does not vectorise. Combining 8 contiguous slices elementwise first (a chain of vector
  adds), one to three times while >= 12 columns remain, then reducing the short rest, is
  1.3-3x faster than no fold or one level more or less, from B = 100 to 30,000.
  (The level count changes speed only, never results: the property tests cannot see it,
  this benchmark does.)
- NaN for "not kept". Masked-out entries and the fold padding become NaN, so one
  ``isfinite`` decides what is kept and the non-finite count is considered - kept (one
  reduction fewer); masks built from ``x`` let XLA fuse them rather than write ``[K, B]``
  arrays (B = 10k: ~140 -> ~105 us).
- The centred by-product. Left fused into the variance fold, that fold is costly enough for
  XLA:CPU's cost model to split it over two threads (``outer_dimension_partitions: 2`` in
  the compiled HLO); on 2 cores the hand-off costs more than the fold. Returning the centred
  values out of the jitted function makes XLA write them once (B = 10k: ~110 -> ~75 us).
- The shortcut. From B = 32,768 an unmasked batch takes plain row reductions (XLA routes
  them to vectorised kernels) with a ``lax.cond`` back to the careful path on any NaN/inf;
  below that the careful path wins (a sweep at 4,096 was slower at 10k).
- Exact integers. An integer row's float32 max/min are exact below 2**24; a second,
  integer pass inside a ``lax.cond`` runs only for rows beyond. A plain extra integer
  reduction cost ~10 us at every B; folding it cost up to ~90 us at B = 1,000 (XLA split it
  into a dozen small fusions).
- One buffer. Integers travel bit-cast inside the one float32 vector: a second output
  array cost a second host copy (~10 us).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import logging
import resource
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jaxarc
from jaxarc.logging import ExperimentLogger
from jaxarc.logging.batch.sample import DESIGN_SAMPLING_MAX_BATCH, floyd_indices


def design_literal_aggregate(batch_data, log_cfg):
    """The design document's ``_aggregate_batch_metrics``, verbatim in behaviour."""
    metrics = {}
    if "episode_returns" in batch_data and log_cfg.log_aggregated_rewards:
        returns = batch_data["episode_returns"]
        metrics.update(
            {
                "reward_mean": float(jnp.mean(returns)),
                "reward_std": float(jnp.std(returns)),
                "reward_max": float(jnp.max(returns)),
                "reward_min": float(jnp.min(returns)),
            }
        )
    if "similarity_scores" in batch_data and log_cfg.log_aggregated_similarity:
        s = batch_data["similarity_scores"]
        metrics.update(
            {
                "similarity_mean": float(jnp.mean(s)),
                "similarity_std": float(jnp.std(s)),
                "similarity_max": float(jnp.max(s)),
                "similarity_min": float(jnp.min(s)),
            }
        )
    if "episode_lengths" in batch_data and log_cfg.log_episode_lengths:
        n = batch_data["episode_lengths"]
        metrics.update(
            {
                "episode_length_mean": float(jnp.mean(n)),
                "episode_length_std": float(jnp.std(n)),
                "episode_length_max": float(jnp.max(n)),
                "episode_length_min": float(jnp.min(n)),
            }
        )
    if "success_mask" in batch_data and log_cfg.log_success_rates:
        metrics["success_rate"] = float(jnp.mean(batch_data["success_mask"]))
    for key in ("policy_loss", "value_loss"):
        if key in batch_data and log_cfg.log_loss_metrics:
            metrics[key] = float(batch_data[key])
    if "gradient_norm" in batch_data and log_cfg.log_gradient_norms:
        metrics["gradient_norm"] = float(batch_data["gradient_norm"])
    return metrics


def make_batch(b: int, step: int = 0) -> dict:
    k = jax.random.split(jax.random.PRNGKey(step), 4)
    data = {
        "update_step": step,
        "episode_returns": jax.random.normal(k[0], (b,)),
        "episode_lengths": jax.random.randint(k[1], (b,), 1, 100),
        "similarity_scores": jax.random.uniform(k[2], (b,)),
        "success_mask": jax.random.uniform(k[3], (b,)) > 0.5,
        "policy_loss": jnp.float32(0.1),
        "value_loss": jnp.float32(0.2),
        "gradient_norm": jnp.float32(0.3),
    }
    return jax.block_until_ready(data)


@jax.jit
def _floor_reduce(arrays):
    return sum(jnp.sum(v.astype(jnp.float32)) for v in arrays.values())


def floor(batch_data):
    """The least any aggregation can cost: one jitted sum over the same arrays, one scalar
    fetched."""
    return jax.device_get(
        _floor_reduce({k: v for k, v in batch_data.items() if k != "update_step"})
    )


def timeit(fns: dict, repeats: int) -> dict[str, float]:
    """Median seconds per call of each function, measured interleaved (same conditions for all)."""
    for fn in fns.values():
        fn()
        fn()  # compile + warm
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(repeats):
        order = list(fns.items())
        for name, fn in order[r % len(order) :] + order[: r % len(order)]:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def timeit_blocks(fns: dict, repeats: int, rounds: int = 5) -> dict[str, float]:
    """Median seconds per call when each function runs ``repeats`` times in a row (a warm,
    steady state), the blocks alternating over ``rounds``."""
    for fn in fns.values():
        fn()
        fn()
    per_round: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(repeats):
                fn()
            per_round[name].append((time.perf_counter() - t0) / repeats)
    return {name: statistics.median(ts) for name, ts in per_round.items()}


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000, 100000])
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--out", default="benchmarks/results/batched_logging.json")
    args = ap.parse_args()
    logging.getLogger("jaxarc").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp())
    cfg = jaxarc.load_config(
        [
            "logging=batched",
            f"storage.base_output_dir={tmp}",
            "visualization.console=false",
            "visualization.enabled=false",
            "storage.tensorboard=false",
        ]
    )
    log = ExperimentLogger(cfg, handlers={})
    rows = []
    header = (
        f"{'B':>7} {'design float() us':>18} {'ours us':>9} {'floor us':>9} {'speed-up':>9} "
        f"{'ours/floor':>11} {'design/floor':>13}"
    )
    for mode, measure in (("interleaved", timeit), ("blocks", timeit_blocks)):
        print(
            f"{mode}: "
            + (
                "calls alternate between the three "
                "(as in a training loop, where other work runs in between)"
                if mode == "interleaved"
                else "each runs many times in a row (warm, steady state)"
            )
        )
        print(header)
        for b in args.sizes:
            data = make_batch(b)
            repeats = 300 if b <= 10000 else 60
            t = measure(
                {
                    "design": lambda d=data: design_literal_aggregate(d, cfg.logging),
                    "ours": lambda d=data: log._aggregate_batch_metrics(d),
                    "floor": lambda d=data: floor(d),
                },
                repeats,
            )
            t_design, t_ours, t_floor = t["design"], t["ours"], t["floor"]
            rows.append(
                {
                    "mode": mode,
                    "batch_size": b,
                    "design_literal_us": 1e6 * t_design,
                    "ours_us": 1e6 * t_ours,
                    "floor_us": 1e6 * t_floor,
                    "speedup_vs_design": t_design / t_ours,
                    "ratio_to_floor": t_ours / t_floor,
                    "design_over_floor": t_design / t_floor,
                }
            )
            print(
                f"{b:>7} {1e6 * t_design:>18.1f} {1e6 * t_ours:>9.1f} {1e6 * t_floor:>9.1f} "
                f"{t_design / t_ours:>8.1f}x "
                f"{t_ours / t_floor:>10.2f}x {t_design / t_floor:>12.1f}x"
            )

    # (c) a skipped update: neither frequency matches
    data = make_batch(10000, step=1)
    skip_log = ExperimentLogger(cfg, handlers={"none": object()})
    n = 200_000
    t0 = time.perf_counter()
    for _ in range(n):
        skip_log.log_batch_step(data)
    skipped_us = 1e6 * (time.perf_counter() - t0) / n
    print(f"skipped update: {skipped_us:.2f} us per call")

    # (d) memory over many logged events, File handler writing batch_metrics.jsonl
    mem_cfg = dataclasses.replace(
        cfg, logging=dataclasses.replace(cfg.logging, log_frequency=1, sample_frequency=100)
    )
    mem_log = ExperimentLogger(mem_cfg)
    batches = [make_batch(1000, step=s) for s in range(4)]
    for s in range(200):  # warm up caches and allocator
        mem_log.log_batch_step(batches[s % 4] | {"update_step": s})
    gc.collect()
    live_before, rss_before = len(jax.live_arrays()), rss_mb()
    t0 = time.perf_counter()
    for s in range(200, 200 + args.events):
        mem_log.log_batch_step(batches[s % 4] | {"update_step": s})
    elapsed = time.perf_counter() - t0
    gc.collect()
    live_after, rss_after = len(jax.live_arrays()), rss_mb()
    mem_log.close()
    lines = len((mem_log.run_dir / "batch_metrics.jsonl").read_text().splitlines())
    print(
        f"{args.events} logged events (B=1000, File handler, samples every 100): "
        f"{1e3 * elapsed / args.events:.3f} ms/event, "
        f"RSS {rss_before:.1f} -> {rss_after:.1f} MB ({rss_after - rss_before:+.1f} MB), "
        f"live device arrays {live_before} -> {live_after}"
    )

    sampling = measure_sampling(log, cfg)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "backend": jax.default_backend(),
                "aggregation": rows,
                "skipped_update_us": skipped_us,
                "memory": {
                    "events": args.events,
                    "rss_before_mb": rss_before,
                    "rss_after_mb": rss_after,
                    "rss_growth_mb": rss_after - rss_before,
                    "live_arrays_before": live_before,
                    "live_arrays_after": live_after,
                    "ms_per_event": 1e3 * elapsed / args.events,
                    "jsonl_lines": lines,
                },
                "sampling": sampling,
                "numpy": np.__version__,
            },
            indent=2,
        )
    )
    print(f"saved {out}")


@partial(jax.jit, static_argnums=(1, 2))
def _design_choice(step, b, k):
    return jax.random.choice(jax.random.PRNGKey(step), b, shape=(k,), replace=False)


@partial(jax.jit, static_argnums=(1, 2))
def _floyd(step, b, k):
    return floyd_indices(jax.random.PRNGKey(step), b, k)


def measure_sampling(log, cfg, sizes=(256, 1024, 2048, 4096, 16384, 65536, 10**6)) -> dict:
    """(e): the design's sampling rule vs Floyd's, beside the aggregation, per batch size."""
    print("sampling (3 of B): the design's jax.random.choice vs Floyd, beside the aggregation")
    print(f"{'B':>8} {'design us':>10} {'Floyd us':>9} {'aggregation us':>15}")
    rows = []
    for b in sizes:
        data = make_batch(b)
        repeats = 200 if b <= 16384 else 20
        t = timeit(
            {
                "design": lambda b=b: jax.device_get(_design_choice(np.int32(7), b, 3)),
                "floyd": lambda b=b: jax.device_get(_floyd(np.int32(7), b, 3)),
                "aggregation": lambda d=data: log._aggregate_batch_metrics(d),
            },
            repeats,
        )
        rows.append({"batch_size": b, **{f"{k}_us": 1e6 * v for k, v in t.items()}})
        print(
            f"{b:>8} {1e6 * t['design']:>10.1f} {1e6 * t['floyd']:>9.1f} "
            f"{1e6 * t['aggregation']:>15.1f}"
        )
    # per update, at the design's cadences (samples every 50 updates, statistics every 10),
    # the design's rule costs no more than the aggregation while choice <= 5 x aggregation
    per_update = cfg.logging.sample_frequency / cfg.logging.log_frequency
    cheap = [r["batch_size"] for r in rows if r["design_us"] <= per_update * r["aggregation_us"]]
    suggested = max(cheap) if cheap else None
    # a whole sampled event above the threshold: indices, rows gathered on device, summaries
    sample_cfg = dataclasses.replace(cfg.logging, sample_best_worst=False)
    sample_log = ExperimentLogger(dataclasses.replace(cfg, logging=sample_cfg), handlers={})
    big = make_batch(10**6)
    t_event = timeit({"event": lambda: sample_log._sample_episodes_from_batch(big)}, 30)["event"]
    print(
        f"largest B where the design's rule costs <= the aggregation per update: {suggested} "
        f"(DESIGN_SAMPLING_MAX_BATCH = {DESIGN_SAMPLING_MAX_BATCH}); a sampled event at "
        f"B = 10**6: {1e3 * t_event:.3f} ms"
    )
    return {
        "rows": rows,
        "largest_batch_design_rule_within_aggregation_per_update": suggested,
        "design_sampling_max_batch": DESIGN_SAMPLING_MAX_BATCH,
        "sampled_event_ms_at_1e6": 1e3 * t_event,
    }


if __name__ == "__main__":
    main()
