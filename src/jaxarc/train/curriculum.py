"""Task sampling that follows learning (``train.task_sampling=prioritized``).

Each update, the tasks' success rates are tracked on device from the episodes that ended in
the rollout (an exponential moving average per task, :data:`EMA` for the newest update) —
the last episode each environment finished in the rollout, as the logged statistics count
them (an environment that finished several counts its last one).
The next resets draw task ``i`` with probability proportional to its *learning potential*

    w_i = 1                                            (never seen yet)
    w_i = FLOOR + (1 - FLOOR) · 4 · s_i · (1 - s_i)     (s_i: its success rate)

largest for tasks solved about half the time, :data:`FLOOR` for tasks never or always
solved (they are still drawn, so a task that starts being solved is noticed). It is the
"neither 0 nor 1" criterion of curriculum methods such as PLR, without a second policy
pass. With every task unsolved the draw is uniform, as ``uniform`` is.

Everything is a pure function of arrays: jit-, vmap- (seeds) and scan-safe.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..logging.batch.reduce import per_task_stats

#: the relative weight of a task solved never or always (1 at a success rate of 0.5)
FLOOR = 0.1
#: the weight of the newest update's success rate in the moving average
EMA = 0.3


class TaskStats(eqx.Module):
    """Per-task success rates (a moving average) and whether a task was seen yet."""

    success: jax.Array  # float32[T]
    seen: jax.Array  # bool[T]

    @classmethod
    def empty(cls, num_tasks: int) -> TaskStats:
        return cls(jnp.zeros((num_tasks,), jnp.float32), jnp.zeros((num_tasks,), bool))

    def update(self, task_ids: jax.Array, done: jax.Array, success: jax.Array) -> TaskStats:
        """With the episodes that ended (``done``) on tasks ``task_ids``, solved or not."""
        counts = per_task_stats(task_ids, done, success, None, self.success.shape[0])
        episodes, wins = counts[:, 0], counts[:, 1]
        fresh = episodes > 0
        rate = wins / jnp.maximum(episodes, 1.0)
        blended = jnp.where(self.seen, (1 - EMA) * self.success + EMA * rate, rate)
        return TaskStats(jnp.where(fresh, blended, self.success), self.seen | fresh)

    def logits(self) -> jax.Array:
        """Log-weights of each task for the next resets (see the module docstring)."""
        s = self.success
        potential = FLOOR + (1 - FLOOR) * 4.0 * s * (1.0 - s)
        return jnp.log(jnp.where(self.seen, potential, 1.0))


__all__ = ["EMA", "FLOOR", "TaskStats"]
