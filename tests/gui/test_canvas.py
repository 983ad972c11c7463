"""The preview canvas: zoom around the cursor, pan, fit, 1:1, before/after compare."""
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage

from nst_gui.canvas import PreviewCanvas


def _solid(w, h, color) -> QImage:
    img = QImage(w, h, QImage.Format.Format_RGB888)
    img.fill(QColor(color))
    return img


@pytest.fixture
def canvas(qtbot):
    c = PreviewCanvas()
    qtbot.addWidget(c)
    c.resize(400, 300)
    c.show()
    c.set_image(_solid(200, 100, "red"))
    return c


def test_fit_scales_the_image_into_view(canvas):
    r = canvas.image_rect()
    assert r.width() == pytest.approx(392)  # (400 - 8) / 200 limits the zoom
    assert r.center().x() == pytest.approx(200) and r.center().y() == pytest.approx(150)


def test_actual_size_is_one_to_one(canvas):
    canvas.actual_size()
    assert canvas.zoom == 1.0 and canvas.image_rect().width() == 200


def test_wheel_zoom_keeps_the_point_under_the_cursor(canvas, qtbot):
    canvas.actual_size()
    anchor = QPointF(150, 120)
    before = (anchor - canvas.image_rect().topLeft()) / canvas.zoom  # image point under cursor
    canvas.zoom_by(2.0, anchor)
    assert canvas.zoom == 2.0
    after = (anchor - canvas.image_rect().topLeft()) / canvas.zoom
    assert after.x() == pytest.approx(before.x()) and after.y() == pytest.approx(before.y())


def test_drag_pans(canvas, qtbot):
    canvas.actual_size()
    left = canvas.image_rect().left()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(canvas, QPoint(130, 110))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(130, 110))
    assert canvas.image_rect().left() == pytest.approx(left + 30)


def test_zoom_is_bounded(canvas):
    canvas.set_zoom(1000)
    assert canvas.zoom == 16.0
    canvas.set_zoom(0)
    assert canvas.zoom == 0.05


def test_compare_shows_before_left_of_the_split(canvas, qtbot):
    canvas.set_before(_solid(200, 100, "blue"))
    canvas.set_compare(True)
    canvas.split = 0.5
    shot = canvas.grab().toImage()
    r = canvas.image_rect()
    y = int(r.center().y())
    left = shot.pixelColor(int(r.left() + r.width() * 0.25), y)
    right = shot.pixelColor(int(r.left() + r.width() * 0.75), y)
    assert left.blue() > 200 and left.red() < 50
    assert right.red() > 200 and right.blue() < 50


def test_dragging_the_split_line_moves_it(canvas, qtbot):
    canvas.set_before(_solid(200, 100, "blue"))
    canvas.set_compare(True)
    r = canvas.image_rect()
    x0 = int(r.left() + r.width() * 0.5)
    y = int(r.center().y())
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(x0, y))
    qtbot.mouseMove(canvas, QPoint(int(r.left() + r.width() * 0.8), y))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(x0, y))
    assert canvas.split == pytest.approx(0.8, abs=0.02)


def test_new_pixels_keep_the_view(canvas):
    canvas.set_zoom(3.0, QPointF(50, 50))
    rect = canvas.image_rect()
    canvas.set_image(_solid(200, 100, "green"))  # same size: the next preview
    assert canvas.image_rect() == rect
    canvas.set_image(_solid(400, 200, "green"))  # the next scale: same size on screen
    assert canvas.image_rect().width() == pytest.approx(rect.width())
