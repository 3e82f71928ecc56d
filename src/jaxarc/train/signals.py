"""Stopping on SIGINT/SIGTERM without losing anything.

SLURM and Kubernetes send SIGTERM some seconds before they kill; Ctrl-C sends SIGINT. The
first of either asks the training loop to stop after the update (host loop; that update is
logged like a final one, so the logs end where the checkpoint is) or the chunk (jit loop;
its updates are logged at their cadence) in progress; the run then saves, closes its
handlers and exits with ``128 + signal``. A second signal stops at once
(``KeyboardInterrupt``). With several processes, they agree to stop together.
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
    previous = {}
    for s in SIGNALS:
        if signal.getsignal(s) is signal.SIG_IGN:  # e.g. SIGINT of a background job: keep it
            continue
        previous[s] = signal.signal(s, stop.handle)
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            if handler is not None:  # None: installed outside Python, cannot be put back
                signal.signal(s, handler)


def stop_requested(stop: StopRequest) -> bool:
    """Whether to stop now; with several processes, whether any of them was asked to (they
    must stop at the same update, or the others would wait in a collective forever)."""
    import jax

    if jax.process_count() == 1:
        return stop.requested
    import numpy as np
    from jax.experimental import multihost_utils

    flags = multihost_utils.process_allgather(np.int32(stop.requested))
    return bool(np.asarray(flags).any())
