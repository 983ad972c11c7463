"""numpy <-> QImage. Every QImage made here owns its pixels (a copy), so it may cross threads
safely; a QImage still pointing into a numpy buffer is a known crash."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QImageReader


def to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) uint8 -> an RGB888 QImage that owns a copy of the pixels."""
    arr = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_array(image: QImage) -> np.ndarray:
    """A QImage -> (H, W, 3) uint8 (a copy)."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = img.width(), img.height(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=stride * h).reshape(h, stride)
    return buf[:, : 3 * w].reshape(h, w, 3).copy()


def thumbnail(image: QImage, side: int) -> QImage:
    return image.scaled(QSize(side, side), Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation)


def thumbnail_from_file(path: str, side: int) -> QImage:
    """A file's image at most `side` pixels on its long side, decoded at that size (JPEG) or
    scaled while reading, never kept at full size. A null QImage if unreadable."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid():
        reader.setScaledSize(size.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()
