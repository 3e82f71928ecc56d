"""Which pairs an episode shows: the query pair and the demonstrations.

ARC gives a task's *train* pairs as demonstrations and asks for the output of each *test*
input. Training episodes must look like that without using the test pairs, so a training
episode's query is one train pair and its demonstrations are the *other* train pairs
(leave-one-out); an evaluation episode's query is a test pair and its demonstrations are all
train pairs. A task with 2 train pairs trains with 1 demonstration.

Demonstrations are never copied into the state: a state keeps its task and pair index, and
:func:`demonstrations` gathers them from ``params.buffer`` when an observation is made.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..types import TaskBuffer


class Query(eqx.Module):
    """The pair an episode is about: its input (the agent's start) and its hidden output."""

    input: jax.Array  # int8[H, W]
    input_mask: jax.Array  # bool[H, W]
    output: jax.Array
    output_mask: jax.Array


class Demonstrations(eqx.Module):
    """A task's demonstration pairs, padded to ``P`` (``buffer.train_inputs.shape[1]``).

    Attributes:
        inputs, input_masks, outputs, output_masks: ``[P, H, W]``.
        valid: ``bool[P]``: which of the ``P`` slots hold a demonstration (padding slots
            and, in training, the query's own pair are not valid).
    """

    inputs: jax.Array
    input_masks: jax.Array
    outputs: jax.Array
    output_masks: jax.Array
    valid: jax.Array


def num_pairs(buffer: TaskBuffer, task: jax.Array, test: bool) -> jax.Array:
    """How many query pairs ``task`` has (at least 1: an empty task still plays)."""
    counts = buffer.num_test_pairs if test else buffer.num_train_pairs
    return jnp.maximum(counts[task], 1)


def query(buffer: TaskBuffer, task: jax.Array, pair: jax.Array, test: bool) -> Query:
    """Test pair ``pair`` of ``task`` when ``test``, else train pair ``pair``."""
    if test:
        return Query(
            buffer.test_inputs[task, pair],
            buffer.test_input_masks[task, pair],
            buffer.test_outputs[task, pair],
            buffer.test_output_masks[task, pair],
        )
    return Query(
        buffer.train_inputs[task, pair],
        buffer.train_input_masks[task, pair],
        buffer.train_outputs[task, pair],
        buffer.train_output_masks[task, pair],
    )


def demonstration_mask(
    buffer: TaskBuffer, task: jax.Array, pair: jax.Array, test: bool
) -> jax.Array:
    """``bool[P]``: the train pairs that demonstrate the query — all of them for a test
    query, all but the query's own for a train query (leave-one-out)."""
    slots = jnp.arange(buffer.train_inputs.shape[1])
    valid = slots < buffer.num_train_pairs[task]
    return valid if test else valid & (slots != pair)


def demonstrations(
    buffer: TaskBuffer, task: jax.Array, pair: jax.Array, test: bool
) -> Demonstrations:
    """The demonstrations of ``task``'s query ``pair`` (see :func:`demonstration_mask`)."""
    return Demonstrations(
        buffer.train_inputs[task],
        buffer.train_input_masks[task],
        buffer.train_outputs[task],
        buffer.train_output_masks[task],
        demonstration_mask(buffer, task, pair, test),
    )
