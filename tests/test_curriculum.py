"""Prioritized task sampling: the per-task statistics, the weights, the draws, determinism."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxarc
from jaxarc.envs.environment import reset
from jaxarc.train.curriculum import EMA, FLOOR, TaskStats
from jaxarc.train.ppo import PPO


def test_task_stats_follow_a_numpy_moving_average():
    rng = np.random.default_rng(0)
    t = 6
    stats = TaskStats.empty(t)
    want_rate, want_seen = np.zeros(t), np.zeros(t, bool)
    update = jax.jit(TaskStats.update)
    for _ in range(5):
        ids = rng.integers(0, t - 1, size=40)  # the last task is never played
        done = rng.uniform(size=40) > 0.4
        success = rng.uniform(size=40) > 0.5
        stats = update(stats, jnp.asarray(ids), jnp.asarray(done), jnp.asarray(success))
        for task in range(t):
            rows = (ids == task) & done
            if rows.any():
                rate = success[rows].mean()
                want_rate[task] = (
                    (1 - EMA) * want_rate[task] + EMA * rate if want_seen[task] else rate
                )
                want_seen[task] = True
        np.testing.assert_allclose(stats.success, want_rate, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(stats.seen, want_seen)
    weights = np.exp(np.asarray(stats.logits()))
    expected = np.where(want_seen, FLOOR + (1 - FLOOR) * 4 * want_rate * (1 - want_rate), 1.0)
    np.testing.assert_allclose(weights, expected, rtol=1e-5)
    assert weights[-1] == pytest.approx(1.0)  # never seen: drawn as much as the most promising


def test_weights_prefer_tasks_solved_about_half_the_time():
    stats = TaskStats(jnp.asarray([0.0, 0.5, 1.0, 0.2]), jnp.asarray([True, True, True, False]))
    w = np.exp(np.asarray(stats.logits()))
    assert w[1] == pytest.approx(1.0) and w[3] == pytest.approx(1.0)
    assert w[0] == pytest.approx(FLOOR) and w[2] == pytest.approx(FLOOR)


def test_reset_draws_tasks_by_the_logits_under_jit_and_vmap(small_env):
    _, params = small_env
    t = params.buffer.num_tasks
    logits = jnp.log(jnp.asarray([8.0] + [1.0] * (t - 1)))
    weighted = dataclasses.replace(params, task_logits=logits)
    draw = jax.jit(jax.vmap(lambda k, p: reset(k, p)[0].task_index, in_axes=(0, None)))
    keys = jax.random.split(jax.random.PRNGKey(1), 6000)
    counts = np.bincount(np.asarray(draw(keys, weighted)), minlength=t)
    expected = np.asarray([8.0] + [1.0] * (t - 1)) / (8.0 + t - 1) * 6000
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert chi2 < 30.0, (counts, expected)  # t-1 = 7 degrees of freedom: p < 1e-4 above 30
    uniform = np.bincount(np.asarray(draw(keys, params)), minlength=t)
    assert uniform.min() > 6000 / t * 0.8  # without logits: uniform, as before


@pytest.fixture(scope="module")
def ppo_config(small_config):
    return dataclasses.replace(
        small_config,
        environment=dataclasses.replace(small_config.environment, max_episode_steps=3),
        train=dataclasses.replace(
            small_config.train,
            num_envs=16,
            num_steps=6,
            num_minibatches=2,
            update_epochs=1,
            hidden_dim=8,
        ),
    )


def played_tasks(config, sampling, seed=0, updates=3):
    c = dataclasses.replace(config.train, task_sampling=sampling, seed=seed)
    _, params = jaxarc.make(None, config)
    ppo = PPO(c, params)
    runner = ppo.init(ppo.seed_keys())
    update = jax.jit(ppo.update)
    tasks = []
    for _ in range(updates):
        runner, batch = update(runner)
        tasks.append(np.asarray(batch["task_ids"]))
    return np.stack(tasks), runner, ppo


def test_prioritized_sampling_is_deterministic_and_follows_the_statistics(ppo_config):
    a, runner, ppo = played_tasks(ppo_config, "prioritized")
    b, _, _ = played_tasks(ppo_config, "prioritized")
    np.testing.assert_array_equal(a, b)  # same seed, same tasks
    assert runner.tasks.seen.any()  # statistics were gathered during the updates
    # the params of the next rollout carry the runner's logits; uniform carries none
    np.testing.assert_allclose(ppo.env_params(runner).task_logits, runner.tasks.logits())
    uniform_ppo = PPO(dataclasses.replace(ppo.config, task_sampling="uniform"), ppo.params)
    assert uniform_ppo.env_params(runner).task_logits is None
    # forced statistics: task 2 half-solved, the rest never solved -> resets pick task 2 most
    t = ppo.params.buffer.num_tasks
    forced = TaskStats(jnp.zeros(t).at[2].set(0.5), jnp.ones(t, bool))
    params = ppo.env_params(dataclasses.replace(runner, tasks=forced))
    draws = jax.vmap(lambda k: reset(k, params)[0].task_index)(
        jax.random.split(jax.random.PRNGKey(3), 2000)
    )
    share = float(np.mean(np.asarray(draws) == 2))
    assert share == pytest.approx(1.0 / (1.0 + FLOOR * (t - 1)), abs=0.05)
