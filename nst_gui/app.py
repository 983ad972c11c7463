"""The application: QApplication, the window, and the last-resort error dialog for what no
slot caught."""
from __future__ import annotations

import logging
import sys
import traceback

from PySide6.QtCore import QCoreApplication
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


def create_app(argv: list[str] | None = None) -> QApplication:
    QCoreApplication.setOrganizationName("NSTStudio")
    QCoreApplication.setApplicationName("NST Studio")
    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
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
