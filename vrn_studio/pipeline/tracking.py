"""Face tracking for live video: detect now and then, follow the landmarks in between.

Detection (dlib's HOG at upsample 1) costs about 85 ms on a 512 px frame on a 2-core CPU;
the 68-point predictor in a given box about 3 ms. Between detections the box follows the
previous frame's landmarks, and ``Reconstructor.reconstruct(frame, face=box)`` runs only
the predictor. A frame without a face, or every ``redetect_every``-th frame, detects again.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from vrn_studio.errors import NoFaceError
from vrn_studio.face import Face, Landmarker

REDETECT_EVERY = 30
"""Frames between detections (the benchmark's live figures were measured with it)."""

CHECK_FACE_PIXELS = 120
"""Size the tracked face is scaled to for :func:`face_in_box`'s detection (dlib's HOG finds
faces from about 80 px)."""


def face_in_box(landmarker: Landmarker, rgb: np.ndarray, box: np.ndarray) -> bool:
    """Whether the detector still finds a face around a tracked ``box`` (x1, y1, x2, y2) of an
    RGB frame: the box grown by half its size, scaled so the face is about
    :data:`CHECK_FACE_PIXELS` wide, detected on (a few milliseconds instead of the whole
    frame's detection). A 68-point predictor given a box always answers, even where the face
    has gone; this catches that.

    Examples
    --------
    >>> from vrn_studio.face import get_landmarker
    >>> from vrn_studio.image import load_image, sample_image_path
    >>> rgb = load_image(sample_image_path())
    >>> box = get_landmarker("dlib").detect(rgb)[0].box
    >>> face_in_box(get_landmarker("dlib"), rgb, box), face_in_box(get_landmarker("dlib"), rgb * 0 + 128, box)
    (True, False)
    """
    x1, y1, x2, y2 = np.asarray(box, np.float64)
    size = max(x2 - x1, y2 - y1, 1.0)
    height, width = rgb.shape[:2]
    left, top = int(max(x1 - size / 2, 0)), int(max(y1 - size / 2, 0))
    right, bottom = int(min(x2 + size / 2, width)), int(min(y2 + size / 2, height))
    if right - left < 8 or bottom - top < 8:
        return False
    region = rgb[top:bottom, left:right]
    scale = CHECK_FACE_PIXELS / size
    region = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return bool(landmarker.detect(np.ascontiguousarray(region)))


class FaceTracker:
    """Which face hint each live frame gets; safe to share between worker threads.

    Parameters
    ----------
    redetect_every : int, default: REDETECT_EVERY
        Detect on the first frame and then on every n-th (n >= 1; 1 detects every frame).

    Examples
    --------
    >>> tracker = FaceTracker(redetect_every=2)
    >>> tracker.next_hint() is None  # first frame: detect
    True
    >>> marks = np.random.default_rng(0).uniform(100, 200, (68, 2))
    >>> tracker.update(Face(box=np.array([90.0, 90, 210, 210]), score=1.0, landmarks=marks), detected=True)
    >>> tracker.next_hint()  # second frame: the box, moved with the landmarks
    array([ 90.,  90., 210., 210.])
    >>> tracker.next_hint() is None  # third frame: detect again
    True
    """

    def __init__(self, redetect_every: int = REDETECT_EVERY) -> None:
        if redetect_every < 1:
            raise ValueError(f"redetect_every must be at least 1; got {redetect_every}")
        self.redetect_every = redetect_every
        self._lock = threading.Lock()
        self._frames = 0
        self._offset: np.ndarray | None = None
        self._spread = 1.0
        self.box: np.ndarray | None = None
        """The tracked box (4,) ``(x1, y1, x2, y2)`` in frame pixels, or None."""

    def next_hint(self) -> np.ndarray | None:
        """The face hint for the next frame: None to detect, else the tracked box (4,)."""
        with self._lock:
            detect = self.box is None or self._frames % self.redetect_every == 0
            self._frames += 1
            return None if detect else self.box.copy()

    def checked_hint(self, landmarker: Landmarker, rgb: np.ndarray) -> np.ndarray | None:
        """:meth:`next_hint` for the frame ``rgb``, the tracked box checked by :func:`face_in_box`.

        Raises
        ------
        NoFaceError
            The tracked face has gone (the tracker forgets it: the next frame is detected).
        """
        hint = self.next_hint()
        if hint is not None and not face_in_box(landmarker, rgb, hint):
            self.reset()
            raise NoFaceError("the tracked face has gone")
        return hint

    def update(self, face: Face, *, detected: bool) -> None:
        """Move the box to ``face``'s landmarks; ``detected``: its box is a detector's, re-anchor
        the box's offset and size relative to the landmarks' centre and spread."""
        centre = face.landmarks.mean(axis=0)
        spread = float(np.sqrt(((face.landmarks - centre) ** 2).sum(axis=1).mean()))
        with self._lock:
            if detected or self._offset is None:
                self._offset, self._spread = face.box - np.tile(centre, 2), spread
            self.box = np.tile(centre, 2) + self._offset * (spread / self._spread)

    def reset(self) -> None:
        """Forget the face: the next frame is detected."""
        with self._lock:
            self._offset, self.box = None, None
