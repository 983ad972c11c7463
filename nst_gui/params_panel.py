"""The parameters panel, built from `TransferSettings`: labels, ranges, choices and tooltips all
come from the settings dataclass, so the form cannot drift from the engine."""
from __future__ import annotations

import logging
import math
import random

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QSlider,
                               QTableWidget, QTableWidgetItem, QToolButton, QVBoxLayout,
                               QWidget, QHeaderView, QAbstractItemView)

from nst_core import TransferSettings
from nst_core.networks.layers import FEATURE_LAYERS

from .spinboxes import DoubleSpinBox, SpinBox

log = logging.getLogger(__name__)

_CHOICE_LABELS = {
    "init": {"content": "The photo", "noise": "Random noise", "style": "The painting",
             "image": "An image…"},
    "optimizer": {"lbfgs": "L-BFGS (fewer steps)", "adam": "Adam (steadier)"},
    "color": {"none": "The painting's", "luminance": "Kept (light and dark painted)",
              "histogram": "Kept (painting recoloured)"},
    "pooling": {"max": "Max (crisper)", "avg": "Average (softer)"},
    "device": {"auto": "Automatic", "cpu": "CPU", "cuda": "NVIDIA GPU (CUDA)",
               "mps": "Apple GPU (MPS)"},
    "weights": {"bundled": "Original VGG19 (bundled)", "torchvision": "torchvision checkpoint"},
}


def _tip(name: str) -> str:
    return TransferSettings.meta(name)["help"]


def _label(name: str) -> str:
    return TransferSettings.meta(name)["label"]


