"""Training throughput: env steps/s of jaxarc's PPO against rejax's PPO (a peer trainer,
through :mod:`jaxarc.compat.gymnax`) on the same tasks, number of environments, rollout length,
epochs, minibatches and hidden width, measured in the same run.

Rows per number of environments N:

- ``jaxarc train``: :func:`jaxarc.train.train` with ``train.loop=jit`` and the default batched
  logging (statistics every 10 updates, sampled episodes every 50, files and TensorBoard),
  console off: the steady rate after the first chunk (compilation left out).
- ``jaxarc PPO (no logging)``: the same jitted updates in one ``lax.scan``, nothing logged.
- ``rejax PPO``: ``rejax.PPO`` on :class:`~jaxarc.compat.gymnax.GymnaxARC` (flat one-hot
  observations, a Discrete allowed-operation × cell action), MLP of two hidden layers of the
  same width, evaluation only at the end; its compiled ``train`` timed after a first call.

The policies differ (ours: a small conv net with a pointer-style operation × cell head and an
attended second corner; rejax's: an MLP over a Discrete action): the comparison is what a
researcher gets from each trainer on this environment. ``ratio`` = ours / rejax.

    python benchmarks/train_throughput.py [--envs 64 256] [--updates 60] \
[--out benchmarks/results/train_throughput.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import jax

import jaxarc
from jaxarc.train import train
from jaxarc.train.ppo import PPO


def config_for(num_envs: int, updates: int, out_dir: str) -> jaxarc.JaxArcConfig:
    return jaxarc.load_config(
        [
            # the dataclass PPO settings (2 epochs) and all 36 operations: the comparison
            # measured since 2026-11 (the learning presets of `jaxarc train` differ)
            "train=plain",
            "action=default",
            "reward=default",
            f"train.num_envs={num_envs}",
            f"train.num_updates={updates}",
            "train.loop=jit",
            f"train.checkpoint_every={max(updates // 3, 1)}",
            "train.baselines=false",
            "visualization.console=false",
            f"storage.base_output_dir={out_dir}",
        ]
    )


def median_seconds(run, args: list) -> float:
    """The median time of ``run(args[i])`` for i >= 1; ``run(args[0])`` compiles and warms up."""
    jax.block_until_ready(run(args[0]))
    times = []
    for a in args[1:]:
        t0 = time.perf_counter()
        jax.block_until_ready(run(a))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ours_with_logging(config: jaxarc.JaxArcConfig) -> float:
    result = train(config)
    assert result.steady_steps_per_second is not None
    return result.steady_steps_per_second


def ours_without_logging(config: jaxarc.JaxArcConfig, params, updates: int) -> float:
    ppo = PPO(config.train, params)
    runner = ppo.init(jax.random.PRNGKey(0))
    run = jax.jit(
        lambda r: jax.lax.scan(lambda r, _: (ppo.update(r)[0], None), r, None, updates)[0]
    )
    seconds = median_seconds(run, [runner] * 3)  # the same start each time: same work
    return updates * config.train.num_envs * config.train.num_steps / seconds


def rejax_ppo(config: jaxarc.JaxArcConfig, params, updates: int) -> float:
    from rejax import PPO as RejaxPPO

    from jaxarc.compat.gymnax import GymnaxARC

    c = config.train
    env = GymnaxARC(params)
    total = updates * c.num_envs * c.num_steps
    algo = RejaxPPO.create(
        env=env,
        env_params=env.default_params,
        num_envs=c.num_envs,
        num_steps=c.num_steps,
        num_epochs=c.update_epochs,
        num_minibatches=c.num_minibatches,
        learning_rate=c.learning_rate,
        gamma=c.gamma,
        gae_lambda=c.gae_lambda,
        clip_eps=c.clip_eps,
        ent_coef=c.ent_coef,
        vf_coef=c.vf_coef,
        max_grad_norm=c.max_grad_norm,
        total_timesteps=total,
        eval_freq=total,
        skip_initial_evaluation=True,
        agent_kwargs={"hidden_layer_sizes": (c.hidden_dim, c.hidden_dim)},
    )
    run = jax.jit(algo.train)
    # rejax evaluates 128 episodes once at the end; that time is left in (a few % here)
    return total / median_seconds(run, [jax.random.PRNGKey(s) for s in range(3)])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--envs", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--updates", type=int, default=60)
    ap.add_argument("--out", default="benchmarks/results/train_throughput.json")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.envs:
            config = config_for(n, args.updates, tmp)
            _, params = jaxarc.make(None, config)
            row = {
                "num_envs": n,
                "num_steps": config.train.num_steps,
                "hidden": config.train.hidden_dim,
                "updates": args.updates,
                "jaxarc_train": ours_with_logging(config),
                "jaxarc_ppo_no_logging": ours_without_logging(config, params, args.updates),
                "rejax_ppo": rejax_ppo(config, params, args.updates),
            }
            row["ratio"] = row["jaxarc_train"] / row["rejax_ppo"]
            rows.append(row)
            print(
                f"N={n:>5}  jaxarc train {row['jaxarc_train']:>9,.0f} steps/s   "
                f"(no logging {row['jaxarc_ppo_no_logging']:>9,.0f})   "
                f"rejax PPO {row['rejax_ppo']:>9,.0f}   ratio {row['ratio']:.2f}",
                flush=True,
            )
    meta = {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": len(jax.devices()),
        "machine": platform.processor() or platform.machine(),
        "tasks": "the default jaxarc train tasks (ARC-AGI-1 training, <=6x6, padded to 6x6)",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
