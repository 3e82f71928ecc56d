"""The actor-critic: a small conv net over one-hot grids with factored action heads.

Input channels (for an ``H×W`` padded grid): one-hot working grid (10) + its mask,
one-hot target (10) + mask, one-hot input (10) + mask, and "cell already right" — 34 in all.
Heads: 36 operation logits, row logits for the two box corners ``(r1, r2)``, column logits
for ``(c1, c2)``, and a value.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..types import NUM_OPERATIONS, Observation

IN_CHANNELS = 34


def encode(obs: Observation) -> jax.Array:
    """``float32[34, H, W]`` features of one observation."""

    def onehot(grid: jax.Array, mask: jax.Array) -> jax.Array:
        return jax.nn.one_hot(grid, 10, axis=0) * mask[None]

    grid, mask = obs.working_grid, obs.working_grid_mask
    target, target_mask = obs.target_grid, obs.target_grid_mask
    right = (grid == target) & mask & target_mask
    channels = [
        onehot(grid, mask), mask[None],
        onehot(target, target_mask), target_mask[None],
        onehot(obs.input_grid, obs.input_grid_mask), obs.input_grid_mask[None],
        right[None],
    ]  # fmt: skip
    return jnp.concatenate(channels).astype(jnp.float32)


class GridConv(eqx.Module):
    """A 3×3 'same' convolution written as im2col + one matmul.

    XLA's CPU convolution under ``vmap`` is slow for these tiny images; nine static shifts
    and a single ``[H·W, 9·C_in] @ [9·C_in, C_out]`` product run several times faster.
    """

    weight: jax.Array
    bias: jax.Array

    def __init__(self, c_in: int, c_out: int, key: jax.Array):
        lim = 1.0 / jnp.sqrt(9 * c_in)
        self.weight = jax.random.uniform(key, (9 * c_in, c_out), minval=-lim, maxval=lim)
        self.bias = jnp.zeros((c_out,))

    def __call__(self, x: jax.Array) -> jax.Array:  # [C, H, W] -> [C_out, H, W]
        c, h, w = x.shape
        p = jnp.pad(x, ((0, 0), (1, 1), (1, 1)))
        patches = jnp.concatenate(
            [p[:, i : i + h, j : j + w] for i in range(3) for j in range(3)]
        )  # [9C, H, W]
        out = patches.reshape(9 * c, h * w).T @ self.weight + self.bias
        return out.T.reshape(-1, h, w)


class ActorCritic(eqx.Module):
    conv1: GridConv
    conv2: GridConv
    trunk: eqx.nn.Linear
    op_head: eqx.nn.Linear
    value_head: eqx.nn.Linear
    row_head: eqx.nn.Conv1d
    col_head: eqx.nn.Conv1d

    def __init__(self, hidden: int, key: jax.Array):
        k = jax.random.split(key, 7)
        self.conv1 = GridConv(IN_CHANNELS, hidden, k[0])
        self.conv2 = GridConv(hidden, hidden, k[1])
        self.trunk = eqx.nn.Linear(2 * hidden, hidden, key=k[6])
        self.op_head = eqx.nn.Linear(hidden, NUM_OPERATIONS, key=k[2])
        self.value_head = eqx.nn.Linear(hidden, "scalar", key=k[3])
        self.row_head = eqx.nn.Conv1d(2 * hidden, 2, 1, key=k[4])
        self.col_head = eqx.nn.Conv1d(2 * hidden, 2, 1, key=k[5])

    def value(self, obs: Observation) -> jax.Array:
        """The critic's value of one observation."""
        return self(obs)[3]

    def __call__(self, obs: Observation) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """``(op_logits[NUM_OPERATIONS], row_logits[2, H], col_logits[2, W], value)``."""
        x = jax.nn.relu(self.conv1(encode(obs)))
        x = jax.nn.relu(self.conv2(x)) + x
        pooled = jnp.concatenate([x.mean(axis=(1, 2)), x.max(axis=(1, 2))])
        hidden = x.shape[0]
        rows = jnp.concatenate(
            [x.mean(axis=2), jnp.broadcast_to(pooled[:hidden, None], (hidden, x.shape[1]))]
        )
        cols = jnp.concatenate(
            [x.mean(axis=1), jnp.broadcast_to(pooled[:hidden, None], (hidden, x.shape[2]))]
        )
        h = jax.nn.relu(self.trunk(pooled))
        return self.op_head(h), self.row_head(rows), self.col_head(cols), self.value_head(h)


Logits = tuple[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array]


def _logits(model: ActorCritic, obs: Observation, allowed: jax.Array) -> tuple[Logits, jax.Array]:
    op, rows, cols, value = model(obs)
    op = jnp.where(allowed, op, -1e9)
    return (op, rows[0], cols[0], rows[1], cols[1]), value


def sample_action(
    model: ActorCritic, obs: Observation, allowed: jax.Array, key: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(action int32[5] = (op, r1, c1, r2, c2), log_prob, value)``."""
    logits, value = _logits(model, obs, allowed)
    keys = jax.random.split(key, 5)
    parts = [jax.random.categorical(k, lg) for k, lg in zip(keys, logits, strict=True)]
    log_probs = [jax.nn.log_softmax(lg)[a] for lg, a in zip(logits, parts, strict=True)]
    log_prob = jnp.sum(jnp.stack(log_probs))
    return jnp.stack(parts).astype(jnp.int32), log_prob, value


def evaluate_action(
    model: ActorCritic, obs: Observation, allowed: jax.Array, action: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(log_prob, entropy, value)`` of a stored action under the current model."""
    logits, value = _logits(model, obs, allowed)
    log_prob, entropy = jnp.float32(0.0), jnp.float32(0.0)
    for i, lg in enumerate(logits):
        logp = jax.nn.log_softmax(lg)
        log_prob = log_prob + logp[action[i]]
        entropy = entropy - jnp.sum(jnp.exp(logp) * logp)
    return log_prob, entropy, value


def greedy_action(model: ActorCritic, obs: Observation, allowed: jax.Array) -> jax.Array:
    """The most likely action ``int32[5] = (op, r1, c1, r2, c2)`` (each head's argmax)."""
    logits, _ = _logits(model, obs, allowed)
    return jnp.stack([jnp.argmax(lg) for lg in logits]).astype(jnp.int32)
