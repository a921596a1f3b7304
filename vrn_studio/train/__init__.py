"""Training data: the voxeliser and the paper's joint augmentation.

This package sits above the core (it imports ``vrn_studio.mesh`` and ``vrn_studio.crop``).
"""

from vrn_studio.train.voxelise import VOLUME_SHAPE, is_closed, voxelise

__all__ = ["VOLUME_SHAPE", "is_closed", "voxelise"]
