"""The offline landmarker: dlib's HOG frontal face detector and its 68-point shape predictor.

Both models ship in wheels (``dlib-bin`` and ``face_recognition_models``), so this backend
works without a download. Imported only when chosen (see ``vrn_studio.face.registry``).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
from pathlib import Path

import cv2
import dlib
import numpy as np

from vrn_studio.errors import MissingDependencyError
from vrn_studio.face.base import Face, Landmarker

log = logging.getLogger(__name__)

SHAPE_PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
"""The 68-point model inside the ``face_recognition_models`` package (its ``models/`` folder)."""


def shape_predictor_path() -> Path | None:
    """Where ``face_recognition_models`` keeps the 68-point model, or None when it is absent.

    The package is located without being imported: its ``__init__`` imports
    ``pkg_resources``, which recent setuptools no longer provides.
    """
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "models" / SHAPE_PREDICTOR_FILE
        if path.is_file():
            return path
    return None


def missing_files() -> str | None:
    """None when the shape predictor file is present, else what is missing and how to fix it."""
    if shape_predictor_path() is not None:
        return None
    return (
        f"The 'dlib' landmarker needs {SHAPE_PREDICTOR_FILE} from 'face_recognition_models', which "
        "is not installed or incomplete. Install it with: pip install 'vrn-studio[dlib]'"
    )


@functools.lru_cache(maxsize=1)
def _load_shape_predictor(path: str) -> dlib.shape_predictor:
    """Load the 68-point model once per process (about 100 MB, most of a second)."""
    return dlib.shape_predictor(path)


class DlibFaceDetector:
    """dlib's HOG frontal face detector, returning boxes and scores in photo pixels.

    Parameters
    ----------
    upsample : int, default: 1
        Times the photo is doubled in size before detection (the release used 1). Each step
        finds faces half as large (about 80 px wide at 0, 40 px at 1) and is about 4x slower.
    min_score : float, default: 0.25
        Detections scoring below this are dropped. dlib's own threshold is 0.0; at 0.0 and
        upsample 1 it also "finds" the mission patch on the astronaut photo (score 0.12,
        the face 1.16). Lower it to keep weaker faces (large yaw, poor light).
    max_side : int, default: 1600
        Photos whose longer side exceeds this are reduced (area averaging) for detection
        only; boxes are mapped back to photo pixels. Keeps detection on a 50-megapixel
        photo fast and its memory bounded.
    """

    def __init__(self, *, upsample: int = 1, min_score: float = 0.25, max_side: int = 1600) -> None:
        if int(upsample) != upsample or not 0 <= upsample <= 3:
            raise ValueError(f"upsample must be 0, 1, 2 or 3; got {upsample!r}")
        if max_side < 64:
            raise ValueError(f"max_side must be at least 64 pixels; got {max_side!r}")
        self.upsample = int(upsample)
        self.min_score = float(min_score)
        self.max_side = int(max_side)
        self._detector = dlib.get_frontal_face_detector()

    def __call__(self, image: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Boxes (4,) float64 (x1, y1, x2, y2) and scores of the faces in an RGB uint8 photo.

        A box is dlib's rectangle: the first and last pixel rows and columns it covers.
        """
        height, width = image.shape[:2]
        factor = min(1.0, self.max_side / max(height, width))
        if factor < 1.0:
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        rects, scores, _ = self._detector.run(image, self.upsample, self.min_score)  # drops score < min
        fx, fy = image.shape[1] / width, image.shape[0] / height
        found = []
        for rect, score in zip(rects, scores):
            small = np.array([rect.left(), rect.top(), rect.right(), rect.bottom()], dtype=np.float64)
            # pixel centres: x = (x' + 0.5) / f - 0.5
            box = (small + 0.5) / np.array([fx, fy, fx, fy]) - 0.5
            found.append((box, float(score)))
        return found


class DlibLandmarker(Landmarker):
    """Faces with :class:`DlibFaceDetector`, landmarks with dlib's 68-point shape predictor.

    Parameters
    ----------
    device : str, default: "cpu"
        dlib runs on the CPU; any other value (the network's device, say) is logged at info
        level and ignored.
    upsample, min_score, max_side
        Passed to :class:`DlibFaceDetector`.

    Raises
    ------
    MissingDependencyError
        The shape predictor file of ``face_recognition_models`` is missing.
    """

    name = "dlib"

    def __init__(
        self, *, device: str = "cpu", upsample: int = 1, min_score: float = 0.25, max_side: int = 1600
    ) -> None:
        if str(device) not in ("cpu", "auto"):
            log.info("The 'dlib' landmarker runs on the CPU; device %r is ignored", device)
        path = shape_predictor_path()
        if path is None:
            raise MissingDependencyError(missing_files())
        self.detector = DlibFaceDetector(upsample=upsample, min_score=min_score, max_side=max_side)
        self._predictor = _load_shape_predictor(str(path))

    def _detect(self, image: np.ndarray) -> list[Face]:
        return [
            Face(box=box, score=score, landmarks=self._landmarks_in_box(image, box))
            for box, score in self.detector(image)
        ]

    def _landmarks_in_box(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        left, top, right, bottom = (math.floor(v + 0.5) for v in box)
        shape = self._predictor(image, dlib.rectangle(left, top, right, bottom))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
