"""reset/step: API, rewards, termination, bad actions, and jit/vmap/scan/sharding equivalence."""

import dataclasses
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxarc
from jaxarc import Action, BboxActionWrapper, FlatActionWrapper, PointActionWrapper, StepType
from jaxarc.config import RewardConfig
from jaxarc.envs.environment import EnvParams
from jaxarc.envs.wrappers import AutoResetWrapper

STEP = jax.jit(jaxarc.step)


def random_bbox_actions(key, n, size):
    ko, kr = jax.random.split(key)
    ops = jax.random.randint(ko, (n, 1), 0, 34)  # never submit, to keep episodes running
    corners = jax.random.randint(kr, (n, 4), 0, size)
    return jnp.concatenate([ops, corners], axis=1)


def test_reset_and_step_shapes(small_env):
    env, params = small_env
    state, ts = env.reset(jax.random.PRNGKey(0), params)
    assert state.working_grid.shape == (10, 10) and state.working_grid.dtype == jnp.int8
    assert int(ts.step_type) == StepType.FIRST and bool(ts.first())
    assert set(ts.extras.keys()) == {"similarity", "operation", "success", "invalid_action"}
    assert 0.0 <= float(state.similarity) <= 1.0
    action = Action(3, jnp.ones((10, 10), bool))
    state2, ts2 = STEP(state, action, params)
    assert int(ts2.step_type) == StepType.MID and int(state2.step_count) == 1
    assert int(ts2.extras["operation"]) == 3
    grid = np.asarray(state2.working_grid)[np.asarray(state2.working_grid_mask)]
    assert (grid == 3).all()


def test_reward_is_similarity_delta_plus_penalty(small_env):
    env, params = small_env
    params = dataclasses.replace(params, reward=RewardConfig())  # the dataclass default: delta
    state, _ = env.reset(jax.random.PRNGKey(1), params)
    nxt, ts = STEP(state, Action(5, jnp.ones((10, 10), bool)), params)
    expected = (
        float(nxt.similarity) - float(state.similarity)
    ) * params.reward.similarity_weight + params.reward.step_penalty
    assert float(ts.reward) == pytest.approx(expected, abs=1e-6)
    assert float(ts.extras["similarity"]) == pytest.approx(float(nxt.similarity))


def test_best_similarity_reward_pays_progress_once_and_charges_a_share_of_falls():
    """``similarity_reward="best"``: a step earns the rise of the episode's best similarity;
    a fall costs ``regression_weight`` of it; repairing one's own damage earns nothing, so
    damage-and-repair cannot be farmed."""
    from tests.helpers import cells, make_state

    reward = RewardConfig(
        similarity_reward="best", similarity_weight=2.0, regression_weight=0.5, step_penalty=0.0
    )
    params = dataclasses.replace(
        jaxarc.make("AGI1-007bbfb7")[1], reward=reward, max_episode_steps=10
    )
    target = [[1, 1], [1, 1]]
    state = make_state([[0, 0], [0, 0]], target, size=5)  # similarity 0 of 4 cells
    seq = [
        (1, [(0, 0)], 2.0 * 0.25),  # progress: best 0 -> 0.25
        (2, [(0, 0)], 0.5 * 2.0 * -0.25),  # damage: half of the fall is charged
        (1, [(0, 0)], 0.0),  # repair back to the best: nothing
        (1, [(0, 1), (1, 0), (1, 1)], 2.0 * 0.75),  # progress again: 0.25 -> 1.0
    ]
    total = 0.0
    for colour, where, want in seq:
        state, ts = STEP(state, Action(colour, cells(where)), params)
        assert float(ts.reward) == pytest.approx(want, abs=1e-6), (colour, where)
        total += float(ts.reward)
    assert float(state.best_similarity) == 1.0
    assert total <= 2.0 * 1.0  # never more than weight × (1 - initial similarity)


