"""jaxarc: a JAX-native RL environment for ARC-AGI, with batched experiment logging.

Layers, bottom to top (an import never runs upwards; ``tests/test_layers.py`` checks it):
``types`` and ``config`` → ``data`` | ``envs`` | ``viz`` → ``factory`` (``make``) →
``logging`` → ``train`` | ``report`` → ``cli``. See ``docs/architecture.md``.
"""

from .config import ConfigValidationError, JaxArcConfig, load_config
from .envs.environment import Environment, EnvParams, reset, step
from .envs.operations import OPERATION_NAMES
from .envs.payloads import episode_summary_payload, step_payload, task_start_payload
from .envs.wrappers import (
    AutoResetWrapper,
    BboxActionWrapper,
    EpisodeStatsWrapper,
    FlatActionWrapper,
    PointActionWrapper,
)
from .factory import make
from .logging import ExperimentLogger
from .types import (
    NUM_OPERATIONS,
    Action,
    Extras,
    InContextObservation,
    Observation,
    Operation,
    State,
    StepType,
    TaskBuffer,
    TimeStep,
)

__version__ = "0.2.0"

__all__ = [
    "NUM_OPERATIONS",
    "OPERATION_NAMES",
    "Action",
    "AutoResetWrapper",
    "BboxActionWrapper",
    "ConfigValidationError",
    "EnvParams",
    "Environment",
    "EpisodeStatsWrapper",
    "ExperimentLogger",
    "Extras",
    "FlatActionWrapper",
    "JaxArcConfig",
    "InContextObservation",
    "Observation",
    "Operation",
    "PointActionWrapper",
    "State",
    "StepType",
    "TaskBuffer",
    "TimeStep",
    "episode_summary_payload",
    "load_config",
    "make",
    "reset",
    "step",
    "step_payload",
    "task_start_payload",
]
