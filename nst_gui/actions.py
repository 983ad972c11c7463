"""Every command of the window, declared once as data: its words, keys, tip and icon, what it
calls, and where it shows (menus, toolbar). `build` makes the QActions; the menus, the
toolbar and the Keyboard Shortcuts page all read them, so they cannot disagree."""
from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QStyle, QToolBar

Key = QKeySequence.StandardKey


@dataclass(frozen=True)
class Command:
    name: str  # the window's attribute is `<name>_action`
    text: str
    call: str  # what it calls, from the window: "start_or_stop", "canvas.fit", "videos.open_video"
    keys: tuple[Any, ...] = ()  # QKeySequence.StandardKey values or strings
    tip: str = ""
    icon: str = ""  # a QStyle.StandardPixmap name
    args: tuple[Any, ...] = ()  # given to `call`
    checkable: bool = False  # `call` gets whether it is now on


def _page(name: str, text: str, key: str) -> Command:
    return Command(name, text, "show_page", (key,), f"Show {text} in the side panel",
                   args=(name,))


COMMANDS: tuple[Command, ...] = (
    Command("open", "Open Photo…", "images.open_content", (Key.Open,),
            "Choose the photograph to repaint", "SP_DialogOpenButton"),
    Command("add_style", "Add Painting…", "images.add_style_dialog", ("Ctrl+Shift+O",),
            "Add a painting whose style to use"),
    Command("paste", "Paste Photo", "images.paste_content", (Key.Paste,),
            "Use the clipboard's image as the photo"),
    Command("open_video", "Open Video…", "videos.open_video", ("Ctrl+Shift+M",),
            "Open a clip to repaint (View > Video)"),
    Command("open_result", "Open Result…", "results.open_result", ("Ctrl+Shift+R",),
            "Open a PNG saved by NST Studio and restore its settings"),
    Command("save", "Save As…", "results.save_as", (Key.Save, "Ctrl+Shift+S"),
            "Save the picture (PNG keeps the settings)", "SP_DialogSaveButton"),
    Command("copy", "Copy", "results.copy_result", (Key.Copy,), "Copy the picture to the clipboard"),
    Command("keep", "Keep in History", "results.keep_in_history", ("Ctrl+K",),
            "Keep the picture on show (an instant picture) in the history"),
    Command("quit", "Quit", "close", (Key.Quit,)),
    Command("start", "Start", "start_or_stop", ("Ctrl+Return", "F5"),
            "Start painting (Ctrl+Enter); press again to stop", "SP_MediaPlay"),
    Command("pause", "Pause", "pause", ("F6",),
            "Pause the painting, training or video after its current step; press again to go "
            "on", "SP_MediaPause", checkable=True),
    Command("use_init", "Use Result as Start", "results.use_result_as_init", ("Ctrl+I",),
            "Continue from the picture shown: the next run starts from it"),
    Command("add_to_queue", "Add to Batch Queue", "add_current_to_queue", ("Ctrl+Shift+A",),
            "Add the current photo, paintings and settings to the batch queue"),
    Command("train", "Make an Instant Style from This Painting…", "instants.train", (),
            "Train a network that repaints any photo in this painting's style at once"),
    Command("reset", "Reset to Defaults", "paint.reset_to_defaults"),
    Command("fit", "Fit", "canvas.fit", ("Ctrl+0",), "Fit the picture in view"),
    Command("actual", "1:1", "canvas.actual_size", ("Ctrl+1",), "Show actual pixels"),
    Command("zoom_in", "Zoom In", "canvas.zoom_by", (Key.ZoomIn, "Ctrl+="), args=(1.25,)),
    Command("zoom_out", "Zoom Out", "canvas.zoom_by", (Key.ZoomOut,), args=(0.8,)),
    Command("compare", "Before/After", "canvas.set_compare", ("Ctrl+B",),
            "Compare with the photo: drag the split line", checkable=True),
    _page("images", "Photo and Paintings", "Ctrl+Shift+P"),
    _page("paint", "Paint Settings", "Ctrl+Shift+T"),
    _page("instant", "Instant Styles", "Ctrl+Shift+I"),
    _page("video", "Video", "Ctrl+Shift+V"),
    _page("batch", "Batch Queue", "Ctrl+Shift+B"),
    Command("side", "Side Panel", "side.setVisible", ("Ctrl+\\",),
            "Show or hide the side panel: the picture takes the whole window", checkable=True),
    Command("plot", "Loss Plot", "progress.set_plot_visible", ("Ctrl+Shift+L",),
            "Show how the losses fall during a run", checkable=True),
    Command("help", "Getting Started", "show_help", (Key.HelpContents,), args=("start",)),
    Command("shortcuts", "Keyboard Shortcuts", "show_help", ("Ctrl+/",), args=("shortcuts",)),
    Command("about", "About NST Studio", "show_help", args=("about",)),
)

#: The menus, in order: command names, None for a separator, "@presets" for the presets menu
#: and "history" for the history strip's own show/hide action.
MENUS: tuple[tuple[str, tuple[str | None, ...]], ...] = (
    ("&File", ("open", "add_style", "paste", "open_video", "open_result", None, "save", "copy",
               "keep", None, "quit")),
    ("&Run", ("start", "pause", "use_init", "add_to_queue", "train", "@presets", "reset")),
    ("&View", ("fit", "actual", "zoom_in", "zoom_out", None, "compare", None, "images",
               "paint", "instant", "video", "batch", None, "side", "history", "plot")),
    ("&Help", ("help", "shortcuts", None, "about")),
)

TOOLBAR: tuple[str | None, ...] = ("start", "pause", None, "open", "save", "copy", "use_init", None,
                                   "fit", "actual", "compare")


def build(window: QMainWindow, extra: dict[str, QAction]) -> dict[str, QAction]:
    """Make every command's action on `window` (as `window.<name>_action`), then its menus
    and toolbar; `extra`: actions made elsewhere (the history dock's). Returns them by name."""
    actions: dict[str, QAction] = {}
    for c in COMMANDS:
        a = QAction(c.text, window)
        if c.icon:
            a.setIcon(window.style().standardIcon(getattr(QStyle.StandardPixmap, c.icon)))
        if c.keys:
            a.setShortcuts([QKeySequence(k) for k in c.keys])
        if c.tip:
            a.setToolTip(c.tip)
            a.setStatusTip(c.tip)
        target = attrgetter(c.call)(window)
        if c.checkable:
            a.setCheckable(True)
            a.triggered.connect(lambda on, t=target: t(on))
        else:
            a.triggered.connect(lambda _=False, t=target, args=c.args: t(*args))
        window.addAction(a)
        setattr(window, f"{c.name}_action", a)
        actions[c.name] = a
    for name, a in extra.items():
        setattr(window, f"{name}_action", a)
        actions[name] = a
    for title, items in MENUS:
        menu = window.menuBar().addMenu(title)
        for item in items:
            if item is None:
                menu.addSeparator()
            elif item == "@presets":
                window.presets_menu = QMenu("Presets", menu)
                menu.addMenu(window.presets_menu)
            else:
                menu.addAction(actions[item])
    bar = QToolBar("Main")
    bar.setObjectName("main-toolbar")
    bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for item in TOOLBAR:
        bar.addSeparator() if item is None else bar.addAction(actions[item])
    window.addToolBar(bar)
    return actions