class LogSlider(QWidget):
    """A logarithmic slider with the exact number beside it, for weights spanning decades."""

    value_changed = Signal(float)
    STEPS = 1000

    def __init__(self, lo: float, hi: float, decimals: int = 4, maximum: float | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.lo, self.hi = lo, hi
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, self.STEPS)
        self.spin = DoubleSpinBox()
        self.spin.setDecimals(decimals)
        self.spin.setRange(0.0, maximum if maximum is not None else hi)
        self.spin.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.spin.setKeyboardTracking(False)
        self.spin.setMinimumWidth(90)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.spin)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)

    def _to_pos(self, v: float) -> int:
        if v <= self.lo:
            return 0
        t = (math.log10(min(v, self.hi)) - math.log10(self.lo)) / (
            math.log10(self.hi) - math.log10(self.lo))
        return round(t * self.STEPS)

    def _from_pos(self, pos: int) -> float:
        t = pos / self.STEPS
        v = 10 ** (math.log10(self.lo) + t * (math.log10(self.hi) - math.log10(self.lo)))
        digits = max(0, 2 - math.floor(math.log10(v)))  # three significant digits
        return round(v, digits)

    def _from_slider(self, pos: int) -> None:
        if self._to_pos(self.spin.value()) == pos:
            return
        self.spin.setValue(self._from_pos(pos))

    def _from_spin(self, v: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(self._to_pos(v))
        self.slider.blockSignals(False)
        self.value_changed.emit(v)

    def value(self) -> float:
        return self.spin.value()

    def set_value(self, v: float) -> None:
        self.spin.setValue(v)
        self._from_spin(self.spin.value())


class ParamsPanel(QWidget):
    """Every engine setting except the images. `values()` gives the fields it controls."""

    changed = Signal()
    refused = Signal(str)  # a typed number out of range, in one line

    def __init__(self, devices: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self._loading = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)

        look = QGroupBox("Look")
        form = QFormLayout(look)
        self.style_weight = LogSlider(1.0, 1e5, decimals=2, maximum=1e8)
        self.content_weight = LogSlider(0.01, 1e3, decimals=3, maximum=1e6)
        self.tv_weight = LogSlider(1e-5, 10.0, decimals=5)
        self.style_scale = DoubleSpinBox()
        self._number(self.style_scale, "style_scale", decimals=2, step=0.1)
        self.style_scale.setSuffix("×")
        self.color = self._combo("color")
        self._row(form, "style_weight", self.style_weight)
        self._row(form, "style_scale", self.style_scale)
        self._row(form, "color", self.color)
        self._row(form, "content_weight", self.content_weight)
        self._row(form, "tv_weight", self.tv_weight)
        lay.addWidget(look)

        # the researcher's knobs: one click away, below the artist's
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced = QGroupBox()
        adv = QFormLayout(self.advanced)

        run = QGroupBox("Picture")
        form = QFormLayout(run)
        self.size = SpinBox()
        self._number(self.size, "size", step=64)
        self.size.setSuffix(" px")
        self._row(form, "size", self.size)
        self.memory_label = QLabel()
        self.memory_label.setToolTip("Memory this size needs, and what is free now. A size that "
                                     "cannot fit is refused before the run starts.")
        form.addRow("", self.memory_label)
        self.iterations = SpinBox()
        self._number(self.iterations, "iterations", step=50)
        self._row(form, "iterations", self.iterations)
        self.multiscale = QCheckBox("Paint coarse-to-fine")
        self.scales = SpinBox()
        self._number(self.scales, "scales")
        self.scales.setPrefix("scales: ")
        ms = QHBoxLayout()
        ms.addWidget(self.multiscale)
        ms.addWidget(self.scales)
        self.multiscale.setToolTip(_tip("multiscale"))
        self.multiscale.toggled.connect(self.scales.setEnabled)
        self._row(adv, "multiscale", ms)
        self.early_stop = DoubleSpinBox()
        self._number(self.early_stop, "early_stop", decimals=4, step=0.001)
        self.early_stop.setSpecialValueText("never")
        self._row(adv, "early_stop", self.early_stop)
        self.settle = DoubleSpinBox()
        self._number(self.settle, "settle", decimals=2, step=0.05)
        self.settle.setSpecialValueText("never")
        self._row(adv, "settle", self.settle)
        self.optimizer = self._combo("optimizer")
        self._row(adv, "optimizer", self.optimizer)
        self.init = self._combo("init")
        self.init_image = QLineEdit()
        self.init_image.setPlaceholderText("image to start from")
        self.init_browse = QToolButton()
        self.init_browse.setText("…")
        self.init_browse.clicked.connect(self._browse_init)
        init_row = QVBoxLayout()
        init_row.addWidget(self.init)
        ii = QHBoxLayout()
        ii.addWidget(self.init_image)
        ii.addWidget(self.init_browse)
        init_row.addLayout(ii)
        self.init_image.setToolTip(_tip("init_image"))
        self.init.currentIndexChanged.connect(self._sync_enabled)
        self._row(adv, "init", init_row)
        self.seed = SpinBox()
        self._number(self.seed, "seed")
        dice = QToolButton()
        dice.setText("Random")
        dice.setToolTip("Pick a new random seed")
        dice.clicked.connect(lambda: self.seed.setValue(random.randrange(0, 2**31 - 1)))
        sr = QHBoxLayout()
        sr.addWidget(self.seed, 1)
        sr.addWidget(dice)
        self._row(adv, "seed", sr)
        self.device = self._combo("device", choices=devices)
        self._row(adv, "device", self.device)
        self.max_memory = DoubleSpinBox()  # print size: what a run may use, and its tiles
        self._number(self.max_memory, "max_memory", decimals=1, step=1.0)
        self.max_memory.setSuffix(" GB")
        self.max_memory.setSpecialValueText("what is free")
        self._row(adv, "max_memory", self.max_memory)
        self.tile = SpinBox()
        self._number(self.tile, "tile", step=64)
        self.tile.setSuffix(" px")
        self.tile.setSpecialValueText("where needed")
        self._row(adv, "tile", self.tile)
        self.strokes_at = SpinBox()
        self._number(self.strokes_at, "strokes_at", step=64)
        self.strokes_at.setSuffix(" px")
        self.strokes_at.setSpecialValueText("any size")
        self._row(adv, "strokes_at", self.strokes_at)
        lay.addWidget(run)
        lay.addWidget(self.advanced_toggle)
        form = adv
        self.lr_auto = QCheckBox("automatic")
        self.lr = DoubleSpinBox()
        self._number(self.lr, "learning_rate", decimals=4, step=0.01)
        lr_row = QHBoxLayout()
        lr_row.addWidget(self.lr_auto)
        lr_row.addWidget(self.lr, 1)
        self.lr_auto.toggled.connect(lambda on: self.lr.setEnabled(not on))
        self._row(form, "learning_rate", lr_row)
        self.pooling = self._combo("pooling")
        self._row(form, "pooling", self.pooling)
        self.layers = QTableWidget(len(FEATURE_LAYERS), 3)
        self.layers.setHorizontalHeaderLabels(["Style layer", "Weight", "Content"])
        self.layers.verticalHeader().setVisible(False)
        self.layers.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.layers.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.layers.setToolTip(_tip("style_layers") + " " + _tip("style_layer_weights") + " "
                               + _tip("content_layers"))
        self.layers.setMinimumHeight(180)
        self._layer_weights: dict[str, QDoubleSpinBox] = {}
        for row, name in enumerate(FEATURE_LAYERS):
            item = QTableWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.layers.setItem(row, 0, item)
            spin = QDoubleSpinBox()
            spin.setRange(0.0, 1000.0)
            spin.setDecimals(2)
            spin.setValue(1.0)
            spin.valueChanged.connect(self._emit_changed)
            self.layers.setCellWidget(row, 1, spin)
            content = QTableWidgetItem()
            content.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            content.setCheckState(Qt.CheckState.Unchecked)
            self.layers.setItem(row, 2, content)
            self._layer_weights[name] = spin
        self.layers.itemChanged.connect(self._emit_changed)
        form.addRow(self.layers)
        self.weights = self._combo("weights")
        self._row(form, "weights", self.weights)
        self.weights_path = QLineEdit()
        self.weights_path.setPlaceholderText("torch hub cache")
        self.weights_path.setToolTip(_tip("weights_path"))
        self.weights_path.textChanged.connect(self._emit_changed)
        self._row(form, "weights_path", self.weights_path)
        self.weights.currentIndexChanged.connect(self._sync_enabled)
        self.advanced.setVisible(False)
        self.advanced_toggle.toggled.connect(self._toggle_advanced)
        lay.addWidget(self.advanced)
        lay.addStretch(1)

        for w in (self.style_weight, self.content_weight, self.tv_weight):
            w.value_changed.connect(self._emit_changed)
        for w in (self.style_scale, self.size, self.iterations, self.scales, self.seed, self.lr,
                  self.early_stop, self.settle, self.max_memory, self.tile, self.strokes_at):
            w.valueChanged.connect(self._emit_changed)
        for w in (self.color, self.optimizer, self.init, self.device, self.pooling,
                  self.weights):
            w.currentIndexChanged.connect(self._emit_changed)
        for w in (self.multiscale, self.lr_auto):
            w.toggled.connect(self._emit_changed)
        self.init_image.textChanged.connect(self._emit_changed)
        self.set_values(TransferSettings())

    # ---- building helpers ----------------------------------------------------------------------
    def _row(self, form: QFormLayout, name: str, widget) -> None:
        label = QLabel(_label(name))
        label.setToolTip(_tip(name))
        if isinstance(widget, QWidget):
            widget.setToolTip(_tip(name))
        form.addRow(label, widget)

    def _combo(self, name: str, choices: list[str] | None = None) -> QComboBox:
        box = QComboBox()
        labels = _CHOICE_LABELS.get(name, {})
        for value in choices if choices is not None else TransferSettings.meta(name)["choices"]:
            box.addItem(labels.get(value, value), value)
        box.setToolTip(_tip(name))
        return box

    def _number(self, spin, name: str, decimals: int | None = None, step: float = 1) -> None:
        lo, hi = TransferSettings.meta(name)["range"]
        spin.setAccessibleName(_label(name))
        spin.refused.connect(self.refused)
        if decimals is not None:
            spin.setDecimals(decimals)
        spin.setRange(lo, hi)
        spin.setSingleStep(step)
        spin.setKeyboardTracking(False)
        spin.setToolTip(_tip(name))

    def _toggle_advanced(self, on: bool) -> None:
        self.advanced.setVisible(on)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def _browse_init(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Start from image", "",
                                              "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif "
                                              "*.tiff *.gif)")
        if path:
            self.init_image.setText(path)

    def _sync_enabled(self) -> None:
        is_image = self.init.currentData() == "image"
        self.init_image.setEnabled(is_image)
        self.init_browse.setEnabled(is_image)
        self.weights_path.setEnabled(self.weights.currentData() == "torchvision")

    def _emit_changed(self, *args) -> None:
        if not self._loading:
            self.changed.emit()

    @staticmethod
    def _select(box: QComboBox, value: str) -> None:
        i = box.findData(value)
        if i >= 0:
            box.setCurrentIndex(i)

    # ---- values --------------------------------------------------------------------------------
    def values(self) -> dict:
        style_layers = []
        weights = []
        for row, name in enumerate(FEATURE_LAYERS):
            if self.layers.item(row, 0).checkState() == Qt.CheckState.Checked:
                style_layers.append(name)
                weights.append(self._layer_weights[name].value())
        equal = len(set(weights)) <= 1
        return {
            "style_weight": self.style_weight.value(),
            "content_weight": self.content_weight.value(),
            "tv_weight": self.tv_weight.value(),
            "color": self.color.currentData(),
            "style_scale": self.style_scale.value(),
            "size": self.size.value(),
            "iterations": self.iterations.value(),
            "early_stop": self.early_stop.value(),
            "settle": self.settle.value(),
            "multiscale": self.multiscale.isChecked(),
            "scales": self.scales.value(),
            "optimizer": self.optimizer.currentData(),
            "init": self.init.currentData(),
            "init_image": self.init_image.text().strip(),
            "seed": self.seed.value(),
            "device": self.device.currentData(),
            "max_memory": self.max_memory.value(),
            "tile": self.tile.value(),
            "strokes_at": self.strokes_at.value(),
            "learning_rate": None if self.lr_auto.isChecked() else self.lr.value(),
            "pooling": self.pooling.currentData(),
            "content_layers": tuple(
                name for row, name in enumerate(FEATURE_LAYERS)
                if self.layers.item(row, 2).checkState() == Qt.CheckState.Checked),
            "style_layers": tuple(style_layers),
            "style_layer_weights": () if equal else tuple(weights),
            "weights": self.weights.currentData(),
            "weights_path": self.weights_path.text().strip(),
        }

    @staticmethod
    def _put(spin, value, setter=None) -> None:
        """Set a spin box, clamping a value outside its range (a damaged saved setting) with
        a warning instead of failing."""
        lo, hi = spin.minimum(), spin.maximum()
        if not (lo <= value <= hi):  # also false for NaN
            clamped = hi if value > hi else lo
            log.warning("%s is outside %g..%g; using %g", value, lo, hi, clamped)
            value = clamped
        (setter or spin.setValue)(value)

    def set_values(self, s: TransferSettings) -> None:
        self._loading = True
        try:
            self._put(self.style_weight.spin, s.style_weight, self.style_weight.set_value)
            self._put(self.content_weight.spin, s.content_weight, self.content_weight.set_value)
            self._put(self.tv_weight.spin, s.tv_weight, self.tv_weight.set_value)
            self._select(self.color, s.color)
            self._put(self.style_scale, s.style_scale)
            self._put(self.size, s.size)
            self._put(self.iterations, s.iterations)
            self._put(self.early_stop, s.early_stop)
            self._put(self.settle, s.settle)
            self.multiscale.setChecked(s.multiscale)
            self._put(self.scales, s.scales)
            self.scales.setEnabled(s.multiscale)
            self._select(self.optimizer, s.optimizer)
            self._select(self.init, s.init)
            self.init_image.setText(s.init_image)
            self._put(self.seed, s.seed)
            if self.device.findData(s.device) < 0:
                self._select(self.device, "auto")  # a device this machine lacks
            else:
                self._select(self.device, s.device)
            self._put(self.max_memory, s.max_memory)
            self._put(self.tile, s.tile)
            self._put(self.strokes_at, s.strokes_at)
            self.lr_auto.setChecked(s.learning_rate is None)
            self._put(self.lr, s.lr)
            self.lr.setEnabled(s.learning_rate is not None)
            self._select(self.pooling, s.pooling)
            weights = dict(zip(s.style_layers, s.layer_weights()))
            for row, name in enumerate(FEATURE_LAYERS):
                on = name in weights
                self.layers.item(row, 0).setCheckState(
                    Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
                self._put(self._layer_weights[name], weights.get(name, 1.0))
                self.layers.item(row, 2).setCheckState(
                    Qt.CheckState.Checked if name in s.content_layers else Qt.CheckState.Unchecked)
            self._select(self.weights, s.weights)
            self.weights_path.setText(s.weights_path)
            self._sync_enabled()
        finally:
            self._loading = False
        self.changed.emit()
