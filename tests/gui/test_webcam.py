"""VideoSource and WebcamRunner on a generated mp4 clip and fake cameras, with real threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes import FakeCamera, SlowReconstructor
from pytestqt.qtbot import QtBot

from vrn_studio.errors import WeightsError
from vrn_studio.gui.webcam import CameraError, VideoSource, WebcamRunner, list_cameras
from vrn_studio.image import load_image, sample_image_path
from vrn_studio.pipeline import Result

CLIP_FRAMES = 40
CLIP_FPS = 50.0
TIMEOUT_MS = 30_000
CAMERA_GONE = "Camera 0 stopped delivering frames: was it unplugged or taken by another program?"


def face_frames(count: int) -> list[np.ndarray]:
    """RGB 320x320 crops of the astronaut photo around the face, shifted 1 px right each."""
    photo = load_image(sample_image_path("astronaut"))
    return [np.ascontiguousarray(photo[0:320, 40 + i : 360 + i]) for i in range(count)]


def write_clip(path: Path, frames: list[np.ndarray], fps: float = CLIP_FPS) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, frames[0].shape[1::-1])
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 frames of the astronaut's face, 320x320, mp4v at 50 fps (0.8 s)."""
    return write_clip(tmp_path_factory.mktemp("video") / "face.mp4", face_frames(CLIP_FRAMES))


class Recorder:
    """Every public signal of a WebcamRunner."""

    def __init__(self, runner: WebcamRunner) -> None:
        self.frames: list[np.ndarray] = []
        self.results: list[Result] = []
        self.states: list[str] = []
        self.fps: list[tuple[float, float]] = []
        self.failures: list[str] = []
        self.no_face = self.ended = 0
        runner.frameReady.connect(self.frames.append)
        runner.resultReady.connect(self.results.append)
        runner.stateChanged.connect(self.states.append)
        runner.fpsChanged.connect(lambda capture, model: self.fps.append((capture, model)))
        runner.failed.connect(self.failures.append)
        runner.noFace.connect(self._count_no_face)
        runner.ended.connect(self._count_end)

    def _count_no_face(self) -> None:
        self.no_face += 1

    def _count_end(self) -> None:
        self.ended += 1


@pytest.fixture
def make_runner() -> Iterator:
    """Build WebcamRunners that are stopped (and checked to end their threads) after the test."""
    runners: list[WebcamRunner] = []

    def make(reconstructor, **options) -> tuple[WebcamRunner, Recorder]:
        runner = WebcamRunner(reconstructor, fps_interval_ms=100, **options)
        runners.append(runner)
        return runner, Recorder(runner)

    yield make
    for runner in runners:
        assert runner.stop(timeout_ms=10_000)


# ------------------------------------------------------------------ VideoSource


def test_video_source_reads_a_file_as_rgb_then_none(clip: Path) -> None:
    expected = face_frames(CLIP_FRAMES)
    with VideoSource(clip) as video:
        assert not video.is_camera and video.fps == CLIP_FPS
        frames = [video.read() for _ in range(CLIP_FRAMES)]
        assert video.read() is None
        assert video.rewind()
        again = video.read()
    assert all(frame.shape == (320, 320, 3) and frame.dtype == np.uint8 for frame in frames)
    error = np.abs(frames[0].astype(int) - expected[0]).mean()
    swapped = np.abs(frames[0][..., ::-1].astype(int) - expected[0]).mean()
    assert error < 6 < swapped  # RGB, not OpenCV's BGR (mp4v is lossy)
    assert np.abs(frames[-1].astype(int) - expected[-1]).mean() < 6
    np.testing.assert_array_equal(again, frames[0])