def test_known_solution_solves_007bbfb7(task_007):
    env, params = task_007
    eval_params = EnvParams(
        params.buffer,
        params.allowed_operations,
        params.reward,
        params.max_episode_steps,
        train_mode=False,
    )
    state, _ = env.reset(jax.random.PRNGKey(0), eval_params, task_index=0)
    inp = np.asarray(state.input_grid)[:3, :3]
    # the rule of 007bbfb7: block (i, j) of the 9x9 output is the input where input[i, j] != 0
    solution = np.zeros((9, 9), np.int8)
    for i in range(3):
        for j in range(3):
            if inp[i, j]:
                solution[3 * i : 3 * i + 3, 3 * j : 3 * j + 3] = inp
    resize = np.zeros((30, 30), bool)
    resize[:9, :9] = True  # the selection box's size: 9×9 (ARCLE's ResizeGrid)
    state, ts = STEP(state, Action(33, resize), eval_params)
    for colour in np.unique(solution):
        sel = np.zeros((30, 30), bool)
        sel[:9, :9] = solution == colour
        state, ts = STEP(state, Action(int(colour), sel), eval_params)
    assert float(state.similarity) == 1.0
    state, ts = STEP(state, Action(34, jnp.zeros((30, 30), bool)), eval_params)
    assert int(ts.step_type) == StepType.TERMINATED and bool(ts.extras["success"])
    assert float(ts.discount) == 0.0
    assert float(ts.reward) == pytest.approx(
        params.reward.success_bonus + params.reward.step_penalty
    )
    assert not np.asarray(ts.observation.target_grid_mask).any()  # eval mode hides the target


def test_unsolved_submit_and_truncation(small_env):
    env, params = small_env
    state, _ = env.reset(jax.random.PRNGKey(2), params)
    state = jax.tree.map(lambda x: x, state)
    _, ts = STEP(state, Action(34, jnp.zeros((10, 10), bool)), params)
    solved = float(state.similarity) >= 1.0
    if not solved:
        assert float(ts.reward) == pytest.approx(
            params.reward.unsolved_submission_penalty + params.reward.step_penalty
        )
    short = EnvParams(params.buffer, params.allowed_operations, params.reward, 2, True)
    s, t = STEP(state, Action(0, jnp.zeros((10, 10), bool)), short)
    assert int(t.step_type) == StepType.MID
    s, t = STEP(s, Action(0, jnp.zeros((10, 10), bool)), short)
    assert (
        int(t.step_type) == StepType.TRUNCATED and bool(t.truncated()) and float(t.discount) == 1.0
    )


def test_bad_actions_fail_at_trace_time(small_env):
    env, params = small_env
    state, _ = env.reset(jax.random.PRNGKey(0), params)
    with pytest.raises(ValueError, match="operation id 36 is out of range: valid ids are 0..35"):
        env.step(state, Action(36, jnp.zeros((10, 10), bool)), params)
    with pytest.raises(
        ValueError, match=r"selection has shape \(5, 5\), but the grid is \(10, 10\)"
    ):
        jax.jit(env.step)(state, Action(0, jnp.zeros((5, 5), bool)), params)
    with pytest.raises(TypeError, match="expects a jaxarc.Action"):
        env.step(state, (0, 1), params)


def test_disallowed_and_traced_out_of_range_ops_are_penalised_noops(small_config):
    import dataclasses

    cfg = dataclasses.replace(
        small_config, action=dataclasses.replace(small_config.action, allowed_operations=(0, 34))
    )
    env, params = jaxarc.make(None, cfg)
    state, _ = env.reset(jax.random.PRNGKey(0), params)
    for op in (5, 99, -3):
        nxt, ts = STEP(state, Action(jnp.int32(op), jnp.ones((10, 10), bool)), params)
        assert np.array_equal(np.asarray(nxt.working_grid), np.asarray(state.working_grid))
        assert bool(ts.extras["invalid_action"]) and np.isfinite(float(ts.reward))
        assert float(ts.reward) == pytest.approx(
            params.reward.invalid_action_penalty + params.reward.step_penalty
        )
        assert int(ts.step_type) == StepType.MID


def test_wrappers_and_spaces(small_env):
    env, params = small_env
    state, _ = env.reset(jax.random.PRNGKey(0), params)
    a = env.action_space(params).sample(jax.random.PRNGKey(3))
    assert a.selection.shape == (10, 10) and 0 <= int(a.operation) < 36
    obs_space = env.observation_space(params)
    obs = obs_space.sample(jax.random.PRNGKey(4))
    assert (
        obs.working_grid.shape == (10, 10)
        and obs_space.contains(obs)
        and bool(obs.working_grid_mask[0, 0])
    )
    assert not np.asarray(obs.working_grid)[~np.asarray(obs.working_grid_mask)].any()
    bbox = BboxActionWrapper(env)
    assert bbox.action_space(params).nvec == (36, 10, 10, 10, 10)
    s1, _ = bbox.step(state, jnp.array([2, 3, 4, 1, 1]), params)
    sel = np.asarray(s1.selection)
    assert sel[1:4, 1:5].all() and sel.sum() == 12
    s2, _ = PointActionWrapper(env).step(state, jnp.array([2, 3, 4]), params)
    assert np.asarray(s2.selection).sum() == 1 and bool(s2.selection[3, 4])
    flat = FlatActionWrapper(env)
    s3, _ = flat.step(state, jnp.int32(2 * 100 + 3 * 10 + 4), params)
    assert np.array_equal(np.asarray(s3.selection), np.asarray(s2.selection))
    assert flat.action_space(params).n == 3600
    assert flat.action_space(params).contains(3599) and not flat.action_space(params).contains(3600)
    space = bbox.action_space(params)
    assert space.contains(np.asarray(space.sample(jax.random.PRNGKey(5)))) and not space.contains(
        np.array([36, 0, 0, 0, 0])
    )
    assert bbox.unwrapped is env
    with pytest.raises(ValueError, match="bbox action is"):
        bbox.step(state, jnp.array([1, 2]), params)


