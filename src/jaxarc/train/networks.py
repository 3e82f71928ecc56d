"""The actor-critic: a small conv net over the grids with a pointer-style action head.

**Trunk.** Each cell is coded by (working colour, target colour) — 11 × 11 values, 10
meaning "outside the grid" — and by its input colour (11 values). The first 3×3
convolution over these one-hot codes is a sum of nine table lookups per code (one per
offset): the same function as a convolution over 34 one-hot channels at about a tenth of
the multiply-adds. A second 3×3 convolution (residual), then a global context (mean and
max over cells) added back to every cell, give per-cell features ``f[H·W, C]``.

**Action** ``(op, r1, c1, r2, c2)``, autoregressive:

1. ``(op, first corner)`` jointly: one logit per operation and cell (``f @ W_op``), so the
   operation is chosen *where* it is to be applied ("this cell should be red → fill red
   here"); disallowed operations and cells outside the working grid (where every
   operation but resize's second corner does nothing) are masked out.
2. the second corner, pointed at by attention from the first corner's features and the
   chosen operation over every cell at or below-right of the first. The 1-cell box starts
   with a bonus (``ONE_CELL_BONUS``, learnt further): a random box mostly undoes progress,
   so an untrained policy that edits mostly single cells finds the rewarded edits far sooner.

**Demonstrations** (``environment.demonstrations``: an :class:`InContextObservation`). A
shared pair encoder (:class:`DemoEncoder`) codes each demonstration pair by its histogram
of (input colour, output colour) cell codes into one vector; the valid pairs' vectors are
averaged into a task vector added to every query cell (and so to the global context). Each
query cell also reads what the demonstrations turned cells of its own input colour and of
its working colour into (the colour map's rows: a hard attention keyed by colour) and what
their outputs hold at its position (the output map: colours, and where outputs end), so
"what happens to a cell like this one" comes from the examples rather than from a visible
target.

The value head reads the global context. The network has no parameter whose shape depends
on the grid size or on the number of demonstrations, so a model trained on one dataset can
be evaluated on another.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..types import NUM_OPERATIONS, InContextObservation, Observation

OUTSIDE = 10  # the colour code of a cell outside a grid
CODES = 11  # colours 0-9 and OUTSIDE
#: the initial logit bonus of a 1-cell box (the second corner on the first)
ONE_CELL_BONUS = 3.0


def cell_codes(obs: Observation) -> tuple[jax.Array, jax.Array]:
    """``(working·11 + target, input)`` int32 codes of every cell, ``[H, W]`` each."""
    work = jnp.where(obs.working_grid_mask, obs.working_grid, OUTSIDE)
    target = jnp.where(obs.target_grid_mask, obs.target_grid, OUTSIDE)
    inp = jnp.where(obs.input_grid_mask, obs.input_grid, OUTSIDE)
    return (work * CODES + target).astype(jnp.int32), inp.astype(jnp.int32)


def _shifts(x: jax.Array, fill: int | float) -> list[jax.Array]:
    """The nine 3×3 neighbourhood shifts of ``x[H, W, ...]`` (padded with ``fill``)."""
    h, w = x.shape[:2]
    pad = [(1, 1), (1, 1)] + [(0, 0)] * (x.ndim - 2)
    p = jnp.pad(x, pad, constant_values=fill)
    return [p[i : i + h, j : j + w] for i in range(3) for j in range(3)]


class CodeConv(eqx.Module):
    """A 3×3 'same' convolution over one-hot cell codes, as nine lookups per code."""

    pair_table: jax.Array  # [9, 121, C]: (working, target) code at each offset
    input_table: jax.Array  # [9, 11, C]
    bias: jax.Array

    def __init__(self, c_out: int, key: jax.Array):
        k1, k2 = jax.random.split(key)
        lim = 1.0 / jnp.sqrt(18.0)  # 18 one-hot inputs are summed per cell
        self.pair_table = jax.random.uniform(k1, (9, CODES * CODES, c_out), minval=-lim, maxval=lim)
        self.input_table = jax.random.uniform(k2, (9, CODES, c_out), minval=-lim, maxval=lim)
        self.bias = jnp.zeros((c_out,))

    def __call__(self, pair: jax.Array, inp: jax.Array) -> jax.Array:  # -> [H, W, C]
        outside_pair = OUTSIDE * CODES + OUTSIDE
        out = self.bias
        shifts = zip(_shifts(pair, outside_pair), _shifts(inp, OUTSIDE), strict=True)
        for k, (p, i) in enumerate(shifts):
            out = out + self.pair_table[k][p] + self.input_table[k][i]
        return out


class GridConv(eqx.Module):
    """A 3×3 'same' convolution written as im2col + one matmul (channels last).

    XLA's CPU convolution under ``vmap`` is slow for these tiny images; nine static shifts
    and a single ``[H·W, 9·C_in] @ [9·C_in, C_out]`` product run several times faster.
    """

    weight: jax.Array
    bias: jax.Array

    def __init__(self, c_in: int, c_out: int, key: jax.Array):
        lim = 1.0 / jnp.sqrt(9 * c_in)
        self.weight = jax.random.uniform(key, (9 * c_in, c_out), minval=-lim, maxval=lim)
        self.bias = jnp.zeros((c_out,))

    def __call__(self, x: jax.Array) -> jax.Array:  # [H, W, C] -> [H, W, C_out]
        return jnp.concatenate(_shifts(x, 0.0), axis=-1) @ self.weight + self.bias


def _dense(c_in: int, c_out: int, key: jax.Array, scale: float = 1.0) -> jax.Array:
    lim = scale / jnp.sqrt(c_in)
    return jax.random.uniform(key, (c_in, c_out), minval=-lim, maxval=lim)


class DemoEncoder(eqx.Module):
    """The demonstration pairs → a task vector ``[C]``, a colour map ``[11, 11]`` and an
    output map ``[H·W, 11]``.

    Each pair is coded by its histogram of (input colour, output colour) codes — cell by
    cell at the same position, 11 × 11 values with 10 meaning "outside the grid", so it
    sees recolourings, growth and shrinkage — and one shared layer turns each pair's
    normalised histogram into a vector; the mean over the valid pairs is the task vector.
    The histograms summed over the valid pairs, each row normalised, are the colour map:
    row ``c`` says what the demonstrations turned the cells of colour ``c`` into. The output
    map is, at each position, the share of valid demonstrations whose output has each
    colour there (10: outside the output grid — where the output ends).

    Counting needs no gradient, so the whole encoder costs one small matmul per pair.
    """

    pair: eqx.nn.Linear

    def __init__(self, hidden: int, key: jax.Array):
        self.pair = eqx.nn.Linear(CODES * CODES, hidden, key=key)

    def __call__(self, obs: InContextObservation) -> tuple[jax.Array, jax.Array, jax.Array]:
        x = jnp.where(obs.demo_input_masks, obs.demo_inputs, OUTSIDE).astype(jnp.int32)
        y = jnp.where(obs.demo_output_masks, obs.demo_outputs, OUTSIDE).astype(jnp.int32)
        codes = (x * CODES + y).reshape(x.shape[0], -1)  # [P, H·W]
        outside = OUTSIDE * CODES + OUTSIDE  # padding on both sides: not a cell of the pair
        counted = (codes != outside) & obs.demo_valid[:, None]
        every = jnp.arange(CODES * CODES)  # a comparison, not a scatter: cheap to differentiate
        hist = jnp.sum((codes[..., None] == every) & counted[..., None], 1, dtype=jnp.float32)
        share = hist / jnp.maximum(hist.sum(-1, keepdims=True), 1.0)
        pairs = jax.nn.relu(jax.vmap(self.pair)(share))  # [P, C]
        valid = obs.demo_valid
        task = jnp.sum(jnp.where(valid[:, None], pairs, 0.0), 0) / jnp.maximum(valid.sum(), 1)
        colours = hist.sum(0).reshape(CODES, CODES)
        colours = colours / jnp.maximum(colours.sum(-1, keepdims=True), 1.0)
        shown = jax.nn.one_hot(y.reshape(y.shape[0], -1), CODES) * valid[:, None, None]
        outputs = shown.sum(0) / jnp.maximum(valid.sum(), 1)  # [H·W, 11]
        return task, colours, outputs


class ActorCritic(eqx.Module):
    embed: CodeConv
    conv: GridConv
    context: eqx.nn.Linear
    op_weight: jax.Array  # [C, NUM_OPERATIONS]: per-cell (op, first corner) logits
    op_bias: jax.Array
    query: jax.Array  # [C, C]: the first corner's features -> attention query
    op_query: jax.Array  # [NUM_OPERATIONS, C]: the chosen op's part of the query
    keys: jax.Array  # [C, C]
    one_cell: jax.Array  # the second corner's logit bonus for a 1-cell box
    value_head: eqx.nn.Linear
    # with demonstrations (``None`` without: the same parameters as before)
    demos: DemoEncoder | None
    demo_task: eqx.nn.Linear | None
    recolour: eqx.nn.Linear | None  # a cell's colour-map rows and output map -> features

    def __init__(self, hidden: int, key: jax.Array, demonstrations: bool = False):
        k = jax.random.split(key, 10)
        self.embed = CodeConv(hidden, k[0])
        self.conv = GridConv(hidden, hidden, k[1])
        self.context = eqx.nn.Linear(2 * hidden, hidden, key=k[2])
        # small initial logits: the first policy is close to uniform
        self.op_weight = _dense(hidden, NUM_OPERATIONS, k[3], 0.01)
        self.op_bias = jnp.zeros((NUM_OPERATIONS,))
        self.query = _dense(hidden, hidden, k[4], 0.1)
        self.op_query = jnp.zeros((NUM_OPERATIONS, hidden))
        self.keys = _dense(hidden, hidden, k[5])
        # favour 1-cell boxes at first (about half the time on a small grid): a random box
        # mostly undoes progress
        self.one_cell = jnp.asarray(ONE_CELL_BONUS)
        self.value_head = eqx.nn.Linear(hidden, "scalar", key=k[6])
        self.demos = DemoEncoder(hidden, k[7]) if demonstrations else None
        self.demo_task = eqx.nn.Linear(hidden, hidden, key=k[8]) if demonstrations else None
        self.recolour = eqx.nn.Linear(3 * CODES, hidden, key=k[9]) if demonstrations else None

    def features(self, obs: Observation) -> tuple[jax.Array, jax.Array]:
        """``(per-cell features [H·W, C], global context [C])``."""
        pair, inp = cell_codes(obs)
        x = jax.nn.relu(self.embed(pair, inp))
        x = jax.nn.relu(self.conv(x)) + x
        x = x.reshape(-1, x.shape[-1])
        if self.demos is not None and self.demo_task is not None and self.recolour is not None:
            if not isinstance(obs, InContextObservation):
                raise TypeError(
                    "this model reads demonstrations: it needs environment.demonstrations=true"
                )
            task, colours, outputs = self.demos(obs)
            # what the demonstrations did to cells of this cell's input and working colours,
            # and what their outputs hold at this cell's position
            seen = jnp.concatenate(
                [colours[inp.reshape(-1)], colours[pair.reshape(-1) // CODES], outputs], -1
            )
            x = x + jax.nn.relu(self.demo_task(task)) + jax.vmap(self.recolour)(seen)
        ctx = jax.nn.relu(self.context(jnp.concatenate([x.mean(axis=0), x.max(axis=0)])))
        return x + ctx, ctx

    def value(self, obs: Observation) -> jax.Array:
        """The critic's value of one observation."""
        return self.value_head(self.features(obs)[1])

    def first_logits(self, f: jax.Array, allowed: jax.Array, inside: jax.Array) -> jax.Array:
        """``[NUM_OPERATIONS · H·W]`` logits of (operation, first corner), op-major, over the
        allowed operations and the cells ``inside`` the working grid."""
        logits = f @ self.op_weight + self.op_bias  # [HW, OPS]
        ok = allowed[None, :] & inside.reshape(-1, 1)
        return jnp.where(ok, logits, -1e9).T.reshape(-1)

    def second_logits(
        self, f: jax.Array, op: jax.Array, cell: jax.Array, shape: tuple[int, int]
    ) -> jax.Array:
        """``[H·W]`` logits of the second corner given the operation and the first corner."""
        h, w = shape
        q = f[cell] @ self.query + self.op_query[op]
        logits = (f @ self.keys) @ q / jnp.sqrt(f.shape[-1])
        rows, cols = jnp.arange(h * w) // w, jnp.arange(h * w) % w
        below_right = (rows >= cell // w) & (cols >= cell % w)
        logits = logits + jnp.where(jnp.arange(h * w) == cell, self.one_cell, 0.0)
        return jnp.where(below_right, logits, -1e9)


def _split(first: jax.Array, second: jax.Array, num_cells: int, w: int) -> jax.Array:
    op, cell = first // num_cells, first % num_cells
    return jnp.stack([op, cell // w, cell % w, second // w, second % w]).astype(jnp.int32)


def sample_action(
    model: ActorCritic, obs: Observation, allowed: jax.Array, key: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(action int32[5] = (op, r1, c1, r2, c2), log_prob, value)``."""
    shape = (obs.working_grid.shape[0], obs.working_grid.shape[1])
    num_cells = shape[0] * shape[1]
    f, ctx = model.features(obs)
    k1, k2 = jax.random.split(key)
    logits1 = model.first_logits(f, allowed, obs.working_grid_mask)
    first = jax.random.categorical(k1, logits1)
    logits2 = model.second_logits(f, first // num_cells, first % num_cells, shape)
    second = jax.random.categorical(k2, logits2)
    log_prob = jax.nn.log_softmax(logits1)[first] + jax.nn.log_softmax(logits2)[second]
    return _split(first, second, num_cells, shape[1]), log_prob, model.value_head(ctx)


def evaluate_action(
    model: ActorCritic, obs: Observation, allowed: jax.Array, action: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(log_prob, entropy, value)`` of a stored action under the current model (the
    entropy is the first choice's plus the second corner's given the stored first choice)."""
    h, w = obs.working_grid.shape
    f, ctx = model.features(obs)
    cell1 = action[1] * w + action[2]
    logp1 = jax.nn.log_softmax(model.first_logits(f, allowed, obs.working_grid_mask))
    logp2 = jax.nn.log_softmax(model.second_logits(f, action[0], cell1, (h, w)))
    log_prob = logp1[action[0] * h * w + cell1] + logp2[action[3] * w + action[4]]

    def entropy(logp: jax.Array) -> jax.Array:
        return -jnp.sum(jnp.where(logp > -1e8, jnp.exp(logp) * logp, 0.0))

    return log_prob, entropy(logp1) + entropy(logp2), model.value_head(ctx)


def greedy_action(model: ActorCritic, obs: Observation, allowed: jax.Array) -> jax.Array:
    """The most likely first choice, then the most likely second corner given it."""
    shape = (obs.working_grid.shape[0], obs.working_grid.shape[1])
    num_cells = shape[0] * shape[1]
    f, _ = model.features(obs)
    first = jnp.argmax(model.first_logits(f, allowed, obs.working_grid_mask))
    second = jnp.argmax(model.second_logits(f, first // num_cells, first % num_cells, shape))
    return _split(first, second, num_cells, shape[1])


def make_model(hidden: int, key: jax.Array, demonstrations: bool = False) -> ActorCritic:
    """The actor-critic for an environment (``demonstrations``: it shows them)."""
    return ActorCritic(hidden, key, demonstrations=demonstrations)
