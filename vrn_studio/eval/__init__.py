"""Reconstruction error: the paper's NME (eq. 2) over the face region, with optional ICP alignment,
and surface quality (normal error, terracing)."""

from vrn_studio.eval.dataset import DatasetError, Sample, iter_aflw2000_3d, iter_florence, iter_samples
from vrn_studio.eval.icp import apply_transform, icp_align, similarity_transform
from vrn_studio.eval.nme import (
    DEFAULT_RADIUS_FACTOR,
    LEFT_EYE_OUTER,
    NOSE_TIP,
    RIGHT_EYE_OUTER,
    align_onto_region,
    face_region_mask,
    nme,
    outer_interocular,
    surface_distance,
)
from vrn_studio.eval.surface import measure_prediction, normal_angle_error, terracing

__all__ = [
    "DEFAULT_RADIUS_FACTOR",
    "LEFT_EYE_OUTER",
    "NOSE_TIP",
    "RIGHT_EYE_OUTER",
    "DatasetError",
    "Sample",
    "align_onto_region",
    "apply_transform",
    "face_region_mask",
    "icp_align",
    "iter_aflw2000_3d",
    "iter_florence",
    "iter_samples",
    "measure_prediction",
    "nme",
    "normal_angle_error",
    "outer_interocular",
    "similarity_transform",
    "surface_distance",
    "terracing",
]
