"""The one side area beside the picture: the images and every kind of work (paint, instant
styles, video, batch) as tabs. Each page scrolls, so no panel can make the window taller or
wider than the screen it is on; the area itself can be hidden to give the picture the window."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFrame, QLabel, QScrollArea, QTabWidget, QWidget

#: the side area's width at launch (it can be dragged wider or narrower)
SIDE_WIDTH = 380
#: the narrowest it may be dragged: the settings' labels and fields stay readable
SIDE_MIN_WIDTH = 300
#: the page every kind of work shares: showing it leaves the kind of work chosen as it was
SHARED = "images"


class SideArea(QTabWidget):
    page_shown = Signal(str)  # the name of the page now in front

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setDocumentMode(True)
        self.setUsesScrollButtons(True)
        self.setMinimumWidth(SIDE_MIN_WIDTH)
        self._names: list[str] = []
        #: the kind of work chosen last: the page in front, or the latest one in front that was
        #: not the images (which every kind of work shares)
        self.work = ""
        self.currentChanged.connect(self._changed)

    def _changed(self, i: int) -> None:
        if 0 <= i < len(self._names):
            name = self._names[i]
            if name != SHARED:
                self.work = name
            self.page_shown.emit(name)

    def add(self, name: str, title: str, widget: QWidget, tip: str = "") -> None:
        """A page called `name`, its tab reading `title`; `widget` scrolls within it."""
        narrow(widget)
        scroll = QScrollArea()
        scroll.setObjectName(f"side-{name}")
        scroll.setWidget(widget)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        index = self.addTab(scroll, title)
        if tip:
            self.setTabToolTip(index, tip)
        self._names.append(name)
        if not self.work and name != SHARED:
            self.work = name

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def current(self) -> str:
        i = self.currentIndex()
        return self._names[i] if 0 <= i < len(self._names) else ""

    def show_page(self, name: str) -> None:
        """Bring the page to the front (and the area back, if it was hidden)."""
        self.setVisible(True)
        self.setCurrentIndex(self._names.index(name))

    def is_shown(self, name: str) -> bool:
        """The page is the one in front of a visible area."""
        return self.isVisible() and self.current() == name


def narrow(widget: QWidget) -> None:
    """Let a panel be as narrow as the side area: its lists of choices no longer ask for the
    width of their longest item (the open list still shows it whole), and its lines of text
    wrap instead of widening the window."""
    for box in widget.findChildren(QComboBox):
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(8)
    for label in widget.findChildren(QLabel):
        if label.pixmap().isNull():
            label.setWordWrap(True)
