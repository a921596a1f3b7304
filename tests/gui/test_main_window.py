"""The main window end to end: real window, real VTK render, real worker threads.

The network is ``EllipsoidNet`` (tests/fakes.py): a fixed head-sized ellipsoid plus one
detached blob, so landmarks, crop, mesh and bump removal are all real.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent, QImage

from vrn_studio.gui.main_window import NO_MODEL_TEXT, MainWindow, build_reconstructor, qimage_to_rgb
from vrn_studio.gui.settings import AppSettings, SettingsStore
from vrn_studio.image import sample_image_path
from vrn_studio.mesh import DEFAULT_SMOOTH
from vrn_studio.pipeline import Reconstructor

ASTRONAUT = sample_image_path("astronaut")


def _open_and_wait(qtbot, window: MainWindow, path: Path = ASTRONAUT) -> None:
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        window.open_path(path)
    qtbot.wait(50)


def _green(image: np.ndarray) -> np.ndarray:
    r, g, b = (image[..., i].astype(int) for i in range(3))
    return (g > 200) & (r < 80) & (b < 80)


def test_sample_photo_shows_landmarks_crop_and_mesh(qtbot, make_window) -> None:
    window = make_window()
    _open_and_wait(qtbot, window)
    result = window.result
    assert result is not None and result.mesh is not None
    photo = qimage_to_rgb(window.photo.grab().toImage())
    hits = 0
    for x, y in result.face.landmarks[::6]:
        point = window.photo.photo_to_widget(float(x), float(y))
        px, py = round(point.x()), round(point.y())
        hits += bool(_green(photo[max(py - 2, 0) : py + 3, max(px - 2, 0) : px + 3]).any())
    assert hits >= 10  # of 12 sampled landmarks
    assert _green(qimage_to_rgb(window.crop.grab().toImage())).sum() > 50
    shot = window.viewport.screenshot()
    background = shot[2, 2]
    assert (np.abs(shot.astype(int) - background.astype(int)).sum(axis=2) > 40).mean() > 0.05
    assert "removed" in window.removed_label.text()
    assert "landmarker dlib" in window.stage_label.text()


def test_before_after_toggle_changes_the_render(qtbot, make_window) -> None:
    window = make_window()
    _open_and_wait(qtbot, window)
    after = window.viewport.screenshot()
    window.before_action.setChecked(True)
    qtbot.wait(50)
    before = window.viewport.screenshot()
    assert (np.abs(before.astype(int) - after.astype(int)).sum(axis=2) > 40).sum() > 50
    window.before_action.setChecked(False)
    qtbot.wait(50)
    assert np.abs(window.viewport.screenshot().astype(int) - after.astype(int)).max() < 40


def test_raw_surface_toggle_shows_the_mesh_before_smoothing(qtbot, make_window) -> None:
    from fakes import SlowReconstructor

    window = make_window(factory=lambda settings: SlowReconstructor(delay=0, blob=False, smooth=60))
    _open_and_wait(qtbot, window)
    assert window.result.removed.is_empty and window.result.mesh_clean is not None  # no bumps: only smoothing
    assert "raw" in window.before_action.text().lower()
    smoothed = window.viewport.screenshot()
    window.before_action.setChecked(True)
    qtbot.wait(50)
    raw = window.viewport.screenshot()
    assert (np.abs(raw.astype(int) - smoothed.astype(int)).sum(axis=2) > 40).sum() > 50  # the voxel steps


def test_ui_keeps_ticking_and_cancel_stops_the_run(qtbot, make_window) -> None:
    window = make_window(delay=0.25)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    with qtbot.waitSignal(window.runner.stageDone, timeout=30_000):
        window.open_path(ASTRONAUT)
    assert window.cancel_button.isVisible()
    with qtbot.waitSignal(window.runner.cancelled, timeout=30_000):
        window.cancel_button.click()
    timer.stop()
    assert len(ticks) > 10
    assert window.result is None and window.stage_label.text() == "Cancelled"


def test_drop_a_file_loads_it(qtbot, make_window) -> None:
    window = make_window()
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(ASTRONAUT))])
    event = QDropEvent(QPointF(100, 100), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        window.dropEvent(event)
    assert window.current_path == ASTRONAUT
    assert str(ASTRONAUT) == window.settings.recent_files[0]


def test_paste_an_image(qtbot, make_window) -> None:
    window = make_window()
    image = QImage(str(ASTRONAUT))
    from PySide6.QtWidgets import QApplication

    QApplication.clipboard().setImage(image)
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        window.paste()
    assert window.result.source is None and window.result.image.shape == (512, 512, 3)


def test_export_writes_valid_files(qtbot, make_window, tmp_path) -> None:
    import trimesh

    window = make_window()
    _open_and_wait(qtbot, window)
    glb, landmarks, shot = tmp_path / "face.glb", tmp_path / "face.json", tmp_path / "view.png"
    for name, path in (("glb", glb), ("landmarks", landmarks)):
        window.export(name, path)
    qtbot.waitUntil(lambda: glb.exists() and landmarks.exists(), timeout=10_000)
    mesh = trimesh.load(glb, force="mesh")
    assert len(mesh.vertices) == window.result.mesh.n_vertices
    assert landmarks.read_text().count("[") > 68
    window.viewport.save_screenshot(shot)
    assert cv2.imread(str(shot)).shape[2] == 3
    assert not list(tmp_path.glob("*.part"))


def test_export_error_is_shown_not_raised(qtbot, make_window, tmp_path) -> None:
    window = make_window()
    _open_and_wait(qtbot, window)
    window.export("glb", tmp_path / "missing-folder" / "face.glb")
    qtbot.waitUntil(lambda: window.message.isVisible(), timeout=10_000)
    assert "does not exist" in window.message.label.text()


def test_stl_of_a_mesh_with_a_pinched_hole_is_a_message(qtbot, make_window, tmp_path, monkeypatch) -> None:
    from fakes import pinched

    from vrn_studio.mesh import printable_mesh

    monkeypatch.setattr("vrn_studio.pipeline.save.printable_mesh",
                        lambda mesh, *a, **k: printable_mesh(pinched(mesh), *a, **k))
    window = make_window()
    _open_and_wait(qtbot, window)
    window.export("print-stl", tmp_path / "face.stl", interocular_mm=70.0)
    qtbot.waitUntil(lambda: window.message.isVisible(), timeout=30_000)
    assert "pinched" in window.message.label.text()
    assert list(tmp_path.iterdir()) == []


def test_print_dialog_asks_for_the_eye_corner_distance_and_a_base(qtbot, make_window, tmp_path, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog, QInputDialog

    answers = iter([(66.0, True), (4.0, True)])
    questions: list[str] = []

    def get_double(parent, title, label, *args):
        questions.append(label)
        return next(answers)

    monkeypatch.setattr(QInputDialog, "getDouble", staticmethod(get_double))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a: (str(tmp_path / "face.stl"), "")))
    window = make_window()
    _open_and_wait(qtbot, window)
    calls = []
    monkeypatch.setattr(window, "export", lambda name, path, **options: calls.append((name, path, options)))
    window.export_dialog("print-stl")
    assert calls == [("print-stl", tmp_path / "face.stl", {"interocular_mm": 66.0, "base_mm": 4.0})]
    assert "eyes" in questions[0] and "Base" in questions[1]


def test_the_built_in_model_reconstructs_the_sample_by_default(qtbot, make_window, shipped_weights) -> None:
    window = make_window(factory=build_reconstructor)  # the app's own factory: settings say "default"
    _open_and_wait(qtbot, window)
    assert window.result is not None and window.result.model == "vrn-studio-guided"
    assert window.result.mesh is not None and window.result.mesh.n_faces > 10_000
    assert "model vrn-studio-guided" in window.stage_label.text()
    assert not window.message.isVisible() or window.message.label.text() != NO_MODEL_TEXT
    shot = window.viewport.screenshot()
    assert (np.abs(shot.astype(int) - shot[2, 2].astype(int)).sum(axis=2) > 40).mean() > 0.05


def test_without_weights_the_window_says_what_to_do(qtbot, make_window) -> None:
    window = make_window(factory=lambda settings: Reconstructor(None, landmarker="dlib", device="cpu"))
    _open_and_wait(qtbot, window)
    assert window.message.isVisible() and window.message.label.text() == NO_MODEL_TEXT
    assert not window.export_actions["glb"].isEnabled() and window.export_actions["landmarks"].isEnabled()
    assert window.export_button.menu().actions()[0] is window.export_actions["glb"]


def test_no_face_is_reported_in_the_window(qtbot, make_window, tmp_path) -> None:
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((240, 240, 3), 128, np.uint8))
    window = make_window()
    with qtbot.waitSignal(window.runner.failed, timeout=30_000):
        window.open_path(wall)
    assert "No face found" in window.message.label.text() and "wall.png" in window.message.label.text()


def test_next_and_previous_photo_in_folder(qtbot, make_window, tmp_path) -> None:
    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(ASTRONAUT.read_bytes())
    window = make_window()
    _open_and_wait(qtbot, window, tmp_path / "a.png")
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        window.step_folder(1)
    assert window.current_path == tmp_path / "b.png"
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        window.step_folder(1)
    assert window.current_path == tmp_path / "a.png"


def _write_clip(video: Path) -> Path:
    """30 frames of the astronaut panning right, 15 frames/s."""
    photo = cv2.imread(str(ASTRONAUT))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 15, (512, 512))
    for i in range(30):
        writer.write(np.roll(photo, i, axis=1))
    writer.release()
    return video


def test_video_file_stands_in_for_a_webcam(qtbot, make_window, tmp_path) -> None:
    video = _write_clip(tmp_path / "clip.mp4")
    window = make_window()
    frames = []
    window.webcam.frameReady.connect(lambda frame: frames.append(frame.shape))
    with qtbot.waitSignal(window.webcam.resultReady, timeout=60_000):
        window.start_webcam(str(video))
    qtbot.waitUntil(lambda: len(frames) > 5, timeout=30_000)
    assert frames[0] == (512, 512, 3)
    assert window.result is not None and window.result.mesh is not None
    window.stop_webcam()


def test_live_view_runs_int8_on_a_cpu_and_photos_the_chosen_runtime(qtbot, make_window, tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    from fakes import SlowReconstructor

    store = SettingsStore(tmp_path / "cpu.ini")
    store.save(AppSettings(device="cpu"))  # runtime "torch", live runtime "auto"
    runtimes: list[str] = []
    cleaning: list[tuple[int, int]] = []

    def factory(settings: AppSettings) -> Reconstructor:
        runtimes.append(settings.runtime)
        cleaning.append((settings.smooth, settings.triangles))
        return SlowReconstructor(delay=0.0)

    window = make_window(factory=factory, store=store)
    _open_and_wait(qtbot, window)
    assert runtimes == ["torch"]
    with qtbot.waitSignal(window.webcam.resultReady, timeout=60_000):
        window.start_webcam(str(_write_clip(tmp_path / "clip.mp4")))
    window.stop_webcam()
    assert runtimes == ["torch", "onnxruntime-int8"]
    assert cleaning == [(DEFAULT_SMOOTH, 0), (0, 0)]  # the live preview skips smoothing


def test_settings_and_recent_files_persist(qtbot, make_window, tmp_path) -> None:
    window = make_window()
    _open_and_wait(qtbot, window)
    window.close()
    reopened = SettingsStore(tmp_path / "settings.ini").load()
    assert reopened.recent_files[0] == str(ASTRONAUT)
    assert reopened.last_dir == str(ASTRONAUT.parent)


def test_recent_files_menu_opens_the_photo(qtbot, make_window) -> None:
    window = make_window()
    _open_and_wait(qtbot, window)
    first = window.recent_menu.actions()[0]
    assert first.text() == str(ASTRONAUT)
    window.result = None
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        first.trigger()
    assert window.result is not None and window.result.source == ASTRONAUT


def test_manual_box_reconstructs_that_region(qtbot, make_window) -> None:
    window = make_window()
    _open_and_wait(qtbot, window)
    box = window.result.face.box.astype(float)
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        window.photo.boxDrawn.emit(box)
    assert window.result.landmarker == "dlib"
    np.testing.assert_allclose(window.result.face.box, box, atol=1)
    assert not window.box_action.isChecked()


def test_click_on_widget_maps_back_to_photo(qtbot, make_window) -> None:
    window = make_window()
    _open_and_wait(qtbot, window)
    x, y = window.result.face.landmarks[30]
    point = window.photo.photo_to_widget(float(x), float(y))
    back = window.photo.widget_to_photo(QPointF(round(point.x()), round(point.y())))
    assert abs(back[0] - x) < 2 and abs(back[1] - y) < 2


def test_mesh_over_photo_toggle(qtbot, make_window) -> None:
    window = make_window()
    _open_and_wait(qtbot, window)
    plain = qimage_to_rgb(window.photo.grab().toImage())
    window.overlay_action.setChecked(True)
    qtbot.waitUntil(lambda: window.photo.overlay_shown and not window._tasks, timeout=10_000)
    qtbot.wait(50)
    laid = qimage_to_rgb(window.photo.grab().toImage())
    x, y = (window.result.face.landmarks[3] + window.result.face.landmarks[31]) / 2  # a cheek, no dot
    point = window.photo.photo_to_widget(float(x), float(y))
    px, py = round(point.x()), round(point.y())
    assert np.abs(laid[py, px].astype(int) - plain[py, px].astype(int)).sum() > 30
    window.overlay_action.setChecked(False)
    qtbot.wait(50)
    assert np.abs(qimage_to_rgb(window.photo.grab().toImage()).astype(int) - plain.astype(int)).max() < 10


def test_the_apps_reconstructor_smooths_and_decimates_as_the_settings_say(shipped_weights) -> None:
    from vrn_studio.gui.settings import AppSettings

    assert build_reconstructor(AppSettings(landmarker="dlib", device="cpu", smooth=0)).smooth == 0
    default = build_reconstructor(AppSettings(landmarker="dlib", device="cpu"))
    assert default.smooth == 60 and default.target_faces is None
    assert build_reconstructor(AppSettings(landmarker="dlib", device="cpu", triangles=20000)).target_faces == 20000
    assert build_reconstructor(AppSettings(landmarker="dlib", device="cpu", triangles=2)).target_faces == 4
    assert default.head_fit == "ict"
    assert build_reconstructor(AppSettings(landmarker="dlib", device="cpu", head_fit="none")).head_fit == "none"


def test_the_live_preview_neither_smooths_nor_fits_the_head_and_a_frozen_frame_does(make_window) -> None:
    window = make_window(factory=lambda settings: settings)  # the factory hands back what it was given
    live, frozen = window._reconstructor_factory(live=True)(), window._reconstructor_factory()()
    assert (live.smooth, live.triangles, live.head_fit) == (0, 0, "none")
    assert (frozen.smooth, frozen.head_fit) == (60, "ict")


def test_reconstruct_all_faces_then_switch_between_their_meshes(qtbot, make_window, tmp_path) -> None:
    from PIL import Image

    from vrn_studio.image import load_image

    astronaut, hopper = load_image(ASTRONAUT), load_image(sample_image_path("grace_hopper"))
    left = np.zeros_like(hopper)
    left[:512, :512] = astronaut
    group = tmp_path / "group.png"
    Image.fromarray(np.concatenate([left, hopper], axis=1)).save(group)
    window = make_window()
    _open_and_wait(qtbot, window, group)
    assert len(window.result.faces) == 2 and not window.next_face_action.isEnabled()
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        window.reconstruct_all_faces()
    qtbot.wait(50)
    first, second = window.face_results
    assert window.result is first and first.face_index == 0 and second.face_index == 1
    assert window.next_face_action.isEnabled() and "face 1 of 2" in window.stage_label.text()
    shot_first = window.viewport.screenshot()
    window.next_face_action.trigger()
    assert window.result is second and "face 2 of 2" in window.stage_label.text()
    qtbot.wait(50)
    assert not np.array_equal(window.viewport.screenshot(), shot_first)  # the other face's mesh (its colours)
    # Clicking a face on the photo shows its finished mesh at once: no new job runs.
    with qtbot.assertNotEmitted(window.runner.started, wait=300):
        window.photo.facePicked.emit(0)
    assert window.result is first
    window.previous_face_action.trigger()
    assert window.result is second
    # Exports write the face on show.
    out = tmp_path / "face2.json"
    window.export("landmarks", out)
    qtbot.waitUntil(out.exists, timeout=10_000)
    np.testing.assert_allclose(np.array(json.loads(out.read_text())["landmarks_photo"]), second.face.landmarks,
                               atol=1e-3)


def test_compare_with_scan_shows_a_heat_map_with_a_colour_bar(qtbot, make_window, tmp_path) -> None:
    import torch
    import trimesh
    from fakes import EllipsoidNet

    class SmallHeadNet(EllipsoidNet):
        """A smaller ellipsoid: a quarter of the vertices keeps ICP and the distances to seconds."""

        def __init__(self) -> None:
            super().__init__()
            d, y, x = np.mgrid[0:200, 0:192, 0:192].astype(np.float32)
            head = ((x - 95.5) / 30) ** 2 + ((y - 95.5) / 38) ** 2 + ((d - 100) / 40) ** 2
            self.volume = torch.from_numpy(np.where(head < 1, 0.95, 0.01).astype(np.float32))

    window = make_window(factory=lambda settings: Reconstructor(SmallHeadNet(), landmarker="dlib", device="cpu"))
    _open_and_wait(qtbot, window)
    assert window.compare_action.isEnabled()
    (exported,) = window_export(qtbot, window, tmp_path / "face.ply")
    # The "scan": the exported mesh, twice as large, moved, and with its front pushed out 3 units.
    mesh = trimesh.load(exported, process=False)
    vertices = mesh.vertices * 2.0 + (10.0, -5.0, 3.0)
    front = mesh.vertices[:, 2] > np.percentile(mesh.vertices[:, 2], 90)
    vertices[front] += mesh.vertex_normals[front] * 3.0
    scan = tmp_path / "scan.ply"
    trimesh.Trimesh(vertices, mesh.faces, process=False).export(scan)
    before = window.viewport.screenshot()
    window.compare_with(scan, units="mm")
    qtbot.waitUntil(lambda: window.viewport.shows_heatmap or window.message.isVisible(), timeout=60_000)
    assert not window.message.isVisible(), window.message.label.text()
    assert "Compared with scan.ply" in window.stage_label.text() and " mm \u00b7 NME" in window.stage_label.text()
    qtbot.wait(100)
    shot = window.viewport.screenshot()
    assert not np.array_equal(shot, before)
    hot = (shot[..., 0].astype(int) > 150) & (shot[..., 2].astype(int) < 80)  # red/orange: the pushed front
    cold = (shot[..., 2].astype(int) > 150) & (shot[..., 0].astype(int) < 120)  # blue: where the scan matches
    assert hot.sum() > 50 and cold.sum() > 500
    # A file that is not a mesh is reported in the message bar; the heat map stays.
    bad = tmp_path / "notes.txt"
    bad.write_text("not a mesh")
    window.compare_with(bad)
    qtbot.waitUntil(lambda: window.message.isVisible(), timeout=10_000)
    assert "notes.txt" in window.message.label.text() and window.viewport.shows_heatmap
    window.rerun()
    qtbot.waitUntil(lambda: not window.viewport.shows_heatmap, timeout=60_000)


def test_compare_dialog_asks_for_the_scan_and_its_unit(qtbot, make_window, tmp_path, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog, QInputDialog

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a: (str(tmp_path / "scan.obj"), "")))
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda parent, title, label, items, *a: ("cm", True)))
    window = make_window()
    _open_and_wait(qtbot, window)
    calls = []
    monkeypatch.setattr(window, "compare_with", lambda scan, units: calls.append((scan, units)))
    window.compare_dialog()
    assert calls == [(tmp_path / "scan.obj", "cm")]


def window_export(qtbot, window: MainWindow, path: Path) -> list[Path]:
    window.export("ply", path)
    qtbot.waitUntil(path.exists, timeout=10_000)
    return [path]


def test_export_printable_and_textured_from_the_app(qtbot, make_window, tmp_path) -> None:
    import trimesh

    window = make_window()
    _open_and_wait(qtbot, window)
    solid, textured = tmp_path / "face.stl", tmp_path / "face.obj"
    window.export("print-stl", solid, interocular_mm=70.0)
    window.export("textured-obj", textured)
    qtbot.waitUntil(lambda: solid.exists() and (tmp_path / "face.png").exists() and textured.exists(),
                    timeout=30_000)
    printed = trimesh.load(solid)
    assert printed.is_watertight and printed.volume > 0
    assert solid.read_bytes()[:26] == b"VRN Studio printable face,"
    assert trimesh.load(textured, force="mesh").visual.kind == "texture"
    qtbot.waitUntil(lambda: "Wrote" in window.stage_label.text(), timeout=10_000)  # said after the files are in


def test_the_rigged_head_is_exported_only_when_a_head_was_fitted(qtbot, make_window, tmp_path) -> None:
    from fakes import SlowReconstructor

    from vrn_studio.export import read_glb

    plain = make_window()
    _open_and_wait(qtbot, plain)
    assert plain.export_actions["glb"].isEnabled() and not plain.export_actions["rigged-glb"].isEnabled()
    fitted = make_window(factory=lambda settings: SlowReconstructor(delay=0, head_fit="ict"))
    _open_and_wait(qtbot, fitted)
    assert fitted.export_actions["rigged-glb"].isEnabled()
    rig = tmp_path / "head.glb"
    fitted.export("rigged-glb", rig)
    qtbot.waitUntil(rig.exists, timeout=30_000)
    gltf, _ = read_glb(rig.read_bytes())
    assert len(gltf["meshes"][0]["primitives"][0]["targets"]) == 53
    assert "jawOpen" in gltf["meshes"][0]["extras"]["targetNames"]
