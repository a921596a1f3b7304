"""Photo <-> crop transform and the release's face crop rule."""

from vrn_studio.crop.crop import (
    CROP_SIZE,
    FACE_SIZE,
    crop_face,
    crop_image,
    release_transform,
    validate_landmarks,
)
from vrn_studio.crop.transform import CropTransform, resize_points

__all__ = [
    "CROP_SIZE",
    "FACE_SIZE",
    "CropTransform",
    "crop_face",
    "crop_image",
    "release_transform",
    "resize_points",
    "validate_landmarks",
]
