"""Face detection and 68-point landmarks, with backends chosen by name.

>>> from vrn_studio.face import get_landmarker            # doctest: +SKIP
>>> landmarker = get_landmarker("auto")                   # doctest: +SKIP
>>> faces = landmarker.detect("photo.jpg")                # [] when there is no face
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
