"""Photo <-> crop transform and the release's face crop rule."""

from vrn_studio.crop.transform import CropTransform

__all__ = ["CropTransform"]
