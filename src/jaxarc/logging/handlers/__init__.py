"""Logging handlers: each is a small class with the same duck-typed interface.

Every method is optional; the :class:`~jaxarc.logging.ExperimentLogger` skips a handler
that lacks one:

- ``log_task_start(task_data)``
- ``log_step(step_data)``
- ``log_episode_summary(summary_data)``
- ``log_aggregated_metrics(metrics, step)``
- ``close()``
"""

from .file import FileHandler
from .rich_console import RichHandler
from .svg import SVGHandler
from .tensorboard import TensorBoardHandler
from .wandb import WandbHandler

__all__ = ["FileHandler", "RichHandler", "SVGHandler", "TensorBoardHandler", "WandbHandler"]
