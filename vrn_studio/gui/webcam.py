"""Live video: frames from a camera or a video file, reconstructed as fast as the model allows.

A :class:`WebcamRunner` session runs two threads. The capture thread reads frames as fast as
the source delivers them (a video file is paced at its own frame rate) and keeps only the
newest one in each of two one-frame slots: one for the display, one for the reconstruction.
A newer frame replaces an older one that nobody took yet, so nothing waits in a queue and
the picture never lags; replaced frames are counted. The inference thread takes the newest
frame whenever it is free and reconstructs it, detecting the face on the first frame and every
few seconds and following its landmarks in between (:mod:`vrn_studio.pipeline.tracking`).
Only the UI thread touches widgets: frames and results reach it through queued signals.

A video file stands in for a camera in tests and demos: :class:`VideoSource` opens either.

A session can also record: :meth:`WebcamRunner.start_recording` has the capture thread append
every frame it reads to a :class:`~vrn_studio.export.FrameWriter` (camera > Record: the frames are reconstructed
from the file afterwards, since the live loop reconstructs only the newest frame).
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from vrn_studio.errors import NoFaceError, VrnStudioError
from vrn_studio.export import FrameWriter
from vrn_studio.gui.workers import LazyReconstructor, ReconstructorSource, run_stages, user_message
from vrn_studio.pipeline.tracking import FaceTracker
from vrn_studio.pipeline.video_io import DEFAULT_FPS

SourceSpec = int | str | os.PathLike
"""A camera index (``int``) or the path of a video file."""

READ_ATTEMPTS = 5
"""Consecutive failed reads after which a camera counts as gone (unplugged, taken over)."""

VIDEO_FILE_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv)"
"""File-dialog filter of the video files the app opens."""


class CameraError(VrnStudioError):
    """A camera or video file cannot be opened, or a camera stopped delivering frames."""


class Capture(Protocol):
    """What :class:`VideoSource` needs from ``cv2.VideoCapture`` (so tests can fake a camera)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def get(self, prop: int) -> float: ...
    def set(self, prop: int, value: float) -> bool: ...
    def release(self) -> None: ...


class VideoSource:
    """Frames from a camera or a video file, as RGB arrays.

    Parameters
    ----------
    source : int, str or os.PathLike
        A camera index (0 is the default camera) or the path of a video file (any format
        OpenCV's FFmpeg backend reads: mp4, avi, mkv, ...).
    capture_factory : callable, default: cv2.VideoCapture
        Builds the capture object from the index or path string; replace it to choose an
        OpenCV backend, e.g. ``functools.partial(cv2.VideoCapture, apiPreference=cv2.CAP_V4L2)``.

    Raises
    ------
    CameraError
        The camera or file cannot be opened.

    Examples
    --------
    >>> with VideoSource("clip.mp4") as video:  # doctest: +SKIP
    ...     frame = video.read()  # (H, W, 3) uint8 RGB, or None at the end of the file
    """

    def __init__(
        self, source: SourceSpec, *, capture_factory: Callable[[Any], Capture] = cv2.VideoCapture
    ) -> None:
        self.source = source
        self.is_camera = isinstance(source, int)
        if self.is_camera:
            self._capture = capture_factory(source)
            problem = (
                f"Camera {source} could not be opened: is it plugged in and not used by another program?"
            )
        else:
            path = Path(source)
            if not path.is_file():
                raise CameraError(f"Video file {path} not found")
            self._capture = capture_factory(str(path))
            problem = f"Video file {path} could not be opened: it is not a video that OpenCV can decode"
        if not self._capture.isOpened():
            self._capture.release()
            raise CameraError(problem)

    @property
    def fps(self) -> float | None:
        """A video file's frame rate in frames per second; None for a camera (it paces itself)
        or a file that does not say."""
        return None if self.is_camera else self.stated_fps

    @property
    def stated_fps(self) -> float | None:
        """The frame rate the camera or file states, frames per second; None when it states none
        (a camera's figure is nominal: it may deliver fewer in low light)."""
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        return fps if math.isfinite(fps) and fps > 0 else None

    def read(self) -> np.ndarray | None:
        """The next frame, shape (H, W, 3), uint8 RGB; None at the end of a video file.

        Raises
        ------
        CameraError
            A camera delivered no frame in :data:`READ_ATTEMPTS` tries.
        """
        for _ in range(READ_ATTEMPTS if self.is_camera else 1):
            ok, frame = self._capture.read()
            if ok and frame is not None:
                return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if self.is_camera:
            raise CameraError(
                f"Camera {self.source} stopped delivering frames: was it unplugged or taken by another program?"
            )
        return None

    def rewind(self) -> bool:
        """Go back to the first frame of a video file; False for a camera or when it fails."""
        return not self.is_camera and bool(self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0))

    def close(self) -> None:
        """Release the camera or file (safe to call twice)."""
        self._capture.release()

    def __enter__(self) -> VideoSource:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def list_cameras(
    max_index: int = 4, *, capture_factory: Callable[[Any], Capture] = cv2.VideoCapture
) -> list[int]:
    """Indices of the cameras that open, probing 0 to ``max_index`` inclusive.

    On Linux only indices with a ``/dev/videoN`` node are opened, so a machine without
    cameras answers at once. Elsewhere each probe opens the device, which can take a
    noticeable fraction of a second per index on some systems.

    Parameters
    ----------
    max_index : int, default: 4
        Highest index tried.
    capture_factory : callable, default: cv2.VideoCapture
        As in :class:`VideoSource`.

    Returns
    -------
    list of int
        The indices that opened, ascending; empty when there is no camera.
    """
    found = []
    for index in range(max_index + 1):
        if sys.platform.startswith("linux") and not Path(f"/dev/video{index}").exists():
            continue
        capture = capture_factory(index)
        try:
            if capture.isOpened():
                found.append(index)
        finally:
            capture.release()
    return found


