"""The presets row above the parameters: a preset chooser and Reset."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from nst_app.presets import Preset


class PresetsBar(QWidget):
    preset_chosen = Signal(str)  # a preset's name
    reset_requested = Signal()

    def __init__(self, presets: list[Preset], parent: QWidget | None = None):
        super().__init__(parent)
        self.presets = presets
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("Preset:"))
        self.box = QComboBox()
        self.box.addItem("Custom", None)
        for p in presets:
            self.box.addItem(p.name, p.name)
            self.box.setItemData(self.box.count() - 1, p.description, Qt.ItemDataRole.ToolTipRole)
        self.box.setToolTip("Presets change size, steps and schedule; your images and look "
                            "settings stay.")
        lay.addWidget(self.box, 1)
        reset = QPushButton("Reset")
        reset.setToolTip("Reset every setting to its default (images stay)")
        reset.clicked.connect(self.reset_requested)
        lay.addWidget(reset)
        self.box.activated.connect(self._activated)

    def _activated(self, index: int) -> None:
        name = self.box.itemData(index)
        if name:
            self.preset_chosen.emit(name)

    def sync(self, values: dict) -> None:
        """Show the preset the values match, or Custom."""
        for i, p in enumerate(self.presets):
            if all(values.get(k) == v for k, v in p.changes.items()):
                self.box.setCurrentIndex(i + 1)
                return
        self.box.setCurrentIndex(0)
