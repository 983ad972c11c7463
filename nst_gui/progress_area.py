"""The progress area under the canvas: a bar beside a line of figures, and the live loss plot
(hidden until asked for)."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QVBoxLayout,
                               QWidget)

from nst_core import Progress

_CURVES = (("total", (230, 230, 230)), ("style", (220, 120, 60)), ("content", (80, 160, 230)),
           ("tv", (120, 200, 120)))


def fmt_seconds(s: float | None) -> str:
    """A duration as a person reads it: 42 s, 2:19 (minutes), 9 h 53 min (a print)."""
    if s is None:
        return "…"
    s = max(0, int(round(s)))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s} s"


class ProgressArea(QWidget):
    """Progress bar, a line of figures, and the live loss plot (pyqtgraph, log scale)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(1)
        row = QHBoxLayout()  # the bar and its figures share one line: the picture needs it
        row.setContentsMargins(0, 0, 0, 0)
        self.bar = QProgressBar()
        self.bar.setFormat("Ready")
        self.bar.setTextVisible(True)
        self.bar.setMinimumWidth(200)
        row.addWidget(self.bar, 2)
        self.figures = QLabel(" ")
        # a long line is cut at the window's edge rather than widening the window
        self.figures.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row.addWidget(self.figures, 3)
        lay.addLayout(row)
        pg.setConfigOptions(antialias=True)
        self.plot = pg.PlotWidget()
        self.plot.setLogMode(y=True)
        self.plot.setLabel("bottom", "iteration")
        self.plot.setLabel("left", "loss")
        self.plot.setMinimumHeight(100)
        self.plot.setMaximumHeight(150)
        legend = self.plot.addLegend(brush=pg.mkBrush(0, 0, 0, 170), colCount=4)
        legend.anchor(itemPos=(0, 0.5), parentPos=(0, 0.5), offset=(60, 0))  # clear of curves
        legend.setZValue(10)
        self.plot.setMouseEnabled(x=False, y=False)
        self.curves = {name: self.plot.plot([], [], pen=pg.mkPen(color, width=2), name=name)
                       for name, color in _CURVES}
        self.data: dict[str, list[float]] = {name: [] for name, _ in _CURVES}
        self.x: list[int] = []
        self._recent: list[float] = []
        self.frames = False  # a video: the bar counts frames
        lay.addWidget(self.plot)
        self.plot.setVisible(False)  # View > Loss Plot shows it: the picture comes first

    def set_plot_visible(self, on: bool) -> None:
        self.plot.setVisible(bool(on))

    def plot_visible(self) -> bool:
        return not self.plot.isHidden()

    @property
    def rate(self) -> float:
        """Iterations per second over the last few."""
        r = self._recent
        return (len(r) - 1) / (r[-1] - r[0]) if len(r) > 1 and r[-1] > r[0] else 0.0

    def reset(self, total: int, frames: bool = False) -> None:
        """A new run of `total` steps; `frames`: a video, counted in frames."""
        self.frames = frames
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(0)
        self.bar.setFormat("Starting…")
        self.figures.setText(" ")
        self.x, self._recent = [], []
        for name in self.data:
            self.data[name] = []
            self.curves[name].setData([], [])

    def update_progress(self, p: Progress) -> None:
        w, h = p.size
        if self.frames:
            self._update_frames(p)
            return
        self._recent = (self._recent + [time.perf_counter()])[-10:]
        self.bar.setMaximum(p.total)
        self.bar.setValue(p.iteration)
        losses = (f"loss {p.losses['total']:.4g} (style {p.losses['style']:.3g}, content "
                  f"{p.losses['content']:.3g}, smoothing {p.losses['tv']:.3g})")
        if p.rate is not None:  # a training: steps of batches of photos
            self.bar.setFormat(f"Step {p.iteration} / {p.total} · {fmt_seconds(p.eta)} left")
            self.figures.setText(f"{p.rate:.1f} samples/s · crops of {w}×{h} px · elapsed "
                                 f"{fmt_seconds(p.elapsed)} · {losses}")
        else:
            self.bar.setFormat(f"Iteration {p.iteration} / {p.total} · scale "
                               f"{p.scale + 1}/{p.scales} · {fmt_seconds(p.eta)} left")
            self.figures.setText(f"{w}×{h} px · {self.rate:.2f} it/s · elapsed "
                                 f"{fmt_seconds(p.elapsed)} · {losses}")
        self.x.append(p.iteration)
        for name in self.data:
            v = float(p.losses.get(name, 0.0))
            self.data[name].append(v if v > 0 else np.nan)  # a log scale has no 0: leave a gap
            self.curves[name].setData(self.x, self.data[name], connect="finite")

    def _update_frames(self, p: Progress) -> None:
        """A video: the bar counts frames; the plot follows the frame being optimized."""
        w, h = p.size
        frame_done = not p.losses  # the step that ends a frame carries no losses
        self.bar.setMaximum(p.scales)
        self.bar.setValue(p.scale + (1 if frame_done else 0))
        self.bar.setFormat(f"Frame {p.scale + 1} / {p.scales} · {fmt_seconds(p.eta)} left")
        rate = f"{p.rate:.2f} frames/s · " if p.rate else ""
        self.figures.setText(f"{w}×{h} px · {rate}elapsed {fmt_seconds(p.elapsed)}")
        if frame_done:
            return
        self.x.append(p.iteration)
        for name in self.data:
            v = float(p.losses.get(name, 0.0))
            self.data[name].append(v if v > 0 else np.nan)
            self.curves[name].setData(self.x, self.data[name], connect="finite")

    def finish(self, text: str) -> None:
        self.bar.setFormat(text)

    def set_paused(self, paused: bool) -> None:
        """Say on the bar that the work is paused (its figures stand still meanwhile)."""
        text = self.bar.format().removeprefix("Paused · ")
        self.bar.setFormat(f"Paused · {text}" if paused else text)

    def show_text(self, text: str) -> None:
        """Describe what the canvas shows now (not a run of this area's): the last run's bar,
        figures and curves go, so nothing stale stays under another picture."""
        self.reset(1)
        self.bar.setFormat(text or " ")
