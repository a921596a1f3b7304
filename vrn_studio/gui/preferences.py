"""The Preferences dialog: device, runtimes, landmarker, iso level, bump removal and theme."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vrn_studio.face import available_landmarkers
from vrn_studio.gui.settings import (
    BUMP_MODES,
    DEVICES,
    LANDMARKERS,
    LIVE_RUNTIMES,
    MAX_SMOOTH,
    MAX_TRIANGLES,
    THEMES,
    AppSettings,
)
from vrn_studio.headfit import HEAD_FITS
from vrn_studio.pipeline import available_devices
from vrn_studio.pipeline.runtime import RUNTIMES, available_runtimes

_DEVICE_LABELS = {"auto": "Automatic", "cpu": "CPU", "cuda": "CUDA (NVIDIA GPU)", "mps": "MPS (Apple GPU)"}
_RUNTIME_LABELS = {
    "auto": "Automatic",
    "torch": "PyTorch",
    "onnxruntime": "ONNX Runtime, float32 (CPU)",
    "onnxruntime-int8": "ONNX Runtime, int8 (CPU; fastest, less faithful)",
}
_LANDMARKER_LABELS = {
    "auto": "Automatic",
    "mediapipe": "MediaPipe (fast, to large yaw)",
    "fan": "2D-FAN (face-alignment)",
    "dlib": "dlib (offline)",
}
_BUMP_LABELS = {
    "largest": "Keep the largest part",
    "fraction": "Drop parts smaller than a fraction of the largest",
}
_HEAD_FIT_LABELS = {
    "ict": "ICT head model fitted to the volume (whole head)",
    "none": "None (the network's mesh)",
}
_THEME_LABELS = {"system": "System", "light": "Light", "dark": "Dark"}
LEVEL_HINT = "release: 10/255 = 0.0392"
"""Shown next to the iso-level box."""


def _combo(labels: Mapping[str, str], values: tuple[str, ...], current: str) -> QComboBox:
    """A combo box showing ``labels`` with the values as item data, set to ``current``."""
    combo = QComboBox()
    for value in values:
        combo.addItem(labels[value], value)
    combo.setCurrentIndex(max(combo.findData(current), 0))
    return combo


def _spin_value(spin: QDoubleSpinBox, exact: tuple[float, ...]) -> float:
    """The box's value, or the first of ``exact`` that it shows rounded (so 10/255 stays exact)."""
    value = spin.value()
    return next((x for x in exact if round(x, spin.decimals()) == value), value)


def _disable_unavailable(combo: QComboBox, problems: Mapping[str, str | None], auto_tip: str) -> None:
    """Grey out items whose value has a problem, with the problem as tooltip."""
    model = combo.model()
    assert isinstance(model, QStandardItemModel)
    for index in range(combo.count()):
        value = combo.itemData(index)
        problem = problems.get(value)
        if value == "auto":
            combo.setItemData(index, auto_tip, Qt.ItemDataRole.ToolTipRole)
        elif problem is not None:
            model.item(index).setEnabled(False)
            combo.setItemData(index, problem, Qt.ItemDataRole.ToolTipRole)


