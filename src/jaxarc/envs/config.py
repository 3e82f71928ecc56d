"""Typed, immutable configuration for jaxarc.

Every section is an :class:`equinox.Module` (a frozen, hashable dataclass), so a whole
:class:`JaxArcConfig` can be closed over by ``jax.jit`` or passed as a static argument.
Configurations are normally composed by Hydra from the YAML files in ``jaxarc/conf`` and
converted with :meth:`JaxArcConfig.from_hydra`, which checks every value and reports all
problems at once in one :class:`ConfigValidationError`.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import types
import typing
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import equinox as eqx

logger = logging.getLogger("jaxarc.config")

#: Async-logging keys the batched-logging design removed. Old configs that still carry
#: them load with one DeprecationWarning and the keys are ignored.
REMOVED_LOGGING_KEYS = ("queue_size", "worker_threads", "batch_size", "flush_interval", "enable_compression")

NUM_OPERATIONS = 35


class ConfigValidationError(ValueError):
    """Raised when a configuration has one or more invalid values; lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"Invalid jaxarc configuration ({len(self.problems)} problem(s)):\n{lines}")


class EnvironmentConfig(eqx.Module):
    """Episode rules."""

    max_episode_steps: int = 100
    episode_mode: Literal["train", "eval"] = "train"

    def problems(self) -> list[str]:
        return [] if self.max_episode_steps > 0 else ["environment.max_episode_steps must be positive"]


class DatasetConfig(eqx.Module):
    """Which ARC tasks to load and how to pad them into static shapes."""

    source: Literal["AGI1", "AGI2", "folder"] = "AGI1"
    split: Literal["train", "eval"] = "train"
    data_dir: str | None = None
    task_ids: tuple[str, ...] = ()
    max_task_size: int | None = None
    max_tasks: int | None = None
    max_grid_size: int = 30
    max_train_pairs: int = 10
    max_test_pairs: int = 4

    def problems(self) -> list[str]:
        out = []
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
    """Action format and which of the 35 operations the agent may use."""

    selection_format: Literal["mask", "bbox", "point"] = "bbox"
    allowed_operations: tuple[int, ...] | None = None

    def problems(self) -> list[str]:
        if self.allowed_operations is None:
            return []
        bad = [op for op in self.allowed_operations if not 0 <= op < NUM_OPERATIONS]
        out = [f"action.allowed_operations has ids outside 0..{NUM_OPERATIONS - 1}: {bad}"] if bad else []
        if not self.allowed_operations:
            out.append("action.allowed_operations must not be empty (use null for all operations)")
        return out


class RewardConfig(eqx.Module):
    """Reward weights (see ``jaxarc.envs.reward``)."""

    similarity_weight: float = 1.0
    step_penalty: float = -0.01
    success_bonus: float = 1.0
    unsolved_submission_penalty: float = -0.1
    invalid_action_penalty: float = -0.1

    def problems(self) -> list[str]:
        return [] if self.similarity_weight >= 0 else ["reward.similarity_weight must be >= 0"]


class LoggingConfig(eqx.Module):
    """All logging behavior and formats."""

    # Core logging settings
    structured_logging: bool = True
    log_format: Literal["json", "text", "structured"] = "json"
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

    # Aggregated metrics selection
    log_aggregated_rewards: bool = True
    log_aggregated_similarity: bool = True
    log_loss_metrics: bool = True
    log_gradient_norms: bool = True
    log_episode_lengths: bool = True
    log_success_rates: bool = True

    def problems(self) -> list[str]:
        return validate_batched_logging_config(self)


