"""Training: the voxeliser, the paper's joint augmentation, the config and the training loop.

This package sits above the pipeline (it imports ``vrn_studio.mesh``, ``vrn_studio.crop``,
``vrn_studio.model`` and ``vrn_studio.pipeline.device``).
"""

from vrn_studio.train.augment import FLIP_PERMUTATION, AugmentParams, augment, sample_params, warp_vertices
from vrn_studio.train.config import ConfigError, TrainConfig
from vrn_studio.train.dataset import FolderDataset
from vrn_studio.train.loop import (
    CheckpointError,
    build_model,
    compute_loss,
    latest_checkpoint,
    load_checkpoint,
    train,
)
from vrn_studio.train.smoke import SyntheticSmokeDataset
from vrn_studio.train.voxelise import VOLUME_SHAPE, is_closed, voxelise

__all__ = [
    "FLIP_PERMUTATION",
    "VOLUME_SHAPE",
    "AugmentParams",
    "CheckpointError",
    "ConfigError",
    "FolderDataset",
    "SyntheticSmokeDataset",
    "TrainConfig",
    "augment",
    "build_model",
    "compute_loss",
    "is_closed",
    "latest_checkpoint",
    "load_checkpoint",
    "sample_params",
    "train",
    "voxelise",
    "warp_vertices",
]
