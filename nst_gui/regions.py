"""The regions a person paints over the photo: one greyscale mask per painting (white = this
painting), painted with a soft round brush, with undo and redo. Masks are `QImage`s at the
photo's size (at most `WORK_SIDE` on the long side; the engine scales them to every scale it
paints); a painting without a mask covers the whole picture, and where masks exist but none
reaches, the picture keeps the photo (nst_core.objective.regions).

Undo keeps whole snapshots: `QImage` copies share their pixels until one is painted, so a
snapshot costs the strokes' pixels only.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

from PySide6.QtCore import QByteArray, QBuffer, QIODevice, QObject, QPointF, Qt, Signal
from PySide6.QtGui import (QColor, QImage, QPainter, QRadialGradient, QUndoCommand,
                           QUndoStack)

#: the long side masks are painted at: finer than any brush stroke needs, small to keep
WORK_SIDE = 1024
#: one colour per painting, in the paintings' order, for the regions shown over the photo
COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
           "#bfef45")
#: what the brush paints: a painting's index, or KEEP (the photo stays itself there)
KEEP = -1


def colour(index: int) -> QColor:
    return QColor(COLOURS[index % len(COLOURS)])


class _Snapshot(QUndoCommand):
    """One change of the masks: what they were before and after."""

    def __init__(self, model: "RegionMasks", text: str, before: dict, after: dict):
        super().__init__(text)
        self.model, self.before, self.after = model, before, after
        self._first = True

    def redo(self) -> None:
        if self._first:  # the change is made already when it is pushed
            self._first = False
            return
        self.model._set(self.after)

    def undo(self) -> None:
        self.model._set(self.before)


class RegionMasks(QObject):
    """The masks of the paintings, keyed by each painting's path."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.size = (0, 0)  # (w, h) the masks are painted at
        self.masks: dict[str, QImage] = {}
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(100)
        self._before: dict[str, QImage] | None = None
        self._last: QPointF | None = None
        #: painting -> (the file a restored mask was read from, the pixels it was read as)
        self._sources: dict[str, tuple[str, int]] = {}

    # ---- the photo -----------------------------------------------------------------------------
    def set_photo_size(self, width: int, height: int) -> None:
        """A new photo: its masks start empty, with nothing to undo."""
        scale = min(1.0, WORK_SIDE / max(1, width, height))
        self.size = (max(1, round(width * scale)), max(1, round(height * scale)))
        self.masks = {}
        self._sources = {}
        self.undo_stack.clear()
        self.changed.emit()

    def scale(self, image_width: int) -> float:
        """Mask pixels per pixel of an image `image_width` wide showing the photo."""
        return self.size[0] / max(1, image_width)

    # ---- painting ------------------------------------------------------------------------------
    def begin(self, point: QPointF, target: str | int, radius: float, hardness: float,
              erase: bool, paintings: list[str]) -> None:
        """A stroke starts at `point` (mask pixels): `target` a painting's path or KEEP."""
        self._before = _copy(self.masks)
        self._last = point
        self._dab(point, target, radius, hardness, erase, paintings)

    def move(self, point: QPointF, target: str | int, radius: float, hardness: float,
             erase: bool, paintings: list[str]) -> None:
        if self._last is None:
            return
        step = max(1.0, radius / 4)
        d = point - self._last
        n = max(1, math.ceil(math.hypot(d.x(), d.y()) / step))
        for i in range(1, n + 1):
            self._dab(self._last + d * (i / n), target, radius, hardness, erase, paintings,
                      emit=False)
        self._last = point
        self.changed.emit()

    def end(self, text: str = "Paint") -> None:
        """The stroke is over: one step to undo."""
        before = self._before
        if before is not None and _keys(before) != _keys(self.masks):  # it changed something
            self.undo_stack.push(_Snapshot(self, text, before, _copy(self.masks)))
        self._before, self._last = None, None

    def _dab(self, point: QPointF, target: str | int, radius: float, hardness: float,
             erase: bool, paintings: list[str], emit: bool = True) -> None:
        """One round mark: white into the target's mask (black when erasing); the photo's
        brush is black in every painting's mask."""
        if target == KEEP:
            targets, value = [p for p in paintings if p in self.masks], 0
        else:
            targets, value = [target], 0 if erase else 255
        for path in targets:
            mask = self.masks.get(path)
            if mask is None:
                if value == 0:
                    continue  # nothing painted yet: nothing to take away
                mask = QImage(self.size[0], self.size[1], QImage.Format.Format_Grayscale8)
                mask.fill(0)
            _stamp(mask, point, radius, hardness, value)  # the snapshot keeps the old pixels
            self.masks[path] = mask
        if emit:
            self.changed.emit()

    # ---- whole masks ---------------------------------------------------------------------------
    def clear(self) -> None:
        if self.masks:
            self._change("Clear regions", {})

    def set_mask(self, path: str, mask: QImage, text: str = "Load mask") -> None:
        """`mask` (any size, greyscale) becomes the painting's region, scaled to the masks'."""
        self._change(text, {**self.masks, path: self._fitted(mask)})

    def replace_all(self, masks: dict[str, QImage], files: dict[str, str] | None = None
                    ) -> None:
        """Masks restored from saved settings, read from `files` (painting -> mask file): not
        a step to undo. While a mask stays as it was read, the settings name its own file."""
        self.masks = {}
        for path, mask in masks.items():
            self.masks[path] = self._fitted(mask)
        self._sources = {p: (f, self.masks[p].cacheKey()) for p, f in (files or {}).items()
                         if p in self.masks}
        self.undo_stack.clear()
        self.changed.emit()

    def _fitted(self, mask: QImage) -> QImage:
        """A mask of any size and format as the masks are painted: greyscale, at their size."""
        return mask.convertToFormat(QImage.Format.Format_Grayscale8).scaled(
            self.size[0], self.size[1], Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation)

    def _change(self, text: str, after: dict[str, QImage]) -> None:
        before = _copy(self.masks)
        self._set(after)
        self.undo_stack.push(_Snapshot(self, text, before, _copy(after)))

    def _set(self, masks: dict[str, QImage]) -> None:
        self.masks = _copy(masks)
        self.changed.emit()

    def painted(self, paintings: list[str]) -> bool:
        """Whether any of these paintings has a region (and so the photo keeps the rest)."""
        return any(p in self.masks for p in paintings)

    # ---- showing and keeping -------------------------------------------------------------------
    def overlay(self, paintings: list[str]) -> QImage:
        """The regions in their colours over a transparent image of the masks' size."""
        out = QImage(self.size[0], self.size[1], QImage.Format.Format_ARGB32_Premultiplied)
        out.fill(Qt.GlobalColor.transparent)
        p = QPainter(out)
        for i, path in enumerate(paintings):
            mask = self.masks.get(path)
            if mask is None:
                continue
            layer = QImage(self.size[0], self.size[1], QImage.Format.Format_ARGB32)
            layer.fill(colour(i))
            layer.setAlphaChannel(mask)
            p.drawImage(0, 0, layer)
        p.end()
        return out

    def files(self, paintings: list[str], folder: Path) -> tuple[str, ...]:
        """The masks as files for the settings, one per painting ("" for one without a
        region), or () when none has one. Each file is named by its content, so a picture in
        the history keeps pointing at the regions it was painted with."""
        if not self.painted(paintings):
            return ()
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for path in paintings:
            mask = self.masks.get(path)
            if mask is None:
                out.append("")
                continue
            source, key = self._sources.get(path, ("", None))
            if source and key == mask.cacheKey() and Path(source).is_file():
                out.append(source)  # as it was read: its own file, at its own resolution
                continue
            data = png_bytes(mask)
            name = folder / f"{hashlib.sha1(data).hexdigest()[:16]}.png"
            if not name.is_file():
                tmp = name.with_suffix(".tmp")
                tmp.write_bytes(data)
                tmp.replace(name)
            out.append(str(name))
        return tuple(out)


def _copy(masks: dict[str, QImage]) -> dict[str, QImage]:
    """Copies that share the pixels until either side is painted."""
    return {k: QImage(v) for k, v in masks.items()}


def _keys(masks: dict[str, QImage]) -> dict[str, int]:
    """Which pixels each mask holds: a copy keeps its original's key until it is painted."""
    return {k: v.cacheKey() for k, v in masks.items()}


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    buf.close()
    return bytes(data)


def _stamp(mask: QImage, point: QPointF, radius: float, hardness: float, value: int) -> None:
    """A round mark of grey `value` on `mask`: opaque to `hardness` of the radius, then fading
    to nothing at the edge."""
    p = QPainter(mask)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    g = QRadialGradient(point, max(0.5, radius))
    solid = QColor(value, value, value, 255)
    g.setColorAt(0.0, solid)
    g.setColorAt(min(0.999, max(0.0, hardness)), solid)
    g.setColorAt(1.0, QColor(value, value, value, 0))
    p.setBrush(g)
    p.drawEllipse(point, radius, radius)
    p.end()
