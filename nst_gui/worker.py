"""The run's worker: a QObject living on a QThread that drives the engine and reports through
signals. The window never touches the optimization; it hands settings in, receives signals and
may ask the run to stop.

Wiring follows the canonical recipe (superqt's `new_worker_qthread`): the worker is moved to a
QThread, `started -> run`, `done -> quit`; once the thread has ended both are released (see
`RunController.start` for why Python's ownership replaces `deleteLater` here).
Previews are QImages built in the worker as copies, throttled by time so the event loop stays
responsive; scalar progress goes out on every iteration.
"""
from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QImage

from nst_core import NSTError, RunFailedError, StyleTransfer, TransferSettings

from .history import HistoryEntry, HistoryStore
from .qtimage import to_qimage

log = logging.getLogger(__name__)


@dataclass
class ProgressInfo:
    """Scalar progress of one iteration (no image)."""

    iteration: int
    total: int
    scale: int
    scales: int
    size: tuple[int, int]
    losses: dict[str, float]
    elapsed: float
    eta: float | None
    rate: float  # iterations per second over the last few iterations


@dataclass
class RunOutcome:
    """What a run left behind: the picture (as pixels and as a QImage) and how it went."""

    rgb: np.ndarray
    image: QImage
    settings: TransferSettings
    iterations: int
    seconds: float
    stopped: bool
    losses: list[dict[str, float]] = field(default_factory=list)
    entry: HistoryEntry | None = None  # where it was saved in the history


class TransferWorker(QObject):
    started = Signal(int, int, int)  # total iterations, output width, output height
    progress = Signal(object)  # ProgressInfo
    preview = Signal(QImage, int)  # image (a copy), iteration
    finished = Signal(object)  # RunOutcome (also when stopped early)
    failed = Signal(str, object)  # message for the person, RunOutcome of the last good image or None
    done = Signal()  # always, last

    def __init__(self, settings: TransferSettings, history: HistoryStore | None = None,
                 preview_interval: float = 0.25):
        super().__init__()
        self.settings = settings
        self.history = history
        self.preview_interval = preview_interval
        self._stop = threading.Event()
        self._job: StyleTransfer | None = None

    def request_stop(self) -> None:
        """Thread-safe: the run stops before its next iteration and keeps its best image."""
        self._stop.set()
        job = self._job
        if job is not None:
            job.request_stop()

    @Slot()
    def run(self) -> None:
        try:
            self._run()
        except Exception as e:  # never let an exception escape into Qt's event loop
            log.exception("unexpected error in the run")
            self.failed.emit(f"Unexpected error: {e}\n\n{traceback.format_exc()}", None)
        finally:
            self.done.emit()

    def _run(self) -> None:
        try:
            job = StyleTransfer(self.settings, preview_every=1)
        except NSTError as e:
            self.failed.emit(str(e), None)
            return
        self._job = job
        if self._stop.is_set():
            job.request_stop()
        w, h = job.output_size
        self.started.emit(job.total_iterations, w, h)
        last_preview = 0.0
        recent: list[float] = []
        try:
            for ev in job.events():
                now = time.perf_counter()
                recent = (recent + [now])[-10:]
                rate = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 else 0.0
                self.progress.emit(ProgressInfo(ev.iteration, ev.total, ev.scale, ev.scales,
                                                ev.size, ev.losses, ev.elapsed, ev.eta, rate))
                due = now - last_preview >= self.preview_interval or ev.iteration == ev.total
                if ev.preview is not None and (due or ev.iteration == 1):
                    self.preview.emit(to_qimage(ev.preview), ev.iteration)
                    last_preview = now
        except RunFailedError as e:
            outcome = self._keep(e.result, note=str(e)) if e.result is not None else None
            self.failed.emit(str(e), outcome)
            return
        except NSTError as e:
            self.failed.emit(str(e), None)
            return
        result = job.result
        assert result is not None
        self.finished.emit(self._keep(result))

    def _keep(self, result, note: str = "") -> RunOutcome:
        """Write the result to the history at once, then describe it."""
        seconds = float(result.timings.get("total", 0.0))
        entry = None
        if self.history is not None:
            try:
                entry = self.history.add(result.image, result.settings, result.iterations,
                                         seconds, result.stopped, note)
            except (OSError, NSTError) as e:
                log.error("could not write the result to the history: %s", e)
        return RunOutcome(result.image, to_qimage(result.image), result.settings,
                          result.iterations, seconds, result.stopped, list(result.losses), entry)


class RunController(QObject):
    """Owns at most one run: its worker and thread. Re-emits the worker's signals."""

    started = Signal(int, int, int)
    progress = Signal(object)
    preview = Signal(QImage, int)
    finished = Signal(object)
    failed = Signal(str, object)
    running_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: TransferWorker | None = None

    @property
    def running(self) -> bool:
        return self._worker is not None

    def start(self, settings: TransferSettings, history: HistoryStore | None = None) -> bool:
        """Start a run; refuses (returns False) while one is going."""
        if self.running:
            return False
        thread = QThread()
        worker = TransferWorker(settings, history)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.started.connect(self.started)
        worker.progress.connect(self.progress)
        worker.preview.connect(self.preview)
        worker.finished.connect(self.finished)
        worker.failed.connect(self.failed)
        # Direct: QThread.quit is thread-safe, and a queued call would deadlock a GUI thread
        # that is blocked in wait() (closing the window during a run).
        worker.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
        # Let go of the thread only once it has ended. `finished` is emitted from the thread
        # just before it ends, so the slot waits for the end first; then Python, which owns
        # both objects, frees them. (A deleteLater here could free the QThread before that
        # wait: Qt aborts or crashes on a QThread destroyed while running.)
        thread.finished.connect(self._on_thread_finished)
        self._thread, self._worker = thread, worker
        thread.start()
        self.running_changed.emit(True)
        return True

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.request_stop()

    def shutdown(self, timeout_ms: int = 15000) -> bool:
        """Stop the run and wait for its thread (on window close). True if it ended in time."""
        thread = self._thread
        if thread is None:
            return True
        self.stop()
        thread.quit()  # the event loop ends as soon as the run returns to it
        ok = thread.wait(timeout_ms)
        if not ok:
            log.error("the run did not stop within %d ms", timeout_ms)
        return ok

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is not None:
            self._thread.wait()  # returns at once: the thread is past its last statement
        self._thread, self._worker = None, None
        self.running_changed.emit(False)
