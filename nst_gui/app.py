"""The application: QApplication, the window, and a last-resort error dialog."""
from __future__ import annotations

import logging
import sys
import traceback

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QApplication, QDialog, QDialogButtonBox, QLabel, QPlainTextEdit,
                               QVBoxLayout, QWidget)

log = logging.getLogger(__name__)


class ErrorDialog(QDialog):
    """Shows an unexpected error with its details and a button to copy them."""

    def __init__(self, summary: str, details: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Something went wrong")
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(f"<b>{summary}</b><br>Your images and results are kept; you can "
                             "go on working. If this keeps happening, copy the details into a "
                             "bug report."))
        self.details = QPlainTextEdit(details)
        self.details.setReadOnly(True)
        self.details.setMinimumSize(640, 260)
        lay.addWidget(self.details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.details.toPlainText())


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
