"""The gymnax and Jumanji adapters, proven by the peers' own code: rejax's PPO trains through
the gymnax adapter, Jumanji's environment checks pass, and a Jumanji rollout under
``jit(vmap)`` is our environment step for step."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxarc
from jaxarc.envs.wrappers import BboxActionWrapper
from jaxarc.types import StepType

for module, extra in (("gymnax", "gymnax"), ("jumanji", "jumanji"), ("rejax", "gymnax")):
    if os.environ.get("CI"):
        __import__(module)  # required under CI: the dev extra installs them
    else:
        pytest.importorskip(module, reason=f"pip install 'jaxarc[{extra}]' (the dev extra has it)")

from jumanji.testing.env_not_smoke import (  # noqa: E402
    check_env_does_not_smoke,
    check_env_specs_does_not_smoke,
    make_random_select_action_fn,
)

from jaxarc.compat.common import flat_size  # noqa: E402
from jaxarc.compat.gymnax import GymnaxARC  # noqa: E402
from jaxarc.compat.jumanji import JumanjiARC  # noqa: E402


@pytest.fixture(scope="module")
def fill_params(easy_dir):
    """The 3×3 fill tasks, with only fill-blue, fill-red and submit allowed, 4-step episodes."""
    config = jaxarc.load_config(
        [
            "dataset=folder",
            f"dataset.data_dir={easy_dir}",
            "dataset.max_grid_size=3",
            "action.allowed_operations=[1,2,34]",
            "reward=default",  # a plain similarity delta: returns of about 0 to 0.4
            "environment.max_episode_steps=4",
        ]
    )
    return jaxarc.make(None, config)[1]


def test_gymnax_adapter_is_a_gymnax_environment_with_its_spaces(fill_params):
    from gymnax.environments import environment, spaces

    env = GymnaxARC(fill_params)
    assert isinstance(env, environment.Environment)
    params = env.default_params
    assert params.max_steps_in_episode == 4
    space = env.action_space(params)
    assert isinstance(space, spaces.Discrete) and space.n == 3 * 9  # allowed ops × cells
    obs_space = env.observation_space(params)
    assert isinstance(obs_space, spaces.Box) and obs_space.shape == (flat_size((3, 3)),)
    obs, state = env.reset(jax.random.PRNGKey(0), params)
    assert obs.shape == obs_space.shape and obs.dtype == jnp.float32
    assert bool(obs_space.contains(obs))
    # action 9 + 4 = fill red (the second allowed op) on the centre cell (row 1, col 1)
    obs2, state2, reward, done, info = env.step(jax.random.PRNGKey(1), state, 9 + 4, params)
    grid = np.asarray(state2.working_grid)
    assert grid[1, 1] == 2 and (grid != 2).sum() == 8
    assert not bool(done) and float(info["discount"]) == 1.0 and not bool(info["truncated"])


def test_gymnax_adapter_resets_automatically_and_reports_truncation(fill_params):
    env = GymnaxARC(fill_params, observation="dict", action="bbox")
    params = env.default_params
    obs, state = env.reset(jax.random.PRNGKey(0), params)
    assert set(obs) == set(jaxarc.Observation.__dataclass_fields__)
    fill_all_blue = jnp.array([1, 0, 0, 2, 2])
    dones, truncated = [], []
    for i in range(4):
        obs, state, reward, done, info = env.step(jax.random.PRNGKey(i), state, fill_all_blue)
        dones.append(bool(done))
        truncated.append(bool(info["truncated"]))
    assert dones == [False, False, False, True] and truncated == [False, False, False, True]
    # the returned state is the next episode's first: step count 0, grid back to the input
    assert int(state.step_count) == 0 and int(obs["step_count"]) == 0
    np.testing.assert_array_equal(state.working_grid, state.input_grid)
    # submit ends an episode with discount 0
    _, _, _, done, info = env.step(jax.random.PRNGKey(9), state, jnp.array([34, 0, 0, 0, 0]))
    assert bool(done) and float(info["discount"]) == 0.0 and not bool(info["truncated"])


def test_adapters_refuse_unknown_formats(fill_params):
    with pytest.raises(ValueError, match="observation must be one of"):
        GymnaxARC(fill_params, observation="pixels")
    with pytest.raises(ValueError, match="action must be one of"):
        JumanjiARC(fill_params, action="continuous")


@pytest.mark.slow
def test_rejax_ppo_trains_through_the_gymnax_adapter(fill_params):
    """Someone else's trainer, unchanged: rejax's PPO (jitted end to end) learns to fill."""
    from rejax import PPO

    env = GymnaxARC(fill_params)
    algo = PPO.create(
        env=env,
        env_params=env.default_params,
        num_envs=16,
        num_steps=16,
        total_timesteps=16 * 16 * 100,
        eval_freq=16 * 16 * 25,
        num_epochs=4,
        num_minibatches=4,
        learning_rate=3e-3,
        agent_kwargs={"hidden_layer_sizes": (64, 64)},
    )
    train = jax.jit(algo.train)
    _, (lengths, returns) = train(jax.random.PRNGKey(0))
    mean_return = np.asarray(returns).mean(axis=1)  # one evaluation every 25 updates
    assert mean_return.shape == (5,)
    # random play scores about 0; filling 4 of 9 cells with the right colour about 0.4
    assert mean_return[0] < 0.15 and mean_return[-1] > 0.3, mean_return


def test_jumanji_adapter_passes_jumanjis_checks(fill_params):
    import jumanji

    for action in ("bbox", "point"):
        env = JumanjiARC(fill_params, action=action)
        assert isinstance(env, jumanji.Environment)
        check_env_does_not_smoke(env)
        check_env_specs_does_not_smoke(env)
    env.observation_spec.validate(env.observation_spec.generate_value())


def test_jumanji_rollout_under_jit_vmap_matches_our_env_step_for_step(small_env):
    _, params = small_env
    env = JumanjiARC(params)
    ours = BboxActionWrapper(jaxarc.Environment())
    select = make_random_select_action_fn(env.action_spec)
    num_envs, steps = 16, 24
    keys = jax.random.split(jax.random.PRNGKey(3), num_envs)
    action_keys = jax.random.split(jax.random.PRNGKey(4), (steps, num_envs))

    @jax.jit
    def rollout_jumanji(keys, action_keys):
        state, ts = jax.vmap(env.reset)(keys)

        def body(state, k):
            actions = jax.vmap(select)(k, None)
            state, ts = jax.vmap(env.step)(state, actions)
            return state, (ts, actions)

        return ts, jax.lax.scan(body, state, action_keys)[1]

    @jax.jit
    def rollout_ours(keys, actions):
        state, ts = jax.vmap(ours.reset, in_axes=(0, None))(keys, params)

        def body(state, a):
            state, ts = jax.vmap(ours.step, in_axes=(0, 0, None))(state, a, params)
            return state, ts

        return ts, jax.lax.scan(body, state, actions)[1]

    j_first, (j_steps, actions) = rollout_jumanji(keys, action_keys)
    o_first, o_steps = rollout_ours(keys, actions)
    for j, o in ((j_first, o_first), (j_steps, o_steps)):
        jax.tree.map(np.testing.assert_array_equal, j.observation, o.observation)
        np.testing.assert_array_equal(j.reward, o.reward)
        np.testing.assert_array_equal(j.discount, o.discount)
        for name in o.extras.keys():  # noqa: SIM118  (Extras is a Module with keys())
            np.testing.assert_array_equal(j.extras[name], o.extras[name])
        last = np.asarray(o.step_type) >= StepType.TERMINATED
        np.testing.assert_array_equal(np.asarray(j.last()), last)
        np.testing.assert_array_equal(
            np.asarray(j.step_type)[~last], np.asarray(o.step_type)[~last]
        )
    assert np.asarray(o_steps.last()).any()  # some episodes ended (submits) inside the rollout
