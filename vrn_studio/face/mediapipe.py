"""The fast landmarker: MediaPipe's face detector and face mesh, run with LiteRT.

Both models ship inside VRN Studio (``vrn_studio/face/models/``, Apache 2.0, taken from the
mediapipe 0.10.21 wheel; see ``manifest.json`` there); the runtime is LiteRT
(``ai-edge-litert``, the ``mediapipe`` extra). The ``mediapipe`` package itself is not
needed: it pins protobuf < 5, which onnx does not allow, and brings a second OpenCV wheel.

Detection is BlazeFace (full range) on the whole photo and, for faces too small for one
192 px pass, on overlapping tiles of a pyramid (see :class:`MediaPipeLandmarker`); each face
then gets MediaPipe's 468-point face mesh twice (in the detector's rotated box, then in the
box of the first pass's points), and the 68 iBUG points are 68 of its vertices
(:data:`MEDIAPIPE_TO_IBUG68`). At large yaw the face mesh places the far jaw on the hidden
jaw line rather than on the visible silhouette that iBUG annotations follow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vrn_studio.errors import VrnStudioError
from vrn_studio.face.base import Face, Landmarker

log = logging.getLogger(__name__)

MODELS = Path(__file__).resolve().parent / "models"
"""The bundled model files and their manifest."""
DETECTOR_FILE = "face_detection_full_range_sparse.tflite"
MESH_FILE = "face_landmark.tflite"

MEDIAPIPE_TO_IBUG68: tuple[int, ...] = (
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,  # jaw 0-16
    71, 63, 105, 66, 107, 336, 296, 334, 293, 301,  # brows 17-26
    168, 197, 5, 4, 75, 97, 2, 326, 305,  # nose 27-35
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,  # eyes 36-47
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,  # outer lips 48-59
    78, 82, 13, 312, 308, 317, 14, 87,  # inner lips 60-67
)
"""MediaPipe face-mesh vertex of each iBUG-68 landmark (the correspondence used by
e.g. LatentSync and many face tools; nose tip 30 = vertex 4, outer eye corners 36, 45 =
vertices 33, 263)."""

DETECTOR_SIZE = 192
"""Side of the detector's square input, pixels."""
MESH_SIZE = 192
"""Side of the face mesh's square input, pixels."""
_GRID = 48
"""The full-range detector's anchors: one per cell of a 48 x 48 grid (stride 4)."""
ROI_SCALE = 1.5
"""The face mesh's input box is the face box (or the points' box) grown 1.5 times, as in MediaPipe."""
MIN_FACE_FRACTION = 0.08
"""The smallest face the detector finds reliably, as a fraction of its input's side
(measured: see ``docs/landmarkers.md``); it sets the tile pyramid."""
NMS_IOU = 0.3
"""Detections overlapping more than this (intersection over union) are one face (MediaPipe's value)."""


def missing_files() -> str | None:
    """None when both bundled model files are present and intact, else what is wrong."""
    try:
        _checked_models()
    except VrnStudioError as exc:
        return str(exc)
    return None


@lru_cache(maxsize=1)
def _checked_models() -> tuple[Path, Path]:
    """The detector and mesh files, checked against ``manifest.json`` (size and SHA-256) once."""
    manifest_path = MODELS / "manifest.json"
    try:
        entries = {e["file"]: e for e in json.loads(manifest_path.read_text(encoding="utf-8"))["files"]}
    except (OSError, ValueError, KeyError) as exc:
        raise VrnStudioError(f"The 'mediapipe' landmarker's manifest {manifest_path} is unreadable: {exc}") from exc
    paths = []
    for name in (DETECTOR_FILE, MESH_FILE):
        path = MODELS / name
        entry = entries.get(name)
        if entry is None or not path.is_file():
            raise VrnStudioError(f"The 'mediapipe' landmarker's model file {path} is missing; reinstall vrn-studio")
        data = path.read_bytes()
        if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise VrnStudioError(f"The 'mediapipe' landmarker's model file {path} is corrupt; reinstall vrn-studio")
        paths.append(path)
    return paths[0], paths[1]


