"""Face detection and 68-point landmarks, with backends chosen by name.

>>> from vrn_studio.face import get_landmarker
>>> from vrn_studio.image import load_image, sample_image_path
>>> landmarker = get_landmarker("dlib")                   # or "auto", "fan"
>>> faces = landmarker.detect(load_image(sample_image_path()))  # [] when there is no face
>>> len(faces), faces[0].landmarks.shape
(1, (68, 2))
"""

from vrn_studio.face.base import Face, Landmarker, face_from_points, no_face_error, select_face
from vrn_studio.face.registry import BACKENDS, available_landmarkers, get_landmarker

__all__ = [
    "BACKENDS",
    "Face",
    "Landmarker",
    "available_landmarkers",
    "face_from_points",
    "get_landmarker",
    "no_face_error",
    "select_face",
]
