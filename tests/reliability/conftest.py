"""Fixtures of the reliability suite: a real main window, and a way to run a command that the
file permissions bind even when the tests run as root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from window_fixture import make_window  # noqa: F401  (the shared fixture)


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
