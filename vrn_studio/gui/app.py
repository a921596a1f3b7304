"""Start the Qt application with the main window."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from vrn_studio.gui.main_window import MainWindow
from vrn_studio.gui.settings import SettingsStore, apply_theme


def run_app(argv: list[str], *, image: str | None = None, store: SettingsStore | None = None) -> int:
    """Create the QApplication (or reuse one), show the window, run the event loop.

    ``store`` defaults to the user's settings; tests pass one backed by a temporary file.
    """
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("VRN Studio")
    app.setOrganizationName("VRN Studio")
    window = MainWindow(store or SettingsStore())
    apply_theme(app, window.settings.theme)
    window.show()
    if image is not None:
        window.open_path(image)
    return app.exec()
