"""Logging handlers: small classes with up to six optional methods (see :mod:`.base`)."""

from .base import HANDLER_METHODS, BaseHandler, Handler
from .file import FileHandler
from .rich_console import RichHandler
from .svg import SVGHandler
from .tensorboard import TensorBoardHandler
from .wandb import WandbHandler

__all__ = [
    "HANDLER_METHODS",
    "BaseHandler",
    "FileHandler",
    "Handler",
    "RichHandler",
    "SVGHandler",
    "TensorBoardHandler",
    "WandbHandler",
]