def validate_batched_logging_config(config: LoggingConfig) -> list[str]:
    """Validate batched logging configuration (the design's rules); returns error strings."""
    errors = []
    if config.num_samples <= 0:
        errors.append("num_samples must be positive")
    if config.sample_frequency <= 0:
        errors.append("sample_frequency must be positive")
    if config.log_frequency <= 0:
        errors.append("log_frequency must be positive")
    if config.num_samples > 1000:
        logger.warning("num_samples is very large: %d", config.num_samples)
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
        return [] if self.base_output_dir else ["storage.base_output_dir must not be empty"]


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
    loop: Literal["host", "jit"] = "host"
    checkpoint_every: int = 50
    resume: str | None = None

    def problems(self) -> list[str]:
        out = []
        for name in ("num_envs", "num_steps", "num_updates", "update_epochs", "num_minibatches", "hidden_dim", "checkpoint_every"):
            if getattr(self, name) <= 0:
                out.append(f"train.{name} must be positive (got {getattr(self, name)})")
        if self.num_envs > 0 and self.num_steps > 0 and self.num_minibatches > 0 and (self.num_envs * self.num_steps) % self.num_minibatches:
            out.append("train.num_envs * train.num_steps must be divisible by train.num_minibatches")
        if self.learning_rate <= 0:
            out.append("train.learning_rate must be positive")
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
        return {
            f.name: {g.name: _plain(getattr(getattr(self, f.name), g.name)) for g in dataclasses.fields(getattr(self, f.name))}
            for f in dataclasses.fields(self)
        }

    @classmethod
    def from_hydra(cls, cfg: Any) -> JaxArcConfig:
        """Convert a Hydra ``DictConfig`` (or a plain mapping) into a validated config.

        Missing keys take their defaults; unknown keys, wrong types and out-of-range values
        are all reported together in one :class:`ConfigValidationError`. Removed async
        logging keys are ignored with one ``DeprecationWarning``.
        """
        data = _to_container(cfg)
        problems: list[str] = []
        sections = {}
        known = {f.name: f for f in dataclasses.fields(cls)}
        for key in data:
            if key not in known:
                problems.append(_unknown(key, "", known))
        for name, field in known.items():
            raw = data.get(name) or {}
            if not isinstance(raw, Mapping):
                problems.append(f"{name} must be a mapping of settings, got {type(raw).__name__}")
                continue
            if name == "logging":
                raw = _drop_removed_logging_keys(raw)
            sections[name] = _build_section(field.default.__class__, dict(raw), name, problems)
        config = cls(**sections)  # invalid values were left at their defaults
        problems += config.problems()
        if problems:
            raise ConfigValidationError(problems)
        return config


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _to_container(cfg: Any) -> dict[str, Any]:
    if cfg is None:
        return {}
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    if not isinstance(cfg, Mapping):
        raise ConfigValidationError([f"configuration must be a mapping, got {type(cfg).__name__}"])
    return dict(cfg)


def _drop_removed_logging_keys(raw: Mapping[str, Any]) -> dict[str, Any]:
    found = [k for k in REMOVED_LOGGING_KEYS if k in raw]
    if found:
        warnings.warn(
            f"logging keys {found} belonged to the removed async logger and are ignored; "
            "delete them from your config (batched logging replaces them, see conf/logging/batched.yaml).",
            DeprecationWarning,
            stacklevel=4,
        )
    return {k: v for k, v in raw.items() if k not in REMOVED_LOGGING_KEYS}


def _unknown(key: str, prefix: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean '{prefix}{close[0]}'?" if close else f"; valid keys: {sorted(known)}"
    return f"unknown key '{prefix}{key}'{hint}"


def _build_section(cls: type, raw: dict[str, Any], section: str, problems: list[str]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in raw.items():
        if key not in fields:
            problems.append(_unknown(key, f"{section}.", fields))
            continue
        ok, coerced = _coerce(value, hints[key])
        if ok:
            kwargs[key] = coerced
        else:
            problems.append(f"{section}.{key} must be {_describe(hints[key])}, got {value!r} ({type(value).__name__})")
    return cls(**kwargs)


def _coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return True, None
        for arg in args:
            if arg is not type(None):
                ok, out = _coerce(value, arg)
                if ok:
                    return True, out
        return False, None
    if origin is Literal:
        return (value in args), value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            return False, None
        items = [_coerce(v, args[0]) for v in value]
        return all(ok for ok, _ in items), tuple(v for _, v in items)
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return (isinstance(value, int) and not isinstance(value, bool)), value
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else None
    if tp is str:
        return isinstance(value, str), value
    return False, None


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is tuple:
        return f"a list of {_describe(args[0])}"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", type(None): "null"}.get(tp, str(tp))
