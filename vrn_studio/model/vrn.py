"""The unguided Volumetric Regression Network (Jackson et al., ICCV 2017)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from vrn_studio.model.blocks import BatchNorm, Head, NormMode, Stem, stacked

DEPTH_BINS = 200
"""Depth slices of the released volume."""
INPUT_SIZE = 192
"""Side of the square RGB crop the released network takes, in pixels."""


class VRN(nn.Module):
    """VRN: a photo crop in, a voxel occupancy volume out.

    The defaults build the released unguided network (19,184,968 parameters, 1,644 state
    tensors): stem to 1/4 resolution, ``stacks`` hourglass stacks of ``features`` channels,
    a 1x1 head to ``depth_bins`` channels, bilinear upsampling (align_corners=True, Torch7
    semantics) back to the input size, sigmoid.

    Parameters
    ----------
    in_channels : int, default: 3
        Input channels (3 for RGB; 71 for RGB + 68 landmark heatmaps).
    features : int, default: 256
        Channels inside the hourglasses.
    stacks : int, default: 2
        Number of hourglass stacks.
    depth_bins : int, default: 200
        Output depth slices.
    hourglass_depth : int, default: 4
        Levels of each hourglass.
    input_size : int, default: 192
        Crop side the network was trained at (a multiple of 8). The network itself runs at
        any multiple of 8; :func:`~vrn_studio.model.release_volume` uses this to feed it the
        pipeline's 192 px crop and bring its volume back to 200 x 192 x 192.
    norm : {"image", "running"}, default: "image"
        Batch-norm statistics at inference; ``"image"`` reproduces the release.

    Examples
    --------
    >>> import torch
    >>> net = VRN(features=16, stacks=1, depth_bins=8, hourglass_depth=2).eval()
    >>> net(torch.rand(1, 3, 32, 32)).shape
    torch.Size([1, 8, 32, 32])
    """

    def __init__(
        self,
        in_channels: int = 3,
        features: int = 256,
        stacks: int = 2,
        depth_bins: int = DEPTH_BINS,
        hourglass_depth: int = 4,
        *,
        input_size: int = INPUT_SIZE,
        norm: NormMode = "image",
    ) -> None:
        super().__init__()
        if input_size < 8 or input_size % 8:
            raise ValueError(f"input_size must be a positive multiple of 8; got {input_size}")
        self.input_size = input_size
        self.in_channels = in_channels
        self.depth_bins = depth_bins
        self.stem = Stem(in_channels, features, norm=norm)
        self.stacks = stacked(stacks, features, hourglass_depth, norm=norm)
        self.head = Head(features, depth_bins, norm=norm)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid volume, shape (B, depth_bins, H, W), for a (B, in_channels, H, W) input.

        H and W must be multiples of 8.
        """
        check_input(x, self.in_channels)
        return upsample_head(self.head(self.stacks(self.stem(x))), x.shape[-2:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Occupancy probabilities in [0, 1], shape (B, depth_bins, H, W), indexed (depth, y, x).

        ``x`` is RGB in [0, 1], shape (B, in_channels, H, W). Higher depth index = nearer
        the camera.
        """
        return torch.sigmoid(self.forward_logits(x))


def check_input(x: torch.Tensor, in_channels: int) -> None:
    """Raise ``ValueError`` unless ``x`` is (B, in_channels, H, W) with H and W multiples of 8."""
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise ValueError(f"Input shape is {tuple(x.shape)} and should be (B, {in_channels}, H, W)")
    if x.shape[-1] % 8 or x.shape[-2] % 8:
        raise ValueError(f"Input height and width must be multiples of 8; got {tuple(x.shape[-2:])}")


def upsample_head(y: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinear upsampling of a (B, C, h, w) head output to ``size`` (H, W), Torch7 style.

    Torch7's ``nn.SpatialUpSamplingBilinear`` has ``align_corners=True`` semantics: the corner
    cells of the low-resolution map land exactly on the corner pixels.
    """
    return F.interpolate(y, size=tuple(size), mode="bilinear", align_corners=True)


def parametric_layers(model: nn.Module) -> list[nn.Module]:
    """Convolutions and batch norms of ``model`` in canonical Torch7 order."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, BatchNorm))]


def release_volume(
    net: VRN,
    rgb: torch.Tensor,
    landmarks: torch.Tensor | None = None,
    *,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Occupancy probabilities for crops at the pipeline's resolution, whatever the network's.

    A network trained at ``net.input_size`` smaller than the crop gets the area-averaged
    crop (and the landmarks moved to its grid); its (B, D, s, s) volume is resampled
    trilinearly to ``(D * S / s, S, S)`` with pixel and voxel centres aligned
    (``u = (u' + 0.5) * S / s - 0.5`` on every axis, the convention of
    :class:`~vrn_studio.train.synthetic.SyntheticFaces`). A guided network
    (:class:`~vrn_studio.model.VRNGuided`) also gets its landmark heatmaps.

    Parameters
    ----------
    net : VRN
        The network (any variant with a volume output).
    rgb : torch.Tensor, shape (B, 3, S, S)
        Crops in [0, 1] (S = 192 in the pipeline).
    landmarks : torch.Tensor, shape (B, 68, 2), optional
        The 68 landmarks (x, y) in crop pixels; required by guided networks.
    forward : callable, optional
        What runs the network on its input (e.g. a ``torch.compile``'d ``net``).

    Returns
    -------
    torch.Tensor, shape (B, D * S / s, S, S)
        Probabilities in [0, 1], indexed (depth, y, x); (B, 200, 192, 192) for the release.

    Examples
    --------
    >>> import torch
    >>> net = VRN(features=16, stacks=1, depth_bins=8, hourglass_depth=2, input_size=16).eval()
    >>> release_volume(net, torch.rand(1, 3, 32, 32)).shape
    torch.Size([1, 16, 32, 32])
    """
    from vrn_studio.model.guided import VRNGuided

    run = net if forward is None else forward  # not `or`: a compiled module has no truth value
    full = rgb.shape[-1]
    x = rgb if net.input_size == full else F.interpolate(rgb, size=(net.input_size,) * 2, mode="area")
    if isinstance(net, VRNGuided):
        if landmarks is None:
            raise ValueError("A guided network needs the crop's 68 landmarks")
        x = net.stack_input(x, (landmarks.to(x) + 0.5) * (net.input_size / full) - 0.5)
    volume = run(x)
    return volume if net.input_size == full else resample_volume(volume, full)


def resample_volume(volume: torch.Tensor, size: int) -> torch.Tensor:
    """A (B, D, s, s) volume resampled trilinearly to (B, D * size / s, size, size), pixel and
    voxel centres aligned as in :func:`release_volume` (a network's output at the crop's size).

    Examples
    --------
    >>> resample_volume(torch.zeros(1, 100, 96, 96), 192).shape
    torch.Size([1, 200, 192, 192])
    """
    depth = round(volume.shape[1] * size / volume.shape[-1])
    return F.interpolate(volume[:, None], size=(depth, size, size), mode="trilinear", align_corners=False)[:, 0]
