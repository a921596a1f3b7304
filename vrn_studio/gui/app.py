"""Start the Qt application with the main window."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from vrn_studio.gui.main_window import MainWindow
from vrn_studio.gui.settings import SettingsStore, apply_theme


def run_app(argv: list[str], *, image: str | None = None) -> int:
    """Create the QApplication (or reuse one), show the window, run the event loop."""
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("VRN Studio")
    app.setOrganizationName("VRN Studio")
    store = SettingsStore()
    window = MainWindow(store)
    apply_theme(app, window.settings.theme)
    window.show()
    if image is not None:
        window.open_path(image)
    return app.exec()
