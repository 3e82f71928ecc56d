"""Run one episode with a random agent and log it through every handler.

    python examples/episode_logging.py [--steps 10] [--task AGI1-007bbfb7]

Writes a run directory under ./outputs with episode JSON, SVG pictures (task overview,
one per step, episode summary), TensorBoard events and an offline wandb run, and prints
the Rich console view.
"""

from __future__ import annotations

import argparse

import jax

import jaxarc
from jaxarc.envs.payloads import episode_summary_payload, step_payload, task_start_payload
from jaxarc.logging import ExperimentLogger


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--task", default="AGI1-007bbfb7")
    ap.add_argument("--out", default="outputs")
    args = ap.parse_args()

    config = jaxarc.load_config(
        [
            "logging=basic",
            "dataset=agi1",
            "environment=default",
            "wandb.enabled=true",
            f"storage.base_output_dir={args.out}",
        ]
    )
    env, params = jaxarc.make(args.task, config)
    step = jax.jit(env.step)
    key = jax.random.PRNGKey(0)
    state, _ = env.reset(key, params)
    first, total = state, 0.0
    with ExperimentLogger(config) as logger:
        logger.log_task_start(task_start_payload(state, params=params, episode_num=0))
        for t in range(args.steps):
            action = env.action_space(params).sample(jax.random.fold_in(key, t))
            next_state, timestep = step(state, action, params)
            logger.log_step(step_payload(state, action, next_state, timestep, episode_num=0))
            total += float(timestep.reward)
            state = next_state
            if bool(timestep.last()):
                break
        logger.log_episode_summary(
            episode_summary_payload(first, state, total, episode_num=0, params=params)
        )
    print(f"run directory: {logger.run_dir}")


if __name__ == "__main__":
    main()
