"""Starting the app: dependency checks, `vrn-studio` with no command, the event loop."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from vrn_studio.cli.main import main
from vrn_studio.errors import MissingDependencyError
from vrn_studio.gui import check_gui_dependencies
from vrn_studio.gui.settings import SettingsStore
from vrn_studio.image import sample_image_path


def test_missing_gui_dependency_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyvistaqt", None)
    with pytest.raises(MissingDependencyError, match=r"needs 'pyvistaqt'.*pip install 'vrn-studio\[gui\]'"):
        check_gui_dependencies()


def test_broken_gui_dependency_gives_no_pip_advice(monkeypatch) -> None:
    import importlib

    real = importlib.import_module

    def broken(name, *args, **kwargs):
        if name == "superqt":
            raise ImportError("libfoo.so: cannot open shared object file")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(MissingDependencyError) as info:
        check_gui_dependencies()
    assert "'superqt' is installed but failed to import: libfoo.so" in str(info.value)
    assert "pip install" not in str(info.value)


def test_no_command_without_gui_prints_help_and_why(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "pyvista", None)
    assert main([]) == 0
    captured = capsys.readouterr()
    assert "usage: vrn-studio" in captured.out
    assert "desktop app is not available" in captured.err and "vrn-studio[gui]" in captured.err


RUN_APP = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from vrn_studio.gui.app import run_app
from vrn_studio.gui.main_window import MainWindow
from vrn_studio.gui.settings import SettingsStore

def close_when_shown():
    windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    if not windows:
        QTimer.singleShot(50, close_when_shown)
        return
    print("opened", windows[0].current_path)
    windows[0].close()
    QApplication.instance().quit()

app = QApplication(sys.argv[:1])
QTimer.singleShot(50, close_when_shown)
sys.exit(run_app([], image=sys.argv[1], store=SettingsStore(sys.argv[2])))
"""


def test_run_app_opens_the_window_on_an_image(tmp_path) -> None:
    """In its own process: quitting the event loop must not touch the test session's app."""
    settings = tmp_path / "settings.ini"
    done = subprocess.run(
        [sys.executable, "-c", RUN_APP, str(sample_image_path()), str(settings)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "VRN_STUDIO_WEIGHTS": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert f"opened {sample_image_path()}" in done.stdout
    assert SettingsStore(settings).load().recent_files == [str(sample_image_path())]
