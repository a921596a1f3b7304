"""Every test runs with its own empty weights folders and torch cache: nothing on this
machine outside the test's tmp_path can change what it sees. The project's own weights/
folder (VRN Studio's built-in model) is hidden too, except for tests that ask for it with
the ``shipped_weights`` fixture."""

from __future__ import annotations

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