class PreferencesDialog(QDialog):
    """Edits a copy of :class:`~vrn_studio.gui.settings.AppSettings`.

    Devices and landmarkers that cannot run here are listed but greyed out, with the
    reason (and what to install) as their tooltip. The input settings are never changed:
    read the result from :meth:`settings` after the dialog is accepted.

    Parameters
    ----------
    settings : AppSettings
        Current settings; copied.
    parent : QWidget, optional
        Parent widget.

    Attributes
    ----------
    device_combo, landmarker_combo, bump_combo, head_fit_combo, theme_combo : QComboBox
        The choices; each item's data is the value stored in the settings.
    level_spin : QDoubleSpinBox
        Iso-surface level in occupancy probability, 4 decimals; a value shown rounded
        (such as the default 10/255) is returned exactly unless it is edited.
    fraction_spin : QDoubleSpinBox
        ``min_fraction``; enabled only for the "fraction" bump mode.
    smooth_spin : QSpinBox
        Smoothing iterations after bump removal (``smooth``), 0 to ``MAX_SMOOTH``.
    triangles_spin : QSpinBox
        Decimation target in triangles (``triangles``), 0 (off) to ``MAX_TRIANGLES``.
    buttons : QDialogButtonBox
        OK, Cancel and Restore Defaults.
    """

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._settings = copy.deepcopy(settings)

        devices = available_devices()
        self.device_combo = _combo(_DEVICE_LABELS, DEVICES, settings.device)
        auto_device = next((d for d in ("cuda", "mps") if devices.get(d, "") is None), "cpu")
        _disable_unavailable(
            self.device_combo, devices, f"CUDA, then MPS, then CPU: {_DEVICE_LABELS[auto_device]} here"
        )

        runtimes = available_runtimes()
        self.runtime_combo = _combo(_RUNTIME_LABELS, RUNTIMES, settings.runtime)
        _disable_unavailable(self.runtime_combo, runtimes, "")
        self.runtime_combo.setToolTip("What runs the network for photos and frozen frames")
        self.live_runtime_combo = _combo(_RUNTIME_LABELS, LIVE_RUNTIMES, settings.live_runtime)
        _disable_unavailable(
            self.live_runtime_combo, runtimes,
            "int8 ONNX Runtime on a CPU (about 1.7x the float32 rate), PyTorch on a GPU",
        )

        landmarkers = available_landmarkers()
        self.landmarker_combo = _combo(_LANDMARKER_LABELS, LANDMARKERS, settings.landmarker)
        auto_landmarker = next((name for name, problem in landmarkers.items() if problem is None), "dlib")
        _disable_unavailable(
            self.landmarker_combo,
            landmarkers,
            f"the first that can run of MediaPipe, 2D-FAN, dlib: {_LANDMARKER_LABELS[auto_landmarker]} here",
        )

        self.level_spin = QDoubleSpinBox()
        self.level_spin.setDecimals(4)
        self.level_spin.setRange(0.0001, 0.9999)
        self.level_spin.setSingleStep(1 / 255)
        self.level_spin.setValue(settings.level)
        self.level_spin.setToolTip(
            "Occupancy probability at which the surface is drawn; lower grows the face outwards"
        )
        level_row = QHBoxLayout()
        level_row.addWidget(self.level_spin)
        level_row.addWidget(QLabel(LEVEL_HINT))

        self.bump_combo = _combo(_BUMP_LABELS, BUMP_MODES, settings.bump_mode)
        self.fraction_spin = QDoubleSpinBox()
        self.fraction_spin.setDecimals(2)
        self.fraction_spin.setRange(0.0, 1.0)
        self.fraction_spin.setSingleStep(0.05)
        self.fraction_spin.setValue(settings.min_fraction)
        self.fraction_spin.setToolTip(
            "Parts with fewer vertices than this fraction of the largest are removed"
        )
        self.bump_combo.currentIndexChanged.connect(self._update_fraction_enabled)
        self._update_fraction_enabled()

        self.smooth_spin = QSpinBox()
        self.smooth_spin.setRange(0, MAX_SMOOTH)
        self.smooth_spin.setSingleStep(10)
        self.smooth_spin.setValue(settings.smooth)
        self.smooth_spin.setSpecialValueText("off")
        self.smooth_spin.setToolTip(
            "Taubin smoothing iterations after bump removal: 60 takes out the depth bins' terraces and "
            "moves no point more than about a pixel; View > Before/after shows the raw surface"
        )

        self.triangles_spin = QSpinBox()
        self.triangles_spin.setRange(0, MAX_TRIANGLES)
        self.triangles_spin.setSingleStep(5000)
        self.triangles_spin.setValue(settings.triangles)
        self.triangles_spin.setSpecialValueText("off")
        self.triangles_spin.setToolTip(
            "Decimate the mesh to about this many triangles after smoothing (quadric edge collapse), "
            "for lighter files; off keeps every triangle"
        )

        self.head_fit_combo = _combo(_HEAD_FIT_LABELS, HEAD_FITS, settings.head_fit)
        self.head_fit_combo.setToolTip(
            "The mesh shown and saved: the ICT Face Model's head fitted to the network's volume and the "
            "landmarks (smooth, with ears and neck), or the network's own mesh; View > Before/after shows "
            "the network's surface either way"
        )

        self.theme_combo = _combo(_THEME_LABELS, THEMES, settings.theme)

        form = QFormLayout()
        form.addRow("&Device:", self.device_combo)
        form.addRow("&Runtime (photos):", self.runtime_combo)
        form.addRow("Runtime (li&ve view):", self.live_runtime_combo)
        form.addRow("&Landmarker:", self.landmarker_combo)
        level_label = QLabel("&Iso level:")
        level_label.setBuddy(self.level_spin)
        form.addRow(level_label, level_row)
        form.addRow("&Bump removal:", self.bump_combo)
        form.addRow("Minimum &fraction:", self.fraction_spin)
        form.addRow("&Smoothing:", self.smooth_spin)
        form.addRow("Decimate to (&triangles):", self.triangles_spin)
        form.addRow("&Head model:", self.head_fit_combo)
        form.addRow("&Theme:", self.theme_combo)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self.restore_defaults
        )

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

    def _update_fraction_enabled(self) -> None:
        self.fraction_spin.setEnabled(self.bump_combo.currentData() == "fraction")

    def restore_defaults(self) -> None:
        """Set every control to the default of its setting (files and window state are kept)."""
        defaults = AppSettings()
        for combo, value in (
            (self.device_combo, defaults.device),
            (self.runtime_combo, defaults.runtime),
            (self.live_runtime_combo, defaults.live_runtime),
            (self.landmarker_combo, defaults.landmarker),
            (self.bump_combo, defaults.bump_mode),
            (self.head_fit_combo, defaults.head_fit),
            (self.theme_combo, defaults.theme),
        ):
            combo.setCurrentIndex(combo.findData(value))
        self.level_spin.setValue(defaults.level)
        self.fraction_spin.setValue(defaults.min_fraction)
        self.smooth_spin.setValue(defaults.smooth)
        self.triangles_spin.setValue(defaults.triangles)

    def settings(self) -> AppSettings:
        """A new AppSettings: the input's values with the edits made in the dialog."""
        edited = copy.deepcopy(self._settings)
        edited.device = self.device_combo.currentData()
        edited.runtime = self.runtime_combo.currentData()
        edited.live_runtime = self.live_runtime_combo.currentData()
        edited.landmarker = self.landmarker_combo.currentData()
        defaults = AppSettings()
        edited.level = _spin_value(self.level_spin, (self._settings.level, defaults.level))
        edited.bump_mode = self.bump_combo.currentData()
        edited.min_fraction = _spin_value(
            self.fraction_spin, (self._settings.min_fraction, defaults.min_fraction)
        )
        edited.smooth = self.smooth_spin.value()
        edited.triangles = self.triangles_spin.value()
        edited.head_fit = self.head_fit_combo.currentData()
        edited.theme = self.theme_combo.currentData()
        return edited
