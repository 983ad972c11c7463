"""One generic worker for every kind of job: a QObject on a QThread that drains an event source
(any generator of plain events, see docs/jobs.md) and turns each event into a signal. The window
hands a source in, receives signals and may ask for a stop; it never touches the work.

Wiring follows the canonical recipe (superqt's `new_worker_qthread`): the worker is moved to a
QThread, `started -> run`, `done -> quit`; once the thread has ended both are released (see
`JobController.start` for why Python's ownership replaces `deleteLater` here). Previews become
QImages here, in the worker's thread, as copies; the source's preview policy (nst_core.base.events)
already decided how often they come.
"""
from __future__ import annotations

import logging
import threading
import traceback
from typing import Any, Callable, Iterator

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QImage

from nst_app.executors import ItemEvent
from nst_core import NSTError, Preview

from .qtimage import to_qimage

log = logging.getLogger(__name__)

#: A source of events: called in the worker's thread with the stop flag it must honour.
Source = Callable[[threading.Event], Iterator[Any]]


class JobWorker(QObject):
    event = Signal(object)  # every event but previews, as the source yielded it
    preview = Signal(QImage, int, str)  # a preview as a QImage copy, its step, the item id or ""
    failed = Signal(object)  # the source refused (bad input): the NSTError, one line as text
    crashed = Signal(str, str)  # an unexpected exception: summary, details (a traceback)
    done = Signal()  # always, last

    def __init__(self, source: Source):
        super().__init__()
        self.source = source
        self._stop = threading.Event()
        self._going = threading.Event()  # cleared while paused
        self._going.set()

    def request_stop(self) -> None:
        """Thread-safe: the work stops within one step and keeps what it made."""
        self._stop.set()
        self._going.set()  # a paused work wakes to stop

    def pause(self, paused: bool) -> None:
        """Thread-safe: a paused work takes no further step (the source is not asked for its
        next event) until it is resumed or stopped."""
        if paused:
            self._going.clear()
        else:
            self._going.set()

    def _wait_while_paused(self) -> None:
        while not self._going.wait(0.2):
            pass

    @Slot()
    def run(self) -> None:
        try:
            for ev in self.source(self._stop):
                inner = ev.event if isinstance(ev, ItemEvent) else None  # a batch item's
                if isinstance(ev, Preview):
                    self.preview.emit(to_qimage(ev.image), ev.iteration, "")
                elif isinstance(inner, Preview):
                    self.preview.emit(to_qimage(inner.image), inner.iteration, ev.item_id)
                else:
                    self.event.emit(ev)
                self._wait_while_paused()  # before the source is asked for its next step
        except NSTError as e:
            self.failed.emit(e)
        except Exception as e:  # never let an exception escape into Qt's event loop
            log.exception("unexpected error in the worker")
            self.crashed.emit(f"{type(e).__name__}: {e}", traceback.format_exc())
        finally:
            self.done.emit()


class JobController(QObject):
    """Owns at most one worker and its thread; re-emits the worker's signals."""

    event = Signal(object)
    preview = Signal(QImage, int, str)
    failed = Signal(object)
    crashed = Signal(str, str)
    running_changed = Signal(bool)
    paused_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: JobWorker | None = None
        self._paused = False

    @property
    def running(self) -> bool:
        return self._worker is not None

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self, paused: bool) -> bool:
        """Pause (or resume) the work under way after its current step; False when none."""
        if self._worker is None or paused == self._paused:
            return False
        self._worker.pause(paused)
        self._paused = paused
        self.paused_changed.emit(paused)
        return True

    def start(self, source: Source) -> bool:
        """Start draining `source` in a new thread; refuses (False) while one is going."""
        if self.running:
            return False
        thread = QThread()
        worker = JobWorker(source)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.event.connect(self.event)
        worker.preview.connect(self.preview)
        worker.failed.connect(self.failed)
        worker.crashed.connect(self.crashed)
        # Direct: QThread.quit is thread-safe, and a queued call would deadlock a GUI thread
        # that is blocked in wait().
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
        if self._paused:
            self._paused = False
            self.paused_changed.emit(False)

    def shutdown(self, timeout_ms: int | None = None) -> bool:
        """Stop and wait for the thread (tests, the very end of the app). True if it ended
        within `timeout_ms` (None: however long the current step takes)."""
        thread = self._thread
        if thread is None:
            return True
        self.stop()
        ok = thread.wait() if timeout_ms is None else thread.wait(timeout_ms)
        if not ok:
            log.error("the worker did not stop within %d ms", timeout_ms)
        return ok

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is not None:
            self._thread.wait()  # returns at once: the thread is past its last statement
        self._thread, self._worker = None, None
        self.running_changed.emit(False)
