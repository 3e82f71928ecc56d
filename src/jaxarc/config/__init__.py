"""Configuration: typed sections, their validation, and Hydra composition.

The bottom layer of jaxarc with :mod:`jaxarc.types`: it imports nothing else of jaxarc, and
every other package receives the section it needs from here.
"""

from .convert import REMOVED_KEYS, REMOVED_LOGGING_KEYS, ConfigValidationError
from .load import compose, load_config
from .schema import (
    ActionConfig,
    DatasetConfig,
    EnvironmentConfig,
    JaxArcConfig,
    LoggingConfig,
    RewardConfig,
    Source,
    Split,
    StorageConfig,
    TrainConfig,
    VisualizationConfig,
    WandbConfig,
    validate_batched_logging_config,
)

__all__ = [
    "REMOVED_KEYS",
    "REMOVED_LOGGING_KEYS",
    "ActionConfig",
    "ConfigValidationError",
    "DatasetConfig",
    "EnvironmentConfig",
    "JaxArcConfig",
    "LoggingConfig",
    "RewardConfig",
    "Source",
    "Split",
    "StorageConfig",
    "TrainConfig",
    "VisualizationConfig",
    "WandbConfig",
    "compose",
    "load_config",
    "validate_batched_logging_config",
]
