"""The application: QApplication, the window, and the last-resort error dialog for what no
slot caught."""
from __future__ import annotations

import gc
import logging
import sys
import traceback

from PySide6.QtCore import QCoreApplication, QObject, QTimer
from PySide6.QtWidgets import QApplication

from .error_dialog import ErrorDialog

log = logging.getLogger(__name__)


def install_excepthook() -> None:
    """Unexpected exceptions (in slots too) show the dialog instead of killing the app."""

    def hook(kind, value, tb):
        details = "".join(traceback.format_exception(kind, value, tb))
        log.error("unexpected error:\n%s", details)
        if QApplication.instance() is None or issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        ErrorDialog(f"{kind.__name__}: {value}", details,
                    QApplication.activeWindow()).exec()

    sys.excepthook = hook


class GuiThreadCollector(QObject):
    """Python's cycle collector runs on the GUI thread only. Left automatic, it runs in whichever
    thread happens to allocate: a worker painting a picture could free a cycle holding Qt
    objects while the GUI thread holds Qt's locks and waits for the interpreter, and both
    stopped for good (a hang seen in the test suite: the worker in torch's Module.__init__, the
    GUI thread making a QTimer). So automatic collection is off while the app runs, and this
    timer collects the generations whose thresholds were passed, as Python would, on the GUI
    thread. Workers still free everything that is not in a cycle at once."""

    INTERVAL_MS = 200

    def __init__(self, app: QApplication):
        super().__init__(app)
        self.thresholds = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(self.INTERVAL_MS)

    def check(self) -> None:
        counts = gc.get_count()
        generation = -1
        for g in range(3):
            if counts[g] > self.thresholds[g]:
                generation = g
        if generation >= 0:
            gc.collect(generation)


def create_app(argv: list[str] | None = None) -> QApplication:
    QCoreApplication.setOrganizationName("NSTStudio")
    QCoreApplication.setApplicationName("NST Studio")
    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    if not app.findChild(GuiThreadCollector):
        GuiThreadCollector(app)
    return app


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(argv)
    install_excepthook()
    from .main_window import MainWindow

    window = MainWindow()
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
