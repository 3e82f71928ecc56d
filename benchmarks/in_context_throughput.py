"""What ARC's own problem costs: the in-context setting against the target-visible one,
measured in the same run, on the default tasks (the 46 ARC-AGI-1 tasks ≤ 6×6).

- ``ppo``: env steps/s of one jitted PPO update (rollout, GAE, 8 epochs × 4 minibatches of
  `jaxarc train`'s preset; nothing logged) with ``environment=target_visible`` and with
  ``environment=in_context`` (demonstrations in the observation and read by the network,
  target hidden, augmentation on), N environments. Target (issue #23): in-context costs
  at most 3× (ratio ≥ 0.33).
- ``env``: raw environment steps/s (random bbox actions, 100 steps per environment in a
  ``lax.scan`` with auto-reset, observations made each step) under both presets: what
  gathering and augmenting the demonstrations costs when a policy reads them.

Timings alternate between the two settings (median of ``--repeats``).

    python benchmarks/in_context_throughput.py [--envs 64] [--repeats 5] \
[--out benchmarks/results/in_context_throughput.json]
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
from jaxarc.envs.environment import observe
from jaxarc.envs.wrappers import AutoResetWrapper, BboxActionWrapper
from jaxarc.train.ppo import PPO

PRESETS = ("target_visible", "in_context")


def ppo_runner(preset: str, num_envs: int):
    config = jaxarc.load_config([f"environment={preset}", f"train.num_envs={num_envs}"])
    _, params = jaxarc.make(None, config)
    ppo = PPO(config.train, params)
    update = jax.jit(ppo.update)
    state = {"runner": ppo.init(jax.random.PRNGKey(0))}

    def run() -> None:
        state["runner"], batch = update(state["runner"])
        jax.block_until_ready(batch)

    run()  # compile
    return run, config.train.num_envs * config.train.num_steps


def env_runner(preset: str, num_envs: int, steps: int = 100):
    config = jaxarc.load_config([f"environment={preset}"])
    _, params = jaxarc.make(None, config)
    env = AutoResetWrapper(BboxActionWrapper(jaxarc.Environment()))
    h, w = params.buffer.grid_shape
    allowed = jnp.flatnonzero(params.allowed_operations)

    def one(key):
        state, _ = env.reset(key, params)

        def body(state, k):
            k1, k2 = jax.random.split(k)
            op = jax.random.choice(k1, allowed)
            corner = jax.random.randint(k2, (4,), 0, jnp.array([h, w, h, w]))
            action = jnp.concatenate([op[None], jnp.minimum(corner[:2], corner[2:]),
                                      jnp.maximum(corner[:2], corner[2:])])  # fmt: skip
            state, ts = env.step(state, action, params)
            obs = observe(state, params)
            return state, jax.tree.leaves(obs)[0].sum() + ts.reward

        _, out = jax.lax.scan(body, state, jax.random.split(key, steps))
        return out.sum()

    fn = jax.jit(jax.vmap(one))
    keys = jax.random.split(jax.random.PRNGKey(1), num_envs)

    def run() -> None:
        jax.block_until_ready(fn(keys))

    run()
    return run, num_envs * steps


def alternate(runners: dict, repeats: int) -> dict[str, float]:
    """Steps/s of each runner, median over ``repeats`` alternating calls."""
    times: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(repeats):
        for name, (run, _) in runners.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    return {k: runners[k][1] / statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--envs", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default="benchmarks/results/in_context_throughput.json")
    args = ap.parse_args()
    result: dict = {"machine": platform.processor() or platform.machine(), "envs": args.envs}
    for part, make in (("ppo", ppo_runner), ("env", env_runner)):
        n = args.envs if part == "ppo" else 256
        rates = alternate({p: make(p, n) for p in PRESETS}, args.repeats)
        ratio = rates["in_context"] / rates["target_visible"]
        result[part] = {"num_envs": n, "steps_per_second": rates, "ratio": ratio}
        print(
            f"{part:>4} N={n}: target visible {rates['target_visible']:,.0f} steps/s, "
            f"in-context {rates['in_context']:,.0f} steps/s (in-context / visible = {ratio:.2f})"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
