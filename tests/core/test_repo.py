"""The repository keeps its promises: README commands, CI script, file sizes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_opens_with_install_and_test_commands() -> None:
    install, test = _readme_commands()[:2]
    assert "pip install" in install and install.rstrip().endswith("vrn-studio reconstruct")
    assert "pytest" in test


def test_ci_runs_readme_install_and_test_command() -> None:
    install, test = _readme_commands()[:2]
    ci = (ROOT / ".ci" / "run").read_text().replace(" -q ", " ")
    *steps, run = install.split(" && ")
    assert run == "vrn-studio reconstruct"
    for step in steps:
        assert step in ci
    assert ci.rstrip().splitlines()[-1] == test.split(" && ")[-1]


def test_no_tracked_file_over_50_mb() -> None:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    big = [f for f in files if (ROOT / f).is_file() and (ROOT / f).stat().st_size > 50 * 2**20]
    assert big == []
