"""Live progress of a calibration: evaluations done/running/failed, best cost,
current parameters, elapsed time.

`MonitoredExecutor` wraps the executor that runs the model and counts what it
does; `ProgressDisplay` draws those counts once a second, with `rich` when it
is installed (``pip install lsqbox[progress]``) and as a plain status line
otherwise (or a line per update when the output is not a terminal).
"""
import sys
import threading
import time
from concurrent.futures import Executor

__all__ = ["MonitoredExecutor", "ProgressDisplay", "FitState"]


class FitState:
    """Counters shared by the executor, the solver callback and the display."""

    def __init__(self, names):
        self.names = names
        self.lock = threading.Lock()
        self.done = 0
        self.failed = 0
        self.running = 0
        self.best_cost = None
        self.best_values = None
        self.iteration = 0
        self.started = time.monotonic()

    def elapsed(self):
        return time.monotonic() - self.started


class MonitoredExecutor(Executor):
    """An Executor that forwards to another and counts submissions/results."""

    def __init__(self, inner, state):
        self.inner = inner
        self.state = state

    def submit(self, fn, /, *args, **kwargs):
        with self.state.lock:
            self.state.running += 1
        future = self.inner.submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, future):
        failed = future.cancelled() or future.exception() is not None
        if not failed:
            result = future.result()
            failed = type(result).__name__ == "Failure"
        with self.state.lock:
            self.state.running -= 1
            self.state.done += 1
            self.state.failed += int(failed)

    def shutdown(self, wait=True, *, cancel_futures=False):
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)


class ProgressDisplay:
    """Redraws the state about once a second in a background thread."""

    def __init__(self, state, stream=None, interval=1.0):
        self.state = state
        self.stream = stream or sys.stderr
        self.interval = interval
        self._stop = threading.Event()
        self._thread = None
        self._live = None

    def line(self):
        s = self.state
        with s.lock:
            cost = "-" if s.best_cost is None else f"{s.best_cost:.6g}"
            values = ""
            if s.best_values:
                values = "  " + " ".join(f"{k}={v:.5g}" for k, v in s.best_values.items())
            return (f"[{s.elapsed():7.1f} s] iteration {s.iteration:3d}  runs: "
                    f"{s.done} done, {s.running} running, {s.failed} failed  "
                    f"best cost {cost}{values}")

    def start(self):
        try:
            from rich.live import Live
            from rich.text import Text
            if self.stream.isatty():
                self._live = Live(Text(self.line()), refresh_per_second=2,
                                  transient=False)
                self._live.start()
        except ImportError:
            self._live = None
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self):
        last = None
        while not self._stop.wait(self.interval):
            self._draw(last_line=last)
            last = self.line()

    def _draw(self, last_line=None, final=False):
        text = self.line()
        if self._live is not None:
            from rich.text import Text
            self._live.update(Text(text))
        elif self.stream.isatty():
            self.stream.write("\r" + text[:150].ljust(150) + ("\n" if final else ""))
            self.stream.flush()
        elif final or text != last_line:
            self.stream.write(text + "\n")
            self.stream.flush()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._draw(final=True)
        if self._live is not None:
            self._live.stop()
