"""Every test runs with its own empty weights folders and torch cache: nothing on this
machine outside the test's tmp_path can change what it sees."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_data_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the per-user weights folder and TORCH_HOME at fresh empty folders."""
    root = tmp_path_factory.mktemp("data-dirs")
    monkeypatch.setattr("vrn_studio.weights.store.user_dir", lambda: root / "user-weights")
    monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
    monkeypatch.delenv("VRN_STUDIO_WEIGHTS", raising=False)
    return root
