"""Run the Khronos glTF validator (npm package gltf-validator) on files, and play a GLB's animation
in three.js (npm package three); .ci/run installs both."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VALIDATOR_DIR = Path(os.environ.get("GLTF_VALIDATOR_DIR", REPO / ".ci" / "gltf-validator" / "node_modules"))


def _node(package: str) -> str:
    """Node.js, where ``package`` is installed in :data:`VALIDATOR_DIR`. Skips the test where
    either is missing; on CI (``CI`` set) fails it instead."""
    node = shutil.which("node")
    if node is None or not (VALIDATOR_DIR / package).is_dir():
        message = f"{package} is not installed in {VALIDATOR_DIR} (npm install --prefix .ci/gltf-validator {package})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return node


def _run(package: str, script: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``scripts/<script>`` (which needs the npm ``package``) with Node.js."""
    return subprocess.run([_node(package), str(REPO / "scripts" / script), *args], check=False, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "GLTF_VALIDATOR_DIR": str(VALIDATOR_DIR)})


def validate(files: list[Path]) -> list[dict]:
    """One report per file (``numErrors``, ``numWarnings``, ``messages``...)."""
    run = _run("gltf-validator", "validate_gltf.mjs", *map(str, files))
    reports = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(reports) == len(files), run.stderr
    return reports


def play(glb: Path, times: list[float]) -> dict:
    """three.js plays ``glb``'s first animation: ``duration`` (s), the first mesh's ``vertices``,
    and its morph-target ``weights`` at each of ``times`` (s)."""
    run = _run("three", "play_gltf_animation.mjs", str(glb), json.dumps(times))
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)
