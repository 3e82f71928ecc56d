"""Stopping on SIGINT/SIGTERM without losing anything.

SLURM and Kubernetes send SIGTERM some seconds before they kill; Ctrl-C sends SIGINT. The
first of either asks the training loop to stop after the update (host loop) or the chunk
(jit loop) in progress — so the checkpoint and the logs end at the same update — and the run
then saves, closes its handlers and exits with ``128 + signal``. A second signal stops at
once (``KeyboardInterrupt``), still saving what the last finished update left.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType

logger = logging.getLogger("jaxarc.train")

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set by the first SIGINT/SIGTERM; the loops read :attr:`signal` between updates."""

    def __init__(self) -> None:
        self.signal: int | None = None

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt  # the second signal: stop now
        self.signal = signum
        logger.warning(
            "%s received: finishing the update in progress, then saving a checkpoint and "
            "closing the logs (send it again to stop at once)",
            signal.Signals(signum).name,
        )


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Route SIGINT/SIGTERM to a :class:`StopRequest` while the block runs (main thread only;
    elsewhere signals keep their handlers and only Ctrl-C's ``KeyboardInterrupt`` applies)."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.signal(s, stop.handle) for s in SIGNALS}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
