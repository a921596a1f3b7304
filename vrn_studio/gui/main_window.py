"""VRN Studio's main window: photo and crop on the left, the 3D viewport on the right.

The window owns its panels and three runners (one photo reconstruction, one live webcam
loop, one video job for Camera ▸ Record…); all heavy work happens in their threads or in
short-lived export workers. The window only reacts to their signals. Nothing here is
reached through globals: tests build a window with their own settings store and
Reconstructor factory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, QThreadPool, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QImage, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from vrn_studio import __version__
from vrn_studio.errors import VrnStudioError, WeightsError
from vrn_studio.eval import Comparison, compare_meshes, load_mesh_file
from vrn_studio.face import Face
from vrn_studio.gui.photo_view import CropView, PhotoView
from vrn_studio.gui.preferences import PreferencesDialog
from vrn_studio.gui.record_dialog import RECORDING_NAME, RecordDialog, source_label
from vrn_studio.gui.settings import AppSettings, SettingsStore, apply_theme
from vrn_studio.gui.viewport import CROP_SIZE, Viewport
from vrn_studio.gui.webcam import VIDEO_FILE_FILTER, SourceSpec, WebcamRunner, list_cameras
from vrn_studio.gui.weights_dialog import WeightsDialog
from vrn_studio.gui.workers import ReconstructionRunner, VideoFrame, VideoJobRunner, start_task, user_message
from vrn_studio.image import IMAGE_SUFFIXES, list_images, sample_image_path
from vrn_studio.mesh import ADULT_OUTER_INTEROCULAR_MM, Mesh, to_viewer_frame
from vrn_studio.pipeline import STAGES, Reconstructor, Result, output_file_name, output_names, write_output
from vrn_studio.pipeline.overlay import mesh_overlay
from vrn_studio.pipeline.runtime import live_runtime
from vrn_studio.pipeline.video import VideoRun
from vrn_studio.weights import DEFAULT_MODELS, list_models

log = logging.getLogger(__name__)

"""Stages of a reconstruction, in order, for the progress bar."""

EXPORT_LABELS = {
    "glb": "Mesh as glTF binary (.glb)",
    "obj": "Mesh as OBJ with vertex colours (.obj)",
    "textured-glb": "Textured mesh as glTF binary (.glb)",
    "textured-obj": "Textured mesh as OBJ + MTL + PNG (.obj)",
    "rigged-glb": "Head with its 53 expression blendshapes as glTF binary (.glb)",
    "print-stl": "Printable solid at real size, mm (.stl)",
    "print-3mf": "Printable solid at real size, mm (.3mf)",
    "ply": "Mesh as PLY with colours (.ply)",
    "stl": "Mesh as STL (.stl)",
    "removed": "Removed bumps (.ply)",
    "volume": "Volume (.npz)",
    "depth": "Depth map (16-bit .png)",
    "landmarks": "Landmarks (.json)",
    "crop": "Network crop (.png)",
    "overlay": "Mesh over photo (.png)",
}
"""Menu text of each output of :func:`vrn_studio.pipeline.write_output`."""

NO_MODEL_TEXT = (
    "No VRN weights installed: showing landmarks and the crop only. "
    "Open Models \u25b8 Weights manager to download or import vrn-unguided."
)

SCAN_UNITS: tuple[str, ...] = ("scan units", "mm", "cm", "m")
"""Length units File > Compare with scan offers for the scan (the user may type another)."""

ReconstructorFactory = Callable[[AppSettings], Reconstructor]


def build_reconstructor(settings: AppSettings) -> Reconstructor:
    """A Reconstructor for ``settings``; when its model is not installed, one that stops at the crop.

    An installed model that cannot be loaded (corrupt or changed file, refused checkpoint)
    raises its :class:`WeightsError`, so the window shows what is wrong with it instead of
    the "no weights installed" notice.
    """
    options: dict[str, Any] = {
        "landmarker": settings.landmarker, "device": settings.device, "level": settings.level,
        "bump_mode": settings.bump_mode, "min_fraction": settings.min_fraction, "runtime": settings.runtime,
        "smooth": settings.smooth, "target_faces": max(settings.triangles, 4) if settings.triangles else None,
        "head_fit": settings.head_fit,
    }
    try:
        rec = Reconstructor(settings.model, **options)
    except WeightsError as exc:
        if _is_installed(settings.model):
            raise
        log.warning("%s; reconstructing without a model", exc)
        rec = Reconstructor(None, **options)
    rec.landmarker  # load the landmark models now (in the worker), not in the first photo's "detect"
    return rec


def compare_with_scan(mesh: Mesh, scan: str | Path) -> Comparison:
    """``mesh`` (crop space) in the export frame, aligned onto the scan file and measured;
    runs in a worker (reading the scan, ICP and distances take seconds)."""
    return compare_meshes(to_viewer_frame(mesh, CROP_SIZE), load_mesh_file(scan))


def _is_installed(model: str) -> bool:
    """Whether a manifest for ``model`` (``"default"``: any of the default models) is installed."""
    names = DEFAULT_MODELS if model == "default" else (model,)
    return any(entry.name in names for entry in list_models())


def recording_progress(frame: VideoFrame) -> str:
    """The status bar's line for a video job's frame: frames done (of the total), frames/s, time left."""
    parts = [f"Recording: {frame.done} of {frame.total} frames" if frame.total else f"Recording: {frame.done} frames",
             f"{frame.per_second:.1f} frames/s"]
    if (left := frame.seconds_left) is not None:
        minutes, seconds = divmod(round(left), 60)
        parts.append(f"{minutes}:{seconds:02d} left")
    return " \u00b7 ".join(parts)


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """Copy a QImage into an (H, W, 3) uint8 RGB array."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    buffer = np.frombuffer(rgb.constBits(), np.uint8, count=stride * height).reshape(height, stride)
    return buffer[:, : width * 3].reshape(height, width, 3).copy()


