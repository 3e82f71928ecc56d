"""``jaxarc.envs.config``: the name the batched-logging design uses for the configuration.

The configuration lives in :mod:`jaxarc.config`; this module re-exports it unchanged.
"""

from ..config import *  # noqa: F403
from ..config import __all__ as __all__
