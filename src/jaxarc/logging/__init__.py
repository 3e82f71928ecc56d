"""Experiment logging: ExperimentLogger, its handlers and run readers.

The payload builders for single episodes live beside the environment, in
:mod:`jaxarc.envs.payloads` (also exported as ``jaxarc.task_start_payload`` etc.).
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from .experiment_logger import ExperimentLogger
from .reader import load_episodes, read_batch_metrics, read_run

__all__ = ["ExperimentLogger", "load_episodes", "read_batch_metrics", "read_run"]

_MOVED = {"task_start_payload", "step_payload", "episode_summary_payload"}


def __getattr__(name: str) -> Any:
    # the payload builders moved to jaxarc.envs.payloads; the old names keep working
    if name in _MOVED:
        warnings.warn(
            f"jaxarc.logging.{name} moved to jaxarc.envs.payloads.{name} (or jaxarc.{name})",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("jaxarc.envs.payloads"), name)
    raise AttributeError(f"module 'jaxarc.logging' has no attribute {name!r}")
