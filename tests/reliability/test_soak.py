"""A short run of scripts/soak.py: the live webcam path in the main window on a looping video
file, with bounded memory and thread counts (the 10-minute run is the script itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "soak.py"
DURATION_S, INTERVAL_S, WARM_UP_S = 14.0, 0.5, 4.0
RSS_GROWTH_BOUND_MB = 64.0
"""Allowed peak-to-peak RSS growth over the 10 s after warm-up (see ``summary`` in the
script). One leaked Result per reconstruction (its 200 x 192 x 192 float32 volume alone is
28 MiB, at one or two reconstructions a second) would pass it within three seconds."""
WORKING_DAY_S = 8 * 3600
"""The leak found with PySide6 6.12.0 (about 280 references a second) used the reserve up in
minutes; the short soak bounds the loss to what a working day of streaming survives."""
OS_THREAD_SPREAD = 2
"""Allowed spread of the process's thread count (Qt, VTK and torch pools included) while streaming."""


@pytest.mark.gui
def test_short_soak_has_bounded_memory_and_threads(tmp_path: Path) -> None:
    # In its own process, as the app runs: inside the test session the heap already holds
    # gigabytes shaped by hundreds of earlier tests, and its fragmentation (not the live
    # path) decided whether the same run grew by 1 MiB or by 65 MiB.
    out = tmp_path / "soak.json"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--minutes", str(DURATION_S / 60), "--interval", str(INTERVAL_S),
         "--warm-up", str(WARM_UP_S), "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=os.environ.copy(), check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(out.read_text())["summary"]
    print(figures)  # shown with -s
    assert figures["frames_reconstructed"] >= 5 and figures["frames_captured"] > 100
    assert figures["rss_peak_growth_mb"] < RSS_GROWTH_BOUND_MB
    # Streaming adds exactly two Python threads (capture, inference), gone after stop.
    assert figures["python_threads_min"] == figures["python_threads_max"] == figures["python_threads_after_stop"] + 2
    assert figures["os_threads_max"] - figures["os_threads_min"] <= OS_THREAD_SPREAD
    # Where PySide6 leaks references to None (docs/reliability.md), a working day at this rate
    # must not use them up: the interpreter aborts when the count reaches zero. (A day would
    # need a rate below ~1.3 per second, finer than 10 s of samples resolve against the
    # +-10 references the objects in flight hold; test_pyside_refcounts covers 300 000 calls.)
    assert figures["none_refs_end"] > figures["none_refs_lost_per_s"] * WORKING_DAY_S
