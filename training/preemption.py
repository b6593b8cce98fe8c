"""Preemption: SIGTERM (what schedulers and ``docker stop`` send before killing) or SIGINT (Ctrl-C) asks the run to
stop at the next step boundary, save a checkpoint and exit 0; rerunning the same command resumes from it.

The handler only records the request; the training loop passes it through its step, where it is summed over every
replica of every worker together with the loss, so that all workers of a multi-worker job see the same answer on
the same step and save together (a save is a collective operation under MultiWorkerMirroredStrategy). A second
SIGINT while the first is pending stops at once (Python's KeyboardInterrupt), for a user who does not want to wait.
"""

import signal
import threading

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequest:
    """``with StopRequest() as stop: ... if stop.signal: ...``: the name of the first signal received, or None.

    Handlers are installed on entry (from the main thread only: elsewhere Python cannot) and the previous ones
    restored on exit.
    """

    def __init__(self, signals=SIGNALS):
        self.signals = tuple(signals)
        self.signal = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()
        return False
