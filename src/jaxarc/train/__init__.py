"""Batched PPO training: ``jaxarc train`` / ``python -m jaxarc.train``."""

from .checkpoint import load_checkpoint, save_checkpoint
from .loop import TrainingDiverged, TrainResult, train
from .networks import ActorCritic
from .ppo import PPO, Runner

__all__ = [
    "PPO",
    "ActorCritic",
    "Runner",
    "TrainResult",
    "TrainingDiverged",
    "load_checkpoint",
    "save_checkpoint",
    "train",
]
