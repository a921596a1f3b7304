"""scripts/live_app_rate.py runs the window's live view and reports the rate it received."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "live_app_rate.py"


def test_live_app_rate_reports_meshes_shown(qtbot, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--live-runtime", "torch", "--seconds", "10", "--warmup", "2"])
    with pytest.raises(SystemExit) as ended:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert ended.value.code == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("live runtime torch: ") and "meshes/s shown in the window" in line
    assert float(line.split(": ")[1].split()[0]) > 0