@lru_cache(maxsize=1)
def _anchors() -> np.ndarray:
    """Anchor centres (2304, 2) in the detector's unit square, row by row."""
    centres = (np.arange(_GRID) + 0.5) / _GRID
    y, x = np.meshgrid(centres, centres, indexing="ij")
    return np.column_stack([x.ravel(), y.ravel()])


@dataclass(frozen=True)
class Region:
    """A square of the photo, maybe rotated, that a model sees as its whole input.

    ``centre`` (x, y) and ``side`` in photo pixels; ``angle`` in radians, the direction of
    the region's x axis in the photo (y down, so positive turns clockwise on screen).
    """

    centre: tuple[float, float]
    side: float
    angle: float = 0.0

    def matrix(self, size: int) -> np.ndarray:
        """The (2, 3) affine map from input pixel (column, row) of a ``size`` input to photo (x, y)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        k = self.side / size
        offset = np.array(self.centre) - k * (size / 2 - 0.5) * np.array([c + -s, s + c])
        return np.array([[k * c, -k * s, offset[0]], [k * s, k * c, offset[1]]])

    def to_photo(self, unit: np.ndarray) -> np.ndarray:
        """Points (N, 2) in the region's unit square ((0, 0) one corner, (1, 1) the other) to photo (x, y)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        local = (np.asarray(unit, np.float64) - 0.5) * self.side
        return np.column_stack([c * local[:, 0] - s * local[:, 1], s * local[:, 0] + c * local[:, 1]]) + self.centre


def warp(image: np.ndarray, region: Region, size: int) -> np.ndarray:
    """The ``size`` x ``size`` RGB view of ``region``, anti-aliased when it shrinks the photo.

    Outside the photo the border pixels are repeated.
    """
    shrink = region.side / size
    matrix = region.matrix(size)
    if shrink > 1.5:  # area-average first: bilinear sampling alone skips pixels and aliases
        h, w = image.shape[:2]
        small = cv2.resize(image, (max(1, round(w / shrink)), max(1, round(h / shrink))), interpolation=cv2.INTER_AREA)
        fx, fy = small.shape[1] / w, small.shape[0] / h
        to_small = np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5]])
        matrix = to_small @ np.vstack([matrix, [0, 0, 1]])
        image = small
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )


@dataclass(frozen=True)
class Detection:
    """One detector box in photo pixels: ``box`` (x1, y1, x2, y2), ``score`` in (0, 1) and
    six ``keypoints`` (6, 2): right eye, left eye, nose tip, mouth, right and left ear."""

    box: np.ndarray
    score: float
    keypoints: np.ndarray


def tile_regions(width: int, height: int, min_face: float) -> list[Region]:
    """The detector's passes over a photo: the whole of it, then levels of overlapping tiles.

    A pass finds faces down to :data:`MIN_FACE_FRACTION` of its side. The last level's tiles
    are just small enough for a ``min_face`` face; a level in between (half the side above)
    is added only while the tiles would otherwise overlap by more than half. Neighbouring
    tiles overlap by the smallest face the level above finds, so every face the level above
    misses lies whole in some tile.

    Examples
    --------
    >>> len(tile_regions(512, 512, 48))  # a 48 px face is found in one pass at 512 px
    1
    >>> len(tile_regions(1280, 886, 48))  # the whole photo and 3 x 2 tiles of 600 px
    7
    """
    side = float(max(width, height))
    smallest = min_face / MIN_FACE_FRACTION  # the tile side that finds a min_face face
    regions = [Region(((width - 1) / 2, (height - 1) / 2), side)]
    while side > smallest:
        overlap = side * MIN_FACE_FRACTION  # the smallest face the level above finds
        side = smallest if overlap <= smallest / 2 else side / 2
        regions += [
            Region((x + side / 2 - 0.5, y + side / 2 - 0.5), side)
            for y in _starts(height, side, overlap)
            for x in _starts(width, side, overlap)
        ]
    return regions


def _starts(length: int, side: float, overlap: float) -> list[float]:
    """Left (or top) edges of tiles of ``side`` covering ``length`` pixels, overlapping >= ``overlap``."""
    if side >= length:
        return [(length - side) / 2]
    count = math.ceil((length - overlap) / (side - overlap))
    step = (length - side) / (count - 1)
    return [i * step for i in range(count)]


