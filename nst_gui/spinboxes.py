"""Number fields that say so when a typed number is out of range, instead of quietly keeping
the digits that fit (typing 20000 in a field that stops at 4096 would leave 2000)."""
from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox


def _refusal(box, text: str) -> str:
    """The line for a refused `text`, or "" when it is not a number out of range."""
    typed = text.removeprefix(box.prefix()).removesuffix(box.suffix()).strip()
    try:
        value = float(typed.replace(",", ""))
    except ValueError:
        return ""
    lo, hi = box.minimum(), box.maximum()
    if lo <= value <= hi:
        return ""
    return (f"{typed} is out of range: {box.accessibleName() or 'this field'} takes "
            f"{lo:g} to {hi:g}{box.suffix()}")


class _Refusing:
    """The refusal, for a QSpinBox or QDoubleSpinBox subclass that declares `refused`."""

    def _calm(self) -> QTimer:
        """The field's own timer that takes the red away (it goes with the field)."""
        timer = getattr(self, "_calm_timer", None)
        if timer is None:
            timer = self._calm_timer = QTimer(self)
            timer.setSingleShot(True)
            timer.timeout.connect(lambda: self.setStyleSheet(""))
        return timer

    def validate(self, text: str, pos: int):
        result = super().validate(text, pos)
        state = result[0] if isinstance(result, tuple) else result
        if state == QValidator.State.Invalid:
            why = _refusal(self, text)
            if why:
                self.setStyleSheet("background: #f6d5d5")  # a moment's red on the field
                self._calm().start(1500)
                self.refused.emit(why)
        elif self.styleSheet():
            self.setStyleSheet("")
        return result


class SpinBox(_Refusing, QSpinBox):
    refused = Signal(str)  # one line: what was typed and the range the field takes


class DoubleSpinBox(_Refusing, QDoubleSpinBox):
    refused = Signal(str)
