"""How long `jaxarc report` takes on a long run.

Writes a synthetic run with the real logger (File + SVG handlers) — ``--updates`` logged
updates with the full set of batched metrics (``log_frequency=1``, i.e. ten times the lines
of a default 10,000-update run) and sampled episodes every 50 updates — then times
``build_report`` on it.

    python benchmarks/report_build.py [--updates 10000] [--out benchmarks/results/report_build.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp

import jaxarc
from jaxarc.logging import ExperimentLogger
from jaxarc.report import build_report


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--updates", type=int, default=10000)
    ap.add_argument("--out", default="benchmarks/results/report_build.json")
    args = ap.parse_args()
    logging.getLogger("jaxarc").setLevel(logging.ERROR)
    tmp = Path(tempfile.mkdtemp())
    cfg = jaxarc.load_config(
        [
            f"storage.base_output_dir={tmp}",
            "visualization.console=false",
            "storage.tensorboard=false",
            "logging.log_frequency=1",
            "logging.sample_frequency=50",
        ]
    )
    n = 64
    key = jax.random.PRNGKey(0)
    grids = {
        "grid": jax.random.randint(key, (n, 6, 6), 0, 10).astype(jnp.int8),
        "mask": jnp.ones((n, 6, 6), bool),
    }
    ops = jax.random.randint(key, (n, 8, 1), 0, 34)
    corners = jax.random.randint(jax.random.fold_in(key, 1), (n, 8, 4), 0, 6)
    actions = jnp.concatenate([ops, corners], axis=2).astype(jnp.int16)  # 8 steps each
    t0 = time.perf_counter()
    with ExperimentLogger(cfg) as log:
        for u in range(args.updates):
            k = jax.random.fold_in(key, u)
            log.log_batch_step(
                {
                    "update_step": u,
                    "episode_returns": jax.random.normal(k, (n,)) + u / args.updates,
                    "episode_lengths": jnp.full((n,), 8),
                    "similarity_scores": jax.random.uniform(k, (n,)),
                    "success_mask": jax.random.uniform(k, (n,)) > 0.9,
                    "policy_loss": 0.1,
                    "value_loss": 0.2,
                    "gradient_norm": 0.5,
                    "entropy": 3.0,
                    "explained_variance": 0.5,
                    "learning_rate": 3e-4,
                    "initial_states": grids,
                    "final_states": grids,
                    "target_states": grids,
                    "episode_actions": actions,  # replayed step by step in the report
                }
            )
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = build_report([log.run_dir], tmp / "report.html")
    report_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_report([log.run_dir], tmp / "report_png.html", png=True)
    png_s = time.perf_counter() - t0
    lines = len((log.run_dir / "batch_metrics.jsonl").read_text().splitlines())
    pictures = len(list((log.run_dir / "svg" / "samples").glob("*.svg")))
    print(f"{lines} metric lines, {pictures} sampled-episode SVGs (written in {write_s:.1f} s)")
    print(
        f"report: {report_s:.2f} s ({out.stat().st_size / 1e6:.1f} MB HTML); "
        f"with --png: {png_s:.2f} s"
    )
    dest = Path(args.out)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(
        json.dumps(
            {
                "metric_lines": lines,
                "report_s": report_s,
                "report_with_png_s": png_s,
                "html_mb": out.stat().st_size / 1e6,
                "write_s": write_s,
            },
            indent=2,
        )
    )
    print(f"saved {dest}")


if __name__ == "__main__":
    main()
