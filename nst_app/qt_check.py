"""Before Qt starts on Linux: are the system libraries its X11 plugin needs installed?

Qt 6's xcb platform plugin loads libxcb-cursor and a few other X11 libraries that a fresh
desktop may lack; without them Qt prints its own message and aborts the process. This check
finds them first and says which packages to install.
"""
from __future__ import annotations

import ctypes
import os
import sys

#: soname -> (Debian/Ubuntu package, Fedora package)
LIBRARIES = {
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
}


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
        return True
    except OSError:
        return False


def uses_xcb(environ=os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt would use its X11 (xcb) plugin here."""
    if not platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":")[0].startswith("xcb")
    return not environ.get("WAYLAND_DISPLAY")  # Qt prefers Wayland where there is one


def missing_qt_libraries(environ=os.environ, platform: str = sys.platform,
                         loads=_loads) -> str:
    """A message naming the packages to install, or "" when nothing is missing."""
    if not uses_xcb(environ, platform):
        return ""
    if not environ.get("DISPLAY"):
        return ("There is no display to show NST Studio's window on (DISPLAY is not set): "
                "start it from a desktop session, or use the command line "
                "(python main.py render --help).")
    missing = [name for name in LIBRARIES if not loads(name)]
    if not missing:
        return ""
    debian = " ".join(dict.fromkeys(LIBRARIES[n][0] for n in missing))
    fedora = " ".join(dict.fromkeys(LIBRARIES[n][1] for n in missing))
    return (f"NST Studio's window needs system libraries that are missing here "
            f"({', '.join(missing)}). Install them and start again:\n"
            f"  Debian/Ubuntu: sudo apt install {debian}\n"
            f"  Fedora:        sudo dnf install {fedora}\n"
            "The command line (python main.py render --help) works without them.")
