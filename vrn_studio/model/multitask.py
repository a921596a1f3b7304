"""VRN-Multitask: a shared trunk hourglass forking into a landmark and a volume hourglass.

Design
------
The paper: "3 hourglasses: the first feeds a fork of two; one fork regresses 68 landmark
heatmaps, the other the volume". Built from the unguided blocks:

- trunk: the VRN :class:`~vrn_studio.model.blocks.Stem` (to 1/4 resolution) then
  ``trunk_stacks`` residual hourglass :class:`~vrn_studio.model.blocks.Stack` (1 in the paper);
- landmark fork: ``fork_stacks`` stacks then a head (1x1 conv, BN, ReLU, 1x1 conv to 68
  channels);
- volume fork: ``fork_stacks`` stacks then VRN's head (1x1 conv, BN, ReLU, 1x1 conv to
  ``depth_bins`` channels).

Both forks read the same trunk features; neither feeds the other. Both heads work at 1/4
resolution and are upsampled bilinearly (align_corners=True, as VRN's volume) to the input
size. The heatmaps are produced at the input size because their targets are Gaussians of
sigma 1 px at 192 px (:func:`~vrn_studio.model.heatmaps.landmark_heatmaps`): at 1/4
resolution that is 0.25 px, narrower than a pixel and not representable, whereas at full
size the loss compares against the same heatmaps VRN-Guided takes as input, and
:func:`~vrn_studio.model.heatmaps.heatmap_argmax` reads the landmarks out in crop pixels.
The heatmaps are a plain regression (no activation; targets in [0, 1], usually an MSE loss),
the volume gives logits for the per-voxel sigmoid cross-entropy.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from vrn_studio.model.blocks import Head, NormMode, Stem, stacked
from vrn_studio.model.heatmaps import LANDMARKS
from vrn_studio.model.vrn import DEPTH_BINS, check_input, upsample_head


class MultitaskOutput(NamedTuple):
    """What :class:`VRNMultitask` returns.

    Attributes
    ----------
    volume : torch.Tensor, shape (B, depth_bins, H, W)
        Volume logits (:meth:`VRNMultitask.forward_logits`) or occupancy probabilities in
        [0, 1] (:meth:`VRNMultitask.forward`), indexed (depth, y, x).
    heatmaps : torch.Tensor, shape (B, landmarks, H, W)
        Regressed landmark heatmaps (no activation; targets peak at 1.0).
    """

    volume: torch.Tensor
    heatmaps: torch.Tensor


class VRNMultitask(nn.Module):
    """VRN-Multitask: an RGB crop in, a volume and 68 landmark heatmaps out.

    See the module docstring for the design. The input size is that of the tensor (H and W
    multiples of 8; 192 for the paper's network).

    Parameters
    ----------
    in_channels : int, default: 3
        Input channels (RGB).
    features : int, default: 256
        Channels inside the hourglasses (the width).
    depth_bins : int, default: 200
        Output depth slices.
    hourglass_depth : int, default: 4
        Levels of each hourglass.
    landmarks : int, default: 68
        Heatmap channels.
    trunk_stacks : int, default: 1
        Hourglass stacks of the shared trunk.
    fork_stacks : int, default: 1
        Hourglass stacks of each fork.
    norm : {"image", "running"}, default: "image"
        Batch-norm statistics at inference.

    Examples
    --------
    >>> import torch
    >>> net = VRNMultitask(features=16, depth_bins=8, hourglass_depth=2).eval()
    >>> out = net(torch.rand(1, 3, 32, 32))
    >>> out.volume.shape, out.heatmaps.shape
    (torch.Size([1, 8, 32, 32]), torch.Size([1, 68, 32, 32]))
    """

    def __init__(
        self,
        in_channels: int = 3,
        features: int = 256,
        depth_bins: int = DEPTH_BINS,
        hourglass_depth: int = 4,
        *,
        landmarks: int = LANDMARKS,
        trunk_stacks: int = 1,
        fork_stacks: int = 1,
        norm: NormMode = "image",
    ) -> None:
        super().__init__()
        for name, value in (
            ("trunk_stacks", trunk_stacks),
            ("fork_stacks", fork_stacks),
            ("landmarks", landmarks),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1; got {value}")
        self.in_channels = in_channels
        self.depth_bins = depth_bins
        self.landmarks = landmarks
        self.stem = Stem(in_channels, features, norm=norm)
        self.trunk = stacked(trunk_stacks, features, hourglass_depth, norm=norm)
        self.landmark_fork = stacked(fork_stacks, features, hourglass_depth, norm=norm)
        self.landmark_head = Head(features, landmarks, norm=norm)
        self.volume_fork = stacked(fork_stacks, features, hourglass_depth, norm=norm)
        self.volume_head = Head(features, depth_bins, norm=norm)

    def forward_logits(self, x: torch.Tensor) -> MultitaskOutput:
        """Volume logits (B, depth_bins, H, W) and heatmaps (B, landmarks, H, W).

        ``x`` is RGB in [0, 1], shape (B, in_channels, H, W), H and W multiples of 8.
        """
        check_input(x, self.in_channels)
        shared = self.trunk(self.stem(x))
        size = x.shape[-2:]
        volume = upsample_head(self.volume_head(self.volume_fork(shared)), size)
        heatmaps = upsample_head(self.landmark_head(self.landmark_fork(shared)), size)
        return MultitaskOutput(volume, heatmaps)

    def forward(self, x: torch.Tensor) -> MultitaskOutput:
        """Occupancy probabilities in [0, 1] (B, depth_bins, H, W) and heatmaps (B, landmarks, H, W)."""
        logits, heatmaps = self.forward_logits(x)
        return MultitaskOutput(torch.sigmoid(logits), heatmaps)