def test_video_source_refuses_what_it_cannot_open(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match=r"^Video file .*missing\.mp4 not found$"):
        VideoSource(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(CameraError) as error:
        VideoSource(text)
    assert (
        str(error.value) == f"Video file {text} could not be opened: it is not a video that OpenCV can decode"
    )
    with pytest.raises(CameraError) as error:
        VideoSource(99)
    assert (
        str(error.value) == "Camera 99 could not be opened: is it plugged in and not used by another program?"
    )


def test_video_source_reports_an_unplugged_camera() -> None:
    cameras: list[FakeCamera] = []

    def open_camera(index: int) -> FakeCamera:
        cameras.append(FakeCamera(index, frames=2))
        return cameras[-1]

    with VideoSource(0, capture_factory=open_camera) as camera:
        assert camera.is_camera and camera.fps is None and not camera.rewind()
        assert camera.read().shape == (320, 320, 3)
        assert camera.read() is not None
        with pytest.raises(CameraError) as error:
            camera.read()
    assert str(error.value) == CAMERA_GONE
    assert cameras[0].released


def test_list_cameras_finds_none_here_without_hanging() -> None:
    if list(Path("/dev").glob("video*")):
        pytest.skip("this machine has video devices")
    probed: list[int] = []

    def probe(index: int) -> FakeCamera:
        probed.append(index)
        return FakeCamera(index)

    assert list_cameras() == []
    assert list_cameras(max_index=9, capture_factory=probe) == []
    assert probed == []  # on Linux only /dev/videoN nodes are opened


# ---------------------------------------------------------------- WebcamRunner


def test_frames_and_results_flow_and_slow_inference_drops_frames(
    qtbot: QtBot, make_runner, clip: Path
) -> None:
    runner, recorder = make_runner(lambda: SlowReconstructor(delay=0.05))
    with qtbot.waitSignal(runner.ended, timeout=TIMEOUT_MS):
        runner.start(clip)
        assert runner.state == "running"

    assert recorder.states == ["running", "stopped"] and recorder.failures == []
    assert runner.frames_captured == CLIP_FRAMES
    assert len(recorder.frames) > CLIP_FRAMES // 4
    assert len(recorder.frames) + runner.frames_not_shown == CLIP_FRAMES  # shown, or replaced unseen
    assert all(frame.shape == (320, 320, 3) and frame.dtype == np.uint8 for frame in recorder.frames)
    assert runner.latest_frame() is recorder.frames[-1]

    # Each reconstruction takes over 0.35 s while a frame arrives every 20 ms: most are skipped.
    assert runner.frames_dropped > CLIP_FRAMES // 2
    assert 1 <= runner.frames_reconstructed == len(recorder.results)
    assert runner.frames_dropped + runner.frames_reconstructed + recorder.no_face == CLIP_FRAMES
    assert all(isinstance(result, Result) and result.mesh is not None for result in recorder.results)
    assert all(result.image.shape == (320, 320, 3) for result in recorder.results)
    assert any(capture > 0 for capture, _ in recorder.fps)


def test_pause_resume_freeze_and_stop(qtbot: QtBot, make_runner, clip: Path) -> None:
    baseline = threading.active_count()
    runner, recorder = make_runner(lambda: SlowReconstructor(delay=0))
    runner.start(clip, loop=True)
    qtbot.waitUntil(lambda: len(recorder.frames) >= 3, timeout=TIMEOUT_MS)
    assert threading.active_count() == baseline + 2

    runner.pause()
    assert runner.state == "paused"
    shown, results, captured = len(recorder.frames), len(recorder.results), runner.frames_captured
    qtbot.wait(300)  # 15 frame intervals
    assert len(recorder.frames) == shown and len(recorder.results) == results
    assert runner.frames_captured <= captured + 1  # at most the read in flight at pause()

    with qtbot.waitSignal(runner.frameReady, timeout=TIMEOUT_MS):
        runner.resume()
    assert runner.state == "running"
    qtbot.waitUntil(lambda: runner.frames_captured > CLIP_FRAMES + 5, timeout=TIMEOUT_MS)  # it loops
    assert recorder.ended == 0

    frame = runner.freeze()
    assert runner.state == "paused"
    assert frame is recorder.frames[-1] is runner.latest_frame()
    assert frame.shape == (320, 320, 3)
    shown = len(recorder.frames)
    qtbot.wait(100)
    assert len(recorder.frames) == shown

    assert runner.stop()
    assert runner.state == "stopped"
    assert threading.active_count() == baseline
    assert runner.stop()  # safe twice
    assert recorder.states == ["running", "paused", "running", "paused", "stopped"]
    runner.resume()
    assert runner.state == "stopped"


def test_unplugged_camera_emits_failed_and_stops(qtbot: QtBot, make_runner) -> None:
    cameras: list[FakeCamera] = []

    def open_camera(index: int) -> FakeCamera:
        cameras.append(FakeCamera(index, frames=5))
        return cameras[-1]

    baseline = threading.active_count()
    runner, recorder = make_runner(
        lambda: SlowReconstructor(delay=0), source_factory=partial(VideoSource, capture_factory=open_camera)
    )
    with qtbot.waitSignal(runner.failed, timeout=TIMEOUT_MS) as blocker:
        runner.start(0)
    assert blocker.args == [CAMERA_GONE]
    assert runner.state == "stopped" and recorder.states == ["running", "stopped"]
    assert runner.frames_captured == 5 and len(recorder.frames) >= 1
    assert runner.stop()
    assert threading.active_count() == baseline
    assert cameras[0].released


def test_missing_file_and_missing_model_emit_failed(
    qtbot: QtBot, make_runner, clip: Path, tmp_path: Path
) -> None:
    runner, recorder = make_runner(lambda: SlowReconstructor(delay=0))
    with qtbot.waitSignal(runner.failed, timeout=TIMEOUT_MS) as blocker:
        runner.start(tmp_path / "gone.mp4")
    assert blocker.args == [f"Video file {tmp_path / 'gone.mp4'} not found"]
    assert runner.state == "stopped"

    def no_weights() -> SlowReconstructor:
        raise WeightsError("Model 'vrn-unguided' is not installed")

    runner.set_reconstructor_factory(no_weights)
    with qtbot.waitSignal(runner.failed, timeout=TIMEOUT_MS) as blocker:
        runner.start(clip, loop=True)
    assert blocker.args == ["Model 'vrn-unguided' is not installed"]
    assert runner.state == "stopped" and recorder.results == []


def test_frames_without_a_face_emit_no_face_and_go_on(qtbot: QtBot, make_runner, tmp_path: Path) -> None:
    grey = [np.full((240, 320, 3), 90 + 4 * i, np.uint8) for i in range(12)]
    blank = write_clip(tmp_path / "blank.mp4", grey, fps=25)
    runner, recorder = make_runner(lambda: SlowReconstructor(delay=0))
    with qtbot.waitSignal(runner.ended, timeout=TIMEOUT_MS):
        runner.start(blank)
    assert recorder.no_face >= 1 and recorder.results == [] and recorder.failures == []
    assert runner.frames_captured == len(grey)


def test_live_view_detects_once_then_follows_the_landmarks(qtbot: QtBot, make_runner, tmp_path: Path) -> None:
    # The clip plays in real time and the latest frame wins, so how many frames are reconstructed
    # depends on the machine: 40 frames at 8 fps (5 s) leave room for three on a slow, busy CPU
    # (at 50 fps, 0.8 s, a 2-core AVX2-only EPYC got only two).
    clip = write_clip(tmp_path / "slow.mp4", face_frames(CLIP_FRAMES), fps=8.0)
    hints: list[np.ndarray | None] = []

    class Recording(SlowReconstructor):
        def iter_stages(self, image, **options):  # noqa: ANN001, ANN202, D102
            hints.append(options.get("face"))
            return super().iter_stages(image, **options)

    runner, recorder = make_runner(lambda: Recording(delay=0))
    with qtbot.waitSignal(runner.ended, timeout=TIMEOUT_MS):
        runner.start(clip)
    assert len(recorder.results) >= 3 and recorder.failures == []
    assert hints[0] is None  # the first frame is detected
    tracked = [hint for hint in hints[1:] if hint is not None]
    assert len(tracked) >= len(hints) - 1 - len(hints) // 30  # then tracked, re-detected every 30th
    # The tracked box is where the detector put the face (the clip barely moves).
    np.testing.assert_allclose(tracked[0], recorder.results[0].face.box, atol=8)
    assert all(result.face.landmarks.shape == (68, 2) for result in recorder.results)


def test_a_face_that_leaves_the_live_view_is_not_tracked_into_the_void(
    qtbot: QtBot, make_runner, tmp_path: Path
) -> None:
    # A predictor given the tracked box always answers, even where the face has gone: each tracked
    # frame is checked by a detection around the box, so grey frames give no face, not meshes.
    grey = [np.full((320, 320, 3), 100, np.uint8)] * 16
    clip = write_clip(tmp_path / "leaves.mp4", face_frames(16) + grey, fps=8.0)
    runner, recorder = make_runner(lambda: SlowReconstructor(delay=0, landmarker="dlib"))
    with qtbot.waitSignal(runner.ended, timeout=TIMEOUT_MS):
        runner.start(clip)
    assert recorder.results and recorder.no_face >= 1 and recorder.failures == []
    assert all(result.image.std() > 10 for result in recorder.results)  # every mesh is of a face frame
