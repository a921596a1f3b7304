"""Training data: the voxeliser and the paper's joint augmentation.

This package sits above the core (it imports ``vrn_studio.mesh`` and ``vrn_studio.crop``).
"""

from vrn_studio.train.augment import FLIP_PERMUTATION, AugmentParams, augment, sample_params, warp_vertices
from vrn_studio.train.voxelise import VOLUME_SHAPE, is_closed, voxelise

__all__ = [
    "FLIP_PERMUTATION",
    "VOLUME_SHAPE",
    "AugmentParams",
    "augment",
    "is_closed",
    "sample_params",
    "voxelise",
    "warp_vertices",
]
