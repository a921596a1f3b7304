"""The ``make_window`` fixture shared by the GUI and reliability suites (imported by their
conftest files)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest


@pytest.fixture
def make_window(qtbot, tmp_path) -> Iterator[Callable[..., object]]:
    """``make_window(delay=0.0, factory=None, store=None)``: a shown MainWindow whose network is
    ``SlowReconstructor(delay)`` unless ``factory(settings)`` is given, with settings in a
    temporary file unless ``store`` is given. Closed after the test, which then checks that no
    thread is left behind."""
    from fakes import SlowReconstructor
    from PySide6.QtCore import QThreadPool

    from vrn_studio.gui.main_window import MainWindow
    from vrn_studio.gui.settings import SettingsStore

    windows: list[MainWindow] = []
    baseline = threading.active_count()

    def make(delay: float = 0.0, factory: Callable[..., object] | None = None,
             store: SettingsStore | None = None) -> MainWindow:
        window = MainWindow(
            store or SettingsStore(tmp_path / "settings.ini"),
            reconstructor_factory=factory or (lambda settings: SlowReconstructor(delay=delay)),
        )
        qtbot.addWidget(window)
        window.resize(1200, 760)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
    assert QThreadPool.globalInstance().waitForDone(5000)
    qtbot.waitUntil(lambda: threading.active_count() <= baseline, timeout=5000)
