"""Camera ▸ Record…: a video file or the live camera reconstructed into a folder, end to end.

Real window, real worker threads, real files; the network is ``EllipsoidNet(blob=False)``
(tests/fakes.py) and cameras are fake ``cv2.VideoCapture`` objects.
"""

from __future__ import annotations

import math
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes import EllipsoidNet, FakeCamera, SlowReconstructor
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QMessageBox

from vrn_studio.gui.main_window import MainWindow
from vrn_studio.gui.record_dialog import RECORDING_NAME, RecordDialog
from vrn_studio.gui.webcam import VideoSource, WebcamRunner
from vrn_studio.gui.workers import VideoFrame
from vrn_studio.image import load_image, sample_image_path
from vrn_studio.pipeline import Reconstructor
from vrn_studio.pipeline.video import read_table
from vrn_studio.pipeline.video_io import probe_video

TIMEOUT_MS = 120_000
CAMERA_GONE = "Camera 0 stopped delivering frames: was it unplugged or taken by another program?"


def fast_reconstructor(settings: object) -> Reconstructor:
    """The window's Reconstructor in these tests: a fixed ellipsoid, dlib landmarks, CPU."""
    return Reconstructor(EllipsoidNet(blob=False), landmarker="dlib", device="cpu")


def write_clip(path: Path, faces: int, blank: int = 0) -> Path:
    """An MJPG .avi at 10 frames/s: ``faces`` frames of the astronaut on a 640 x 512 canvas,
    moving 2 px right each, then ``blank`` grey frames."""
    photo = load_image(sample_image_path("astronaut"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 512))
    assert writer.isOpened()
    for i in range(faces + blank):
        canvas = np.full((512, 640, 3), 90, np.uint8)
        if i < faces:
            canvas[:, 40 + 2 * i : 552 + 2 * i] = photo
        writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def answer_question(button_text: str) -> None:
    """Click ``button_text`` in the next message box that shows (its ``exec`` runs its own loop)."""

    def click() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QMessageBox) and widget.isVisible():
                next(button for button in widget.buttons() if button.text() == button_text).click()
                return
        QTimer.singleShot(10, click)

    QTimer.singleShot(0, click)


