"""Reading video files: what a file holds (:func:`probe_video`) and its frames one at a time with
their timestamps (:func:`iter_frames`), for the video job and the animation built from it.

>>> from vrn_studio.pipeline.video_io import DEFAULT_FPS
>>> DEFAULT_FPS
30.0
"""

from __future__ import annotations

import math
import os
from collections.abc import Container, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vrn_studio.errors import VrnStudioError

DEFAULT_FPS = 30.0
"""Frame rate assumed for a container that states none (the common camera rate)."""


class VideoError(VrnStudioError):
    """A video file that cannot be read, or holds no frame."""


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` finds: frames per second (as the container states it),
    frame count (the container's figure, 0 when it does not know), frame size in pixels."""

    path: Path
    fps: float
    frame_count: int
    width: int
    height: int


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Open ``path`` and read its first frame.

    Raises
    ------
    VideoError
        The file is missing, not a video OpenCV can decode, or holds no frame.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"No video file at {path}")
    capture = cv2.VideoCapture(str(path))
    try:
        ok, frame = capture.read() if capture.isOpened() else (False, None)
        if not ok or frame is None:
            raise VideoError(f"{path} cannot be read as a video, or holds no frame")
        fps = _frame_rate(capture)
        count = int(max(capture.get(cv2.CAP_PROP_FRAME_COUNT), 0))
    finally:
        capture.release()
    return VideoInfo(path, fps, count, int(frame.shape[1]), int(frame.shape[0]))


def _frame_rate(capture: cv2.VideoCapture) -> float:
    """The container's frame rate (frames/s), :data:`DEFAULT_FPS` where it states none."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    return float(fps) if math.isfinite(fps) and fps > 0 else DEFAULT_FPS


def iter_frames(
    path: str | os.PathLike[str], every: int = 1, skip: Container[int] = ()
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Frames ``0, every, 2 * every...`` of a video, less those in ``skip``, as ``(index, time in
    seconds, RGB uint8 (H, W, 3))``, read one at a time (frames left out are grabbed, not
    decoded).

    The time is the frame's own timestamp, so a variable-frame-rate video (phones record
    those) keeps its timing; where the container gives none (or one not after the last),
    ``index / frame rate``.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1; got {every}")
    capture = cv2.VideoCapture(str(path))
    try:
        fps = _frame_rate(capture)
        index, last = 0, -1.0
        while True:
            wanted = not (index % every or index in skip)
            if not (capture.grab() and (not wanted or (frame := capture.retrieve()[1]) is not None)):
                return
            stamp = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            time_s = stamp if math.isfinite(stamp) and stamp > last and (stamp > 0 or index == 0) else index / fps
            last = time_s
            if wanted:
                yield index, time_s, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()
