"""VRN networks and their building blocks."""

from vrn_studio.model.blocks import BatchNorm, NormMode, set_norm_mode
from vrn_studio.model.vrn import DEPTH_BINS, INPUT_SIZE, VRN, parametric_layers

__all__ = ["DEPTH_BINS", "INPUT_SIZE", "VRN", "BatchNorm", "NormMode", "parametric_layers", "set_norm_mode"]