def merge_detections(found: list[Detection], iou: float = NMS_IOU) -> list[Detection]:
    """MediaPipe's weighted non-maximum suppression: overlapping boxes become one, their
    coordinates averaged with the scores as weights, the best score kept; best first."""
    remaining = sorted(found, key=lambda d: d.score, reverse=True)
    merged = []
    while remaining:
        best = remaining[0]
        group = [d for d in remaining if _iou(best.box, d.box) > iou]
        weights = np.array([d.score for d in group])[:, None]
        box = (np.array([d.box for d in group]) * weights).sum(0) / weights.sum()
        keypoints = (np.array([d.keypoints for d in group]) * weights[:, :, None]).sum(0) / weights.sum()
        merged.append(Detection(box, best.score, keypoints))
        remaining = [d for d in remaining if not any(d is g for g in group)]
    return merged


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


class MediaPipeLandmarker(Landmarker):
    """MediaPipe's BlazeFace detector and face mesh (468 points, 68 of them iBUG's), on LiteRT.

    About 10 ms per face on a 512 px photo on a 2-core CPU (``docs/benchmarks.md``); works
    to large yaw, where dlib's frontal detector gives up.

    Parameters
    ----------
    device : str, default: "cpu"
        LiteRT runs on the CPU; another value is logged at info level and ignored.
    min_score : float, default: 0.5
        Detector confidence (0-1) below which a box is dropped (MediaPipe's default).
    min_face : float, default: 48
        Smallest face to search for: the width of the detector's box, photo pixels. Photos
        larger than ``min_face / MIN_FACE_FRACTION`` (600 px) are searched in tiles as well.
        48 px is the smallest face dlib finds with one upsampling (the ``dlib`` backend's
        default: about 40 px in dlib's tighter boxes).
    min_presence : float, default: 0.5
        The face mesh's own face score (0-1) below which a detection is dropped (false boxes).
    threads : int, default: 2
        LiteRT's CPU threads.

    Raises
    ------
    VrnStudioError
        A bundled model file is missing or corrupt.
    """

    name = "mediapipe"

    def __init__(
        self,
        *,
        device: str = "cpu",
        min_score: float = 0.5,
        min_face: float = 48.0,
        min_presence: float = 0.5,
        threads: int = 2,
    ) -> None:
        if str(device) not in ("cpu", "auto"):
            log.info("The 'mediapipe' landmarker runs on the CPU; device %r is ignored", device)
        if not 0 <= min_score < 1 or not 0 <= min_presence < 1:
            raise ValueError(f"min_score and min_presence must lie in [0, 1); got {min_score}, {min_presence}")
        if min_face < 8:
            raise ValueError(f"min_face must be at least 8 pixels; got {min_face}")
        from ai_edge_litert.interpreter import Interpreter

        detector_path, mesh_path = _checked_models()
        self.min_score, self.min_face, self.min_presence = float(min_score), float(min_face), float(min_presence)
        self._detector = _Model(Interpreter(model_path=str(detector_path), num_threads=threads))
        self._mesh = _Model(Interpreter(model_path=str(mesh_path), num_threads=threads))
        self._lock = threading.Lock()  # a LiteRT interpreter serves one call at a time

    def _detect(self, image: np.ndarray) -> list[Face]:
        with self._lock:
            found = []
            for region in tile_regions(image.shape[1], image.shape[0], self.min_face):
                found += self._detect_in(image, region)
            faces = []
            for detection in merge_detections(found):
                eyes = detection.keypoints[1] - detection.keypoints[0]
                box = detection.box
                region = _box_region(box, math.atan2(eyes[1], eyes[0]))
                points = self._points(image, region)
                if points is None:
                    continue
                marks = points[list(MEDIAPIPE_TO_IBUG68), :2].astype(np.float32)
                if not any(_same_face(marks, face.landmarks) for face in faces):
                    faces.append(Face(box=box, score=detection.score, landmarks=marks))
            return faces

    def _landmarks_in_box(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        return self.mesh_points(image, box)[list(MEDIAPIPE_TO_IBUG68), :2].astype(np.float32)

    def mesh_points(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """All 468 face-mesh points (x, y, z) in photo pixels for the face in ``box`` (4,),
        (x1, y1, x2, y2) in photo pixels, of an (H, W, 3) uint8 RGB photo.

        z is MediaPipe's relative depth in the same pixel units (smaller = nearer the camera).
        """
        with self._lock:
            points = self._points(image, _box_region(np.asarray(box, np.float64)), min_presence=0.0)
        assert points is not None  # with min_presence 0 the mesh always answers
        return points

    def _detect_in(self, image: np.ndarray, region: Region) -> list[Detection]:
        tensor = warp(image, region, DETECTOR_SIZE).astype(np.float32) / 127.5 - 1.0
        raw, logits = self._detector(tensor[None])
        scores = 1 / (1 + np.exp(-np.clip(logits.reshape(-1).astype(np.float64), -100, 100)))
        keep = np.flatnonzero(scores >= self.min_score)
        out = []
        anchors = _anchors()
        for i in keep:
            r = raw.reshape(-1, 16)[i] / DETECTOR_SIZE
            centre = r[:2] + anchors[i]
            corners = region.to_photo(np.array([centre - r[2:4] / 2, centre + r[2:4] / 2]))
            box = np.concatenate([corners.min(0), corners.max(0)])
            keypoints = region.to_photo(r[4:16].reshape(6, 2) + anchors[i])
            out.append(Detection(box, float(scores[i]), keypoints))
        return out

    def _points(self, image: np.ndarray, region: Region, *, min_presence: float | None = None) -> np.ndarray | None:
        """468 points (x, y, z) of the face in ``region``: the mesh twice, the second time in
        the box of the first pass's points; None when the mesh says there is no face."""
        first, presence = self._mesh_in(image, region)
        if presence < (self.min_presence if min_presence is None else min_presence):
            return None
        return self._mesh_in(image, _region_of(first))[0]

    def _mesh_in(self, image: np.ndarray, region: Region) -> tuple[np.ndarray, float]:
        """468 points (x, y, z) in photo pixels and the face score for the face in ``region``."""
        tensor = warp(image, region, MESH_SIZE).astype(np.float32) / 255.0
        raw, logit = self._mesh(tensor[None])
        local = raw.reshape(468, 3) / MESH_SIZE
        xy = region.to_photo(local[:, :2])
        z = local[:, 2] * region.side
        return np.column_stack([xy, z]), float(1 / (1 + np.exp(-logit.reshape(-1)[0])))


def _box_region(box: np.ndarray, angle: float = 0.0) -> Region:
    """The face mesh's first input box for a face box (4,): its centre, its longer side grown by ROI_SCALE."""
    return Region(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), ROI_SCALE * max(box[2] - box[0], box[3] - box[1]), angle)


def _same_face(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two sets of 68 points are one face (their boxes overlap by more than half):
    a tile that cuts a face can add a second box that the face mesh then brings onto the first."""
    return _iou(np.concatenate([a.min(0), a.max(0)]), np.concatenate([b.min(0), b.max(0)])) > 0.5


def _region_of(points: np.ndarray) -> Region:
    """The face mesh's input box for points (468, 3): rotated so the outer eye corners lie
    level, centred on the points' box in that frame, its longer side grown by ROI_SCALE."""
    eyes = points[263, :2] - points[33, :2]
    angle = math.atan2(eyes[1], eyes[0])
    c, s = math.cos(angle), math.sin(angle)
    local = points[:, :2] @ np.array([[c, -s], [s, c]])  # rows: (x, y) in the rotated frame
    low, high = local.min(0), local.max(0)
    mid = (low + high) / 2
    centre = np.array([[c, -s], [s, c]]) @ mid
    return Region((float(centre[0]), float(centre[1])), ROI_SCALE * float((high - low).max()), angle)


class _Model:
    """One LiteRT interpreter: a float32 input batch in, its outputs out, largest first
    (the detector: boxes, then scores; the mesh: points, then the face score)."""

    def __init__(self, interpreter: Any) -> None:
        interpreter.allocate_tensors()
        self._interpreter = interpreter
        self._input = interpreter.get_input_details()[0]["index"]
        outputs = sorted(interpreter.get_output_details(), key=lambda o: -int(np.prod(o["shape"])))
        self._outputs = [o["index"] for o in outputs]

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(batch, np.float32))
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(i) for i in self._outputs]