@pytest.fixture
def message_boxes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(title, text) of every ``QMessageBox.warning``, which shows nothing."""
    shown: list[tuple[str, str]] = []

    def warning(parent, title, text, *args, **kwargs):
        shown.append((title, text))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(warning))
    return shown


class PacedCamera(FakeCamera):
    """A camera that delivers a frame every 20 ms until :meth:`unplug`."""

    def __init__(self, index: int) -> None:
        super().__init__(index, frames=1_000_000)

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(0.02)
        return super().read()

    def unplug(self) -> None:
        self.left = 0


@pytest.fixture
def camera_window(monkeypatch: pytest.MonkeyPatch, make_window, qtbot) -> tuple[MainWindow, list[PacedCamera]]:
    """A window whose camera 0 is a :class:`PacedCamera`, already live (a mesh shown)."""
    cameras: list[PacedCamera] = []

    def open_camera(index: int) -> PacedCamera:
        cameras.append(PacedCamera(index))
        return cameras[-1]

    monkeypatch.setattr("vrn_studio.gui.main_window.WebcamRunner",
                        partial(WebcamRunner, source_factory=partial(VideoSource, capture_factory=open_camera)))
    window = make_window(factory=fast_reconstructor)
    with qtbot.waitSignal(window.webcam.resultReady, timeout=TIMEOUT_MS):
        window.start_webcam(0)
    return window, cameras


def record_for_a_while(qtbot, window: MainWindow, out: Path, frames: int = 20) -> None:
    """Record the live camera into ``out`` until ``frames`` more frames are captured."""
    window.record(0, out, every=10)
    assert window.webcam.is_recording and window.is_recording()
    start = window.webcam.frames_captured
    qtbot.waitUntil(lambda: window.webcam.frames_captured >= start + frames, timeout=TIMEOUT_MS)


def test_recording_a_video_file_writes_the_outputs_and_shows_each_frame(qtbot, make_window, tmp_path) -> None:
    window = make_window(factory=fast_reconstructor)
    clip, out = write_clip(tmp_path / "clip.avi", faces=4, blank=1), tmp_path / "clip-3d"
    seen: list[tuple[int, bool, tuple[int, ...], bool, str]] = []

    def look(frame: VideoFrame) -> None:  # after the window showed it
        seen.append((frame.index, frame.result is not None, window.photo.image.shape, window.viewport.is_empty,
                     window.record_label.text()))

    window.video_job.frameDone.connect(look)
    with qtbot.waitSignal(window.video_job.finished, timeout=TIMEOUT_MS) as finished:
        window.record(clip, out)
        assert window.is_recording() and window.stop_record_button.isVisible()
        assert window.stop_record_action.isEnabled() and not window.record_action.isEnabled()
        window.open_path(sample_image_path("astronaut"))  # the recording owns the panels
        assert "Stop recording first" in window.message.label.text() and not window.runner.is_busy()
    run = finished.args[0]

    assert not run.stopped and (run.reconstructed, run.resumed, run.without_face) == (4, 0, 1)
    rows = read_table(out)
    assert sorted(rows) == [0, 1, 2, 3, 4] and [rows[i]["face"] for i in range(5)] == [True] * 4 + [False]
    assert len(list(out.glob("frame_*.ply"))) == 4 and (out / "animation.glb").stat().st_size > 0
    assert probe_video(out / "overlay.mp4").frame_count == 5
    # The live view showed every frame as it was written: the photo, then its mesh.
    assert [index for index, *_ in seen] == [0, 1, 2, 3, 4]
    assert [has_face for _, has_face, *_ in seen] == [True] * 4 + [False]
    assert all(shape == (512, 640, 3) for _, _, shape, _, _ in seen)
    assert not seen[0][3]  # the viewport has the first frame's mesh
    assert seen[0][4].startswith("Recording: 1 of 5 frames") and "frames/s" in seen[0][4]
    assert window.result is not None and window.result.mesh is not None
    # At the end: what was written, and the app is free again.
    assert window.message.isVisible() and "animation.glb, overlay.mp4" in window.message.label.text()
    assert not window.is_recording() and window.record_action.isEnabled() and not window.stop_record_button.isVisible()


def test_stop_recording_stops_early_and_recording_again_resumes(qtbot, make_window, tmp_path, monkeypatch,
                                                                 message_boxes) -> None:
    window = make_window(factory=lambda settings: SlowReconstructor(delay=0.1, blob=False))
    clip = write_clip(tmp_path / "clip.avi", faces=6)
    out = tmp_path / "clip-3d"
    def stop(frame: VideoFrame) -> None:  # at the first frame shown
        window.stop_record_button.click()

    window.video_job.frameDone.connect(stop)
    with qtbot.waitSignal(window.video_job.finished, timeout=TIMEOUT_MS) as stopped:
        window.record(clip, out)
    window.video_job.frameDone.disconnect(stop)
    first = stopped.args[0]
    assert first.stopped and 1 <= first.reconstructed < 6 and len(read_table(out)) == first.reconstructed
    assert not (out / "animation.glb").exists()
    assert "Record\u2026 again on the same folder resumes" in window.message.label.text()

    # Record… on the same video proposes the same folder, which holds the run: resume or choose another.
    monkeypatch.setattr("PySide6.QtWidgets.QFileDialog.getOpenFileName", lambda *args: (str(clip), ""))
    dialog = RecordDialog(None, str(tmp_path), parent=window)
    record_button = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.source() is None and not record_button.isEnabled()
    dialog.pick_video()
    assert dialog.source() == str(clip) and dialog.out_dir() == out and record_button.isEnabled()
    answer_question("Choose another folder")
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted and not dialog.resume
    answer_question("Resume")
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.resume

    with qtbot.waitSignal(window.video_job.finished, timeout=TIMEOUT_MS) as resumed:
        window.record(dialog.source(), dialog.out_dir(), every=dialog.every(), resume=dialog.resume)
    second = resumed.args[0]
    assert not second.stopped and second.resumed == first.reconstructed
    assert second.resumed + second.reconstructed == 6 and sorted(read_table(out)) == list(range(6))
    assert (out / "animation.glb").is_file() and (out / "overlay.mp4").is_file()

    # Without resume the run is never overwritten: the job says so in a message box.
    with qtbot.waitSignal(window.video_job.failed, timeout=TIMEOUT_MS):
        window.record(clip, out)
    assert message_boxes[-1][0] == "Recording failed" and "already holds a run of 6 frame(s)" in message_boxes[-1][1]


def test_a_camera_recording_is_written_then_reconstructed(qtbot, camera_window, tmp_path) -> None:
    window, _ = camera_window
    dialog = RecordDialog(window.webcam.source, str(tmp_path), parent=window)
    assert dialog.source() == 0 and dialog.source_combo.currentText() == "Camera 0 (live view)"
    out = dialog.out_dir()
    assert out.parent == tmp_path and out.name.startswith("camera-") and not out.exists()

    record_for_a_while(qtbot, window, out)
    with qtbot.waitSignal(window.webcam.resultReady, timeout=TIMEOUT_MS):
        pass  # the live view goes on while recording
    assert not (out / RECORDING_NAME).exists()  # written under a temporary name until closed
    with qtbot.waitSignal(window.video_job.finished, timeout=TIMEOUT_MS) as finished:
        window.stop_record_action.trigger()
        assert window.webcam.state == "stopped" and window.video_job.is_busy()
    run = finished.args[0]

    recorded = probe_video(out / RECORDING_NAME).frame_count
    assert recorded >= 20 and [path.name for path in out.glob(".*")] == []
    rows = read_table(out)
    assert sorted(rows) == list(range(0, recorded, 10)) and run.reconstructed == len(rows) == math.ceil(recorded / 10)
    assert (out / "animation.glb").is_file() and probe_video(out / "overlay.mp4").frame_count == recorded
    assert not window.is_recording() and "animation.glb" in window.message.label.text()


def test_an_unplugged_camera_ends_the_recording_with_what_was_captured(qtbot, camera_window, tmp_path) -> None:
    window, cameras = camera_window
    out = tmp_path / "unplugged"
    record_for_a_while(qtbot, window, out)
    with (qtbot.waitSignal(window.video_job.finished, timeout=TIMEOUT_MS) as finished,
          qtbot.waitSignal(window.webcam.failed, timeout=TIMEOUT_MS) as lost):
        cameras[-1].unplug()
    assert lost.args == [CAMERA_GONE]
    recorded = probe_video(out / RECORDING_NAME).frame_count
    assert recorded >= 20 and finished.args[0].reconstructed == len(read_table(out)) == math.ceil(recorded / 10)
    assert (out / "overlay.mp4").is_file() and not window.is_recording()


def test_failures_are_message_boxes_and_the_app_goes_on(qtbot, make_window, tmp_path, message_boxes) -> None:
    window = make_window(factory=fast_reconstructor)
    bad = tmp_path / "notes.avi"
    bad.write_text("not a video")
    with qtbot.waitSignal(window.video_job.failed, timeout=TIMEOUT_MS):
        window.record(bad, tmp_path / "out")
    assert message_boxes == [("Recording failed", f"{bad} cannot be read as a video, or holds no frame")]
    assert not window.is_recording() and window.record_action.isEnabled()

    window.record(0, tmp_path / "out")  # no camera is live
    assert message_boxes[-1] == ("Record", "Camera 0 is not live: start it with Camera \u25b8 Start camera")
    assert not window.is_recording()
    with qtbot.waitSignal(window.runner.resultReady, timeout=TIMEOUT_MS):
        window.open_path(sample_image_path("astronaut"))
