"""The row that sends work to a Ray cluster: a checkbox and the cluster's address. The batch
panel and the Video panel each have one."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLineEdit, QWidget

ADDRESS_TIP = ("'auto' joins the cluster started on this machine (`ray start --head`); or an "
               "address such as 10.0.0.2:6379; 'local' starts a private one in this app")


class RayRow(QWidget):
    def __init__(self, label: str, tooltip: str, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.check = QCheckBox(label)
        self.check.setToolTip(f"{tooltip} (install the cluster extra: "
                              "pip install -e \".[cluster]\")")
        row.addWidget(self.check)
        self.address = QLineEdit("auto")
        self.address.setToolTip(ADDRESS_TIP)
        row.addWidget(self.address, 1)

    def address_or_none(self) -> str | None:
        """The cluster to use, or None for this computer."""
        return (self.address.text().strip() or "auto") if self.check.isChecked() else None
