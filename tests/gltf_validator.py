"""Run the Khronos glTF validator (npm package gltf-validator, installed by .ci/run) on files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VALIDATOR_DIR = Path(os.environ.get("GLTF_VALIDATOR_DIR", REPO / ".ci" / "gltf-validator" / "node_modules"))


def validate(files: list[Path]) -> list[dict]:
    """One report per file (``numErrors``, ``numWarnings``, ``messages``...). Skips the test where
    Node.js or the validator is missing; on CI (``CI`` set) fails it instead."""
    node = shutil.which("node")
    if node is None or not (VALIDATOR_DIR / "gltf-validator").is_dir():
        message = (f"the Khronos glTF validator is not installed in {VALIDATOR_DIR} "
                   "(npm install --prefix .ci/gltf-validator gltf-validator)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    run = subprocess.run([node, str(REPO / "scripts" / "validate_gltf.mjs"), *map(str, files)], check=False, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "GLTF_VALIDATOR_DIR": str(VALIDATOR_DIR)})
    reports = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(reports) == len(files), run.stderr
    return reports
