"""The configuration sections and :class:`JaxArcConfig`: the one source of every default.

Every section is an :class:`equinox.Module` (a frozen, hashable dataclass), so a whole
:class:`JaxArcConfig` can be closed over by ``jax.jit`` or passed as a static argument.
The YAML files in ``jaxarc/conf`` are named presets that change a few of these values;
:meth:`JaxArcConfig.from_hydra` checks every value and reports all problems at once in one
:class:`ConfigValidationError`.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
from collections.abc import Mapping
from typing import Any, Literal

import equinox as eqx

from ..types import NUM_OPERATIONS
from .convert import ConfigValidationError, build_section, plain, to_container, unknown_key

logger = logging.getLogger("jaxarc.config")


class EnvironmentConfig(eqx.Module):
    """Episode rules, and what the agent sees.

    - ``episode_mode``: ``train`` plays the tasks' train pairs, ``eval`` their test pairs
      (with the target always hidden).
    - ``observe_target``: the target grid is in the observation (the ARCLE paper's setting,
      "target visible"); false hides it — the reward still comes from it.
    - ``demonstrations``: the observation carries the task's demonstration pairs: the other
      train pairs for a train query (leave-one-out), all train pairs for a test query.
    - ``augment``: each episode draws one of the 8 symmetries of the square and a colour
      permutation (colour 0 fixed unless ``augment_all_colors``) and applies it to every
      grid of the task it shows; the state records it (``jaxarc.envs.augment``).
    - ``target_hint_share``: with ``observe_target=false``, this share of *training*
      episodes shows the target all the same (a curriculum hint: the agent learns how to
      edit where it can see what to aim at); evaluation episodes never do.

    The ``in_context`` preset is ARC's own problem: demonstrations in, target hidden,
    augmentation on.
    """

    max_episode_steps: int = 100
    episode_mode: Literal["train", "eval"] = "train"
    observe_target: bool = True
    demonstrations: bool = False
    augment: bool = False
    augment_all_colors: bool = False
    target_hint_share: float = 0.0

    def problems(self) -> list[str]:
        out = (
            [] if self.max_episode_steps > 0 else ["environment.max_episode_steps must be positive"]
        )
        if not 0.0 <= self.target_hint_share <= 1.0:
            out.append(
                f"environment.target_hint_share must be in [0, 1] (got {self.target_hint_share})"
            )
        return out


#: ``dataset.source`` and ``dataset.split`` values.
Source = Literal["AGI1", "AGI2", "MiniARC", "folder"]
Split = Literal["train", "eval"]


class DatasetConfig(eqx.Module):
    """Which ARC tasks to load and how to pad them into static shapes."""

    source: Source = "AGI1"
    split: Split = "train"
    data_dir: str | None = None
    task_ids: tuple[str, ...] = ()
    max_task_size: int | None = None
    max_tasks: int | None = None
    max_grid_size: int = 30
    max_train_pairs: int = 10
    max_test_pairs: int = 4
    # held-out tasks: a deterministic partition of the selected tasks (by id, fraction and
    # seed); `holdout_part` picks which part is loaded. `jaxarc train` trains on "train";
    # `jaxarc eval` and `train.eval_every` then score "heldout" (not ARC's own `split`)
    holdout_fraction: float = 0.0
    holdout_seed: int = 0
    holdout_part: Literal["all", "train", "heldout"] = "all"

    def problems(self) -> list[str]:
        out = []
        if not 0.0 <= self.holdout_fraction < 1.0:
            out.append(f"dataset.holdout_fraction must be in [0, 1) (got {self.holdout_fraction})")
        if self.holdout_part != "all" and self.holdout_fraction <= 0:
            out.append(
                f"dataset.holdout_part={self.holdout_part} needs dataset.holdout_fraction > 0"
            )
        if not 1 <= self.max_grid_size <= 30:
            out.append(f"dataset.max_grid_size must be in 1..30 (got {self.max_grid_size})")
        if self.max_train_pairs <= 0 or self.max_test_pairs <= 0:
            out.append("dataset.max_train_pairs and dataset.max_test_pairs must be positive")
        if self.max_task_size is not None and self.max_task_size <= 0:
            out.append("dataset.max_task_size must be positive or null")
        if self.max_tasks is not None and self.max_tasks <= 0:
            out.append("dataset.max_tasks must be positive or null")
        if self.source == "folder" and not self.data_dir:
            out.append("dataset.data_dir is required when dataset.source is 'folder'")
        return out


class ActionConfig(eqx.Module):
    """Action format and which of the 36 operations the agent may use."""

    selection_format: Literal["mask", "bbox", "point"] = "bbox"
    allowed_operations: tuple[int, ...] | None = None

    def problems(self) -> list[str]:
        if self.allowed_operations is None:
            return []
        bad = [op for op in self.allowed_operations if not 0 <= op < NUM_OPERATIONS]
        out = (
            [f"action.allowed_operations has ids outside 0..{NUM_OPERATIONS - 1}: {bad}"]
            if bad
            else []
        )
        if not self.allowed_operations:
            out.append("action.allowed_operations must not be empty (use null for all operations)")
        return out


class RewardConfig(eqx.Module):
    """Reward weights (see ``jaxarc.envs.reward``)."""

    similarity_weight: float = 1.0
    # "delta": the change of similarity; "best": the rise of the episode's best similarity
    similarity_reward: Literal["delta", "best"] = "delta"
    # "best" only: the share of a fall in similarity that is charged (0: edits that make
    # things worse cost nothing at once; 1: as much as the progress they undo earned)
    regression_weight: float = 0.0
    step_penalty: float = -0.01
    success_bonus: float = 1.0
    unsolved_submission_penalty: float = -0.1
    invalid_action_penalty: float = -0.1

    def problems(self) -> list[str]:
        out = [] if self.similarity_weight >= 0 else ["reward.similarity_weight must be >= 0"]
        if self.regression_weight < 0:  # it would pay for making the grid worse
            out.append(f"reward.regression_weight must be >= 0 (got {self.regression_weight})")
        return out


class LoggingConfig(eqx.Module):
    """All logging behavior and formats (the batched-logging design's fields and defaults).

    Episode files (the file handler, ``runs/<run>/episodes/``):

    - ``structured_logging``: write machine-readable episode records (true), in the form
      ``log_format`` names; false writes only the human-readable text file (one line per
      event) and no JSON.
    - ``log_format``: ``"json"``, one JSON document per episode; ``"structured"``, JSON
      Lines, one self-describing record per event (``{"event": "task_start" | "step" |
      "summary", ...}``); ``"text"``, the JSON document and the text file beside it.
    - ``log_key_moments``: a single episode's key moments (``first_success``, the first step
      that solves the task, and ``episode_end``, its last step) are kept whole, whatever
      ``log_operations``/``log_grid_changes``/``log_rewards`` strip from ordinary steps, and
      named in the step record (``"key_moments": ["first_success", "episode_end"]``).
    """

    # Core logging settings
    structured_logging: bool = True
    log_format: Literal["json", "text", "structured"] = "json"
    # the level `jaxarc train` gives the "jaxarc" logger (the library never changes levels)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    compression: bool = True
    include_full_states: bool = False

    # What to log (specific content flags)
    log_operations: bool = False
    log_grid_changes: bool = False
    log_rewards: bool = False
    log_episode_start: bool = True
    log_episode_end: bool = True
    log_key_moments: bool = True

    # Logging frequency and timing
    log_frequency: int = 10

    # Batched logging settings
    batched_logging_enabled: bool = False
    sampling_enabled: bool = True
    num_samples: int = 3
    sample_frequency: int = 50
    # also sample the best and the worst finished episode (by similarity) of the batch
    # (a jaxarc extension: off by default, the design's behaviour; on in `jaxarc train`)
    sample_best_worst: bool = False

    # Aggregated metrics selection
    log_aggregated_rewards: bool = True
    log_aggregated_similarity: bool = True
    log_loss_metrics: bool = True
    log_gradient_norms: bool = True
    log_episode_lengths: bool = True
    log_success_rates: bool = True
    # episodes, success rate and mean similarity of each task (by the integer task_ids),
    # computed in the same reduction; written to task_metrics.jsonl, a heatmap in the report
    per_task_metrics: bool = False

    def problems(self) -> list[str]:
        return validate_batched_logging_config(self)


def validate_batched_logging_config(config: LoggingConfig) -> list[str]:
    """Validate batched logging configuration (the design's rules); returns error strings."""
    errors = []
    if config.num_samples <= 0:
        errors.append(f"logging.num_samples must be positive (got {config.num_samples})")
    if config.sample_frequency <= 0:
        errors.append(f"logging.sample_frequency must be positive (got {config.sample_frequency})")
    if config.log_frequency <= 0:
        errors.append(f"logging.log_frequency must be positive (got {config.log_frequency})")
    if config.num_samples > 1000:
        logger.warning("logging.num_samples is very large: %d", config.num_samples)
    return errors


class VisualizationConfig(eqx.Module):
    """SVG pictures and the Rich console."""

    enabled: bool = True
    save_step_svgs: bool = True
    console: bool = True
    console_verbosity: Literal["compact", "full"] = "compact"
    cell_size: int = 16

    def problems(self) -> list[str]:
        return [] if self.cell_size > 0 else ["visualization.cell_size must be positive"]


class StorageConfig(eqx.Module):
    """Where runs are written and which file-based handlers are on."""

    base_output_dir: str = "outputs"
    run_name: str | None = None
    file_logging: bool = True
    tensorboard: bool = True

    def problems(self) -> list[str]:
        out = [] if self.base_output_dir else ["storage.base_output_dir must not be empty"]
        name = self.run_name
        if name is not None:
            if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
                out.append(
                    f"storage.run_name must be one directory name (no '/', '\\', '..'), "
                    f"got {name!r}; set storage.base_output_dir to choose where runs go"
                )
            elif len(name.encode()) > MAX_RUN_NAME:
                size = len(name.encode())
                out.append(f"storage.run_name is {size} bytes long; at most {MAX_RUN_NAME}")
        return out


#: the longest ``storage.run_name`` in UTF-8 bytes (file systems allow 255; runs add ``-<n>``)
MAX_RUN_NAME = 120


class WandbConfig(eqx.Module):
    """Weights & Biases; off by default, offline when on unless told otherwise."""

    enabled: bool = False
    mode: Literal["offline", "online", "disabled"] = "offline"
    project: str = "jaxarc"
    entity: str | None = None
    tags: tuple[str, ...] = ()
    group: str | None = None
    log_images: bool = True

    def problems(self) -> list[str]:
        return []


class TrainConfig(eqx.Module):
    """PPO hyper-parameters for ``jaxarc train``."""

    num_envs: int = 64
    num_steps: int = 16
    num_updates: int = 200
    update_epochs: int = 2
    num_minibatches: int = 4
    learning_rate: float = 3e-4
    anneal_lr: bool = False
    gamma: float = 0.95
    gae_lambda: float = 0.9
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden_dim: int = 32
    seed: int = 0
    # independent agents trained in one jitted program (vmapped): seed i uses seed + i
    num_seeds: int = 1
    loop: Literal["host", "jit"] = "host"
    checkpoint_every: int = 50
    resume: str | None = None
    # score submit-at-once and a random policy on the run's tasks (baselines.json, the report)
    baselines: bool = True
    # which task a reset picks: uniform, or prioritized by learning potential (tasks solved
    # sometimes, neither never nor always, are drawn more; see jaxarc.train.curriculum)
    task_sampling: Literal["uniform", "prioritized"] = "uniform"
    # every this many updates (and after the last) evaluate the current policy on the test
    # pairs with the target hidden, as `jaxarc eval` does; 0: never
    eval_every: int = 0

    def problems(self) -> list[str]:
        out = []
        for name in (
            "num_envs",
            "num_steps",
            "num_updates",
            "update_epochs",
            "num_minibatches",
            "hidden_dim",
            "checkpoint_every",
            "num_seeds",
        ):
            if getattr(self, name) <= 0:
                out.append(f"train.{name} must be positive (got {getattr(self, name)})")
        if (
            self.num_envs > 0
            and self.num_steps > 0
            and self.num_minibatches > 0
            and (self.num_envs * self.num_steps) % self.num_minibatches
        ):
            out.append(
                "train.num_envs * train.num_steps must be divisible by train.num_minibatches"
            )
        if self.learning_rate <= 0:
            out.append("train.learning_rate must be positive")
        if self.eval_every < 0:
            out.append(f"train.eval_every must be 0 (off) or positive (got {self.eval_every})")
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                out.append(f"train.{name} must be in [0, 1]")
        return out


class JaxArcConfig(eqx.Module):
    """The whole configuration: one section per concern."""

    environment: EnvironmentConfig = EnvironmentConfig()
    dataset: DatasetConfig = DatasetConfig()
    action: ActionConfig = ActionConfig()
    reward: RewardConfig = RewardConfig()
    logging: LoggingConfig = LoggingConfig()
    visualization: VisualizationConfig = VisualizationConfig()
    storage: StorageConfig = StorageConfig()
    wandb: WandbConfig = WandbConfig()
    train: TrainConfig = TrainConfig()

    def problems(self) -> list[str]:
        return [p for f in dataclasses.fields(self) for p in getattr(self, f.name).problems()]

    def validate(self) -> JaxArcConfig:
        """Raise :class:`ConfigValidationError` listing every invalid value; return self."""
        problems = self.problems()
        if problems:
            raise ConfigValidationError(problems)
        return self

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON/YAML-friendly dict of every value."""
        return {f.name: section_dict(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_hydra(cls, cfg: Any) -> JaxArcConfig:
        """Convert a Hydra ``DictConfig`` (or a plain mapping) into a validated config.

        Missing keys take their defaults; unknown keys, wrong types and out-of-range values
        are all reported together in one :class:`ConfigValidationError`. Removed async
        logging keys are ignored with one ``DeprecationWarning``.
        """
        data = to_container(cfg)
        problems: list[str] = []
        sections = {}
        known = {f.name: f for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                problems.append(unknown_top_level_key(key))
        for name, field in known.items():
            raw = data.get(name) or {}
            if not isinstance(raw, Mapping):
                problems.append(f"{name} must be a mapping of settings, got {type(raw).__name__}")
                continue
            sections[name] = build_section(type(field.default), dict(raw), name, problems)
        config = cls(**sections)  # invalid values were left at their defaults
        problems += config.problems()
        if problems:
            raise ConfigValidationError(problems)
        return config


def unknown_top_level_key(key: str) -> str:
    """The message for a key outside every section, naming the section(s) that have it."""
    config = JaxArcConfig()
    sections = [f.name for f in dataclasses.fields(config)]
    head, _, rest = key.partition(".")
    close = difflib.get_close_matches(head, sections, n=1)
    if rest and close:
        return f"unknown section '{head}' in '{key}'; did you mean '{close[0]}.{rest}'?"
    owners = [
        f.name
        for f in dataclasses.fields(config)
        if key in {g.name for g in dataclasses.fields(getattr(config, f.name))}
    ]
    if owners:
        options = " or ".join(f"'{owner}.{key}'" for owner in owners)
        return f"unknown key '{key}': settings live in sections; did you mean {options}?"
    return unknown_key(key, "", {f.name: f for f in dataclasses.fields(config)})


def section_dict(section: Any) -> dict[str, Any]:
    """One section as a plain dict (tuples become lists)."""
    return {f.name: plain(getattr(section, f.name)) for f in dataclasses.fields(section)}
