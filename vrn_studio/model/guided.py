"""VRN-Guided: the unguided VRN with 68 landmark heatmaps stacked with the image.

How the heatmaps are injected
-----------------------------
The paper only says the heatmaps are "stacked with the image". Here they are concatenated
with the RGB channels at the input, giving 71 channels (R, G, B, then landmarks 1..68 in
iBUG order); the network is the unguided VRN with ``in_channels=71``, so only the first 7x7
convolution differs (68 * 64 * 49 = 213,248 more weights than the unguided network of the
same size) and every other block is shared. Each heatmap is an unnormalised Gaussian with
peak 1.0 (:func:`~vrn_studio.model.heatmaps.landmark_heatmaps`, sigma 1 px at 192 px), so it
lies in [0, 1] like the RGB channels (no further normalisation).

Why: it is the literal reading of "stacked", it needs no new block, and the landmark input
is identical for a synthetic render and a real photo (only the detector's 68 points enter),
which is what lets a model trained on renders generalise to photos through that channel.
At training time the heatmaps come from the ground-truth landmarks; at test time from a
landmark detector (or the landmark fork of :class:`~vrn_studio.model.multitask.VRNMultitask`
read out with :func:`~vrn_studio.model.heatmaps.heatmap_argmax`).
"""

from __future__ import annotations

import torch

from vrn_studio.model.blocks import NormMode
from vrn_studio.model.heatmaps import HEATMAP_SIGMA, LANDMARKS, landmark_heatmaps
from vrn_studio.model.vrn import DEPTH_BINS, INPUT_SIZE, VRN


class VRNGuided(VRN):
    """VRN-Guided: (RGB + 68 landmark heatmaps) in, voxel occupancy volume out.

    A :class:`~vrn_studio.model.vrn.VRN` whose input has ``3 + landmarks`` channels; see the
    module docstring for how the heatmaps are injected and why. ``forward`` and
    ``forward_logits`` take the stacked (B, 71, H, W) tensor; :meth:`forward_with_landmarks`
    and :meth:`stack_input` build it from RGB and landmark coordinates. The input size is
    that of the tensor (H and W multiples of 8; 192 for the paper's network); the heatmap
    Gaussians scale with it.

    Parameters
    ----------
    features : int, default: 256
        Channels inside the hourglasses (the width).
    stacks : int, default: 2
        Number of hourglass stacks.
    depth_bins : int, default: 200
        Output depth slices.
    hourglass_depth : int, default: 4
        Levels of each hourglass.
    landmarks : int, default: 68
        Landmarks, i.e. heatmap channels.
    sigma : float, default: 1.0
        Heatmap standard deviation in pixels at the 192 px crop.
    input_size : int, default: 192
        Crop side the network was trained at (see :class:`~vrn_studio.model.VRN`).
    norm : {"image", "running"}, default: "image"
        Batch-norm statistics at inference.

    Examples
    --------
    >>> import torch
    >>> net = VRNGuided(features=16, stacks=1, depth_bins=8, hourglass_depth=2).eval()
    >>> net.in_channels
    71
    >>> net.forward_with_landmarks(torch.rand(1, 3, 32, 32), torch.rand(1, 68, 2) * 31).shape
    torch.Size([1, 8, 32, 32])
    """

    def __init__(
        self,
        features: int = 256,
        stacks: int = 2,
        depth_bins: int = DEPTH_BINS,
        hourglass_depth: int = 4,
        *,
        landmarks: int = LANDMARKS,
        sigma: float = HEATMAP_SIGMA,
        input_size: int = INPUT_SIZE,
        norm: NormMode = "image",
    ) -> None:
        if landmarks < 1:
            raise ValueError(f"landmarks must be at least 1; got {landmarks}")
        super().__init__(
            3 + landmarks, features, stacks, depth_bins, hourglass_depth, input_size=input_size, norm=norm
        )
        self.landmarks = landmarks
        self.sigma = sigma

    def stack_input(self, rgb: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        """The network input: RGB then one heatmap per landmark, shape (B, 3 + N, H, W).

        Parameters
        ----------
        rgb : torch.Tensor, shape (B, 3, H, W)
            Crop in [0, 1].
        landmarks : torch.Tensor, shape (B, N, 2)
            Landmarks (x, y) in crop pixels (pixel centres at integers); NaN or outside the
            crop gives an empty channel.
        """
        if rgb.ndim != 4 or rgb.shape[1] != 3:
            raise ValueError(f"RGB shape is {tuple(rgb.shape)} and should be (B, 3, H, W)")
        if (
            landmarks.ndim != 3
            or landmarks.shape[0] != rgb.shape[0]
            or landmarks.shape[1:] != (self.landmarks, 2)
        ):
            raise ValueError(
                f"Landmarks shape is {tuple(landmarks.shape)} and should be ({rgb.shape[0]}, {self.landmarks}, 2)"
            )
        heatmaps = landmark_heatmaps(landmarks.to(rgb.device), rgb.shape[-2:], self.sigma, dtype=rgb.dtype)
        return torch.cat([rgb, heatmaps], dim=1)

    def forward_with_landmarks(self, rgb: torch.Tensor, landmarks: torch.Tensor) -> torch.Tensor:
        """Occupancy probabilities (B, depth_bins, H, W) from a crop and its landmarks.

        Same as ``self(self.stack_input(rgb, landmarks))``; see :meth:`stack_input`.
        """
        return self(self.stack_input(rgb, landmarks))
