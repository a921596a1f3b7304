"""Long sessions survive PySide6 builds that leak references to None and True (Python < 3.12).

Each check runs in a child process, since the failure it guards against aborts the interpreter.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CALLS = 300_000  # several times the references None and True hold in a GUI process

SESSION = f"""
import sys
from PySide6.QtCore import QCoreApplication, QObject, Signal
from vrn_studio.gui.refcounts import guard_singleton_refcounts

class Emitter(QObject):
    ping = Signal()

app = QCoreApplication([])
if sys.argv[1] == "guarded":
    guard_singleton_refcounts()
emitter = Emitter()
emitter.ping.connect(lambda: None)
for _ in range({CALLS}):
    emitter.setObjectName("void call")  # returns None
    emitter.ping.emit()  # returns True
print("survived")
"""


def _session(mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SESSION, mode], capture_output=True, text=True, timeout=120, check=False)


def test_a_long_session_survives_with_the_guard() -> None:
    run = _session("guarded")
    assert run.returncode == 0 and run.stdout.strip() == "survived", run.stderr[-2000:]


def test_the_guard_is_needed_where_pyside_leaks() -> None:
    from vrn_studio.gui.refcounts import pyside_leaks_singleton_refs

    if sys.version_info >= (3, 12) or not pyside_leaks_singleton_refs():
        pytest.skip("this Python and PySide6 do not leak references to None")
    run = _session("unguarded")
    assert run.returncode != 0 and "deallocating" in run.stderr  # what the guard prevents