def test_auto_reset_starts_a_new_episode(small_env):
    env, params = small_env
    auto = AutoResetWrapper(env)
    state, _ = auto.reset(jax.random.PRNGKey(0), params)
    nxt, ts = jax.jit(auto.step)(state, Action(34, jnp.zeros((10, 10), bool)), params)
    assert int(ts.step_type) == StepType.TERMINATED
    assert int(nxt.step_count) == 0 and not bool(nxt.done)


def _rollout_eager(env, params, keys, actions):
    finals = []
    for k, acts in zip(keys, actions, strict=True):
        s, _ = env.reset(k, params)
        rewards = []
        for a in acts:
            s, ts = env.step(s, a, params)
            rewards.append(float(ts.reward))
        finals.append((np.asarray(s.working_grid), rewards))
    return finals


def test_jit_vmap_scan_match_eager(small_env):
    base, params = small_env
    env = AutoResetWrapper(BboxActionWrapper(base))
    n, t = 3, 6
    keys = jax.random.split(jax.random.PRNGKey(7), n)
    actions = random_bbox_actions(jax.random.PRNGKey(8), n * t, 10).reshape(n, t, 5)
    eager = _rollout_eager(env, params, keys, actions)

    def episode(key, acts):
        s, _ = env.reset(key, params)

        def body(s, a):
            s, ts = env.step(s, a, params)
            return s, ts.reward

        s, rewards = jax.lax.scan(body, s, acts)
        return s.working_grid, rewards

    grids, rewards = jax.jit(jax.vmap(episode))(keys, actions)
    for i, (g, r) in enumerate(eager):
        assert np.array_equal(np.asarray(grids[i]), g)
        np.testing.assert_allclose(np.asarray(rewards[i]), r, rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_sharded_batch_matches_single_device():
    code = textwrap.dedent(
        """
        import jax, jax.numpy as jnp, numpy as np
        from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
        import jaxarc
        from jaxarc.envs.wrappers import AutoResetWrapper, BboxActionWrapper
        assert len(jax.devices()) == 4, jax.devices()
        cfg = jaxarc.load_config(
            ["dataset=agi1", "dataset.max_grid_size=10", "dataset.max_task_size=10",
             "dataset.max_tasks=8"]
        )
        base, params = jaxarc.make(None, cfg)
        env = AutoResetWrapper(BboxActionWrapper(base))
        n, t = 8, 5
        keys = jax.random.split(jax.random.PRNGKey(0), n)
        acts = jnp.concatenate([jax.random.randint(jax.random.PRNGKey(1), (n, t, 1), 0, 35),
                                jax.random.randint(jax.random.PRNGKey(2), (n, t, 4), 0, 10)], -1)
        def episode(key, a):
            s, _ = env.reset(key, params)
            s, r = jax.lax.scan(
                lambda s, x: (lambda o: (o[0], o[1].reward))(env.step(s, x, params)), s, a
            )
            return s.working_grid, r
        f = jax.jit(jax.vmap(episode))
        ref = f(keys, acts)
        mesh = Mesh(np.array(jax.devices()), ("envs",))
        shard = NamedSharding(mesh, P("envs"))
        out = f(jax.device_put(keys, shard), jax.device_put(acts, shard))
        assert len(out[0].sharding.device_set) == 4
        np.testing.assert_array_equal(np.asarray(out[0]), np.asarray(ref[0]))
        np.testing.assert_allclose(np.asarray(out[1]), np.asarray(ref[1]))
        print("SHARDED-OK")
        """
    )
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert "SHARDED-OK" in out.stdout, out.stderr[-3000:]


def test_auto_reset_exposes_the_final_observation(small_env):
    env, params = small_env
    auto = AutoResetWrapper(env)
    state, _ = auto.reset(jax.random.PRNGKey(0), params)
    fill = Action(jaxarc.Operation.FILL_3, jnp.ones((10, 10), bool))
    state, ts = auto.step(state, fill, params)
    assert int(ts.step_type) == StepType.MID  # going on: final == current observation
    assert np.array_equal(ts.final_observation.working_grid, ts.observation.working_grid)
    filled = np.asarray(state.working_grid)
    nxt, ts = auto.step(state, Action(jaxarc.Operation.SUBMIT, jnp.zeros((10, 10), bool)), params)
    assert int(ts.step_type) == StepType.TERMINATED
    assert np.array_equal(ts.final_observation.working_grid, filled)  # the grid it ended with
    assert int(ts.final_observation.step_count) == 2
    assert np.array_equal(ts.observation.working_grid, nxt.working_grid)  # the fresh episode
    assert int(ts.observation.step_count) == 0


def test_episode_stats_wrapper_records_each_finished_episode(small_env):
    """Against an eager tally of the same timesteps: returns, lengths, grids, counters."""
    base, params = small_env
    short = EnvParams(params.buffer, params.allowed_operations, params.reward, 3, True)
    env = jaxarc.EpisodeStatsWrapper(AutoResetWrapper(BboxActionWrapper(base)))
    step = jax.jit(env.step)
    state, ts = env.reset(jax.random.PRNGKey(3), short)
    assert int(state.stats.episodes_finished) == 0
    ret, start_grid, start_target, finished = 0.0, ts.observation.working_grid, None, 0
    start_target = state.env_state.target_grid
    for a in random_bbox_actions(jax.random.PRNGKey(4), 10, 10):
        task = int(state.env_state.task_index)
        state, ts = step(state, a, short)
        ret += float(ts.reward)
        s = state.stats
        if not bool(ts.last()):
            assert float(s.running_return) == pytest.approx(ret, abs=1e-5)
            continue
        finished += 1
        assert int(s.episodes_finished) == finished
        assert float(s.last_return) == pytest.approx(ret, abs=1e-5)
        assert int(s.last_length) == 3 and int(s.last_task) == task
        assert float(s.last_similarity) == pytest.approx(float(ts.extras["similarity"]))
        assert np.array_equal(s.last_initial_grid, start_grid)
        assert np.array_equal(s.last_final_grid, ts.final_observation.working_grid)
        assert np.array_equal(s.last_target_grid, start_target)
        assert float(s.running_return) == 0.0
        ret, start_grid = 0.0, ts.observation.working_grid
        start_target = state.env_state.target_grid
    assert finished == 3


def test_episode_stats_wrapper_needs_auto_reset(small_env):
    base, params = small_env
    env = jaxarc.EpisodeStatsWrapper(base)
    state, _ = env.reset(jax.random.PRNGKey(0), params)
    with pytest.raises(TypeError, match="needs an AutoResetWrapper"):
        env.step(state, Action(0, jnp.zeros((10, 10), bool)), params)


def test_named_ids_and_typed_extras(small_env, small_config):
    from jaxarc.envs.operations import OPERATION_NAMES

    assert [op.name.lower() for op in jaxarc.Operation] == list(OPERATION_NAMES)
    assert jaxarc.Operation.SUBMIT == 34 and jaxarc.NUM_OPERATIONS == 36
    assert jaxarc.Operation.FILL_0 + 3 == jaxarc.Operation.FILL_3
    assert [int(s) for s in StepType] == [0, 1, 2, 3] and StepType(2).name == "TERMINATED"
    env, params = small_env
    _, ts = env.reset(jax.random.PRNGKey(0), params)
    assert isinstance(ts.extras, jaxarc.Extras)
    assert ts.extras["similarity"] is ts.extras.similarity
    with pytest.raises(KeyError, match="no extra named 'sim'"):
        ts.extras["sim"]
    obs, state = ts.observation, env.reset(jax.random.PRNGKey(0), params)[0]
    for name in ("working_grid", "working_grid_mask", "input_grid", "input_grid_mask"):
        assert np.array_equal(getattr(obs, name), getattr(state, name))  # one name for one thing
    env2, params2 = jaxarc.make(small_config)  # a config alone, positionally
    assert params2.buffer.task_ids == params.buffer.task_ids
    with pytest.raises(TypeError, match="two configs"):
        jaxarc.make(small_config, small_config)
