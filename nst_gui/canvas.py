"""The preview canvas: the image being painted, with zoom, pan and a before/after compare.

Wheel zooms around the cursor, dragging pans, Fit and 1:1 reset the view. In compare mode the
photo ("before") shows left of a vertical split line and the painting right of it; drag the line
to move it. Pixmaps are made here, on the GUI thread, from the QImages the worker sends.

An overlay (the regions, nst_gui.regions) may lie over the picture. With a brush set, the left
button paints instead of panning: the canvas says where, in the picture's pixels (`stroke`), and
the right or middle button pans.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

MIN_ZOOM, MAX_ZOOM = 0.05, 16.0
_GRAB = 6  # pixels either side of the split line that grab it


class PreviewCanvas(QWidget):
    #: "begin", "move" or "end" of a brush stroke, at a point in the picture's pixels
    stroke = Signal(str, QPointF)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(240, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._image = QImage()
        self._pixmap = QPixmap()
        self._before = QPixmap()
        self._zoom = 1.0
        self._fit = True
        self._offset = QPointF(0, 0)  # image's top-left in widget coordinates
        self._drag_from: QPointF | None = None
        self._dragging_split = False
        self.compare = False
        self.split = 0.5  # fraction of the image's width
        self.placeholder = "Press Start to paint"
        self._overlay = QPixmap()
        self._overlay_opacity = 0.0
        self.brush: float | None = None  # the brush's radius in picture pixels, when painting
        self._painting = False
        self._mouse: QPointF | None = None

    # ---- content -------------------------------------------------------------------------------
    def image(self) -> QImage:
        return self._image

    def has_image(self) -> bool:
        return not self._image.isNull()

    def set_image(self, image: QImage) -> None:
        """Show `image`, keeping the view where it is when only the pixels change."""
        same_size = not self._pixmap.isNull() and image.size() == self._image.size()
        old_w = self._pixmap.width() if not self._pixmap.isNull() else 0
        self._image = image
        self._pixmap = QPixmap.fromImage(image)
        if self._fit:
            self._apply_fit()
        elif not same_size and old_w:  # a new scale: keep what is on screen the same size
            self._zoom *= old_w / max(1, self._pixmap.width())
            self._zoom = min(MAX_ZOOM, max(MIN_ZOOM, self._zoom))
        self.update()

    def set_before(self, image: QImage) -> None:
        self._before = QPixmap.fromImage(image)
        self.update()

    def clear(self) -> None:
        self._image, self._pixmap = QImage(), QPixmap()
        self.update()

    def set_overlay(self, image: QImage | None, opacity: float = 0.5) -> None:
        """Lay `image` (any size: stretched to the picture) over the picture, or nothing."""
        self._overlay = QPixmap.fromImage(image) if image is not None else QPixmap()
        self._overlay_opacity = opacity
        self.update()

    def set_brush(self, radius: float | None) -> None:
        """Paint with the left button, showing a ring of `radius` picture pixels; None: pan."""
        self.brush = radius
        self.update()

    def to_picture(self, pos: QPointF) -> QPointF:
        """A point of the widget in the picture's pixels."""
        return (pos - self._offset) / self._zoom

    def set_compare(self, on: bool) -> None:
        self.compare = on
        self.update()

    # ---- view ----------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self._zoom

    def fit(self) -> None:
        self._fit = True
        self._apply_fit()
        self.update()

    def actual_size(self) -> None:
        self.set_zoom(1.0)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_zoom(self._zoom * factor, anchor)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        if self._pixmap.isNull():
            return
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        # keep the image point under the anchor fixed
        img_pt = (anchor - self._offset) / self._zoom
        self._zoom = zoom
        self._offset = anchor - img_pt * zoom
        self._fit = False
        self.update()

    def _apply_fit(self) -> None:
        if self._pixmap.isNull():
            return
        pw, ph = self._pixmap.width(), self._pixmap.height()
        zoom = min((self.width() - 8) / pw, (self.height() - 8) / ph)
        self._zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        self._offset = QPointF((self.width() - pw * self._zoom) / 2,
                               (self.height() - ph * self._zoom) / 2)

    def image_rect(self) -> QRectF:
        return QRectF(self._offset.x(), self._offset.y(), self._pixmap.width() * self._zoom,
                      self._pixmap.height() * self._zoom)

    def _split_x(self) -> float:
        r = self.image_rect()
        return r.left() + r.width() * self.split

    # ---- Qt events -----------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        if self._fit:
            self._apply_fit()
        super().resizeEvent(event)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().window().color().darker(115))
        if self._pixmap.isNull():
            p.setPen(self.palette().text().color())
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._zoom < 1.0)
        target = self.image_rect()
        p.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
        if self.compare and not self._before.isNull():
            x = self._split_x()
            p.save()
            p.setClipRect(QRectF(target.left(), target.top(), x - target.left(), target.height()))
            p.drawPixmap(target, self._before, QRectF(self._before.rect()))
            p.restore()
            p.setPen(QPen(QColor(255, 255, 255, 230), 2))
            p.drawLine(QPointF(x, target.top()), QPointF(x, target.bottom()))
            p.setPen(QColor(255, 255, 255))
            p.drawText(QPointF(target.left() + 6, target.top() + 16), "Before")
            p.drawText(QPointF(target.right() - 40, target.top() + 16), "After")
        if not self._overlay.isNull() and self._overlay_opacity > 0:
            p.setOpacity(self._overlay_opacity)
            p.drawPixmap(target, self._overlay, QRectF(self._overlay.rect()))
            p.setOpacity(1.0)
        if self.brush is not None and self._mouse is not None:
            r = self.brush * self._zoom
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setPen(QPen(QColor(0, 0, 0, 160), 3))
            p.drawEllipse(self._mouse, r, r)
            p.setPen(QPen(QColor(255, 255, 255, 230), 1))
            p.drawEllipse(self._mouse, r, r)

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.25 ** steps, event.position())
        event.accept()

    def mousePressEvent(self, event) -> None:
        if self.brush is not None and not self._pixmap.isNull():
            if event.button() == Qt.MouseButton.LeftButton:
                self._painting = True
                self.stroke.emit("begin", self.to_picture(event.position()))
            elif event.button() in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton):
                self._drag_from = event.position()
                self.setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton:
            pos = event.position()
            if self.compare and abs(pos.x() - self._split_x()) <= _GRAB:
                self._dragging_split = True
            else:
                self._drag_from = pos
                self.setCursor(Qt.CursorShape.ClosedHandCursor)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        if self.brush is not None:
            self._mouse = pos
            self.update()
        if self._painting:
            self.stroke.emit("move", self.to_picture(pos))
        elif self._dragging_split:
            r = self.image_rect()
            self.split = min(1.0, max(0.0, (pos.x() - r.left()) / max(1.0, r.width())))
            self.update()
        elif self._drag_from is not None:
            self._offset += pos - self._drag_from
            self._drag_from = pos
            self._fit = False
            self.update()
        elif self.compare and abs(pos.x() - self._split_x()) <= _GRAB:
            self.setCursor(Qt.CursorShape.SplitHCursor)
        else:
            self.unsetCursor()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._painting and event.button() == Qt.MouseButton.LeftButton:
            self._painting = False
            self.stroke.emit("end", self.to_picture(event.position()))
        self._drag_from = None
        self._dragging_split = False
        self.unsetCursor()
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        if self.brush is None:
            self.fit()

    def leaveEvent(self, event) -> None:
        self._mouse = None
        self.update()
        super().leaveEvent(event)
