"""The live (webcam) path on a video file, without Qt: frames per second and latency.

A reader thread plays the file in real time, as a camera would deliver it, and keeps only
the newest frame (latest frame wins: frames the pipeline is too slow for are dropped, never
queued). One or more workers take the newest frame and reconstruct it. Detection runs on
the first frame and every ``redetect_every`` frames; in between the face box follows the
previous frame's landmarks and only the 68-point predictor runs (``Reconstructor``'s
``face=box``), as the app's live view does (:mod:`vrn_studio.pipeline.tracking`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vrn_studio.bench.measure import Stats
from vrn_studio.errors import NoFaceError
from vrn_studio.image import load_image
from vrn_studio.pipeline import Reconstructor
from vrn_studio.pipeline.tracking import REDETECT_EVERY, FaceTracker


@dataclass(frozen=True)
class PanVideo:
    """A test video: a photo scaled by ``scale`` and shifted by ``offsets[i]`` in frame i."""

    path: Path
    scale: float
    offsets: np.ndarray

    def landmarks(self, photo_points: np.ndarray) -> Callable[[int], np.ndarray]:
        """Where the photo's 68 points lie in frame i: known motion, for machines without dlib."""
        return lambda i: photo_points * self.scale + self.offsets[i % len(self.offsets)]


def write_test_video(path: Path, photo: Path, *, seconds: float = 10.0, fps: float = 30.0) -> PanVideo:
    """Write a 640x480 MJPG video of ``photo`` panning slowly (a head moving in front of a camera).

    Raises
    ------
    RuntimeError
        When OpenCV cannot write the file.
    """
    rgb = load_image(photo)
    scale = 400 / max(rgb.shape[:2])
    face = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    i = np.arange(round(seconds * fps))
    offsets = np.stack([100 + 60 * np.sin(2 * np.pi * i / (4 * fps)), 30 + 20 * np.cos(2 * np.pi * i / (5 * fps))], 1)
    offsets = offsets.astype(int)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write the test video {path}")
    try:
        for dx, dy in offsets:
            canvas = np.zeros((480, 640, 3), np.uint8)
            h, w = face.shape[:2]
            canvas[dy : dy + h, dx : dx + w] = face[: 480 - dy, : 640 - dx]
            writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return PanVideo(path, scale, offsets.astype(np.float64))


class LatestFrame:
    """Play a video file in real time on a thread; :meth:`take` returns the newest frame only.

    Parameters
    ----------
    path : Path
        Any file ``cv2.VideoCapture`` opens; it loops until :meth:`close`.
    """

    def __init__(self, path: Path) -> None:
        self._capture = cv2.VideoCapture(str(path))
        if not self._capture.isOpened():
            raise RuntimeError(f"OpenCV cannot open the video {path}")
        self.fps = self._capture.get(cv2.CAP_PROP_FPS) or 30.0
        self.delivered = 0
        self._latest: tuple[np.ndarray, float, int] | None = None
        self._taken = -1
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, name="video-source", daemon=True)
        self._thread.start()

    def _play(self) -> None:
        start = time.perf_counter()
        while not self._stop.is_set():
            ok, bgr = self._capture.read()
            if not ok:
                self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                continue
            due = start + self.delivered / self.fps
            self._stop.wait(max(0.0, due - time.perf_counter()))
            with self._cond:
                self._latest = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), time.perf_counter(), self.delivered
                self.delivered += 1
                self._cond.notify_all()

    def take(self, timeout: float = 1.0) -> tuple[np.ndarray, float, int] | None:
        """The newest frame not yet taken, its arrival time and index; None once closed or on timeout."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._stop.is_set() or (self._latest is not None and self._latest[2] > self._taken), timeout
            )
            if self._stop.is_set() or self._latest is None or self._latest[2] <= self._taken:
                return None
            self._taken = self._latest[2]
            return self._latest

    def close(self) -> None:
        """Stop playing and release the file."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join()
        self._capture.release()


def run_live(
    reconstructor: Reconstructor, video: Path, *, seconds: float, workers: int = 1,
    redetect_every: int = REDETECT_EVERY,
    skip: int = 3, landmarks: Callable[[int], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Reconstruct the newest frame of ``video``, played in real time, for ``seconds``.

    Parameters
    ----------
    reconstructor : Reconstructor
        Warmed up already (a compiled network compiles on its first call).
    video : Path
        The file to play (see :func:`write_test_video`).
    seconds : float
        How long to run.
    workers : int, default: 1
        Threads reconstructing frames at once (2 overlaps one frame's meshing with the
        next frame's network).
    redetect_every : int, default: REDETECT_EVERY
        Run the face detector on every n-th reconstructed frame; track in between
        (:class:`~vrn_studio.pipeline.tracking.FaceTracker`, as the app's live view does).
    skip : int, default: 3
        First results left out of the statistics (warm-up).
    landmarks : callable or None
        Frame index -> its 68 points (:meth:`PanVideo.landmarks`): replaces detection and
        tracking where dlib's model is not installed.

    Returns
    -------
    dict
        ``fps`` (meshes per second), ``latency_ms`` (frame arrival to cleaned mesh,
        :class:`Stats`), per-stage medians, frames delivered, dropped, without a face.
    """
    source = LatestFrame(video)
    tracker, lock = FaceTracker(redetect_every), threading.Lock()
    done: list[tuple[float, float, dict[str, float]]] = []
    counter = {"no_face": 0}
    deadline = time.perf_counter() + seconds

    def work() -> None:
        while time.perf_counter() < deadline:
            taken = source.take()
            if taken is None:
                continue
            frame, arrived, index = taken
            try:
                # As the app's live view: the tracked box checked (where detection runs at all).
                tracked = tracker.next_hint() if landmarks is not None else tracker.checked_hint(
                    reconstructor.landmarker, frame)
                hint = landmarks(index) if landmarks is not None else tracked
                result = reconstructor.reconstruct(frame, face=hint)
            except NoFaceError:
                with lock:
                    counter["no_face"] += 1
                    tracker.reset()
                continue
            finished = time.perf_counter()
            tracker.update(result.face, detected=tracked is None)
            with lock:
                done.append((finished, finished - arrived, dict(result.timings)))

    threads = [threading.Thread(target=work, name=f"live-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    source.close()
    done.sort()
    kept = done[skip:]
    report: dict[str, Any] = {
        "workers": workers, "seconds": seconds, "video_fps": source.fps, "frames_delivered": source.delivered,
        "meshes": len(done), "no_face": counter["no_face"],
    }
    if len(kept) >= 2:
        report["fps"] = round((len(kept) - 1) / (kept[-1][0] - kept[0][0]), 2)
        report["latency_ms"] = Stats.of([latency for _, latency, _ in kept]).as_dict()
        report["stage_median_ms"] = {
            stage: round(float(np.median([t[stage] for _, _, t in kept])) * 1e3, 2) for stage in kept[0][2]
        }
    return report
