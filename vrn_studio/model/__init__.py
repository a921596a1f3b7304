"""VRN networks and their building blocks."""

from vrn_studio.model.blocks import BatchNorm, NormMode, set_norm_mode
from vrn_studio.model.guided import VRNGuided
from vrn_studio.model.heatmaps import HEATMAP_SIGMA, LANDMARKS, heatmap_argmax, landmark_heatmaps
from vrn_studio.model.multitask import MultitaskOutput, VRNMultitask
from vrn_studio.model.vrn import DEPTH_BINS, INPUT_SIZE, VRN, parametric_layers, release_volume

__all__ = ["DEPTH_BINS", "INPUT_SIZE", "VRN", "BatchNorm", "NormMode", "parametric_layers", "set_norm_mode"]
__all__ += [
    "HEATMAP_SIGMA",
    "LANDMARKS",
    "MultitaskOutput",
    "VRNGuided",
    "VRNMultitask",
    "heatmap_argmax",
    "landmark_heatmaps",
    "release_volume",
]
