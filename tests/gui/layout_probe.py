"""Open the window on the screen this process was given (run with QT_QPA_PLATFORM set to
`offscreen:configfile=...`, see test_layout.py), then with every panel open, one page after
another; print what was measured as one line of JSON. A data folder and a settings file of its
own: argv[1]."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QAbstractButton, QApplication, QScrollArea

from nst_gui.app import create_app
from nst_gui.main_window import MainWindow


def measure(w: MainWindow) -> dict:
    QApplication.processEvents()
    free = w.screen().availableGeometry()
    frame = w.frameGeometry()
    c = w.canvas
    return {"screen": [free.width(), free.height()],
            "inside": free.contains(frame),
            "frame": [frame.x(), frame.y(), frame.width(), frame.height()],
            "window": [w.width(), w.height()],
            "minimum": [w.minimumSizeHint().width(), w.minimumSizeHint().height()],
            "share": c.width() * c.height() / (w.width() * w.height())}


def page_report(w: MainWindow, name: str) -> dict:
    """The page in front: whether it needs a sideways scroll, and the buttons that stick out
    of it sideways (a control nobody could reach)."""
    w.show_page(name)
    QApplication.processEvents()
    scroll = w.side.currentWidget()
    assert isinstance(scroll, QScrollArea)
    view = scroll.viewport().rect()
    outside = []
    for b in scroll.widget().findChildren(QAbstractButton):
        if b.isVisibleTo(scroll.widget()):
            r = b.rect().translated(b.mapTo(scroll.viewport(), b.rect().topLeft()))
            if r.right() > view.right() + 1 or r.left() < view.left() - 1:
                outside.append(b.text() or b.toolTip()[:30])
    return {**measure(w), "sideways": scroll.horizontalScrollBar().maximum(),
            "outside": outside}


def main() -> None:
    folder = Path(sys.argv[1])
    create_app()
    w = MainWindow(data_dir=folder / "data",
                   store=QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
    w.show()
    report = {"launch": measure(w), "pages": {}}
    if not w.history_action.isChecked():
        w.history_action.trigger()
    if not w.plot_action.isChecked():
        w.plot_action.trigger()
    for name in w.side.names:
        report["pages"][name] = page_report(w, name)
    print("LAYOUT " + json.dumps(report))
    w.close()


if __name__ == "__main__":
    main()
