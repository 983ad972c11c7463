"""A guard against a Qt binding that leaks references out of None.

PySide6 6.12.0 on Python 3.11 took one reference from None on (nearly) every repaint; after a
few hundred runs in one session Python aborted with "none_dealloc" (found by scripts/soak.py).
On Python 3.12 and later None is immortal and this always passes."""
import gc
import sys

from PySide6.QtWidgets import QLabel, QProgressBar


def test_repainting_widgets_keeps_nones_references(qtbot):
    label, bar = QLabel("x"), QProgressBar()
    for w in (label, bar):
        qtbot.addWidget(w)
        w.show()
    for _ in range(5):  # warm up caches
        label.grab()
    gc.collect()
    before = sys.getrefcount(None)
    for i in range(200):
        label.setText(f"iteration {i}")
        bar.setValue(i % 100)
        label.grab()
        bar.grab()
    gc.collect()
    assert sys.getrefcount(None) - before > -20  # 6.12.0 lost about 600 here
