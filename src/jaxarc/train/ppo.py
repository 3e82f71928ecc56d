"""PPO over vmapped environments, PureJaxRL style: one jitted ``update`` does the rollout
(``lax.scan`` over steps), GAE and the minibatch epochs, and returns the design's
``batch_data`` for :meth:`ExperimentLogger.log_batch_step`.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..config import TrainConfig
from ..envs.environment import Environment, EnvParams, observe
from ..envs.wrappers import AutoResetWrapper, BboxActionWrapper, EpisodeStatsWrapper, StatsState
from ..types import Observation
from .curriculum import TaskStats
from .networks import ActorCritic, evaluate_action, make_model, sample_action


class Runner(eqx.Module):
    """Everything the training loop carries from one update to the next."""

    model: ActorCritic
    opt_state: Any
    env_state: StatsState  # [N] environments with their episode statistics
    key: jax.Array
    update: jax.Array  # int32: number of updates done ([S], all equal, with seeds)
    diverged: jax.Array  # bool: a loss was NaN/inf at some point ([S] with seeds)
    tasks: TaskStats  # per-task success rates (what prioritized task sampling reads)

    def updates_done(self) -> int:
        """The number of updates done (every seed has done the same)."""
        return int(np.asarray(jax.device_get(self.update)).reshape(-1)[0])

    def diverged_seeds(self) -> list[int]:
        """The seeds (indices; ``[0]`` without a seed axis) whose loss became NaN/inf."""
        return np.flatnonzero(np.asarray(jax.device_get(self.diverged)).reshape(-1)).tolist()


class Transition(eqx.Module):
    obs: Observation
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    done: jax.Array


class PPO:
    """Builds ``init(key) -> Runner`` and ``update(runner) -> (runner, batch_data)``.

    With ``config.num_seeds = S > 1`` both are vmapped over a leading seed axis: ``init``
    takes ``S`` keys (:meth:`seed_keys`), every array of the runner and of ``batch_data`` has
    a leading ``[S]``, and each seed has its own parameters, optimizer and environments.
    """

    def __init__(
        self,
        config: TrainConfig,
        params: EnvParams,
        record_actions: int = 0,
        first_update: int = 0,
    ):
        """``record_actions``: keep the first that many actions of each episode, so that
        sampled episodes can be replayed (``batch_data["episode_actions"]``).
        ``first_update``: the update a resumed run starts at; ``train.anneal_lr`` then decays
        the learning rate to 0 at update ``first_update + num_updates`` of the whole series
        (so a run stopped at update k and resumed with ``num_updates = N - k`` follows the
        schedule of N updates straight)."""
        self.config = config
        self.params = params
        self.env = EpisodeStatsWrapper(
            AutoResetWrapper(BboxActionWrapper(Environment())), record_actions=record_actions
        )
        c = config
        self.batch_size = c.num_envs * c.num_steps
        self.minibatch_size = self.batch_size // c.num_minibatches
        total = (first_update + c.num_updates) * c.update_epochs * c.num_minibatches
        self.schedule = (
            optax.linear_schedule(c.learning_rate, 0.0, total)
            if c.anneal_lr
            else optax.constant_schedule(c.learning_rate)
        )
        self.optimizer = optax.chain(
            optax.clip_by_global_norm(c.max_grad_norm), optax.adam(self.schedule, eps=1e-5)
        )

    @property
    def num_seeds(self) -> int:
        return self.config.num_seeds

    def seed_keys(self) -> jax.Array:
        """``PRNGKey(seed)``, or ``[S]`` keys ``PRNGKey(seed + i)``: seed ``i`` of a vmapped run
        is the run ``train.seed=seed+i`` would be alone."""
        c = self.config
        if c.num_seeds == 1:
            return jax.random.PRNGKey(c.seed)
        return jnp.stack([jax.random.PRNGKey(c.seed + i) for i in range(c.num_seeds)])

    def init(self, key: jax.Array) -> Runner:
        """The runner (``[S]`` of them along a leading axis when ``num_seeds > 1``)."""
        if self.num_seeds == 1:
            return self._init_one(key)
        return eqx.filter_vmap(self._init_one)(key)  # type: ignore[no-any-return]

    def update(self, runner: Runner) -> tuple[Runner, dict[str, Any]]:
        """One PPO update of every seed: rollout, GAE, ``update_epochs`` × ``num_minibatches``."""
        if self.num_seeds == 1:
            return self._update_one(runner)
        return eqx.filter_vmap(self._update_one)(runner)  # type: ignore[no-any-return]

    # ----------------------------------------------------------------------------------
    def _init_one(self, key: jax.Array) -> Runner:
        c, p = self.config, self.params
        k_model, k_env, key = jax.random.split(key, 3)
        model = make_model(c.hidden_dim, k_model, demonstrations=p.demonstrations)
        opt_state = self.optimizer.init(eqx.filter(model, eqx.is_array))
        reset = jax.vmap(self.env.reset, in_axes=(0, None))
        env_state, _ = reset(jax.random.split(k_env, c.num_envs), p)
        tasks = TaskStats.empty(p.buffer.num_tasks)
        return Runner(model, opt_state, env_state, key, jnp.int32(0), jnp.bool_(False), tasks)

    def env_params(self, runner: Runner) -> EnvParams:
        """The environments' params for ``runner``'s next rollout: prioritized task sampling
        sets the reset's task weights from the runner's per-task success rates."""
        if self.config.task_sampling != "prioritized":
            return self.params
        params: EnvParams = eqx.tree_at(
            lambda p: p.task_logits,
            self.params,
            runner.tasks.logits(),
            is_leaf=lambda x: x is None,
        )
        return params

    # ----------------------------------------------------------------------------------
    def _env_step(self, p: EnvParams, runner: Runner) -> tuple[Runner, Transition]:
        key, k_act = jax.random.split(runner.key)
        obs = jax.vmap(observe, in_axes=(0, None))(runner.env_state.env_state, p)
        action, log_prob, value = jax.vmap(sample_action, in_axes=(None, 0, None, 0))(
            runner.model, obs, p.allowed_operations, jax.random.split(k_act, self.config.num_envs)
        )
        env_state, ts = jax.vmap(self.env.step, in_axes=(0, 0, None))(runner.env_state, action, p)
        runner = eqx.tree_at(lambda r: (r.env_state, r.key), runner, (env_state, key))
        return runner, Transition(obs, action, log_prob, value, ts.reward, ts.last())

    def _loss(
        self, model: ActorCritic, batch: Transition, advantages: jax.Array, returns: jax.Array
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array, jax.Array]]:
        c = self.config
        log_prob, entropy, value = jax.vmap(evaluate_action, in_axes=(None, 0, None, 0))(
            model, batch.obs, self.params.allowed_operations, batch.action
        )
        ratio = jnp.exp(log_prob - batch.log_prob)
        adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy_loss = -jnp.minimum(
            ratio * adv, jnp.clip(ratio, 1 - c.clip_eps, 1 + c.clip_eps) * adv
        ).mean()
        v_clipped = batch.value + jnp.clip(value - batch.value, -c.clip_eps, c.clip_eps)
        value_loss = (
            0.5 * jnp.maximum(jnp.square(value - returns), jnp.square(v_clipped - returns)).mean()
        )
        entropy = entropy.mean()
        total = policy_loss + c.vf_coef * value_loss - c.ent_coef * entropy
        return total, (policy_loss, value_loss, entropy)

    def _update_one(self, runner: Runner) -> tuple[Runner, dict[str, Any]]:
        c = self.config
        finished_before = runner.env_state.stats.episodes_finished
        params = self.env_params(runner)
        runner, traj = jax.lax.scan(
            lambda r, _: self._env_step(params, r), runner, None, length=c.num_steps
        )
        last_obs = jax.vmap(observe, in_axes=(0, None))(runner.env_state.env_state, self.params)
        last_value = jax.vmap(runner.model.value)(last_obs)

        def gae_step(
            carry: tuple[jax.Array, jax.Array], t: tuple[jax.Array, jax.Array, jax.Array]
        ) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
            gae, next_value = carry
            done, value, reward = t
            not_done = 1.0 - done.astype(jnp.float32)
            delta = reward + c.gamma * next_value * not_done - value
            gae = delta + c.gamma * c.gae_lambda * not_done * gae
            return (gae, value), gae

        _, advantages = jax.lax.scan(
            gae_step,
            (jnp.zeros_like(last_value), last_value),
            (traj.done, traj.value, traj.reward),
            reverse=True,
        )
        returns = advantages + traj.value

        flat = jax.tree.map(
            lambda x: x.reshape((self.batch_size,) + x.shape[2:]), (traj, advantages, returns)
        )
        grad_fn = eqx.filter_value_and_grad(self._loss, has_aux=True)

        def minibatch_step(carry: tuple[Any, Any], idx: jax.Array) -> tuple[tuple[Any, Any], Any]:
            model, opt_state = carry
            batch, adv, ret = jax.tree.map(lambda x: x[idx], flat)
            (total, aux), grads = grad_fn(model, batch, adv, ret)
            updates, opt_state = self.optimizer.update(
                grads, opt_state, eqx.filter(model, eqx.is_array)
            )
            model = eqx.apply_updates(model, updates)
            return (model, opt_state), (total, *aux, optax.tree.norm(grads))

        def epoch(carry: tuple[Any, Any], key: jax.Array) -> tuple[tuple[Any, Any], Any]:
            perm = jax.random.permutation(key, self.batch_size).reshape(
                c.num_minibatches, self.minibatch_size
            )
            return jax.lax.scan(minibatch_step, carry, perm)

        key, k_epochs = jax.random.split(runner.key)
        (model, opt_state), stats = jax.lax.scan(
            epoch, (runner.model, runner.opt_state), jax.random.split(k_epochs, c.update_epochs)
        )
        total, policy_loss, value_loss, entropy, grad_norm = (s.mean() for s in stats)
        residual_var = jnp.var(returns - traj.value)
        explained_variance = 1.0 - residual_var / jnp.maximum(jnp.var(returns), 1e-8)
        e = runner.env_state.stats
        # environments whose last finished episode ended during this rollout: the ones counted
        finished_in_rollout = e.episodes_finished > finished_before
        diverged = runner.diverged | ~jnp.isfinite(total)
        tasks = runner.tasks.update(e.last_task, finished_in_rollout, e.last_success)
        runner = Runner(model, opt_state, runner.env_state, key, runner.update + 1, diverged, tasks)
        batch_data = {
            "episode_returns": e.last_return,
            "episode_lengths": e.last_length,
            "similarity_scores": e.last_similarity,
            "success_mask": e.last_success,
            "episode_done_mask": finished_in_rollout,
            "episodes_counted": jnp.sum(finished_in_rollout, dtype=jnp.int32),
            "policy_loss": policy_loss,
            "value_loss": value_loss,
            "gradient_norm": grad_norm,
            "entropy": entropy,
            "explained_variance": explained_variance,
            "learning_rate": jnp.asarray(
                self.schedule(runner.update * c.update_epochs * c.num_minibatches), jnp.float32
            ),
            "task_ids": e.last_task,
            # with the episode's augmentation: what the agent saw, and how to map it back
            "initial_states": {
                "grid": e.last_initial_grid,
                "mask": e.last_initial_mask,
                "symmetry": e.last_augmentation.symmetry,
                "colors": e.last_augmentation.colors,
            },
            "final_states": {"grid": e.last_final_grid, "mask": e.last_final_mask},
            "target_states": {"grid": e.last_target_grid, "mask": e.last_target_mask},
        }
        if runner.env_state.actions is not None:
            actions = jax.vmap(lambda log, n: log.last(n))(runner.env_state.actions, e.last_length)
            batch_data["episode_actions"] = actions
        return runner, batch_data
