"""ARC's own problem: demonstrations in the observation, the target hidden, leave-one-out
queries, task augmentation (its laws), held-out task splits and test-time augmentation."""

from __future__ import annotations

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxarc
from jaxarc.envs import augment as A
from jaxarc.envs.environment import observe, reset, step
from jaxarc.types import Action, Observation, Operation
from tests.helpers import padded, write_task

S = 5  # the padded grid size of these tests


def random_grids(n: int, seed: int = 0):
    """``n`` padded grids of random sizes and colours (top-left anchored)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        h, w = rng.integers(1, S + 1, size=2)
        out.append(padded(rng.integers(0, 10, size=(h, w)), S))
    grids, masks = zip(*out, strict=True)
    return jnp.stack(grids), jnp.stack(masks)


def all_augmentations(permute_all: bool) -> A.Augmentation:
    """Each of the 8 symmetries with 3 colour permutations: ``[24]`` augmentations."""
    keys = jax.random.split(jax.random.PRNGKey(3), 3)
    colors = jnp.stack([A.Augmentation.sample(k, permute_all).colors for k in keys])
    sym, col = zip(*itertools.product(range(8), range(3)), strict=True)
    return A.Augmentation(jnp.asarray(sym, jnp.int32), colors[jnp.asarray(col)])


@jax.jit
def round_trip(augs, grids, masks):
    def one(aug, g, m):
        return A.invert(aug, *A.apply(aug, g, m))

    per_aug = jax.vmap(lambda aug: jax.vmap(lambda g, m: one(aug, g, m))(grids, masks))
    return per_aug(augs)


@pytest.mark.parametrize("permute_all", [False, True])
def test_inverse_of_augment_is_the_identity_for_all_8_symmetries_and_colours(permute_all):
    grids, masks = random_grids(12)
    augs = all_augmentations(permute_all)
    back, back_masks = round_trip(augs, grids, masks)
    assert back.shape == (24, 12, S, S)
    np.testing.assert_array_equal(back, np.broadcast_to(grids, back.shape))
    np.testing.assert_array_equal(back_masks, np.broadcast_to(masks, back.shape))
    if not permute_all:  # black (0) stays black
        assert (np.asarray(augs.colors)[:, 0] == 0).all()
    assert sorted(np.asarray(augs.colors)[5].tolist()) == list(range(10))


def test_identity_leaves_everything_unchanged_and_symmetries_are_distinct():
    grids, masks = random_grids(6, seed=1)
    same = A.apply(A.Augmentation.identity(), grids, masks)
    np.testing.assert_array_equal(same[0], grids)
    np.testing.assert_array_equal(same[1], masks)
    g, m = padded([[1, 2, 3], [4, 5, 6]], S)  # no symmetry of its own
    seen = set()
    for k in range(8):
        out, out_mask = A.apply(A.Augmentation(jnp.int32(k), jnp.arange(10, dtype=jnp.int8)), g, m)
        h, w = int(out_mask.any(axis=1).sum()), int(out_mask.any(axis=0).sum())
        assert np.asarray(out_mask)[:h, :w].all()  # re-anchored at the top-left
        seen.add(np.asarray(out)[:h, :w].tobytes() + bytes([h, w]))
    assert len(seen) == 8


def upscale(grid: np.ndarray) -> np.ndarray:
    return np.kron(grid, np.ones((2, 2), grid.dtype))


def test_an_augmented_task_still_obeys_its_rule(tmp_path):
    """A hand-made task whose rule is known (recolour to 3, then upscale ×2) keeps a rule
    under every augmentation: output = upscale(recolour(input, colors[3]))."""
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(3):
        x = rng.integers(0, 3, size=(2, 3))
        pairs.append((x.tolist(), upscale(np.where(x > 0, 3, 0)).tolist()))
    write_task(tmp_path, "rule", pairs[:2], pairs[2:])
    cfg = jaxarc.load_config(
        [
            "dataset=folder",
            f"dataset.data_dir={tmp_path}",
            "dataset.max_grid_size=6",
            "environment=in_context",
            "environment.target_hint_share=0",
        ]
    )
    _, params = jaxarc.make(None, cfg)
    states, timesteps = jax.jit(jax.vmap(lambda k: reset(k, params)))(
        jax.random.split(jax.random.PRNGKey(0), 32)
    )
    seen = set()
    for i in range(32):
        s, obs = jax.tree.map(lambda x, i=i: x[i], (states, timesteps.observation))
        colors = np.asarray(s.augmentation.colors)
        seen.add(int(s.augmentation.symmetry))
        grids = [(s.input_grid, s.input_grid_mask, s.target_grid, s.target_grid_mask)]
        valid = np.asarray(obs.demo_valid)
        assert valid.sum() == 1  # 2 train pairs: leave-one-out leaves 1 demonstration
        d = int(np.flatnonzero(valid)[0])
        grids.append(
            (
                obs.demo_inputs[d],
                obs.demo_input_masks[d],
                obs.demo_outputs[d],
                obs.demo_output_masks[d],
            )
        )
        for gi, mi, go, mo in grids:
            x = crop(gi, mi)
            expected = upscale(np.where(x > 0, colors[3], 0).astype(np.int8))
            np.testing.assert_array_equal(crop(go, mo), expected)
        assert not np.asarray(obs.target_grid_mask).any()  # hidden in the observation
    assert len(seen) >= 6


def crop(grid, mask) -> np.ndarray:
    g, m = np.asarray(grid), np.asarray(mask)
    return g[: m.any(axis=1).sum(), : m.any(axis=0).sum()]


@pytest.fixture(scope="module")
def three_pair_task(tmp_path_factory):
    """A task with 3 train pairs and 2 test pairs, and one with 2 train pairs."""
    folder = tmp_path_factory.mktemp("loo")
    pair = lambda c: ([[c]], [[c + 1]])  # noqa: E731
    write_task(folder, "a3", [pair(1), pair(2), pair(3)], [pair(4), pair(5)])
    write_task(folder, "b2", [pair(6), pair(7)], [pair(8)])
    return folder


def in_context_params(folder, mode: str, **env):
    cfg = jaxarc.load_config(
        [
            "dataset=folder",
            f"dataset.data_dir={folder}",
            "dataset.max_grid_size=2",
            "dataset.max_train_pairs=4",
            "environment=in_context",
            "environment.augment=false",
            "environment.target_hint_share=0",
            f"environment.episode_mode={mode}",
            *[f"environment.{k}={v}" for k, v in env.items()],
        ]
    )
    return jaxarc.make(None, cfg)[1]


def test_leave_one_out_in_training_all_train_pairs_at_test_time(three_pair_task):
    for mode in ("train", "eval"):
        params = in_context_params(three_pair_task, mode)
        a3 = params.buffer.index_of("a3")
        for pair in range(3 if mode == "train" else 2):
            state, ts = reset(jax.random.PRNGKey(0), params, a3, pair)
            valid = np.asarray(ts.observation.demo_valid).tolist()
            if mode == "train":
                assert valid == [p != pair for p in range(3)] + [False]
                assert int(state.input_grid[0, 0]) == pair + 1  # the query is train pair `pair`
            else:
                assert valid == [True, True, True, False]
                assert int(state.input_grid[0, 0]) == 4 + pair  # the query is a test pair
            shown = np.asarray(ts.observation.demo_inputs)[:, 0, 0].tolist()
            assert shown[:3] == [1, 2, 3]  # gathered from the buffer, not copied in the state
        b2 = params.buffer.index_of("b2")
        _, ts = reset(jax.random.PRNGKey(0), params, b2, 0)
        assert int(np.asarray(ts.observation.demo_valid).sum()) == (1 if mode == "train" else 2)


def test_hidden_target_still_pays_the_reward(three_pair_task):
    params = in_context_params(three_pair_task, "train")
    visible = dataclasses.replace(params, observe_target=True, demonstrations=False)
    a3 = params.buffer.index_of("a3")
    state, ts = reset(jax.random.PRNGKey(0), params, a3, 0)
    assert not np.asarray(ts.observation.target_grid_mask).any()
    _, ts_visible = reset(jax.random.PRNGKey(0), visible, a3, 0)
    assert type(ts_visible.observation) is Observation  # off: no demonstrations, no cost
    assert int(ts_visible.observation.target_grid[0, 0]) == 2
    everything = jnp.ones((2, 2), bool)
    state, ts = step(state, Action(Operation.FILL_2, everything), params)
    state, ts = step(state, Action(Operation.SUBMIT, everything), params)
    assert bool(ts.extras.success) and float(ts.reward) > 0
    assert not np.asarray(observe(state, params).target_grid_mask).any()


# --- held-out tasks ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def ten_tasks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ten")
    for i in range(10):
        write_task(folder, f"t{i}", [([[i % 9 + 1]], [[1]])] * 2, [([[i % 9 + 1]], [[1]])])
    return folder


def test_holdout_split_is_a_deterministic_partition(ten_tasks):
    from jaxarc.data.buffer import holdout_split
    from jaxarc.data.parsers import folder_tasks, parse_task

    raw, _ = folder_tasks(str(ten_tasks))
    tasks = [parse_task(raw[k], k) for k in sorted(raw)]
    kept, held = holdout_split(tasks, 0.2, seed=3)
    ids = lambda part: sorted(t.task_id for t in part)  # noqa: E731
    assert len(held) == 2 and len(kept) == 8 and not set(ids(kept)) & set(ids(held))
    again = holdout_split(list(reversed(tasks)), 0.2, seed=3)  # order does not matter
    assert (ids(again[0]), ids(again[1])) == (ids(kept), ids(held))
    assert ids(holdout_split(tasks, 0.2, seed=4)[1]) != ids(held)  # the seed does
    base = [
        "dataset=folder",
        f"dataset.data_dir={ten_tasks}",
        "dataset.max_grid_size=2",
        "dataset.holdout_fraction=0.2",
        "dataset.holdout_seed=3",
    ]
    train = jaxarc.make(None, jaxarc.load_config([*base, "dataset.holdout_part=train"]))[1]
    heldout = jaxarc.make(None, jaxarc.load_config([*base, "dataset.holdout_part=heldout"]))[1]
    assert sorted(train.buffer.task_ids) == ids(kept)
    assert sorted(heldout.buffer.task_ids) == ids(held)
    from jaxarc.train.evaluate import eval_config

    run = jaxarc.load_config([*base, "dataset.holdout_part=train"])
    assert eval_config(run, None).dataset.holdout_part == "heldout"  # scores the other part
    assert eval_config(run, None, heldout=False).dataset.holdout_part == "train"
    with pytest.raises(jaxarc.ConfigValidationError, match="holdout_fraction > 0"):
        jaxarc.load_config(["dataset.holdout_part=heldout"])


# --- test-time augmentation --------------------------------------------------------------


def test_vote_takes_the_two_most_frequent_submitted_grids():
    from jaxarc.train.evaluate import vote

    a, b, c = (np.full((2, 2), v, np.int8) for v in (1, 2, 3))
    m = np.ones((2, 2), bool)
    grids = np.stack([a, b, b, c, c, c, a])
    submitted = np.array([True, True, True, True, True, False, False])
    top = vote(grids, np.stack([m] * 7), submitted)  # c twice, b twice, a once (submitted)
    assert [int(g[0, 0]) for g, _ in top] == [2, 3]  # tie: the first seen first
    assert vote(grids, np.stack([m] * 7), np.zeros(7, bool)) == []


def test_test_time_augmentation_maps_every_view_back_before_voting(tmp_path):
    """A copy task (output = input): submitting at once solves it under any view only if
    each view's grid is mapped back to the task's own frame."""
    from jaxarc.train.evaluate import eval_config, play_augmented, score, tta_solved

    x = [[1, 2, 0], [3, 4, 5]]
    write_task(tmp_path, "copy", [(x, x), (x, x)], [(x, x)])
    run = jaxarc.load_config(
        [
            "dataset=folder",
            f"dataset.data_dir={tmp_path}",
            "dataset.max_grid_size=3",
            "environment=in_context",
            "environment.max_episode_steps=3",
        ]
    )
    params = jaxarc.make(None, eval_config(run, None))[1]
    assert not params.augment  # plain evaluation plays the pairs as they are

    def submit(obs, key):
        assert isinstance(obs, jaxarc.InContextObservation)
        return jnp.array([Operation.SUBMIT, 0, 0, 0, 0])

    played = play_augmented(
        submit, params, attempts=1, num_augmentations=8, key=jax.random.PRNGKey(1)
    )
    assert played["grid"].shape == (1, 1, 8, 3, 3)
    original = np.asarray(params.buffer.test_inputs[0, 0])
    for view in range(8):
        np.testing.assert_array_equal(played["grid"][0, 0, view], original)
    assert played["submitted"].all()
    assert played["success"].all()  # each view is also judged in its own frame
    solved = tta_solved(params.buffer, played)
    assert solved.tolist() == [[True]]
    rows, agg = score(params.buffer.task_ids, np.asarray([1]), played, played, solved)
    assert rows[0]["tta_score"] == 1.0 and agg["tta_score"] == 1.0


@pytest.mark.slow
def test_in_context_training_then_held_out_eval_with_tta(easy_dir, tmp_path, capsys):
    """`jaxarc train environment=in_context` on one part of the tasks, then `jaxarc eval
    --augment` scores the held-out part: the model reads demonstrations end to end."""
    from jaxarc.cli import main as cli_main
    from jaxarc.logging.reader import read_evaluations
    from jaxarc.train import train
    from jaxarc.train.checkpoint import load_model
    from jaxarc.train.networks import make_model

    config = jaxarc.load_config(
        [
            "dataset=folder",
            f"dataset.data_dir={easy_dir}",
            "dataset.max_grid_size=3",
            "dataset.holdout_fraction=0.5",
            "dataset.holdout_part=train",
            "environment=in_context",
            "environment.max_episode_steps=4",
            "action=fill_only",
            "train.num_envs=8",
            "train.num_steps=4",
            "train.num_minibatches=1",
            "train.update_epochs=1",
            "train.hidden_dim=8",
            "train.num_updates=3",
            "train.eval_every=3",
            "visualization.console=false",
            f"storage.base_output_dir={tmp_path}",
        ]
    )
    result = train(config)
    from jaxarc.logging import read_run

    scores = read_run(result.run_dir).metrics["eval/score"]  # train.eval_every: held-out part
    assert len([v for v in scores if v is not None]) == 1 and 0.0 <= scores[-1] <= 1.0
    model = load_model(result.run_dir, make_model(8, jax.random.PRNGKey(0), demonstrations=True))
    assert model.recolour is not None and model.demos is not None
    assert cli_main(["eval", str(result.run_dir), "--augment", "4"]) == 0
    out = capsys.readouterr().out
    assert "with test-time augmentation (4 views" in out
    (doc,) = read_evaluations(result.run_dir)
    assert doc["dataset"] == "heldout-tasks" and doc["test_time_augmentations"] == 4
    (task,) = doc["seeds"][0]["tasks"]  # the one held-out task of two
    trained_on = jaxarc.make(None, config)[1].buffer.task_ids
    assert task["task_id"] not in trained_on and 0.0 <= task["tta_score"] <= 1.0


def test_target_hint_share_shows_the_target_in_that_share_of_training_episodes(three_pair_task):
    params = in_context_params(three_pair_task, "train", target_hint_share=0.5)
    _, ts = jax.jit(jax.vmap(lambda k: reset(k, params)))(
        jax.random.split(jax.random.PRNGKey(0), 400)
    )
    shown = np.asarray(ts.observation.target_grid_mask).any(axis=(1, 2))
    assert 0.4 < shown.mean() < 0.6  # ~half the episodes, drawn per episode
    never = in_context_params(three_pair_task, "eval", target_hint_share=1.0)
    _, ts = reset(jax.random.PRNGKey(0), never, 0, 0)
    assert not np.asarray(ts.observation.target_grid_mask).any()  # evaluation: never
