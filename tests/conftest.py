"""Every test runs with its own empty weights folders and torch cache: nothing on this
machine outside the test's tmp_path can change what it sees. The project's own weights/
folder (VRN Studio's built-in model) is hidden too, except for tests that ask for it with
the ``shipped_weights`` fixture.

Tests that open windows (everything under gui/, and any test using ``qtbot`` or ``qapp``)
first check in a child process that Qt and VTK can open and render a window here: Qt
aborts the whole interpreter where it cannot. Where they cannot, those tests are skipped
with one line naming what to install; on CI (``CI`` set) the run stops with that line
instead, so GUI coverage never vanishes silently.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vrn_studio.weights import store

PROJECT_WEIGHTS = store.project_dir()
"""The repository's weights/ folder, with the built-in default model."""


@pytest.fixture(autouse=True)
def isolated_data_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the per-user weights folder and TORCH_HOME at fresh empty folders."""
    root = tmp_path_factory.mktemp("data-dirs")
    monkeypatch.setattr("vrn_studio.weights.store.user_dir", lambda: root / "user-weights")
    monkeypatch.setattr("vrn_studio.weights.store.project_dir", lambda: root / "project-weights")
    monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
    monkeypatch.delenv("VRN_STUDIO_WEIGHTS", raising=False)
    return root


@pytest.fixture
def shipped_weights(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the project's weights/ folder (the built-in model) visible again; return it."""
    monkeypatch.setattr("vrn_studio.weights.store.project_dir", lambda: PROJECT_WEIGHTS)
    return PROJECT_WEIGHTS


DISPLAY_PROBE = """
from PySide6.QtWidgets import QApplication
app = QApplication([])
from pyvistaqt import QtInteractor
view = QtInteractor()
view.show()
app.processEvents()
view.add_mesh(__import__("pyvista").Sphere())
view.render()
view.close()
"""
"""Opens a Qt window with a VTK render, as the GUI tests do; exits 0 where that works."""


@functools.cache
def display_problem() -> str | None:
    """Why Qt and VTK cannot open a window in this test run (first line of what the probe
    printed), or None where they can. Checked once, in a child process."""
    try:
        probe = subprocess.run([sys.executable, "-c", DISPLAY_PROBE], capture_output=True, text=True, timeout=120,
                               check=False)
    except subprocess.TimeoutExpired:
        return "opening a window timed out"
    if probe.returncode == 0:
        return None
    said = [line.strip() for line in (probe.stderr + probe.stdout).splitlines() if line.strip()]
    return (said[0] if said else f"exit status {probe.returncode}")[:200]


GUI_TESTS = Path(__file__).parent / "gui"
GUI_SKIPPED = pytest.StashKey[str]()


def needs_display(item: pytest.Item) -> bool:
    """Whether ``item`` opens windows: it lives in gui/, is marked ``gui``, or uses ``qapp``."""
    return (
        item.path.is_relative_to(GUI_TESTS)
        or item.get_closest_marker("gui") is not None
        or "qapp" in getattr(item, "fixturenames", ())
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Where windows cannot open, leave out the tests that need them with one line (CI: stop)."""
    gui = [item for item in items if needs_display(item)]
    problem = display_problem() if gui else None
    if problem is None:
        return
    why = (
        f"Qt/VTK cannot open a window here ({problem}). Install Xvfb and the GL/XCB libraries: "
        "bash scripts/install-system-packages.sh (Debian/Ubuntu, as root or with sudo)"
    )
    if os.environ.get("CI"):
        pytest.exit(f"Stopped: {why}", returncode=3)
    line = f"{len(gui)} GUI tests not run: {why}"
    config.stash[GUI_SKIPPED] = line
    config.hook.pytest_deselected(items=gui)
    items[:] = [item for item in items if not needs_display(item)]


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say up front when the GUI tests are left out (see :func:`pytest_collection_modifyitems`)."""
    return config.stash.get(GUI_SKIPPED, None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Repeat the GUI line at the end, where the counts are read."""
    if GUI_SKIPPED in config.stash:
        terminalreporter.write_line(config.stash[GUI_SKIPPED], yellow=True, bold=True)
