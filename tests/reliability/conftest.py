"""Fixtures of the reliability suite: a real main window, and a way to run a command that the
file permissions bind even when the tests run as root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest


@pytest.fixture
def make_window(qtbot, tmp_path) -> Iterator[Callable[..., object]]:
    """``make_window(factory=None)``: a shown MainWindow (default network: SlowReconstructor
    without delay); closed after the test, which checks that no thread is left behind."""
    from fakes import SlowReconstructor
    from PySide6.QtCore import QThreadPool

    from vrn_studio.gui.main_window import MainWindow
    from vrn_studio.gui.settings import SettingsStore

    windows: list[MainWindow] = []
    baseline = threading.active_count()

    def make(factory: Callable[..., object] | None = None, store: SettingsStore | None = None) -> MainWindow:
        window = MainWindow(
            store or SettingsStore(tmp_path / "settings.ini"),
            reconstructor_factory=factory or (lambda settings: SlowReconstructor(delay=0)),
        )
        qtbot.addWidget(window)
        window.resize(1000, 700)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
    assert QThreadPool.globalInstance().waitForDone(5000)
    qtbot.waitUntil(lambda: threading.active_count() <= baseline, timeout=5000)


@pytest.fixture(scope="session")
def permission_bound() -> list[str]:
    """A command prefix under which file permissions apply: nothing for a normal user; for
    root, ``setpriv`` dropping the capabilities that let root ignore them (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH), so a mode-000 file is unreadable and a mode-555 folder read-only
    for real. Skips the test where neither works."""
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: root ignores file permissions")
    probe = subprocess.run([*prefix, sys.executable, "-c", "pass"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"running as root and setpriv cannot drop capabilities here: {probe.stderr.decode()}")
    return prefix