class _Rate:
    """Events per second over a sliding window that always keeps the last two events."""

    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self._times: deque[float] = deque()

    def add(self, when: float) -> None:
        self._times.append(when)
        while len(self._times) > 2 and when - self._times[0] > self.window:
            self._times.popleft()

    def per_second(self) -> float:
        span = self._times[-1] - self._times[0] if len(self._times) >= 2 else 0.0
        return (len(self._times) - 1) / span if span > 0 else 0.0


class _Session:
    """One :meth:`WebcamRunner.start`: the capture and inference threads and what they share.

    ``post(session, kind, payload)`` hands an event to the UI thread: ``"frame"`` (the
    display slot holds a frame; take it with :meth:`take_display`), ``"result"``
    (a Result), ``"noface"``, and last ``"end"`` with ``(kind, message)``, kind ``"ended"`` or
    ``"failed"``, when the session ends by itself.

    Every frame read while a :class:`FrameWriter` is set (:meth:`record`) is also written to
    it, in the capture thread.
    """

    def __init__(
        self,
        spec: SourceSpec,
        *,
        loop: bool,
        open_source: Callable[[SourceSpec], VideoSource],
        reconstructor: LazyReconstructor,
        post: Callable[[_Session, str, object], None],
    ) -> None:
        self.spec, self.loop = spec, loop
        self._open_source, self._reconstructor, self._post = open_source, reconstructor, post
        self._cond = threading.Condition()
        self._paused = self._stopping = False
        self._outcome: tuple[str, str] | None = None
        self._for_inference: np.ndarray | None = None
        self._for_display: np.ndarray | None = None
        self.frames_captured = self.frames_dropped = self.frames_not_shown = self.frames_reconstructed = 0
        self.stated_fps: float | None = None  # the source's own figure, once the capture thread opened it
        self._writer: FrameWriter | None = None
        self._capture_rate, self._result_rate = _Rate(), _Rate()
        self._tracker = FaceTracker()
        self._threads = [
            threading.Thread(target=self._capture_loop, name="vrn-webcam-capture", daemon=True),
            threading.Thread(target=self._inference_loop, name="vrn-webcam-inference", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # ----------------------------------------------------------------- UI thread
    def set_paused(self, paused: bool) -> None:
        """Stop or restart reading frames; while paused no frame waits for the reconstruction."""
        with self._cond:
            self._paused = paused
            if paused and self._for_inference is not None:
                self._for_inference = None
                self.frames_dropped += 1
            self._cond.notify_all()

    def take_display(self) -> np.ndarray | None:
        """The newest frame not yet shown, emptying the display slot."""
        with self._cond:
            frame, self._for_display = self._for_display, None
        return frame

    def rates(self) -> tuple[float, float]:
        """(capture, reconstruction) frames per second over the last couple of seconds."""
        with self._cond:
            return self._capture_rate.per_second(), self._result_rate.per_second()

    def recording_fps(self) -> float:
        """Frames per second to record at: the capture rate measured over the last seconds,
        else the rate the source states, else :data:`~vrn_studio.pipeline.video_io.DEFAULT_FPS`."""
        with self._cond:
            return round(self._capture_rate.per_second(), 2) or self.stated_fps or DEFAULT_FPS

    def record(self, writer: FrameWriter | None) -> None:
        """Write every frame read from now on to ``writer`` (None: stop writing)."""
        with self._cond:
            self._writer = writer

    def stop(self, timeout: float) -> bool:
        """Ask both threads to end and wait up to ``timeout`` seconds; True when both ended."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    # ----------------------------------------------------------- capture thread
    def _capture_loop(self) -> None:
        try:
            source = self._open_source(self.spec)
        except Exception as exc:  # noqa: BLE001 - reported as the session's end
            self._finish("failed", user_message(exc))
            return
        with self._cond:
            self.stated_fps = source.stated_fps
        try:
            self._capture_from(source)
        except Exception as exc:  # noqa: BLE001 - an unplugged camera raises CameraError
            self._finish("failed", user_message(exc))
        finally:
            source.close()

    def _capture_from(self, source: VideoSource) -> None:
        interval = 1.0 / source.fps if source.fps else 0.0
        due = time.monotonic()
        read_since_rewind = 0
        while self._wait_while_paused():
            frame = source.read()
            if frame is None:
                if self.loop and read_since_rewind and source.rewind():
                    read_since_rewind = 0
                    continue
                self._finish("ended", "")
                return
            read_since_rewind += 1
            self._publish(frame)
            if interval:
                now = time.monotonic()
                due = max(now, due + interval)  # fell behind: no burst of frames
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping, timeout=due - now)

    def _wait_while_paused(self) -> bool:
        """Block while paused; False once the session is stopping."""
        with self._cond:
            self._cond.wait_for(lambda: self._stopping or not self._paused)
            return not self._stopping

    def _publish(self, frame: np.ndarray) -> None:
        """Put a new frame in both slots, counting the frames it replaces, and record it.

        Raises
        ------
        ExportError
            The recording cannot be written (the capture then ends as failed).
        """
        with self._cond:
            writer = self._writer
            self.frames_captured += 1
            self._capture_rate.add(time.monotonic())
            if self._for_inference is not None or self._paused:
                self.frames_dropped += 1  # the one it replaces, or itself if read as pause() came
            if not self._paused:
                self._for_inference = frame
            if self._for_display is not None:
                self.frames_not_shown += 1
            announce = self._for_display is None
            self._for_display = frame
            self._cond.notify_all()
        if announce:
            self._post(self, "frame", None)
        if writer is not None:
            writer.write(frame)  # outside the lock: encoding takes milliseconds

    def _finish(self, kind: str, message: str) -> None:
        """The capture ended by itself; after a failure no waiting frame is reconstructed."""
        with self._cond:
            self._outcome = (kind, message)
            if kind == "failed" and self._for_inference is not None:
                self._for_inference = None
                self.frames_dropped += 1
            self._cond.notify_all()

    # --------------------------------------------------------- inference thread
    def _inference_loop(self) -> None:
        try:
            while (frame := self._next_frame()) is not None:
                self._reconstruct(frame)
        except Exception as exc:  # noqa: BLE001 - a model that cannot load or run ends the session
            message = user_message(exc)
            with self._cond:
                self._outcome = self._outcome or ("failed", message)
                self._stopping = True
                self._cond.notify_all()
        with self._cond:
            outcome = self._outcome
        if outcome is not None:
            self._post(self, "end", outcome)

    def _next_frame(self) -> np.ndarray | None:
        """Wait for a frame to reconstruct; None when the session is over."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._stopping or self._outcome is not None or self._for_inference is not None
            )
            if self._stopping:
                return None
            frame, self._for_inference = self._for_inference, None
        return frame

    def _reconstruct(self, frame: np.ndarray) -> None:
        rec = self._reconstructor.get()
        try:
            hint = self._tracker.checked_hint(rec.landmarker, frame)  # None: detect; else the tracked box
            result = run_stages(rec.iter_stages(frame, face=hint), lambda: self._stopping)
        except NoFaceError:
            self._tracker.reset()
            self._post(self, "noface", None)
            return
        if result is not None:
            self._tracker.update(result.face, detected=hint is None)
            with self._cond:
                self.frames_reconstructed += 1
                self._result_rate.add(time.monotonic())
            self._post(self, "result", result)


class WebcamRunner(QObject):
    """Live reconstruction from a camera or a video file.

    Parameters
    ----------
    reconstructor : Reconstructor or callable () -> Reconstructor
        The Reconstructor for live frames, or a factory called in the inference thread on
        the first frame and reused across sessions. One Reconstructor may be shared with a
        :class:`~vrn_studio.gui.workers.ReconstructionRunner` only if their runs never
        overlap; a factory building a separate one is the safe choice.
    parent : QObject, optional
        Qt parent.
    source_factory : callable (source) -> VideoSource, default: VideoSource
        Opens a source in the capture thread (tests pass fakes; others may pick a backend).
    fps_interval_ms : int, default: 500
        How often ``fpsChanged`` is emitted while running, in milliseconds.

    Signals
    -------
    frameReady(object)
        A new frame to display, (H, W, 3) uint8 RGB. Never queued: when the UI is slow the
        frames in between are skipped (counted in :attr:`frames_not_shown`).
    resultReady(object)
        The :class:`~vrn_studio.pipeline.Result` of a live frame.
    noFace()
        A frame had no face; the session goes on.
    fpsChanged(float, float)
        Capture and reconstruction rates, in frames per second, over the last seconds.
    failed(str)
        The camera or file could not be opened, the camera stopped delivering frames, or the
        model failed; the session is over (state ``"stopped"``).
    ended()
        The video file ended (never with ``loop=True``); the session is over.
    stateChanged(str)
        ``"running"``, ``"paused"`` or ``"stopped"``.
    recordingDone(object)
        The recording of :meth:`start_recording` ended with its session (after ``failed`` or
        ``ended`` when the session ended by itself): the video written (``Path``), or None
        when no frame was recorded or the file could not be finished (said by ``failed``).

    Notes
    -----
    After :meth:`pause`, :meth:`freeze` or :meth:`stop` return, no ``frameReady``,
    ``resultReady`` or ``noFace`` arrives until the next :meth:`resume` or :meth:`start`.
    Call :meth:`stop` before the application quits.
    """

    frameReady = Signal(object)
    resultReady = Signal(object)
    noFace = Signal()
    fpsChanged = Signal(float, float)
    failed = Signal(str)
    ended = Signal()
    stateChanged = Signal(str)
    recordingDone = Signal(object)

    _event = Signal(object, str, object)  # (session, kind, payload), from the session's threads

    def __init__(
        self,
        reconstructor: ReconstructorSource,
        parent: QObject | None = None,
        *,
        source_factory: Callable[[SourceSpec], VideoSource] = VideoSource,
        fps_interval_ms: int = 500,
    ) -> None:
        super().__init__(parent)
        self._reconstructor = LazyReconstructor(reconstructor)
        self._source_factory = source_factory
        self._session: _Session | None = None
        self._recording: FrameWriter | None = None
        self._state = "stopped"
        self._shown: np.ndarray | None = None
        self._fps_timer = QTimer(self)
        self._fps_timer.setInterval(fps_interval_ms)
        self._fps_timer.timeout.connect(self._emit_fps)
        self._event.connect(self._on_event, Qt.ConnectionType.QueuedConnection)

    @property
    def state(self) -> str:
        """``"running"``, ``"paused"`` or ``"stopped"``."""
        return self._state

    @property
    def source(self) -> SourceSpec | None:
        """The running or paused session's camera index or video file; None when stopped."""
        return None if self._state == "stopped" else self._session.spec

    @property
    def is_recording(self) -> bool:
        """Whether :meth:`start_recording` is writing the session's frames to a file."""
        return self._recording is not None

    @property
    def frames_captured(self) -> int:
        """Frames read from the source in the current (or last) session."""
        return self._session.frames_captured if self._session else 0

    @property
    def frames_dropped(self) -> int:
        """Frames never reconstructed because a newer frame replaced them while the model was busy."""
        return self._session.frames_dropped if self._session else 0

    @property
    def frames_not_shown(self) -> int:
        """Frames never displayed because a newer frame replaced them before the UI took them."""
        return self._session.frames_not_shown if self._session else 0

    @property
    def frames_reconstructed(self) -> int:
        """Frames the model reconstructed (a face found) in the current (or last) session."""
        return self._session.frames_reconstructed if self._session else 0

    def set_reconstructor_factory(self, factory: ReconstructorSource) -> None:
        """Use another model or settings from the next frame on; built lazily in the inference thread."""
        self._reconstructor.set_source(factory)

    def start(self, source: SourceSpec, *, loop: bool = False) -> None:
        """Stop any session, then stream ``source``; it is opened in the capture thread.

        Parameters
        ----------
        source : int, str or os.PathLike
            A camera index or a video file. Opening failures arrive as ``failed``.
        loop : bool, default: False
            Start a video file over at its end instead of emitting ``ended``.
        """
        self.stop()
        self._shown = None
        self._session = _Session(
            source,
            loop=loop,
            open_source=self._source_factory,
            reconstructor=self._reconstructor,
            post=self._event.emit,
        )
        self._set_state("running")

    def pause(self) -> None:
        """Stop reading frames (a video file keeps its position); no-op unless running."""
        if self._state == "running":
            self._session.set_paused(True)
            self._set_state("paused")

    def resume(self) -> None:
        """Read frames again after :meth:`pause`; no-op unless paused."""
        if self._state == "paused":
            self._session.set_paused(False)
            self._set_state("running")

    def start_recording(self, path: str | os.PathLike[str]) -> None:
        """Write every frame read from now on to ``path`` (a :class:`FrameWriter`) until the
        session ends (:meth:`stop`, a new :meth:`start`, a lost camera, the end of a file);
        ``recordingDone`` then gives the file. A paused session resumes; pausing it later
        pauses the recording.

        Meant for a camera, whose live view reconstructs only the newest frame: the file keeps
        them all, at the rate frames arrive (:meth:`_Session.recording_fps`).

        Raises
        ------
        CameraError
            No session runs, or it is being recorded already.
        ExportError
            ``path`` exists already.
        """
        if self._state == "stopped" or self._recording is not None:
            raise CameraError("Nothing live to record" if self._state == "stopped" else "Already recording")
        self._recording = FrameWriter(path, self._session.recording_fps())
        self._session.record(self._recording)
        self.resume()

    def freeze(self) -> np.ndarray | None:
        """Pause and return the frame on screen (for a full reconstruction), or None if none was shown."""
        self.pause()
        return self._shown

    def latest_frame(self) -> np.ndarray | None:
        """The last frame emitted by ``frameReady``, (H, W, 3) uint8 RGB, or None."""
        return self._shown

    def stop(self, timeout_ms: int = 5000) -> bool:
        """End the session and wait for its threads (safe to call twice).

        The inference thread stops at the end of the stage it is running, which on a CPU
        can take a second or more.

        Parameters
        ----------
        timeout_ms : int, default: 5000
            Longest wait, in milliseconds.

        Returns
        -------
        bool
            True when no thread of this runner is left running.
        """
        if self._session is None:
            return True
        self._set_state("stopped")
        ended = self._session.stop(timeout_ms / 1000)
        self._close_recording()
        return ended

    def _close_recording(self) -> None:
        """Finish the recording, if any, and emit ``recordingDone``."""
        writer, self._recording = self._recording, None
        if writer is None:
            return
        self._session.record(None)
        try:
            path = writer.close()
        except VrnStudioError as exc:
            self.failed.emit(str(exc))
            path = None
        self.recordingDone.emit(path)

    def _set_state(self, state: str) -> None:
        if state == self._state:
            return
        self._state = state
        if state == "running":
            self._fps_timer.start()
        else:
            self._fps_timer.stop()
        self.stateChanged.emit(state)

    @Slot()
    def _emit_fps(self) -> None:
        if self._session is not None:
            self.fpsChanged.emit(*self._session.rates())

    @Slot(object, str, object)
    def _on_event(self, session: _Session, kind: str, payload: object) -> None:
        """UI thread: forward a session event if it belongs to the running session."""
        if session is not self._session or self._state == "stopped":
            return
        if kind == "end":
            end, message = payload
            self._set_state("stopped")
            if end == "failed":
                self.failed.emit(message)
            else:
                self.ended.emit()
            self._close_recording()
            return
        if kind == "frame":
            frame = session.take_display()  # emptied even while paused, so the next frame is announced
            if frame is not None and self._state == "running":
                self._shown = frame
                self.frameReady.emit(frame)
        elif self._state == "running":
            if kind == "result":
                self.resultReady.emit(payload)
            else:
                self.noFace.emit()
