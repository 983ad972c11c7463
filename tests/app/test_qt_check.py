"""The window's system libraries are checked before Qt can abort the process."""
import main
from nst_app import qt_check


def test_missing_x11_libraries_are_named_with_their_packages():
    text = qt_check.missing_qt_libraries(
        {"DISPLAY": ":0"}, "linux", loads=lambda name: name != "libxcb-cursor.so.0")
    assert "libxcb-cursor.so.0" in text
    assert "sudo apt install libxcb-cursor0" in text
    assert "sudo dnf install xcb-util-cursor" in text


def test_nothing_to_say_when_all_are_there_or_qt_does_not_use_x11():
    assert qt_check.missing_qt_libraries({"DISPLAY": ":0"}, "linux", loads=lambda n: True) == ""
    assert qt_check.missing_qt_libraries({"QT_QPA_PLATFORM": "offscreen"}, "linux",
                                         loads=lambda n: False) == ""
    assert qt_check.missing_qt_libraries({"WAYLAND_DISPLAY": "wayland-0"}, "linux",
                                         loads=lambda n: False) == ""
    assert qt_check.missing_qt_libraries({}, "darwin", loads=lambda n: False) == ""


def test_no_display_is_said_before_qt_aborts():
    text = qt_check.missing_qt_libraries({}, "linux", loads=lambda n: True)
    assert "no display" in text and "DISPLAY is not set" in text


def test_main_says_so_instead_of_letting_qt_abort(monkeypatch, capsys):
    monkeypatch.setattr(qt_check, "missing_qt_libraries", lambda: "needs libxcb-cursor0")
    assert main.main([]) == 1
    assert "needs libxcb-cursor0" in capsys.readouterr().err
