"""The Regions page: the brush paints a painting's region with the mouse on the canvas, the
eraser and the photo's brush take it away, undo and redo step through the strokes, a mask is
saved and loaded, the run paints with the regions, and the history brings them back."""
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QFileDialog

from nst_core.media.masks import load_mask
from nst_gui.regions import KEEP
from nst_gui.qtimage import to_array
from tests.gui.test_window import wait_idle


def _mask(window, painting):
    """The painting's mask as an (H, W) array, or None."""
    m = window.regions.model.masks.get(painting)
    return None if m is None else to_array(m)[..., 0]


def _drag(qtbot, canvas, a: QPointF, b: QPointF, steps: int = 8):
    """A left-button stroke from picture point a to b, as the mouse does it."""
    r = canvas.image_rect()
    zoom = r.width() / canvas.image().width()

    def at(p: QPointF) -> QPoint:
        return QPoint(round(r.left() + p.x() * zoom), round(r.top() + p.y() * zoom))

    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at(a))
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        qtbot.mouseMove(canvas, at(p))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at(b))


@pytest.fixture
def regions(window, qtbot):
    window.show_page("regions")
    qtbot.waitUntil(lambda: window.regions.active)
    window.regions_panel.size.setValue(20)
    window.regions_panel.hardness.setValue(100)
    return window


def test_the_brush_paints_undo_and_redo_step_through_strokes(regions, qtbot):
    w = regions
    canvas, model = w.canvas, w.regions.model
    painting = w.inputs.style_paths()[0]
    assert canvas.brush is not None  # the left button paints here
    assert canvas.image().cacheKey() == w.inputs.content_image.cacheKey()  # over the photo
    photo_w = canvas.image().width()
    mw, mh = model.size
    s = mw / photo_w
    y = canvas.image().height() / 2
    _drag(qtbot, canvas, QPointF(photo_w * 0.1, y), QPointF(photo_w * 0.4, y))
    m = _mask(w, painting)
    assert m.shape == (mh, mw)
    row = round(y * s)
    assert m[row, round(mw * 0.25)] == 255  # along the stroke
    assert m[row, round(mw * 0.8)] == 0  # far from it
    assert m[max(0, row - 40):row - 25].max() == 0  # a 20 px radius brush
    assert "its region" in w.regions_panel.state.text()
    # a second stroke, then undo twice and redo once
    _drag(qtbot, canvas, QPointF(photo_w * 0.7, y), QPointF(photo_w * 0.9, y))
    assert _mask(w, painting)[row, round(mw * 0.8)] == 255
    w.regions_panel.undo_button.click()
    assert _mask(w, painting)[row, round(mw * 0.8)] == 0
    assert _mask(w, painting)[row, round(mw * 0.25)] == 255
    w.regions_panel.undo_button.click()
    assert _mask(w, painting) is None and "No regions yet" in w.regions_panel.state.text()
    w.regions_panel.redo_button.click()
    assert _mask(w, painting)[row, round(mw * 0.25)] == 255
    # the eraser takes part of it away; the photo's brush takes it from every painting
    w.regions_panel.eraser_button.click()
    _drag(qtbot, canvas, QPointF(photo_w * 0.1, y), QPointF(photo_w * 0.2, y))
    m = _mask(w, painting)
    assert m[row, round(mw * 0.15)] == 0 and m[row, round(mw * 0.35)] == 255
    w.regions_panel.brush_button.click()
    w.regions_panel.target.setCurrentIndex(w.regions_panel.target.findData(KEEP))
    _drag(qtbot, canvas, QPointF(photo_w * 0.3, y), QPointF(photo_w * 0.4, y))
    assert _mask(w, painting)[row, round(mw * 0.35)] == 0


