"""Wall-clock overhead of the default batched logging on a real PPO run, and training speed.

The same training (same seed, same compiled update) is timed with logging disabled and with
the default batched logging (File + Rich + SVG + TensorBoard handlers; Rich writes to a
file), for the host loop and for the in-jit loop, alternating the two so that both see the
same machine conditions. Compilation is excluded (warm-up first). Also reports env steps/s
of the host loop with default logging at N = 64, 256, 1024 environments.

    python benchmarks/logging_overhead.py [--updates 60] \
[--out benchmarks/results/logging_overhead.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

import jax
from rich.console import Console

import jaxarc
from jaxarc.logging import ExperimentLogger
from jaxarc.logging.handlers import RichHandler
from jaxarc.train.loop import jit_chunk
from jaxarc.train.ppo import PPO


def make_logger(cfg, enabled: bool, tmp: Path) -> ExperimentLogger:
    if not enabled:
        off = dataclasses.replace(
            cfg.logging, batched_logging_enabled=False, sampling_enabled=False
        )
        return ExperimentLogger(
            dataclasses.replace(cfg, logging=off), handlers={}, run_dir=tempfile.mkdtemp(dir=tmp)
        )
    log = ExperimentLogger(cfg)
    if "rich" in log.handlers:
        # the file stays open for the logger's lifetime (the Rich handler writes to it)
        console_file = open(log.run_dir / "console.txt", "w")  # noqa: SIM115
        log.handlers["rich"] = RichHandler(cfg.visualization, Console(file=console_file, width=120))
    return log


def host_runner(ppo: PPO, log: ExperimentLogger):
    update = jax.jit(ppo.update)

    def run(runner, start: int, n: int):
        for u in range(start, start + n):
            runner, batch = update(runner)
            batch["update_step"] = u
            log.log_batch_step(batch)
        return jax.block_until_ready(runner)

    return run


def jit_runner(ppo: PPO, log: ExperimentLogger):
    chunk = jit_chunk(ppo, log)

    def run(runner, start: int, n: int):
        out = jax.block_until_ready(chunk(runner, n))
        jax.effects_barrier()
        return out

    return run


def overhead(cfg, loop: str, updates: int, rounds: int, tmp: Path) -> dict:
    _, params = jaxarc.make(None, cfg)
    times = {"disabled": [], "batched": []}
    # as `jaxarc train` runs them: with logging, episodes also record their actions (replays)
    ppos = {
        "disabled": PPO(cfg.train, params),
        "batched": PPO(cfg.train, params, record_actions=params.max_episode_steps),
    }
    runners = {name: ppo.init(jax.random.PRNGKey(0)) for name, ppo in ppos.items()}
    logs = {name: make_logger(cfg, name == "batched", tmp) for name in times}
    runs = {
        name: (host_runner if loop == "host" else jit_runner)(ppos[name], log)
        for name, log in logs.items()
    }
    for name in times:  # compile and warm up both
        runs[name](runners[name], 1, updates if loop == "jit" else 2)
    for r in range(rounds):
        for name in ("disabled", "batched") if r % 2 == 0 else ("batched", "disabled"):
            t0 = time.perf_counter()
            runs[name](runners[name], 0, updates)
            times[name].append(time.perf_counter() - t0)
    for log in logs.values():
        log.close()
    off, on = statistics.median(times["disabled"]), statistics.median(times["batched"])
    steps = updates * cfg.train.num_envs * cfg.train.num_steps
    return {
        "loop": loop,
        "updates": updates,
        "disabled_s": off,
        "batched_s": on,
        "overhead_pct": 100 * (on - off) / off,
        "steps_per_s_disabled": steps / off,
        "steps_per_s_batched": steps / on,
        "all_disabled_s": times["disabled"],
        "all_batched_s": times["batched"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--updates", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--out", default="benchmarks/results/logging_overhead.json")
    args = ap.parse_args()
    logging.getLogger("jaxarc").setLevel(logging.ERROR)
    tmp = Path(tempfile.mkdtemp())
    cfg = jaxarc.load_config([f"storage.base_output_dir={tmp}"])
    rows = []
    print(
        f"default config: N={cfg.train.num_envs} envs x {cfg.train.num_steps} steps per update, "
        "log every "
        f"{cfg.logging.log_frequency}, sample every {cfg.logging.sample_frequency}"
    )
    for loop in ("host", "jit"):
        row = overhead(cfg, loop, args.updates, args.rounds, tmp)
        rows.append(row)
        print(
            f"{loop:>4} loop: disabled {row['disabled_s']:.2f} s, "
            f"batched logging {row['batched_s']:.2f} s "
            f"-> overhead {row['overhead_pct']:+.2f}%  "
            f"({row['steps_per_s_batched']:,.0f} env steps/s)"
        )
    speed = []
    for n in args.sizes:
        c = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, num_envs=n))
        updates = max(6, args.updates * 64 // n)
        row = overhead(c, "host", updates, 2, tmp)
        speed.append(
            {
                "num_envs": n,
                "updates": updates,
                "steps_per_s": row["steps_per_s_batched"],
                "overhead_pct": row["overhead_pct"],
            }
        )
        print(
            f"N={n:>5}: {row['steps_per_s_batched']:>10,.0f} env steps/s with batched logging "
            f"(overhead {row['overhead_pct']:+.2f}%)"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"backend": jax.default_backend(), "overhead": rows, "training_speed": speed}, indent=2
        )
    )
    print(f"saved {out}")


if __name__ == "__main__":
    main()
