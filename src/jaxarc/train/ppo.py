"""PPO over vmapped environments, PureJaxRL style: one jitted ``update`` does the rollout
(``lax.scan`` over steps), GAE and the minibatch epochs, and returns the design's
``batch_data`` for :meth:`ExperimentLogger.log_batch_step`.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from ..envs.config import TrainConfig
from ..envs.environment import EnvParams, observe, reset, step
from ..envs.spaces import bbox_to_mask
from ..types import Action, Observation, State
from .networks import ActorCritic, evaluate_action, sample_action


class Episodes(eqx.Module):
    """Per-environment bookkeeping of the running and the last finished episode."""

    running_return: jax.Array  # f32[N]
    initial_grid: jax.Array  # int8[N, H, W] grid at the start of the running episode
    initial_mask: jax.Array
    finished: jax.Array  # bool[N]: an episode ended during the current rollout
    last_return: jax.Array
    last_length: jax.Array
    last_similarity: jax.Array
    last_success: jax.Array
    last_task: jax.Array
    last_initial_grid: jax.Array
    last_initial_mask: jax.Array
    last_final_grid: jax.Array
    last_final_mask: jax.Array
    last_target_grid: jax.Array
    last_target_mask: jax.Array


class Runner(eqx.Module):
    """Everything the training loop carries from one update to the next."""

    model: ActorCritic
    opt_state: Any
    env_state: State
    episodes: Episodes
    key: jax.Array
    update: jax.Array  # int32: number of updates done
    diverged: jax.Array  # bool: a loss was NaN/inf at some point


class Transition(eqx.Module):
    obs: Observation
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    done: jax.Array


def _where(mask, a, b):
    return jax.tree.map(lambda x, y: jnp.where(mask.reshape(mask.shape + (1,) * (x.ndim - mask.ndim)), x, y), a, b)


class PPO:
    """Builds ``init(key) -> Runner`` and ``update(runner) -> (runner, batch_data)``."""

    def __init__(self, config: TrainConfig, params: EnvParams):
        self.config = config
        self.params = params
        c = config
        self.batch_size = c.num_envs * c.num_steps
        self.minibatch_size = self.batch_size // c.num_minibatches
        total = c.num_updates * c.update_epochs * c.num_minibatches
        self.schedule = optax.linear_schedule(c.learning_rate, 0.0, total) if c.anneal_lr else optax.constant_schedule(c.learning_rate)
        self.optimizer = optax.chain(optax.clip_by_global_norm(c.max_grad_norm), optax.adam(self.schedule, eps=1e-5))

    # ----------------------------------------------------------------------------------
    def init(self, key: jax.Array) -> Runner:
        c, p = self.config, self.params
        k_model, k_env, key = jax.random.split(key, 3)
        model = ActorCritic(c.hidden_dim, k_model)
        opt_state = self.optimizer.init(eqx.filter(model, eqx.is_array))
        env_state, _ = jax.vmap(reset, in_axes=(0, None))(jax.random.split(k_env, c.num_envs), p)
        n = c.num_envs
        zf, zi, zb = jnp.zeros(n, jnp.float32), jnp.zeros(n, jnp.int32), jnp.zeros(n, bool)
        g, m = env_state.working_grid, env_state.working_grid_mask
        episodes = Episodes(
            running_return=zf, initial_grid=g, initial_mask=m, finished=zb,
            last_return=zf, last_length=zi, last_similarity=zf, last_success=zb, last_task=zi,
            last_initial_grid=g, last_initial_mask=m, last_final_grid=g, last_final_mask=m,
            last_target_grid=env_state.target_grid, last_target_mask=env_state.target_grid_mask,
        )
        return Runner(model, opt_state, env_state, episodes, key, jnp.int32(0), jnp.bool_(False))

    # ----------------------------------------------------------------------------------
    def _env_step(self, runner: Runner, _):
        p = self.params
        n = self.config.num_envs
        key, k_act, k_reset = jax.random.split(runner.key, 3)
        obs = jax.vmap(observe, in_axes=(0, None))(runner.env_state, p)
        action, log_prob, value = jax.vmap(sample_action, in_axes=(None, 0, None, 0))(
            runner.model, obs, p.allowed_operations, jax.random.split(k_act, n))
        shape = p.buffer.grid_shape
        selection = jax.vmap(lambda a: bbox_to_mask(a[1], a[2], a[3], a[4], shape))(action)
        nxt, ts = jax.vmap(step, in_axes=(0, 0, None))(runner.env_state, Action(action[:, 0], selection), p)
        done = ts.last()
        e = runner.episodes
        ret = e.running_return + ts.reward
        fresh, _ = jax.vmap(reset, in_axes=(0, None))(jax.random.split(k_reset, n), p)
        episodes = Episodes(
            running_return=jnp.where(done, 0.0, ret),
            initial_grid=_where(done, fresh.working_grid, e.initial_grid),
            initial_mask=_where(done, fresh.working_grid_mask, e.initial_mask),
            finished=e.finished | done,
            last_return=jnp.where(done, ret, e.last_return),
            last_length=jnp.where(done, nxt.step_count, e.last_length),
            last_similarity=jnp.where(done, nxt.similarity, e.last_similarity),
            last_success=jnp.where(done, ts.extras["success"], e.last_success),
            last_task=jnp.where(done, nxt.task_index, e.last_task),
            last_initial_grid=_where(done, e.initial_grid, e.last_initial_grid),
            last_initial_mask=_where(done, e.initial_mask, e.last_initial_mask),
            last_final_grid=_where(done, nxt.working_grid, e.last_final_grid),
            last_final_mask=_where(done, nxt.working_grid_mask, e.last_final_mask),
            last_target_grid=_where(done, nxt.target_grid, e.last_target_grid),
            last_target_mask=_where(done, nxt.target_grid_mask, e.last_target_mask),
        )
        env_state = _where(done, fresh, nxt)
        runner = eqx.tree_at(lambda r: (r.env_state, r.episodes, r.key), runner, (env_state, episodes, key))
        return runner, Transition(obs, action, log_prob, value, ts.reward, done)

    def _loss(self, model, batch: Transition, advantages, returns):
        c = self.config
        log_prob, entropy, value = jax.vmap(evaluate_action, in_axes=(None, 0, None, 0))(
            model, batch.obs, self.params.allowed_operations, batch.action)
        ratio = jnp.exp(log_prob - batch.log_prob)
        adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy_loss = -jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - c.clip_eps, 1 + c.clip_eps) * adv).mean()
        v_clipped = batch.value + jnp.clip(value - batch.value, -c.clip_eps, c.clip_eps)
        value_loss = 0.5 * jnp.maximum(jnp.square(value - returns), jnp.square(v_clipped - returns)).mean()
        entropy = entropy.mean()
        total = policy_loss + c.vf_coef * value_loss - c.ent_coef * entropy
        return total, (policy_loss, value_loss, entropy)

    def update(self, runner: Runner) -> tuple[Runner, dict[str, Any]]:
        """One PPO update: rollout, GAE, ``update_epochs`` × ``num_minibatches`` steps."""
        c = self.config
        runner = eqx.tree_at(lambda r: r.episodes.finished, runner, jnp.zeros_like(runner.episodes.finished))
        runner, traj = jax.lax.scan(self._env_step, runner, None, length=c.num_steps)
        last_obs = jax.vmap(observe, in_axes=(0, None))(runner.env_state, self.params)
        last_value = jax.vmap(lambda o: runner.model(o)[3])(last_obs)

        def gae_step(carry, t):
            gae, next_value = carry
            done, value, reward = t
            not_done = 1.0 - done.astype(jnp.float32)
            delta = reward + c.gamma * next_value * not_done - value
            gae = delta + c.gamma * c.gae_lambda * not_done * gae
            return (gae, value), gae

        _, advantages = jax.lax.scan(gae_step, (jnp.zeros_like(last_value), last_value), (traj.done, traj.value, traj.reward), reverse=True)
        returns = advantages + traj.value

        flat = jax.tree.map(lambda x: x.reshape((self.batch_size,) + x.shape[2:]), (traj, advantages, returns))
        grad_fn = eqx.filter_value_and_grad(self._loss, has_aux=True)

        def minibatch_step(carry, idx):
            model, opt_state = carry
            batch, adv, ret = jax.tree.map(lambda x: x[idx], flat)
            (total, aux), grads = grad_fn(model, batch, adv, ret)
            updates, opt_state = self.optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
            model = eqx.apply_updates(model, updates)
            return (model, opt_state), (total, *aux, optax.tree.norm(grads))

        def epoch(carry, key):
            perm = jax.random.permutation(key, self.batch_size).reshape(c.num_minibatches, self.minibatch_size)
            return jax.lax.scan(minibatch_step, carry, perm)

        key, k_epochs = jax.random.split(runner.key)
        (model, opt_state), stats = jax.lax.scan(epoch, (runner.model, runner.opt_state), jax.random.split(k_epochs, c.update_epochs))
        total, policy_loss, value_loss, entropy, grad_norm = (s.mean() for s in stats)
        residual_var = jnp.var(returns - traj.value)
        explained_variance = 1.0 - residual_var / jnp.maximum(jnp.var(returns), 1e-8)
        e = runner.episodes
        runner = Runner(model, opt_state, runner.env_state, e, key, runner.update + 1, runner.diverged | ~jnp.isfinite(total))
        batch_data = {
            "episode_returns": e.last_return,
            "episode_lengths": e.last_length,
            "similarity_scores": e.last_similarity,
            "success_mask": e.last_success,
            "episode_done_mask": e.finished,
            "policy_loss": policy_loss,
            "value_loss": value_loss,
            "gradient_norm": grad_norm,
            "entropy": entropy,
            "explained_variance": explained_variance,
            "learning_rate": jnp.asarray(self.schedule(runner.update * c.update_epochs * c.num_minibatches), jnp.float32),
            "task_ids": e.last_task,
            "initial_states": {"grid": e.last_initial_grid, "mask": e.last_initial_mask},
            "final_states": {"grid": e.last_final_grid, "mask": e.last_final_mask},
            "target_states": {"grid": e.last_target_grid, "mask": e.last_target_mask},
        }
        return runner, batch_data
