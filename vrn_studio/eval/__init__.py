"""Reconstruction error: the paper's NME (eq. 2) over the face region, with optional ICP alignment."""

from vrn_studio.eval.dataset import DatasetError, Sample, iter_aflw2000_3d, iter_florence, iter_samples
from vrn_studio.eval.icp import apply_transform, icp_align, similarity_transform
from vrn_studio.eval.nme import (
    DEFAULT_RADIUS_FACTOR,
    LEFT_EYE_OUTER,
    NOSE_TIP,
    RIGHT_EYE_OUTER,
    face_region_mask,
    nme,
    outer_interocular,
    surface_distance,
)

__all__ = [
    "DEFAULT_RADIUS_FACTOR",
    "DatasetError",
    "Sample",
    "iter_aflw2000_3d",
    "iter_florence",
    "iter_samples",
    "LEFT_EYE_OUTER",
    "NOSE_TIP",
    "RIGHT_EYE_OUTER",
    "apply_transform",
    "face_region_mask",
    "icp_align",
    "nme",
    "outer_interocular",
    "similarity_transform",
    "surface_distance",
]
