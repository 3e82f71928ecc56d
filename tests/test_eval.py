"""`jaxarc eval`'s scoring on hand-made tasks whose answers are known: test pairs (not train
pairs) with the target hidden, ARC's any-of-k attempts, determinism given a seed."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxarc
from jaxarc.train.evaluate import eval_config, play, score
from tests.helpers import write_task

SRC = [[0, 0, 0], [0, 3, 0], [0, 0, 0]]
ONES = [[1] * 3 for _ in range(3)]
TWOS = [[2] * 3 for _ in range(3)]


@pytest.fixture(scope="module")
def eval_params(tmp_path_factory):
    """``same``: train and both test pairs ask for all-blue. ``switch``: train pairs ask for
    all-blue but its one test pair for all-red (a policy that only fills blue solves its
    train pairs, not its test pair)."""
    folder = tmp_path_factory.mktemp("eval_tasks")
    write_task(folder, "same", [(SRC, ONES)], [(SRC, ONES), (SRC, ONES)])
    write_task(folder, "switch", [(SRC, ONES), (SRC, ONES)], [(SRC, TWOS)])
    run = jaxarc.load_config(
        [
            "dataset=folder",
            f"dataset.data_dir={folder}",
            "dataset.max_grid_size=3",
            "environment.max_episode_steps=4",
        ]
    )
    config = eval_config(run, None)
    assert config.environment.episode_mode == "eval"
    params = jaxarc.make(None, config)[1]
    assert list(params.buffer.task_ids) == ["same", "switch"]
    return params


def fill_then_submit(colour_of):
    """Fill the whole grid with ``colour_of(key)`` on step 0, then submit; also checks that
    the target is hidden from the policy (a hidden target has an empty mask)."""

    def policy(obs, key):
        colour = colour_of(key)
        fill = jnp.stack([colour, 0, 0, 2, 2])
        submit = jnp.array([34, 0, 0, 0, 0])
        action = jnp.where(obs.step_count == 0, fill, submit)
        # a visible target would turn every action into an invalid op (35 is never allowed here)
        return jnp.where(obs.target_grid_mask.any(), jnp.full(5, 35), action)

    return policy


def test_scores_test_pairs_with_the_target_hidden(eval_params):
    blue = fill_then_submit(lambda key: jnp.int32(1))
    out = play(blue, eval_params, attempts=1, key=jax.random.PRNGKey(0))
    assert out["success"].shape == (2, 2, 1)  # tasks × most test pairs × attempts
    assert out["success"][0, :, 0].tolist() == [True, True]  # "same": both test pairs
    assert not out["success"][1, 0, 0]  # "switch": its test pair wants red
    assert out["steps"][0, :, 0].tolist() == [2, 2]
    assert out["similarity"][1, 0, 0] == pytest.approx(0.0)  # all blue vs all red
    num_pairs = np.asarray(eval_params.buffer.num_test_pairs)
    rows, agg = score(eval_params.buffer.task_ids, num_pairs, out, out)
    assert [(r["task_id"], r["test_pairs"], r["score"]) for r in rows] == [
        ("same", 2, 1.0),
        ("switch", 1, 0.0),
    ]
    assert rows[0]["steps_to_solve"] == 2 and rows[1]["steps_to_solve"] is None
    assert rows[1]["attempts_solved"] == [[0]]  # its second (padding) pair is not counted
    assert agg == {
        "tasks": 2,
        "test_pairs": 3,
        "score": 0.5,
        "tasks_solved": 1,
        "greedy_score": 0.5,
        "best_similarity_mean": pytest.approx(0.5),
    }


def test_a_pair_counts_as_solved_when_any_attempt_solves_it(eval_params):
    coin = fill_then_submit(lambda key: jax.random.randint(key, (), 1, 3))  # blue or red
    key = jax.random.PRNGKey(7)
    out = play(coin, eval_params, attempts=6, key=key)
    again = play(coin, eval_params, attempts=6, key=key)
    for name in out:
        np.testing.assert_array_equal(out[name], again[name])  # deterministic given the key
    switch = out["success"][1, 0]  # six attempts at the red test pair, each a coin flip
    assert 0 < switch.sum() < 6, switch
    num_pairs = np.asarray(eval_params.buffer.num_test_pairs)
    greedy = play(fill_then_submit(lambda key: jnp.int32(1)), eval_params, 1, key)
    rows, agg = score(eval_params.buffer.task_ids, num_pairs, out, greedy)
    assert rows[1]["score"] == 1.0 and rows[1]["greedy_score"] == 0.0
    assert rows[1]["attempts_solved"] == [switch.astype(int).tolist()]
    two = score(
        eval_params.buffer.task_ids, num_pairs, {k: v[:, :, :2] for k, v in out.items()}, greedy
    )[0]
    assert two[1]["score"] == float(switch[:2].any())  # ARC's two attempts
