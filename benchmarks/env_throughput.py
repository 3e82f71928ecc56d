"""Environment steps per second, measured the way upstream JaxARC measures it (on a 30×30
ARC-AGI-1 task, on the ARC-AGI-1 tasks of at most 10×10, and on upstream's headline MiniARC
task, which needs the ``arcle`` extra).

Per environment: a ``lax.scan`` of 100 steps with random valid bounding-box actions and
automatic reset; ``jax.jit(jax.vmap(...))`` over N environments; compile time reported
separately; the median of 3 timed runs with ``block_until_ready``.

    python benchmarks/env_throughput.py [--sizes 1 16 256 4096] \
[--out benchmarks/results/env_throughput.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp

import jaxarc
from jaxarc.envs.wrappers import AutoResetWrapper, BboxActionWrapper

STEPS = 100


def make_runner(env, params):
    h, w = params.buffer.grid_shape
    allowed = jnp.flatnonzero(params.allowed_operations)

    def one_env(key):
        key, k0 = jax.random.split(key)
        state, _ = env.reset(k0, params)

        def body(carry, k):
            state = carry
            ko, kr, kc = jax.random.split(k, 3)
            op = allowed[jax.random.randint(ko, (), 0, allowed.shape[0])]
            r = jax.random.randint(kr, (2,), 0, h)
            c = jax.random.randint(kc, (2,), 0, w)
            action = jnp.stack([op, r[0], c[0], r[1], c[1]])
            state, ts = env.step(state, action, params)
            return state, ts.reward

        state, rewards = jax.lax.scan(body, state, jax.random.split(key, STEPS))
        return rewards.sum()

    return jax.jit(jax.vmap(one_env))


def measure(name, dataset_id, config, sizes):
    base, params = jaxarc.make(dataset_id, config)
    env = AutoResetWrapper(BboxActionWrapper(base))
    run = make_runner(env, params)
    rows = []
    for n in sizes:
        keys = jax.random.split(jax.random.PRNGKey(0), n)
        t0 = time.perf_counter()
        compiled = run.lower(keys).compile()
        compile_s = time.perf_counter() - t0
        compiled(keys).block_until_ready()  # warm-up
        times = []
        for i in range(3):
            k = jax.random.split(jax.random.PRNGKey(i + 1), n)
            t0 = time.perf_counter()
            compiled(k).block_until_ready()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        rows.append(
            {
                "workload": name,
                "num_envs": n,
                "steps_per_s": n * STEPS / med,
                "compile_s": compile_s,
                "median_run_s": med,
            }
        )
        print(
            f"{name:<34} N={n:>5}  {n * STEPS / med:>12,.0f} steps/s   compile {compile_s:5.2f} s",
            flush=True,
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 16, 256, 4096])
    ap.add_argument("--out", default="benchmarks/results/env_throughput.json")
    args = ap.parse_args()
    rows = measure(
        "AGI1 007bbfb7 (30x30)", "AGI1-007bbfb7", jaxarc.load_config(["dataset=agi1"]), args.sizes
    )
    small = jaxarc.load_config(
        ["dataset=agi1", "dataset.max_grid_size=10", "dataset.max_task_size=10"]
    )
    rows += measure("AGI1-train tasks <=10x10 (10x10)", "AGI1-train", small, args.sizes)
    # upstream JaxARC's headline workload (its README's throughput table)
    miniarc = jaxarc.load_config(["dataset=miniarc"])
    rows += measure(
        "MiniARC 5x5", "MiniARC-Most_Common_color_l6ab0lf3xztbyxsu3p", miniarc, args.sizes
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": len(jax.devices()),
        "machine": platform.processor() or platform.machine(),
    }
    out.write_text(
        json.dumps({"meta": meta, "steps_per_episode_scan": STEPS, "results": rows}, indent=2)
    )
    print(f"saved {out}")


if __name__ == "__main__":
    main()
