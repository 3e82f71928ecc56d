"""Time to load all 400 ARC-AGI-1 training tasks into a padded 30x30 task buffer.

python benchmarks/data_loading.py [--out benchmarks/results/data_loading.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import jax

from jaxarc.data import load_task_buffer
from jaxarc.envs.config import DatasetConfig


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", default="benchmarks/results/data_loading.json")
    args = ap.parse_args()
    rows = {}
    for name, cfg in {
        "AGI1 train, 400 tasks, 30x30": DatasetConfig(source="AGI1", split="train"),
        "AGI2 train, 1000 tasks, 30x30": DatasetConfig(source="AGI2", split="train"),
    }.items():
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            buf = load_task_buffer(cfg)
            jax.block_until_ready(buf)
            times.append(time.perf_counter() - t0)
        rows[name] = {
            "tasks": buf.num_tasks,
            "seconds_first": times[0],
            "seconds_median": statistics.median(times),
        }
        print(
            f"{name:<32} {buf.num_tasks:>5} tasks  first {times[0]:.2f} s  "
            f"median {statistics.median(times):.2f} s"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"upstream_jaxarc_agi1_seconds": 90.0, "results": rows}, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