def test_regions_go_into_the_run_and_come_back_from_the_history(regions, qtbot, tmp_path,
                                                                monkeypatch, messages):
    w = regions
    canvas = w.canvas
    painting = w.inputs.style_paths()[0]
    photo_w, photo_h = canvas.image().width(), canvas.image().height()
    w.regions_panel.size.setValue(60)
    for y in np.linspace(0.1, 0.9, 6):  # the left third, painted over
        _drag(qtbot, canvas, QPointF(photo_w * 0.02, photo_h * y),
              QPointF(photo_w * 0.3, photo_h * y))
    # Save Mask writes the painted region as a greyscale PNG
    out = tmp_path / "left.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    w.regions_panel.save_button.click()
    saved = load_mask(out)
    assert saved[:, : saved.shape[1] // 5].mean() > 200 and saved[:, -saved.shape[1] // 3:].max() == 0
    # the settings carry the mask as a file under the data folder
    s = w.current_settings()
    assert len(s.masks) == 1 and s.masks[0].startswith(str(w.data_dir))
    assert np.array_equal(load_mask(s.masks[0]), saved)
    # the run paints with it: the right part stays the photo
    w.show_page("paint")
    assert canvas.brush is None  # elsewhere the left button pans again
    with qtbot.waitSignal(w.finished, timeout=60000):
        assert w.start()
    wait_idle(qtbot, w)
    assert w.current.settings.masks == s.masks
    rgb = w.current.rgb.astype(float)
    from nst_core.media.images import load_image, resize
    h, wd = rgb.shape[:2]
    photo = resize(load_image(s.content).rgb, (wd, h)).astype(float)
    change = np.abs(rgb - photo).mean(axis=(0, 2))
    assert change[: wd // 4].mean() > 3 * change[-wd // 4:].mean()
    # Clear, then restore the run from the history: the region is back
    w.regions_panel.clear_button.click()
    assert w.current_settings().masks == ()
    w.history_list.setCurrentRow(0)
    w.history_work.restore_selected()
    assert np.array_equal(_mask(w, painting), load_mask(s.masks[0]))
    # a mask that cannot be read is refused in one message, the regions unchanged
    (tmp_path / "bad.png").write_bytes(b"not an image")
    assert not w.regions.load_mask(painting, str(tmp_path / "bad.png"))
    assert messages[-1][0] == "Cannot use this mask"
    assert np.array_equal(_mask(w, painting), load_mask(s.masks[0]))
    # loading a good one replaces the region, as a step to undo
    right = np.zeros((photo_h, photo_w), np.uint8)
    right[:, photo_w // 2:] = 255
    Image.fromarray(right).save(tmp_path / "right.png")
    assert w.regions.load_mask(painting, str(tmp_path / "right.png"))
    assert _mask(w, painting)[:, -5:].min() == 255
    w.regions_panel.undo_button.click()
    assert np.array_equal(_mask(w, painting), load_mask(s.masks[0]))


def test_a_stroke_that_changes_nothing_is_no_step_to_undo(regions, qtbot):
    """The photo's brush over a picture without regions takes nothing away."""
    w = regions
    w.regions_panel.target.setCurrentIndex(w.regions_panel.target.findData(KEEP))
    photo_w, y = w.canvas.image().width(), w.canvas.image().height() / 2
    _drag(qtbot, w.canvas, QPointF(photo_w * 0.1, y), QPointF(photo_w * 0.4, y))
    assert w.regions.model.masks == {} and w.regions.model.undo_stack.count() == 0
    assert not w.regions_panel.undo_button.isEnabled()
    # [ and ] make the brush smaller and larger, as the ring on the canvas shows
    w.canvas.setFocus()
    before = w.canvas.brush
    qtbot.keyClick(w.canvas, Qt.Key.Key_BracketRight)
    assert w.regions_panel.size.value() == 25 and w.canvas.brush == pytest.approx(before * 1.25)
    qtbot.keyClick(w.canvas, Qt.Key.Key_BracketLeft)
    assert w.regions_panel.size.value() == 20
