"""The paper's landmarker: face-alignment's 2D-FAN, fed with boxes from dlib's HOG detector.

Like the release (dlib frontal detector, upsample 1, then 2D-FAN), faces are found with
:class:`~vrn_studio.face.dlib.DlibFaceDetector` and handed to face-alignment through
``detected_faces=``, so its S3FD detector weights are never needed. The 2D-FAN weights must
already be in the torch hub cache: this module never triggers a download.
Imported only when chosen (see ``vrn_studio.face.registry``).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import face_alignment
import face_alignment.api
import numpy as np
import torch.hub

from vrn_studio.errors import WeightsError
from vrn_studio.face.base import Face, Landmarker
from vrn_studio.face.dlib import DlibFaceDetector


def weights_url() -> str:
    """The 2D-FAN weights URL of the installed face-alignment (1.5.0: ``.../2DFAN4-11f355bf06.pth.tar``)."""
    return face_alignment.api.models_urls["2DFAN-4"]


def weights_path() -> Path:
    """Where face-alignment looks for its 2D-FAN weights: ``<torch hub dir>/checkpoints/<file>``.

    The hub dir is ``$TORCH_HOME/hub``, by default ``~/.cache/torch/hub``.
    """
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights_url()).path)


def missing_files() -> str | None:
    """None when the 2D-FAN weights file is present, else where to put it."""
    path = weights_path()
    if path.is_file():
        return None
    return (
        f"The 'fan' landmarker needs face-alignment's 2D-FAN weights {path.name}, which are not in "
        f"{path.parent}. VRN Studio does not download them: fetch {weights_url()} on a machine with "
        f"internet access and copy it there (or set TORCH_HOME to a folder whose hub/checkpoints "
        "holds it). The 'dlib' landmarker works without it."
    )


class FanLandmarker(Landmarker):
    """dlib HOG boxes, then face-alignment's 2D-FAN for the 68 landmarks.

    Parameters
    ----------
    device : str, default: "cpu"
        Torch device for 2D-FAN, such as ``"cpu"`` or ``"cuda:0"`` (resolve ``"auto"`` first).
    upsample, min_score, max_side
        Passed to :class:`~vrn_studio.face.dlib.DlibFaceDetector`.
    flip_input : bool, default: True
        Also run 2D-FAN on the mirrored crop and average (face-alignment's default).

    Raises
    ------
    WeightsError
        The 2D-FAN weights file is not in the torch hub cache (checked before face-alignment
        is asked to load it, so nothing is downloaded).
    """

    name = "fan"

    def __init__(
        self,
        *,
        device: str = "cpu",
        upsample: int = 1,
        min_score: float = 0.25,
        max_side: int = 1600,
        flip_input: bool = True,
    ) -> None:
        problem = missing_files()
        if problem is not None:
            raise WeightsError(problem)
        self.detector = DlibFaceDetector(upsample=upsample, min_score=min_score, max_side=max_side)
        self._fan = face_alignment.FaceAlignment(
            face_alignment.LandmarksType.TWO_D,
            device=str(device),
            flip_input=flip_input,
            face_detector="folder",  # a placeholder needing no weights: boxes always come from us
            compile=False,
        )

    def _detect(self, image: np.ndarray) -> list[Face]:
        found = self.detector(image)
        if not found:
            return []
        landmarks = self._run_fan(image, [box for box, _ in found])
        return [Face(box=box, score=score, landmarks=points) for (box, score), points in zip(found, landmarks)]

    def _landmarks_in_box(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        return self._run_fan(image, [box])[0]

    def _run_fan(self, image: np.ndarray, boxes: list[np.ndarray]) -> list[np.ndarray]:
        """2D-FAN landmarks (68, 2) for each box (x1, y1, x2, y2) of an RGB photo."""
        landmarks = self._fan.get_landmarks_from_image(image, detected_faces=[np.asarray(b) for b in boxes])
        return [np.asarray(points, dtype=np.float32)[:, :2] for points in landmarks]
