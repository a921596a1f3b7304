"""PreferencesDialog: edits come back as a new AppSettings; unavailable backends are greyed out."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QLabel

from vrn_studio.gui.preferences import LEVEL_HINT, PreferencesDialog
from vrn_studio.gui.settings import AppSettings
from vrn_studio.mesh import DEFAULT_LEVEL

NO_CUDA = "no CUDA GPU visible to this PyTorch build"
NO_FAN = "The 'fan' landmarker needs 'face-alignment', which is not installed."


@pytest.fixture
def backends(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str | None]]:
    """CPU only and dlib only, whatever this machine has; tests may edit the dicts first."""
    found = {
        "devices": {"cpu": None, "cuda": NO_CUDA, "mps": "Apple Metal (MPS) is not available"},
        "landmarkers": {"fan": NO_FAN, "dlib": None},
    }
    monkeypatch.setattr("vrn_studio.gui.preferences.available_devices", lambda: dict(found["devices"]))
    monkeypatch.setattr(
        "vrn_studio.gui.preferences.available_landmarkers", lambda: dict(found["landmarkers"])
    )
    found["runtimes"] = {"torch": None, "onnxruntime": None, "onnxruntime-int8": None}
    monkeypatch.setattr("vrn_studio.gui.preferences.available_runtimes", lambda: dict(found["runtimes"]))
    return found


def _open(qtbot, settings: AppSettings) -> PreferencesDialog:
    dialog = PreferencesDialog(settings)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def _select(combo: QComboBox, value: str) -> None:
    index = combo.findData(value)
    assert index >= 0, value
    combo.setCurrentIndex(index)


def _item_enabled(combo: QComboBox, value: str) -> bool:
    return combo.model().item(combo.findData(value)).isEnabled()


def _tooltip(combo: QComboBox, value: str) -> str:
    return combo.itemData(combo.findData(value), Qt.ItemDataRole.ToolTipRole)


def test_edits_come_back_and_the_input_is_untouched(qtbot, backends):
    original = AppSettings(recent_files=["/a.jpg"], camera=1, window_state=b"state")
    dialog = _open(qtbot, original)
    _select(dialog.device_combo, "cpu")
    _select(dialog.runtime_combo, "onnxruntime")
    _select(dialog.live_runtime_combo, "torch")
    _select(dialog.bump_combo, "fraction")
    _select(dialog.head_fit_combo, "none")
    _select(dialog.theme_combo, "dark")
    dialog.level_spin.selectAll()
    qtbot.keyClicks(dialog.level_spin, "0.2500")
    dialog.fraction_spin.setValue(0.35)
    dialog.smooth_spin.selectAll()
    qtbot.keyClicks(dialog.smooth_spin, "90")
    dialog.triangles_spin.selectAll()
    qtbot.keyClicks(dialog.triangles_spin, "20000")
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    edited = dialog.settings()
    assert edited == AppSettings(
        device="cpu",
        runtime="onnxruntime",
        live_runtime="torch",
        level=0.25,
        bump_mode="fraction",
        min_fraction=0.35,
        smooth=90,
        triangles=20000,
        head_fit="none",
        theme="dark",
        recent_files=["/a.jpg"],
        camera=1,
        window_state=b"state",
    )
    assert original == AppSettings(recent_files=["/a.jpg"], camera=1, window_state=b"state")
    edited.add_recent("/b.jpg")
    assert original.recent_files == ["/a.jpg"]


def test_untouched_dialog_returns_the_exact_values(qtbot, backends):
    original = AppSettings(level=DEFAULT_LEVEL, min_fraction=1 / 3, landmarker="dlib", device="mps")
    dialog = _open(qtbot, original)
    assert dialog.level_spin.text() == "0.0392"
    assert dialog.settings() == original and dialog.settings() is not original


def test_the_level_hint_names_the_release_value(qtbot, backends):
    dialog = _open(qtbot, AppSettings())
    assert LEVEL_HINT == "release: 10/255 = 0.0392"
    assert LEVEL_HINT in [label.text() for label in dialog.findChildren(QLabel)]


def test_unavailable_devices_are_disabled_with_the_reason(qtbot, backends):
    dialog = _open(qtbot, AppSettings(device="cpu"))
    combo = dialog.device_combo
    assert not _item_enabled(combo, "cuda") and _tooltip(combo, "cuda") == NO_CUDA
    assert not _item_enabled(combo, "mps")
    assert _item_enabled(combo, "cpu") and _item_enabled(combo, "auto")
    assert _tooltip(combo, "cpu") is None and "CPU here" in _tooltip(combo, "auto")
    # The keyboard skips greyed-out entries: from CPU there is nowhere to go down to.
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentData() == "cpu"


def test_available_cuda_is_enabled_and_auto_picks_it(qtbot, backends):
    backends["devices"]["cuda"] = None
    dialog = _open(qtbot, AppSettings())
    assert _item_enabled(dialog.device_combo, "cuda") and _tooltip(dialog.device_combo, "cuda") is None
    assert "CUDA (NVIDIA GPU) here" in _tooltip(dialog.device_combo, "auto")


def test_unavailable_landmarkers_are_disabled_with_the_reason(qtbot, backends):
    dialog = _open(qtbot, AppSettings())
    combo = dialog.landmarker_combo
    assert not _item_enabled(combo, "fan") and _tooltip(combo, "fan") == NO_FAN
    assert _item_enabled(combo, "dlib") and "dlib (offline) here" in _tooltip(combo, "auto")


def test_runtimes_without_onnxruntime_are_disabled_with_the_fix(qtbot, backends):
    backends["runtimes"].update({name: "needs onnx: pip install 'vrn-studio[onnx]'"
                                 for name in ("onnxruntime", "onnxruntime-int8")})
    dialog = _open(qtbot, AppSettings())
    for combo in (dialog.runtime_combo, dialog.live_runtime_combo):
        assert not _item_enabled(combo, "onnxruntime-int8") and "vrn-studio[onnx]" in _tooltip(combo, "onnxruntime")
        assert _item_enabled(combo, "torch")
    assert _item_enabled(dialog.live_runtime_combo, "auto")
    assert "int8" in _tooltip(dialog.live_runtime_combo, "auto")


def test_min_fraction_only_applies_to_the_fraction_mode(qtbot, backends):
    dialog = _open(qtbot, AppSettings(bump_mode="largest"))
    assert not dialog.fraction_spin.isEnabled()
    _select(dialog.bump_combo, "fraction")
    assert dialog.fraction_spin.isEnabled()


def test_restore_defaults_and_cancel(qtbot, backends):
    original = AppSettings(device="cpu", runtime="onnxruntime", live_runtime="torch", level=0.5,
                           bump_mode="fraction", smooth=120, triangles=9000, head_fit="none", theme="light",
                           last_dir="/photos")
    dialog = _open(qtbot, original)
    qtbot.mouseClick(
        dialog.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults), Qt.MouseButton.LeftButton
    )
    assert dialog.settings() == AppSettings(last_dir="/photos")
    with qtbot.waitSignal(dialog.rejected):
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.result() == QDialog.DialogCode.Rejected
