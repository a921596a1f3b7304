"""AppSettings and SettingsStore: INI round trips, damaged files, recent files; apply_theme."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from dataclasses import fields

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from vrn_studio.gui.settings import MAX_RECENT, AppSettings, SettingsStore, apply_theme
from vrn_studio.headfit import DEFAULT_HEAD_FIT
from vrn_studio.mesh import DEFAULT_LEVEL, DEFAULT_SMOOTH

EDITED = AppSettings(
    device="cpu",
    landmarker="dlib",
    model="vrn-unguided",
    runtime="onnxruntime",
    live_runtime="torch",
    level=0.25,
    bump_mode="fraction",
    min_fraction=0.3,
    head_fit="none",
    smooth=120,
    triangles=20000,
    theme="dark",
    last_dir="/photos/holiday, 2025",
    recent_files=["/photos/a.jpg"],
    camera="/videos/clip.mp4",
    window_geometry=b"\x00\x01geometry\xff",
    window_state=b"\x00state",
)


def test_defaults():
    settings = AppSettings()
    assert (settings.device, settings.landmarker, settings.model, settings.theme) == (
        "auto",
        "auto",
        "default",
        "system",
    )
    assert (settings.level, settings.bump_mode, settings.min_fraction) == (DEFAULT_LEVEL, "largest", 0.1)
    assert (settings.last_dir, settings.recent_files, settings.camera) == ("", [], 0)
    assert (settings.runtime, settings.live_runtime) == ("torch", "auto")
    assert settings.smooth == DEFAULT_SMOOTH == 60 and settings.triangles == 0
    assert settings.head_fit == DEFAULT_HEAD_FIT == "ict"
    assert AppSettings().recent_files is not settings.recent_files


@pytest.mark.parametrize("recent", [[], ["/a.jpg"], ["/a.jpg", "/b, c.png"]])
def test_round_trip_through_an_ini_file(tmp_path, recent):
    path = tmp_path / "settings.ini"
    edited = AppSettings(**{f.name: getattr(EDITED, f.name) for f in fields(AppSettings)})
    edited.recent_files = recent
    SettingsStore(path).save(edited)
    assert SettingsStore(path).load() == edited
    # A copy under another name is read from disk, not from Qt's in-process cache.
    shutil.copy(path, tmp_path / "copy.ini")
    assert SettingsStore(tmp_path / "copy.ini").load() == edited


def test_camera_index_round_trips_as_an_int(tmp_path):
    SettingsStore(tmp_path / "s.ini").save(AppSettings(camera=2))
    shutil.copy(tmp_path / "s.ini", tmp_path / "copy.ini")
    assert SettingsStore(tmp_path / "copy.ini").load().camera == 2


def test_a_qsettings_object_can_be_given(tmp_path):
    qsettings = QSettings(str(tmp_path / "given.ini"), QSettings.Format.IniFormat)
    SettingsStore(qsettings).save(AppSettings(theme="light"))
    assert (tmp_path / "given.ini").is_file() and SettingsStore(qsettings).load().theme == "light"


def test_default_store_names_the_app():
    qsettings = SettingsStore().qsettings
    assert (qsettings.organizationName(), qsettings.applicationName()) == ("VRN Studio", "vrn-studio")


def test_missing_file_gives_defaults(tmp_path):
    assert SettingsStore(tmp_path / "absent.ini").load() == AppSettings()
    assert not (tmp_path / "absent.ini").exists()


def test_garbage_values_fall_back_to_defaults_one_by_one(tmp_path, caplog):
    path = tmp_path / "damaged.ini"
    path.write_text(
        "[General]\n"
        "device=quantum\n"
        "landmarker=@Rect(1 2 3 4)\n"
        "model=\n"
        "runtime=tensorrt\n"
        "live_runtime=onnxruntime-int8\n"
        "level=1.5\n"
        "bump_mode=largest\n"
        "min_fraction=nan\n"
        "smooth=-5\n"
        "triangles=lots\n"
        "head_fit=flame\n"
        "theme=dark\n"
        "last_dir=@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x18Garbage\\0)\n"
        "recent_files=@ByteArray(not a list)\n"
        "camera=\n"
        "window_geometry=plain text\n"
        "window_state=@ByteArray(ok)\n"
    )
    with caplog.at_level(logging.WARNING, logger="vrn_studio.gui.settings"):
        loaded = SettingsStore(path).load()
    assert loaded == AppSettings(bump_mode="largest", theme="dark", window_state=b"ok",
                                 live_runtime="onnxruntime-int8")
    warned = " ".join(record.getMessage() for record in caplog.records)
    for key in ("device", "landmarker", "model", "runtime", "level", "min_fraction", "smooth", "triangles",
                "head_fit", "recent_files", "window_geometry"):
        assert f"setting {key}=" in warned
    assert "setting theme=" not in warned


def test_stored_recent_files_are_deduplicated_and_capped(tmp_path):
    path = tmp_path / "s.ini"
    qsettings = QSettings(str(path), QSettings.Format.IniFormat)
    qsettings.setValue("recent_files", ["/a", "/b", "/a", *(f"/{i}" for i in range(20))])
    loaded = SettingsStore(qsettings).load().recent_files
    assert loaded[:3] == ["/a", "/b", "/0"] and len(loaded) == MAX_RECENT


def test_add_recent_puts_the_newest_first_without_repeats_or_overflow(tmp_path):
    settings = AppSettings()
    for i in range(12):
        settings.add_recent(tmp_path / f"{i}.jpg")
    assert settings.recent_files == [str(tmp_path / f"{i}.jpg") for i in range(11, 1, -1)]
    settings.add_recent(str(tmp_path / "5.jpg"))
    assert settings.recent_files[0] == str(tmp_path / "5.jpg")
    assert (
        settings.recent_files.count(str(tmp_path / "5.jpg")) == 1 and len(settings.recent_files) == MAX_RECENT
    )
    assert settings.recent_files[1:3] == [str(tmp_path / "11.jpg"), str(tmp_path / "10.jpg")]


@pytest.fixture
def restored_theme(qapp: QApplication) -> Iterator[QApplication]:
    """The app, put back to the platform theme after the test."""
    yield qapp
    apply_theme(qapp, "system")


def _window_lightness(app: QApplication) -> int:
    return app.palette().color(QPalette.ColorRole.Window).lightness()


def test_apply_theme_changes_the_palette(restored_theme):
    app = restored_theme
    apply_theme(app, "system")
    system_style, system_window = app.style().name(), app.palette().color(QPalette.ColorRole.Window)
    apply_theme(app, "dark")
    assert app.style().name() == "fusion" and _window_lightness(app) < 80
    assert app.palette().color(QPalette.ColorRole.WindowText).lightness() > 200
    apply_theme(app, "light")
    assert app.style().name() == "fusion" and _window_lightness(app) > 200
    apply_theme(app, "dark")
    apply_theme(app, "system")
    assert app.style().name() == system_style
    assert app.palette().color(QPalette.ColorRole.Window) == system_window


def test_a_dark_theme_paints_widgets_dark(qtbot, restored_theme):
    apply_theme(restored_theme, "dark")
    widget = QLabel("VRN Studio")
    qtbot.addWidget(widget)
    widget.resize(200, 60)
    widget.show()
    qtbot.waitExposed(widget)
    assert _grabbed_lightness(widget) < 80
    apply_theme(restored_theme, "light")
    # Open widgets repaint once the palette change has gone through the event loop.
    qtbot.waitUntil(lambda: _grabbed_lightness(widget) > 200)


def _grabbed_lightness(widget: QWidget) -> int:
    return widget.grab().toImage().pixelColor(2, 2).lightness()


def test_apply_theme_refuses_unknown_names(qapp):
    with pytest.raises(ValueError, match="Unknown theme 'neon'. Available: system, light, dark"):
        apply_theme(qapp, "neon")