class MessageBar(QWidget):
    """A dismissable line at the top of the window for errors and notices."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QPushButton("\u2715")
        close.setFlat(True)
        close.setFixedSize(QSize(24, 24))
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.hide()

    def show_message(self, text: str, *, error: bool) -> None:
        """Show ``text`` on a red (error) or amber (notice) background."""
        colour = "#f8d7da" if error else "#fff3cd"
        self.setStyleSheet(f"MessageBar {{ background: {colour}; }} QLabel {{ color: #222; }}")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.label.setText(text)
        self.show()


class MainWindow(QMainWindow):
    """The VRN Studio window.

    Parameters
    ----------
    store : SettingsStore
        Where preferences are loaded from and saved to on close.
    reconstructor_factory : callable, optional
        ``factory(settings) -> Reconstructor``, called in a worker thread whenever settings
        change; default :func:`build_reconstructor`.
    """

    def __init__(
        self, store: SettingsStore, *, reconstructor_factory: ReconstructorFactory = build_reconstructor
    ) -> None:
        super().__init__()
        self.setWindowTitle("VRN Studio")
        self.setAcceptDrops(True)
        self.store = store
        self.settings = store.load()
        self._factory = reconstructor_factory
        self.result: Result | None = None
        self.face_results: list[Result] = []  # every face of the photo, after Face > Reconstruct all faces
        self.current_path: Path | None = None
        self._tasks: list[object] = []  # short jobs in flight (exports, overlays)
        self._overlay_of: Result | None = None

        self.message = MessageBar()
        self.photo = PhotoView()
        self.crop = CropView()
        self.viewport = Viewport()
        self.removed_label = QLabel("")
        self._build_layout()

        self.runner = ReconstructionRunner(self._reconstructor_factory())
        self.webcam = WebcamRunner(self._reconstructor_factory(live=True))
        self.video_job = VideoJobRunner(self._reconstructor_factory())
        self._camera_recording: tuple[Path, int] | None = None  # (output folder, every) while a camera records
        self._closing = False
        self._build_status_bar()
        self._build_actions()
        self._connect()
        self.resize(1280, 800)
        if self.settings.window_geometry:
            self.restoreGeometry(self.settings.window_geometry)
        if self.settings.window_state:
            self.restoreState(self.settings.window_state)

    # ----------------------------------------------------------------- building
    def _reconstructor_factory(self, *, live: bool = False) -> Callable[[], Reconstructor]:
        """A factory of the Reconstructor for the current settings, called in a worker thread;
        ``live``: the webcam's, a preview: its runtime is the live view's (int8 on a CPU by
        default) and it neither smooths, decimates nor fits the head (60 smoothing iterations
        halve the live frame rate on a 2-core CPU, 8.0 -> 4.2 meshes/s; the head fit takes it
        to 6.3, docs/benchmarks.md); a frozen frame is reconstructed again with the full
        settings."""
        settings, factory = replace(self.settings), self._factory

        def build() -> Reconstructor:
            if not live:
                return factory(settings)
            runtime = live_runtime(settings.live_runtime, settings.device)
            return factory(replace(settings, runtime=runtime, smooth=0, triangles=0, head_fit="none"))

        return build

    def _build_layout(self) -> None:
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.photo)
        left.addWidget(self.crop)
        left.setSizes([540, 260])
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.viewport, 1)
        right_layout.addWidget(self.removed_label)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([560, 720])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addWidget(split, 1)
        self.setCentralWidget(central)

    def _build_status_bar(self) -> None:
        self.stage_label = QLabel("Ready")
        self.fps_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setRange(0, len(STAGES))
        self.progress.setMaximumWidth(180)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        self.record_label = QLabel("")
        self.record_label.hide()
        self.stop_record_button = QPushButton("Stop recording")
        self.stop_record_button.hide()
        bar = self.statusBar()
        bar.addWidget(self.stage_label, 1)
        bar.addPermanentWidget(self.fps_label)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)
        bar.addPermanentWidget(self.record_label)
        bar.addPermanentWidget(self.stop_record_button)

    def _action(
        self, menu: QMenu, text: str, slot: Callable[..., object], shortcut: str | QKeySequence | None = None,
        *, checkable: bool = False, checked: bool = False,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if checkable:
            action.setCheckable(True)
            action.setChecked(checked)
            action.toggled.connect(slot)
        else:
            action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Open photo\u2026", self.open_dialog, QKeySequence.StandardKey.Open)
        self._action(file, "Open &sample photo", lambda: self.open_path(sample_image_path()))
        self.recent_menu = file.addMenu("Open &recent")
        self._action(file, "&Paste photo", self.paste, QKeySequence.StandardKey.Paste)
        self._action(file, "Pre&vious photo in folder", lambda: self.step_folder(-1), "Alt+Left")
        self._action(file, "&Next photo in folder", lambda: self.step_folder(1), "Alt+Right")
        file.addSeparator()
        export = file.addMenu("&Export")
        self.export_actions = {
            name: self._action(export, EXPORT_LABELS[name] + "\u2026", lambda n=name: self.export_dialog(n))
            for name in output_names()
        }
        self._action(export, "Viewport screenshot (.png)\u2026", self.screenshot_dialog, "Ctrl+Shift+S")
        self.compare_action = self._action(file, "&Compare with scan\u2026", self.compare_dialog)
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        view = bar.addMenu("&View")
        self.before_action = self._action(view, "Show &raw surface", self.viewport.set_show_before, "B",
                                          checkable=True)
        self.before_action.setToolTip("The marching-cubes surface, before bump removal and smoothing (B)")
        self.removed_action = self._action(view, "&Highlight removed bumps", self.viewport.set_highlight_removed,
                                           "H", checkable=True)
        self.wire_action = self._action(view, "&Wireframe", self.viewport.set_wireframe, "W", checkable=True)
        self.colour_action = self._action(view, "Photo &colours", self.viewport.set_colors, "C", checkable=True,
                                          checked=True)
        self.overlay_action = self._action(view, "Mesh over &photo", self.set_overlay, "O", checkable=True)
        self._action(view, "&Reset camera", self.viewport.reset_camera, "R")

        face = bar.addMenu("F&ace")
        self.box_action = self._action(face, "&Draw face box", self.photo.set_box_mode, "Ctrl+B", checkable=True)
        self._action(face, "&Reconstruct again", self.rerun, "F5")
        self._action(face, "Reconstruct &all faces", self.reconstruct_all_faces, "Ctrl+F5")
        self.next_face_action = self._action(face, "&Next face", lambda: self.step_face(1), "N")
        self.previous_face_action = self._action(face, "&Previous face", lambda: self.step_face(-1), "Shift+N")

        camera = bar.addMenu("&Camera")
        self.camera_menu = camera.addMenu("&Start camera")
        self.camera_menu.aboutToShow.connect(self._fill_camera_menu)
        self._action(camera, "Open &video file\u2026", self.open_video_dialog)
        self.pause_action = self._action(camera, "&Pause / resume", self.toggle_pause, "Space")
        self._action(camera, "&Freeze frame (full reconstruction)", self.freeze, "F")
        self._action(camera, "S&top", self.stop_webcam, "Ctrl+.")
        camera.addSeparator()
        self.record_action = self._action(camera, "&Record\u2026", self.record_dialog, "Ctrl+R")
        self.stop_record_action = self._action(camera, "Stop r&ecording", self.stop_recording, "Ctrl+Shift+R")
        self.stop_record_action.setEnabled(False)

        models = bar.addMenu("&Models")
        self._action(models, "&Weights manager\u2026", self.weights_dialog)
        settings = bar.addMenu("&Settings")
        self._action(settings, "&Preferences\u2026", self.preferences_dialog, QKeySequence.StandardKey.Preferences)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About VRN Studio", self.about)

        toolbar = QToolBar("View")
        toolbar.setObjectName("view-toolbar")
        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setMenu(export)
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        toolbar.addWidget(self.export_button)
        toolbar.addSeparator()
        for action in (self.before_action, self.removed_action, self.wire_action, self.colour_action,
                       self.overlay_action, self.box_action):
            toolbar.addAction(action)
        self.addToolBar(toolbar)
        self._fill_recent_menu()
        self._update_actions()

    def _connect(self) -> None:
        self.runner.started.connect(self._on_started)
        self.runner.stageDone.connect(self._on_stage)
        self.runner.resultReady.connect(self._on_result)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(lambda: self._on_finished("Cancelled"))
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.photo.facePicked.connect(self._on_face_picked)
        self.photo.boxDrawn.connect(self._on_box_drawn)
        self.webcam.frameReady.connect(self._on_frame)
        self.webcam.resultReady.connect(self._on_live_result)
        self.webcam.fpsChanged.connect(
            lambda capture, rebuild: self.fps_label.setText(f"camera {capture:.1f} fps \u00b7 mesh {rebuild:.1f} fps")
        )
        self.webcam.failed.connect(lambda text: self.message.show_message(text, error=True))
        self.webcam.ended.connect(lambda: self.stage_label.setText("Video ended"))
        self.webcam.noFace.connect(lambda: self.stage_label.setText("Live: no face in this frame"))
        self.webcam.stateChanged.connect(lambda state: self.stage_label.setText(f"Live: {state}"))
        self.webcam.recordingDone.connect(self._on_camera_recorded)
        self.video_job.frameDone.connect(self._on_recorded_frame)
        self.video_job.writing.connect(self._on_writing)
        self.video_job.finished.connect(self._on_recording_finished)
        self.video_job.failed.connect(self._on_recording_failed)
        self.stop_record_button.clicked.connect(self.stop_recording)

    # ------------------------------------------------------------------ opening
    def open_path(self, path: str | Path) -> None:
        """Reconstruct the photo at ``path`` (a folder opens its first photo)."""
        if self._refused_while_recording():
            return
        path = Path(path)
        if path.is_dir():
            images = list_images(path)
            if not images:
                self.message.show_message(f"No photos in {path}", error=True)
                return
            path = images[0]
        self.current_path = path
        self.settings.last_dir = str(path.parent)
        self.settings.add_recent(str(path))
        self._fill_recent_menu()
        self.start(path)

    def start(self, image: Path | np.ndarray, *, face: Face | np.ndarray | None = None) -> None:
        """Start a reconstruction of ``image`` in the background (the newest request wins)."""
        if self._refused_while_recording():
            return
        self.stop_webcam()
        self.runner.start(image, face=face)

    def open_dialog(self) -> None:
        """Ask for a photo and open it."""
        pattern = " ".join(f"*{suffix}" for suffix in sorted(IMAGE_SUFFIXES))
        path, _ = QFileDialog.getOpenFileName(self, "Open photo", self.settings.last_dir, f"Photos ({pattern})")
        if path:
            self.open_path(path)

    def paste(self) -> None:
        """Reconstruct the image (or the first file) on the clipboard."""
        data = QApplication.clipboard().mimeData()
        if data.hasImage():
            self.current_path = None
            self.start(qimage_to_rgb(QImage(data.imageData())))
        elif data.hasUrls() and data.urls()[0].isLocalFile():
            self.open_path(data.urls()[0].toLocalFile())
        else:
            self.message.show_message("The clipboard holds no image", error=True)

    def step_folder(self, step: int) -> None:
        """Open the previous (-1) or next (+1) photo of the current photo's folder."""
        if self.current_path is None:
            return
        images = list_images(self.current_path.parent)
        if self.current_path in images:
            index = (images.index(self.current_path) + step) % len(images)
            self.open_path(images[index])

    def reconstruct_all_faces(self) -> None:
        """Reconstruct every face of the current photo; Face > Next face and a click on a face
        then switch between their meshes without running again."""
        if self.result is not None and not self._refused_while_recording():
            self.stop_webcam()
            self.runner.start(self.current_path or self.result.image, all_faces=True)

    def step_face(self, step: int) -> None:
        """Show the next (+1) or previous (-1) face's reconstruction, after Reconstruct all faces."""
        if self.result is not None and self.face_results:
            index = (self.face_results.index(self.result) + step) % len(self.face_results)
            self.show_result(self.face_results[index])

    def rerun(self) -> None:
        """Reconstruct the current photo again (after a settings change, say)."""
        if self.result is not None:
            self.start(self.result.image if self.current_path is None else self.current_path, face=self.result.face)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802, D102
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802, D102
        data = event.mimeData()
        if data.hasUrls() and data.urls()[0].isLocalFile():
            self.open_path(data.urls()[0].toLocalFile())
        elif data.hasImage():
            self.start(qimage_to_rgb(QImage(data.imageData())))
        event.acceptProposedAction()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_files:
            # Connected explicitly: PySide6's addAction(text, callable) overload resolution once
            # took the lambda for another object ("QSurface has no attribute connect").
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    # ------------------------------------------------------------- run signals
    @Slot()
    def _on_started(self) -> None:
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.stage_label.setText("Reconstructing\u2026")

    @Slot(str, float)
    def _on_stage(self, name: str, seconds: float) -> None:
        self.progress.setValue(STAGES.index(name) + 1 if name in STAGES else self.progress.value())
        self.stage_label.setText(f"{name} done in {seconds * 1000:.0f} ms")

    @Slot(str)
    def _on_failed(self, text: str) -> None:
        self.message.show_message(text, error=True)
        self._on_finished("Failed")

    def _on_finished(self, text: str) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.stage_label.setText(text)

    @Slot(object)
    def _on_result(self, payload: Result | list[Result]) -> None:
        """A finished job: one Result, or a list of one per face (Reconstruct all faces)."""
        if isinstance(payload, list):
            self.face_results = payload
            self.show_result(payload[0])
        else:
            self.face_results = []
            self.show_result(payload)

    def show_result(self, result: Result) -> None:
        """Show a finished reconstruction in every panel."""
        self.result = result
        stages = ", ".join(f"{name} {seconds * 1000:.0f}" for name, seconds in result.timings.items())
        which = (f"face {result.face_index + 1} of {len(result.faces)} (N: next) \u00b7 "
                 if result in self.face_results else "")
        self._on_finished(f"{which}{result.total_seconds * 1000:.0f} ms ({stages} ms) \u00b7 landmarker "
                          f"{result.landmarker} \u00b7 model {result.model or 'none'} \u00b7 {result.device}")
        self.photo.set_image(result.image)
        self.photo.set_faces(result.faces, result.face_index)
        self.crop.set_crop(result.crop, result.landmarks_crop)
        if result.mesh is None:
            self.viewport.clear()
            self.removed_label.setText("")
            self.message.show_message(NO_MODEL_TEXT, error=False)
        else:
            self.message.hide()
            self.viewport.show_result(result.mesh_raw, result.mesh, result.removed)
            self.removed_label.setText(self.viewport.removed_summary())
        self.set_overlay(self.overlay_action.isChecked())
        self._update_actions()

    @Slot(int)
    def _on_face_picked(self, index: int) -> None:
        done = [r for r in self.face_results if r.face_index == index]
        if done:
            self.show_result(done[0])
        elif self.result is not None and 0 <= index < len(self.result.faces):
            self.start(self.current_path or self.result.image, face=self.result.faces[index])

    @Slot(object)
    def _on_box_drawn(self, box: np.ndarray) -> None:
        self.box_action.setChecked(False)
        if self.result is not None:
            self.start(self.current_path or self.result.image, face=box)

    def set_overlay(self, on: bool) -> None:
        """Lay the mesh over the photo (the picture is computed once per result, in a worker)."""
        self.photo.show_overlay(on)
        result = self.result
        if on and result is not None and result.mesh_photo is not None and self._overlay_of is not result:
            self._overlay_of = result

            def show(picture: np.ndarray) -> None:
                if self.result is result:
                    self.photo.set_overlay(picture)
                    self.photo.show_overlay(self.overlay_action.isChecked())

            self._task(mesh_overlay, result.image, result.mesh_photo, returned=show)

    def _task(self, func: Callable[..., object], *args: object, returned: Callable[..., None],
              **kwargs: object) -> None:
        """Run a short job in a worker; ``returned`` gets its value, errors go to the message bar."""
        worker = start_task(func, *args, connect={
            "returned": returned, "errored": self._on_task_error, "finished": lambda: self._tasks.remove(worker),
        }, **kwargs)
        self._tasks.append(worker)

    def _update_actions(self) -> None:
        has = self.result is not None
        has_mesh = has and self.result.mesh is not None
        self.compare_action.setEnabled(has_mesh)
        for action in (self.next_face_action, self.previous_face_action):
            action.setEnabled(len(self.face_results) > 1)
        for name, action in self.export_actions.items():
            if name == "rigged-glb":
                action.setEnabled(has and self.result.head is not None)
            else:
                action.setEnabled(has_mesh or (has and name in ("landmarks", "crop", "overlay")))

    # ------------------------------------------------------------------ export
    def export_dialog(self, name: str) -> None:
        """Ask where to write output ``name`` of the current result, then write it in the background."""
        if self.result is None:
            return
        options: dict[str, float] = {}
        if name.startswith("print-"):
            interocular, ok = QInputDialog.getDouble(
                self, EXPORT_LABELS[name],
                "Distance between the outer corners of the eyes, in mm\n"
                f"(sets the print's scale; {ADULT_OUTER_INTEROCULAR_MM} mm is the adult mean):",
                ADULT_OUTER_INTEROCULAR_MM, 40.0, 150.0, 1,
            )
            if not ok:
                return
            base, ok = QInputDialog.getDouble(
                self, EXPORT_LABELS[name],
                "Base under the face, in mm (0: none; the face stands on a plate this thick):",
                0.0, 0.0, 30.0, 1,
            )
            if not ok:
                return
            options.update(interocular_mm=interocular, base_mm=base)
        stem = self.current_path.stem if self.current_path is not None else "face"
        suggested = str(Path(self.settings.last_dir or ".") / output_file_name(name, stem))
        path, _ = QFileDialog.getSaveFileName(self, EXPORT_LABELS[name], suggested)
        if path:
            self.export(name, Path(path), **options)

    def export(self, name: str, path: Path, **options: float) -> None:
        """Write output ``name`` to ``path`` in a worker thread (the save dialog confirmed overwrite);
        ``options``: ``interocular_mm`` / ``base_mm`` of the printable outputs (:func:`write_output`)."""
        self.settings.last_dir = str(path.parent)
        def written(paths: list[Path]) -> None:
            what = ", ".join(str(p) for p in paths)
            self.stage_label.setText(f"Wrote {what}" if paths else f"Nothing to write for {EXPORT_LABELS[name]}")

        self._task(write_output, self.result, name, path, overwrite=True, returned=written, **options)

    # ----------------------------------------------------------------- compare
    def compare_dialog(self) -> None:
        """Ask for a 3D scan (any mesh format trimesh reads) and compare the mesh on show with it."""
        if self.result is None or self.result.mesh is None:
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "Compare with scan", self.settings.last_dir,
            "Meshes (*.obj *.ply *.stl *.glb *.gltf *.off *.3mf);;All files (*)",
        )
        if not path:
            return
        units, ok = QInputDialog.getItem(self, "Compare with scan", "The scan's length unit (labels the distances):",
                                         list(SCAN_UNITS), 0, True)
        if ok:
            self.compare_with(Path(path), units=units.strip() or SCAN_UNITS[0])

    def compare_with(self, scan: Path, *, units: str = SCAN_UNITS[0]) -> None:
        """Align the mesh on show onto ``scan`` in a worker and show the distances as a heat map
        (:func:`~vrn_studio.eval.compare_meshes`; distances in the scan's unit, named ``units``)."""
        result = self.result
        if result is None or result.mesh is None:
            return
        self.stage_label.setText(f"Comparing with {scan.name}\u2026")

        def show(comparison: Comparison) -> None:
            if self.result is not result:
                return
            self.viewport.show_heatmap(to_viewer_frame(comparison.aligned, CROP_SIZE), comparison.vmax,
                                       f"distance ({units})")
            numbers = comparison.summary()
            self.removed_label.setText("")
            self.stage_label.setText(
                f"Compared with {scan.name}: mean {numbers['mean']:.3g}, 90 % under {numbers['p90']:.3g}, "
                f"max {numbers['max']:.3g} {units} \u00b7 NME {comparison.nme:.4f} "
                f"({comparison.normaliser_kind}) \u00b7 Face \u25b8 Reconstruct again (F5) goes back"
            )

        self._task(compare_with_scan, result.mesh, scan, returned=show)

    def _on_task_error(self, exc: BaseException) -> None:
        self.message.show_message(user_message(exc), error=True)

    def screenshot_dialog(self) -> None:
        """Save the 3D viewport as a PNG."""
        suggested = str(Path(self.settings.last_dir or ".") / "viewport.png")
        path, _ = QFileDialog.getSaveFileName(self, "Save viewport screenshot", suggested, "PNG (*.png)")
        if path:
            try:
                self.viewport.save_screenshot(path, overwrite=True)
            except VrnStudioError as exc:
                self.message.show_message(str(exc), error=True)

    # ------------------------------------------------------------------ webcam
    def _fill_camera_menu(self) -> None:
        self.camera_menu.clear()
        cameras = list_cameras()
        for index in cameras:
            action = self.camera_menu.addAction(f"Camera {index}")
            action.triggered.connect(lambda _checked=False, i=index: self.start_webcam(i))
        if not cameras:
            self.camera_menu.addAction("No camera found").setEnabled(False)

    def open_video_dialog(self) -> None:
        """Use a video file as the live source."""
        path, _ = QFileDialog.getOpenFileName(self, "Open video", self.settings.last_dir, VIDEO_FILE_FILTER)
        if path:
            self.start_webcam(path)

    def start_webcam(self, source: int | str) -> None:
        """Start live reconstruction from a camera index or a video file."""
        if self._refused_while_recording():
            return
        self.runner.cancel()
        self.current_path = None
        self.webcam.start(source)
        self.stage_label.setText(f"Live: {source}")

    def toggle_pause(self) -> None:
        """Pause or resume the live source."""
        if self.webcam.state == "running":
            self.webcam.pause()
        elif self.webcam.state == "paused":
            self.webcam.resume()

    def freeze(self) -> None:
        """Take the current live frame into a full reconstruction."""
        if self._refused_while_recording():
            return
        frame = self.webcam.freeze()
        if frame is not None:
            self.runner.start(frame)

    def stop_webcam(self) -> None:
        """Stop the live source (no-op when it is not running)."""
        self.webcam.stop()
        self.fps_label.setText("")

    @Slot(object)
    def _on_frame(self, frame: np.ndarray) -> None:
        self.photo.set_image(frame)

    @Slot(object)
    def _on_live_result(self, result: Result) -> None:
        self.result = result
        self.photo.set_faces(result.faces, result.face_index)
        self.crop.set_crop(result.crop, result.landmarks_crop)
        if result.mesh is not None:
            self.viewport.update_mesh(result.mesh)
        self._update_actions()

    # ------------------------------------------------------------------ record
    def is_recording(self) -> bool:
        """Whether Camera ▸ Record… runs: a camera being written to a file, or a video being reconstructed."""
        return self.webcam.is_recording or self.video_job.is_busy()

    def _refused_while_recording(self) -> bool:
        """While a recording runs it owns the panels and the live source: say so and return True."""
        if not self.is_recording():
            return False
        self.message.show_message("Recording: Camera \u25b8 Stop recording first", error=False)
        return True

    def record_dialog(self) -> None:
        """Camera ▸ Record…: ask for the source, the output folder and every N-th frame, then record."""
        if self.is_recording():
            return
        dialog = RecordDialog(self.webcam.source, self.settings.last_dir, parent=self)
        if dialog.exec():
            self.record(dialog.source(), dialog.out_dir(), every=dialog.every(), resume=dialog.resume)

    def record(self, source: SourceSpec, out_dir: Path, *, every: int = 1, resume: bool = False) -> None:
        """Reconstruct every ``every``-th frame of a video file or of the live camera into
        ``out_dir`` (:func:`~vrn_studio.pipeline.video.reconstruct_video`: a mesh per frame,
        ``frames.jsonl``, ``grids/``, ``animation.glb``, ``overlay.mp4``), showing each frame in
        the panels as it is written and the progress in the status bar.

        A video file is reconstructed at once, in :attr:`video_job`'s thread, with the photo
        settings (not the live view's). The live camera is recorded first: every frame it
        captures goes to ``out_dir/recording.mp4`` while the live view runs as before, until
        :meth:`stop_recording` (or Camera ▸ Stop, or the camera is lost) closes the file, which
        is then reconstructed into ``out_dir``. Recording first keeps every camera frame: on a
        CPU the live loop makes about 8 meshes/s, so it reconstructs only some of the 30
        frames/s a camera delivers.

        Parameters
        ----------
        source : int, str or os.PathLike
            The live camera's index, or a video file.
        out_dir : Path
            Output folder; made if missing.
        every : int, default: 1
            Reconstruct frames 0, every, 2 * every...
        resume : bool, default: False
            For a video file: go on with the run in ``out_dir`` (the dialog asks); without it a
            folder that holds a run fails with a message.

        Failures (an unreadable video, a folder that cannot be written) are shown in a message box.
        """
        if self.is_recording():
            return
        out_dir = Path(out_dir)
        self.settings.last_dir = str(out_dir.parent)
        if isinstance(source, int):
            if not self._start_camera_recording(source, out_dir):
                return
            self._camera_recording = (out_dir, every)
            self.record_label.setText(f"\u25cf Recording {source_label(source)} to {out_dir / RECORDING_NAME}")
        else:
            self.stop_webcam()  # the panels show the recording now
            self.runner.cancel()
            self._start_video_job(Path(source), out_dir, every=every, resume=resume)
        self._show_recording(True)

    def _start_camera_recording(self, camera: int, out_dir: Path) -> bool:
        """Write the live camera's frames to ``out_dir/recording.mp4``; False (said in a message
        box) when ``camera`` is not the live source or the file cannot be made."""
        try:
            if self.webcam.source != camera:
                raise VrnStudioError(f"{source_label(camera)} is not live: start it with Camera \u25b8 Start camera")
            out_dir.mkdir(parents=True, exist_ok=True)
            self.webcam.start_recording(out_dir / RECORDING_NAME)
        except OSError as exc:
            QMessageBox.warning(self, "Record", f"Cannot create {out_dir}: {exc.strerror or exc}")
            return False
        except VrnStudioError as exc:
            QMessageBox.warning(self, "Record", str(exc))
            return False
        return True

    def stop_recording(self) -> None:
        """Camera ▸ Stop recording: a camera's recording ends and is reconstructed; a video's
        reconstruction stops after the frame in progress (its frames are kept: Record… on the
        same folder resumes)."""
        if self.webcam.is_recording:
            self.stop_webcam()  # closes the file: recordingDone goes on with it
        else:
            self.video_job.stop()

    def _show_recording(self, on: bool) -> None:
        """Show the status bar's recording line and Stop button, and the actions that fit."""
        self.record_label.setVisible(on)
        self.stop_record_button.setVisible(on)
        self.stop_record_button.setEnabled(on)
        self.stop_record_action.setEnabled(on)
        self.record_action.setEnabled(not on)

    @Slot(object)
    def _on_camera_recorded(self, video: Path | None) -> None:
        """The camera's recording ended (stopped, the camera lost): reconstruct the file."""
        folder, every = self._camera_recording
        self._camera_recording = None
        if self._closing:
            return
        if video is None:
            self._show_recording(False)
            self.stage_label.setText("Nothing was recorded")
            return
        self._start_video_job(video, folder, every=every)

    def _start_video_job(self, video: Path, out_dir: Path, *, every: int, resume: bool = False) -> None:
        """Reconstruct ``video`` into ``out_dir`` in :attr:`video_job`'s thread (see :meth:`record`)."""
        self.video_job.start(video, out_dir, every=every, resume=resume)
        self.stage_label.setText(f"{'Resuming' if resume else 'Reconstructing'} {video} into {out_dir}")
        self.record_label.setText("Recording: starting\u2026")

    @Slot(object)
    def _on_recorded_frame(self, frame: VideoFrame) -> None:
        """Show a video job's frame as the live view shows its frames, and the progress."""
        self._on_frame(frame.image)
        if frame.result is not None:
            self._on_live_result(frame.result)
        self.record_label.setText(recording_progress(frame))

    @Slot(str)
    def _on_writing(self, name: str) -> None:
        self.record_label.setText(f"Writing {name}\u2026")
        self.stop_record_button.setEnabled(False)  # the last files are written in one go
        self.stop_record_action.setEnabled(False)

    @Slot(object)
    def _on_recording_finished(self, run: VideoRun) -> None:
        """Say what the video job wrote (or how far it got), in the status bar and the message bar."""
        self._show_recording(False)
        folder = run.table.parent
        if run.stopped:
            handled = run.resumed + run.reconstructed + run.without_face
            text = (f"Recording stopped after {handled} frame(s) in {folder}; Record\u2026 again on the same "
                    "folder resumes")
        else:
            names = ", ".join(path.name for path in (run.table, *run.outputs))
            text = (f"Recorded into {folder}: a mesh per frame with a face, {names} ({run.reconstructed} frame(s) "
                    f"reconstructed, {run.resumed} kept from before, {run.without_face} without a face)")
        self.stage_label.setText(text)
        self.message.show_message(text, error=False)

    @Slot(str)
    def _on_recording_failed(self, text: str) -> None:
        self._show_recording(False)
        self.stage_label.setText("Recording failed")
        QMessageBox.warning(self, "Recording failed", text)

    # --------------------------------------------------------- dialogs, close
    def weights_dialog(self) -> None:
        """Open the weights manager; a chosen or new model rebuilds the Reconstructor."""
        dialog = WeightsDialog(self.settings.model, parent=self)
        dialog.modelChosen.connect(self._use_model)
        dialog.modelsChanged.connect(lambda: self._apply_settings(self.settings))
        dialog.exec()

    def _use_model(self, name: str) -> None:
        self._apply_settings(replace(self.settings, model=name))

    def preferences_dialog(self) -> None:
        """Edit preferences; applying them rebuilds the Reconstructor and reruns the photo."""
        dialog = PreferencesDialog(self.settings, parent=self)
        if dialog.exec():
            self._apply_settings(dialog.settings())

    def _apply_settings(self, settings: AppSettings) -> None:
        self.settings = settings
        apply_theme(QApplication.instance(), settings.theme)
        self.store.save(settings)
        self.runner.set_reconstructor_factory(self._reconstructor_factory())
        self.webcam.set_reconstructor_factory(self._reconstructor_factory(live=True))
        self.video_job.set_reconstructor_factory(self._reconstructor_factory())
        self.rerun()

    def about(self) -> None:
        """Show the About box."""
        QMessageBox.about(
            self, "About VRN Studio",
            f"<b>VRN Studio {__version__}</b><p>3D face reconstruction from one photo with the Volumetric "
            "Regression Network (Jackson et al., ICCV 2017).</p><p>MIT licence. Sample photos are public "
            "domain; the released VRN weights are the authors' (MIT); the built-in model vrn-studio-guided was "
            "trained by VRN Studio on synthetic faces (MIT; see weights/vrn-studio-guided.md).</p>",
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802, D102
        self._closing = True  # a camera recording is kept as recording.mp4, not reconstructed now
        self.webcam.stop()
        self.video_job.shutdown()  # its frames are kept: Record… on the same folder resumes
        self.runner.shutdown()
        QThreadPool.globalInstance().waitForDone(10_000)  # exports in flight finish their files
        self.settings.window_geometry = bytes(self.saveGeometry().data())
        self.settings.window_state = bytes(self.saveState().data())
        self.store.save(self.settings)
        self.viewport.close()
        super().closeEvent(event)
