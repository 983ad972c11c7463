"""The window's layout: it fits a laptop's screen and a desktop's, at launch and with every
panel open; the picture takes at least half of it at launch and a third with everything open;
the kinds of work share one side area as tabs, each reachable from View."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSize

from nst_gui.main_window import launch_size

ROOT = Path(__file__).resolve().parents[2]


def _screen_file(tmp_path: Path, w: int, h: int) -> Path:
    p = tmp_path / f"screen-{w}x{h}.json"
    p.write_text(json.dumps({"screens": [{"name": "only", "x": 0, "y": 0, "width": w,
                                          "height": h, "logicalDpi": 96, "logicalBaseDpi": 96,
                                          "dpr": 1}]}))
    return p


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    """The probe's report on a 1280x800 and a 1920x1080 screen (run side by side)."""
    tmp = tmp_path_factory.mktemp("layout")
    procs = {}
    for size in ((1280, 800), (1920, 1080)):
        folder = tmp / f"{size[0]}x{size[1]}"
        folder.mkdir()
        env = {**os.environ, "QT_QPA_PLATFORM":
               f"offscreen:configfile={_screen_file(tmp, *size)}", "HOME": str(folder)}
        procs[size] = subprocess.Popen([sys.executable, "-m", "tests.gui.layout_probe",
                                        str(folder)], cwd=ROOT, env=env, text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reports = {}
    for size, proc in procs.items():
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        line = next(l for l in out.splitlines() if l.startswith("LAYOUT "))
        reports[size] = json.loads(line[len("LAYOUT "):])
    return reports


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_the_window_fits_the_screen_and_the_picture_dominates_at_launch(layouts, size):
    launch = layouts[size]["launch"]
    assert launch["screen"] == list(size)
    assert launch["inside"], launch
    assert launch["share"] >= 0.5, launch


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_with_every_panel_open_it_still_fits_and_every_control_is_reachable(layouts, size):
    pages = layouts[size]["pages"]
    assert sorted(pages) == ["batch", "images", "instant", "paint", "regions", "video"]
    for name, page in pages.items():
        assert page["inside"], (name, page)
        assert page["minimum"][0] <= size[0] and page["minimum"][1] <= size[1], (name, page)
        assert page["share"] >= 1 / 3, (name, page)  # the loss plot and the history shown too
        assert page["sideways"] == 0 and page["outside"] == [], (name, page)


def test_launch_size_fills_a_laptop_and_leaves_room_on_a_desktop():
    assert launch_size(QSize(1280, 800)) == QSize(1280, 800)
    assert launch_size(QSize(1366, 738)) == QSize(1366, 738)
    assert launch_size(QSize(1920, 1050)) == QSize(1600, 945)
    assert launch_size(QSize(2560, 1400)) == QSize(1600, 1000)


def test_view_brings_each_kind_of_work_to_the_front(window):
    for action, page in ((window.instant_action, "instant"), (window.video_action, "video"),
                         (window.batch_action, "batch"), (window.paint_action, "paint"),
                         (window.images_action, "images")):
        action.trigger()
        assert window.side.is_shown(page)
    window.side_action.trigger()  # hidden: the picture takes the window
    assert not window.side.isVisible() and not window.side_action.isChecked()
    window.video_action.trigger()  # any page brings it back
    assert window.side.is_shown("video") and window.side_action.isChecked()


def test_the_loss_plot_waits_until_asked_for_and_the_layout_is_remembered(make_window):
    w = make_window()
    assert not w.progress.plot_visible() and not w.plot_action.isChecked()
    w.plot_action.trigger()
    w.video_action.trigger()
    w.close()
    w2 = make_window()  # the same settings file
    assert w2.progress.plot_visible() and w2.plot_action.isChecked()
    assert w2.side.is_shown("video")


def test_a_window_larger_than_its_screen_is_brought_back_onto_it(make_window):
    w = make_window()
    free = w.screen().availableGeometry()  # the offscreen platform's 800x600
    w.resize(free.width() + 500, free.height() + 400)
    w.move(free.x() + 300, free.y() + 200)
    w.fit_to_screen()
    assert free.contains(w.frameGeometry())


def test_choosing_a_photo_in_instant_mode_repaints_it_from_the_images_page(window, monkeypatch):
    """The images are shared: with an instant style chosen, picking another photo on the
    Images page still repaints it at once."""
    asked = []
    monkeypatch.setattr(window.instant, "current_path", lambda: "a model")
    monkeypatch.setattr(window.instant, "request_apply", lambda: asked.append(1))
    window.instant_action.trigger()
    window.images_action.trigger()
    window.instants.inputs_changed()
    assert asked == [1]
    window.paint_action.trigger()  # painting now: a new photo waits for Start
    window.instants.inputs_changed()
    assert asked == [1]


def test_the_paint_page_puts_the_artists_settings_first(window):
    """Strength, stroke size, colours, shapes, smoothness, size and steps are in view; the
    researcher's knobs wait under Advanced, one click away."""
    p = window.params
    window.paint_action.trigger()
    first = (p.style_weight, p.style_scale, p.color, p.content_weight, p.tv_weight, p.size,
             p.iterations)
    later = (p.optimizer, p.early_stop, p.settle, p.seed, p.device, p.init, p.scales, p.layers)
    assert all(w.isVisibleTo(p) for w in first)
    assert not any(w.isVisibleTo(p) for w in later)
    p.advanced_toggle.click()
    assert all(w.isVisibleTo(p) for w in later)
    labels = {p.style_weight: "Painting strength", p.style_scale: "Stroke size",
              p.color: "Photo's colours", p.tv_weight: "Smoothness"}
    for widget, text in labels.items():
        form = widget.parentWidget().layout()
        assert form.labelForField(widget).text() == text


def test_every_command_is_declared_once_and_reaches_the_menus(window):
    """The table in nst_gui/actions.py is the only place a command is described: each one is
    an action of the window with its keys, each menu entry is one of them, and the shortcuts
    page lists every key."""
    from PySide6.QtGui import QKeySequence

    from nst_gui.actions import COMMANDS, MENUS
    from nst_gui.help import shortcuts_html

    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names))
    for c in COMMANDS:
        a = getattr(window, f"{c.name}_action")
        assert a.text() == c.text
        assert [k.toString() for k in a.shortcuts()] == \
            [QKeySequence(k).toString() for k in c.keys]
    in_menus = {a.text() for m in window.menuBar().actions() for a in m.menu().actions()}
    for _, items in MENUS:
        for item in items:
            if item not in (None, "@presets"):
                assert getattr(window, f"{item}_action").text() in in_menus
    page = shortcuts_html(window.actions())
    for c in COMMANDS:
        for k in c.keys:
            assert QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) in page
