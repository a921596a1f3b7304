"""Reconstruction error: the paper's NME (eq. 2) over the face region, with optional ICP alignment,
surface quality (normal error, terracing), and comparison with a scan (distances, heat map)."""

from vrn_studio.eval.compare import (
    HEAT_COLORMAP,
    CompareError,
    Comparison,
    compare_meshes,
    heatmap_colors,
    heatmap_picture,
    load_landmarks_3d,
    load_mesh_file,
)
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
from vrn_studio.eval.surface import (
    FACE_PARTS,
    measure_prediction,
    normal_angle_error,
    normal_angles,
    part_masks,
    terracing,
)

__all__ = [
    "DEFAULT_RADIUS_FACTOR",
    "FACE_PARTS",
    "HEAT_COLORMAP",
    "LEFT_EYE_OUTER",
    "NOSE_TIP",
    "RIGHT_EYE_OUTER",
    "CompareError",
    "Comparison",
    "DatasetError",
    "Sample",
    "align_onto_region",
    "apply_transform",
    "compare_meshes",
    "face_region_mask",
    "heatmap_colors",
    "heatmap_picture",
    "icp_align",
    "iter_aflw2000_3d",
    "iter_florence",
    "iter_samples",
    "load_landmarks_3d",
    "load_mesh_file",
    "measure_prediction",
    "nme",
    "normal_angle_error",
    "normal_angles",
    "outer_interocular",
    "part_masks",
    "similarity_transform",
    "surface_distance",
    "terracing",
]
