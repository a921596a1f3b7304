"""Broken model files through the command line and the desktop app.

The library refusals (truncated, wrong shapes, another network, checksum, pickle) are tested
in tests/core/test_weights_t7.py and test_weights_store.py; here a broken model chosen by
the user must stop the CLI with one clear line and nothing written, and the window must say
what is wrong instead of quietly running without it.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from safetensors.torch import save_file

from vrn_studio.cli.main import main
from vrn_studio.gui.main_window import NO_MODEL_TEXT, build_reconstructor
from vrn_studio.gui.settings import AppSettings, SettingsStore
from vrn_studio.image import sample_image_path
from vrn_studio.model import VRN
from vrn_studio.weights import ENV_VAR, Manifest, sha256_file

ARCHITECTURE = {"features": 16, "stacks": 1, "depth_bins": 8, "hourglass_depth": 2}


def install_model(folder: Path, name: str) -> Path:
    """A random-weight small VRN installed in ``folder`` as ``name``; returns its weights file."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in VRN(**ARCHITECTURE).state_dict().items()}, str(weights))
    Manifest(name=name, file=weights.name, sha256=sha256_file(weights), size=weights.stat().st_size,
             source="tests", licence="MIT", architecture=ARCHITECTURE).write(folder / f"{name}.json")
    return weights


def corrupt(path: Path) -> None:
    """Flip the last byte of ``path`` (same size, other checksum)."""
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


class _Marker:
    """Unpickling this creates the file ``path``: proof that a checkpoint was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.fixture
def weights_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "weights"
    monkeypatch.setenv(ENV_VAR, str(folder))
    return folder


def test_cli_refuses_a_corrupt_model_and_writes_nothing(weights_dir: Path, tmp_path: Path, capsys) -> None:
    corrupt(install_model(weights_dir, "small"))
    out = tmp_path / "out"
    code = main(["reconstruct", "--model", "small", "-o", str(out), "--device", "cpu", "--landmarker", "dlib"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "small.safetensors is corrupt or was changed" in err and "weights download small" in err
    assert not out.exists()


def test_cli_refuses_a_pickle_checkpoint_unread(tmp_path: Path, capsys) -> None:
    marker = tmp_path / "unpickled"
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_bytes(pickle.dumps({"state": _Marker(marker)}))
    out = tmp_path / "out"
    code = main(["reconstruct", "--model", str(checkpoint), "-o", str(out), "--device", "cpu"])
    assert code == 2 and "pickle-based PyTorch checkpoint" in capsys.readouterr().err
    assert not marker.exists() and not out.exists()


def test_window_says_an_installed_model_is_broken(qtbot, make_window, weights_dir: Path, tmp_path: Path) -> None:
    corrupt(install_model(weights_dir, "small"))
    store = SettingsStore(tmp_path / "settings.ini")
    store.save(AppSettings(model="small", landmarker="dlib", device="cpu"))
    window = make_window(factory=build_reconstructor, store=store)
    with qtbot.waitSignal(window.runner.failed, timeout=60_000):
        window.open_path(sample_image_path())
    text = window.message.label.text()
    assert "small.safetensors is corrupt or was changed" in text and text != NO_MODEL_TEXT
    for file in weights_dir.iterdir():  # the user imports it again
        file.unlink()
    install_model(weights_dir, "small")
    window._apply_settings(window.settings)  # what the weights manager's modelsChanged does
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        window.open_path(sample_image_path())
    assert window.result.model == "small" and not window.message.isVisible()


def test_a_model_that_is_not_installed_still_gives_landmarks(weights_dir: Path) -> None:
    rec = build_reconstructor(AppSettings(model="default", landmarker="dlib", device="cpu"))
    result = rec.reconstruct(sample_image_path())
    assert result.mesh is None and result.face.landmarks.shape == (68, 2)

