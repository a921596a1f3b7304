"""What every landmarker returns (:class:`Face`) and promises (:class:`Landmarker`).

Coordinates are photo pixels with pixel centres at integers, x to the right, y down.
Landmarks follow the iBUG 300-W 68-point order, indexed from 0: jaw 0-16, eyebrows
17-26, nose 27-35 (tip 30), eyes 36-47 (outer corners 36 and 45), mouth 48-67.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vrn_studio.crop import validate_landmarks
from vrn_studio.errors import NoFaceError
from vrn_studio.image import ImageSource, load_image


@dataclass(frozen=True, eq=False)
class Face:
    """One face in a photo: its box, how sure the detector is, and 68 landmarks.

    Parameters
    ----------
    box : array_like, shape (4,)
        (x1, y1, x2, y2) in photo pixels, x1 <= x2 and y1 <= y2; stored as read-only float64.
    score : float
        Detector confidence; larger is surer. Its scale depends on the detector (dlib's HOG
        scores are about 0 to 3); 1.0 for faces given by hand.
    landmarks : array_like, shape (68, 2)
        iBUG-68 points (x, y) in photo pixels; stored as read-only float32.

    Raises
    ------
    ValueError
        A shape is wrong, a value is not finite, or the box is inverted.
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray

    def __post_init__(self) -> None:
        box = as_box(self.box)
        landmarks = validate_landmarks(self.landmarks).astype(np.float32)
        box.setflags(write=False)
        landmarks.setflags(write=False)
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "score", float(self.score))
        object.__setattr__(self, "landmarks", landmarks)

    @property
    def area(self) -> float:
        """Box area in square photo pixels."""
        x1, y1, x2, y2 = self.box
        return float((x2 - x1) * (y2 - y1))

    def contains(self, point: Sequence[float]) -> bool:
        """Whether the photo point (x, y) lies in the box (edges included)."""
        x, y = point
        x1, y1, x2, y2 = self.box
        return bool(x1 <= x <= x2 and y1 <= y <= y2)


def as_box(box: Sequence[float]) -> np.ndarray:
    """Check a face box and return it as a float64 array of shape (4,).

    Raises
    ------
    ValueError
        Not 4 finite numbers (x1, y1, x2, y2), or x2 < x1 or y2 < y1.
    """
    try:
        checked = np.array(box, dtype=np.float64)
    except (TypeError, ValueError):
        checked = np.empty(0)
    if checked.shape != (4,) or not np.isfinite(checked).all():
        raise ValueError(f"A face box must be 4 finite numbers (x1, y1, x2, y2); got {box!r}")
    if checked[2] < checked[0] or checked[3] < checked[1]:
        raise ValueError(f"A face box needs x1 <= x2 and y1 <= y2; got {checked.tolist()}")
    return checked


def sort_faces(faces: Sequence[Face]) -> list[Face]:
    """Faces best first: largest box area, then highest score."""
    return sorted(faces, key=lambda face: (face.area, face.score), reverse=True)


class Landmarker(ABC):
    """A face detector plus 68-point landmarker, chosen by name with ``get_landmarker``.

    Subclasses set ``name`` and implement ``_detect`` and ``_landmarks_in_box`` on an
    (H, W, 3) uint8 RGB array; the public methods normalise the input and the order.
    """

    name: ClassVar[str]

    def detect(self, image: ImageSource) -> list[Face]:
        """Find every face in a photo.

        Parameters
        ----------
        image : str, os.PathLike, np.ndarray or PIL.Image.Image
            The photo; anything :func:`vrn_studio.image.load_image` accepts (which raises
            ``ImageError`` for unreadable input).

        Returns
        -------
        list of Face
            All faces found, best first (largest box, then highest score); empty when
            there is none. Turning "none" into an error is the caller's choice
            (:func:`no_face_error`).
        """
        return sort_faces(self._detect(load_image(image)))

    def landmarks_in_box(self, image: ImageSource, box: Sequence[float]) -> Face:
        """Place 68 landmarks in a face box given from outside (by hand, another detector).

        Parameters
        ----------
        image : str, os.PathLike, np.ndarray or PIL.Image.Image
            The photo; anything :func:`vrn_studio.image.load_image` accepts.
        box : sequence of float, shape (4,)
            (x1, y1, x2, y2) in photo pixels, around the face like a detector's box.

        Returns
        -------
        Face
            With the given box, score 1.0 and the landmarks found in it.

        Raises
        ------
        ValueError
            ``box`` is not 4 finite numbers with x1 < x2 and y1 < y2 (at least 1 pixel apart).
        ImageError
            ``image`` cannot be read (see :func:`vrn_studio.image.load_image`).
        """
        checked = as_box(box)
        if checked[2] - checked[0] < 1 or checked[3] - checked[1] < 1:
            raise ValueError(f"A face box must be at least 1 pixel wide and tall; got {checked.tolist()}")
        return Face(box=checked, score=1.0, landmarks=self._landmarks_in_box(load_image(image), checked))

    @abstractmethod
    def _detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an (H, W, 3) uint8 RGB photo, in any order."""

    @abstractmethod
    def _landmarks_in_box(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Landmarks (68, 2) (x, y) for the face in ``box`` (4,) float64 of an RGB photo."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def select_face(faces: Sequence[Face], *, point: Sequence[float] | None = None) -> Face:
    """Choose the face to reconstruct.

    Parameters
    ----------
    faces : sequence of Face
        Faces found in one photo, in any order.
    point : (float, float), optional
        A clicked photo point (x, y). When given, the face whose box contains it is chosen
        (of several, the one whose box centre is nearest the point).

    Returns
    -------
    Face
        Without ``point``, the face with the largest box (ties: highest score).

    Raises
    ------
    NoFaceError
        ``faces`` is empty, or no box contains ``point``.
    """
    if not faces:
        raise NoFaceError("There is no face to choose from: no face was found in the photo")
    if point is None:
        return sort_faces(faces)[0]
    x, y = (float(v) for v in point)
    hits = [face for face in faces if face.contains((x, y))]
    if not hits:
        boxes = "; ".join(f"({b[0]:g}, {b[1]:g})-({b[2]:g}, {b[3]:g})" for b in (f.box for f in faces))
        raise NoFaceError(f"No face box contains the point ({x:g}, {y:g}); click inside one of: {boxes}")
    return min(hits, key=lambda f: np.hypot((f.box[0] + f.box[2]) / 2 - x, (f.box[1] + f.box[3]) / 2 - y))


def face_from_points(points68: np.ndarray) -> Face:
    """A face given by hand as 68 landmarks.

    Parameters
    ----------
    points68 : array_like, shape (68, 2)
        iBUG-68 points (x, y) in photo pixels.

    Returns
    -------
    Face
        Box = the points' bounding box (tighter than a detector's box), score = 1.0
        (given, not detected), landmarks = the points.

    Raises
    ------
    ValueError
        Invalid points (see :func:`vrn_studio.crop.validate_landmarks`).
    """
    points = validate_landmarks(points68)
    return Face(box=np.concatenate([points.min(axis=0), points.max(axis=0)]), score=1.0, landmarks=points)


def no_face_error(source: str) -> NoFaceError:
    """The error to raise when ``detect`` finds no face in ``source`` (a file name or description)."""
    return NoFaceError(
        f"No face found in {source}. Try a photo where the face is larger and closer to frontal, "
        "or give the face by hand (a box around it, or its 68 landmarks)."
    )

