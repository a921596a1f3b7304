"""Long sessions survive: the installed PySide6 must not leak references to None and True.

PySide6 6.12.0 on Python < 3.12 took one reference off ``None`` on every void Qt call and off
``True`` on every ``Signal.emit``; a live session aborted after minutes ("deallocating None").
The ``gui`` extra excludes it; this test fails if such a build is installed. It runs in a
child process, since the failure aborts the interpreter.
"""

from __future__ import annotations

import subprocess
import sys

CALLS = 300_000  # several times the references None and True hold in a GUI process

SESSION = f"""
from PySide6.QtCore import QCoreApplication, QObject, Signal

class Emitter(QObject):
    ping = Signal()

app = QCoreApplication([])
emitter = Emitter()
emitter.ping.connect(lambda: None)
for _ in range({CALLS}):
    emitter.setObjectName("void call")  # returns None
    emitter.ping.emit()  # returns True
print("survived")
"""


def test_a_long_session_survives() -> None:
    run = subprocess.run([sys.executable, "-c", SESSION], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0 and run.stdout.strip() == "survived", run.stderr[-2000:]
