"""jaxarc: a JAX-native RL environment for ARC-AGI, with batched experiment logging."""

from .envs.config import ConfigValidationError, JaxArcConfig
from .envs.environment import Environment, EnvParams, reset, step
from .envs.factory import make
from .envs.load import load_config
from .envs.operations import NUM_OPERATIONS, OPERATION_NAMES
from .envs.wrappers import (
    AutoResetWrapper,
    BboxActionWrapper,
    FlatActionWrapper,
    PointActionWrapper,
)
from .logging import ExperimentLogger
from .types import Action, Observation, State, StepType, TaskBuffer, TimeStep

__version__ = "0.1.0"

__all__ = [
    "NUM_OPERATIONS",
    "OPERATION_NAMES",
    "Action",
    "AutoResetWrapper",
    "BboxActionWrapper",
    "ConfigValidationError",
    "EnvParams",
    "Environment",
    "ExperimentLogger",
    "ExperimentLogger",
    "FlatActionWrapper",
    "JaxArcConfig",
    "Observation",
    "PointActionWrapper",
    "State",
    "StepType",
    "TaskBuffer",
    "TimeStep",
    "load_config",
    "make",
    "reset",
    "step",
]
