"""Progress of a long job on the console (stderr): phase, the Spark stage running and its tasks
done, elapsed time. Read from Spark's status tracker by a background thread; `--quiet` turns it
off. On a terminal one line is rewritten in place; otherwise a line is printed every so often."""

from __future__ import annotations

import sys
import threading
import time


class Progress:
    def __init__(self, spark=None, enabled: bool = True, stream=None, every: float = 1.0, log_every: float = 15.0):
        self._spark = spark
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._every = every
        self._log_every = log_every
        self._started = time.monotonic()
        self._phase = "starting"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_line = ""
        self._last_print = 0.0

    def attach(self, spark) -> "Progress":
        self._spark = spark
        if self._enabled and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="clearsweep-progress", daemon=True)
            self._thread.start()
        return self

    def phase(self, name: str) -> None:
        self._phase = name
        self._emit(force=True)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._enabled and self._tty and self._last_line:
            self._stream.write("\n")
            self._stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._emit()
            except Exception:  # the session is stopping: progress is best effort
                return

    def _stages(self) -> str:
        if self._spark is None:
            return ""
        tracker = self._spark.sparkContext.statusTracker()
        parts = []
        for stage_id in sorted(tracker.getActiveStageIds()):
            info = tracker.getStageInfo(stage_id)
            if info is not None:
                parts.append(f"stage {stage_id} {info.numCompletedTasks}/{info.numTasks} tasks")
        return ", ".join(parts[:3])

    def _emit(self, force: bool = False) -> None:
        if not self._enabled:
            return
        elapsed = time.monotonic() - self._started
        stages = self._stages()
        line = f"[{elapsed:6.0f}s] {self._phase}" + (f": {stages}" if stages else "")
        now = time.monotonic()
        if self._tty:
            self._stream.write("\r" + line.ljust(len(self._last_line)))
        elif force or now - self._last_print >= self._log_every:
            self._stream.write(line + "\n")
        else:
            return
        self._last_line = line
        self._last_print = now
        self._stream.flush()
