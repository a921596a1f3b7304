"""Building blocks of the Volumetric Regression Network: batch norm, residual, hourglass.

The module registration order of every block is the *canonical Torch7 order* that the
weights importer relies on (see :mod:`vrn_studio.weights.t7`): inside a residual the main
branch comes before the skip; inside an hourglass level the full-resolution branch comes
before the pooled one. ``model.modules()`` therefore lists convolutions and batch norms in
the same order as a depth-first walk of the released ``.t7`` module tree.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

NormMode = Literal["image", "running"]
"""How batch norm normalises at inference: ``"image"`` uses the statistics of each input
image (what the released Torch7 demo does, as it never calls ``:evaluate()``),
``"running"`` uses the stored running mean and variance."""


class BatchNorm(nn.BatchNorm2d):
    """Batch normalisation whose inference statistics are selectable.

    In training mode it is a plain ``BatchNorm2d``. In evaluation mode it normalises either
    with each image's own spatial mean and (biased) variance (``norm="image"``: identical to
    Torch7 training-mode batch norm on a batch of one, and independent of batch size) or with
    the running statistics (``norm="running"``).

    The state holds exactly ``weight``, ``bias``, ``running_mean`` and ``running_var``, as the
    Torch7 module does (no ``num_batches_tracked``).
    """

    def __init__(self, features: int, *, norm: NormMode = "image") -> None:
        super().__init__(features, eps=1e-5, momentum=0.1)
        self.register_buffer("num_batches_tracked", None)
        self.norm = norm

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args, **kwargs) -> None:  # noqa: ANN001
        # BatchNorm2d treats a state without version metadata (safetensors has none) as a
        # pre-2018 checkpoint and adds num_batches_tracked, which this module does not keep.
        nn.Module._load_from_state_dict(self, state_dict, prefix, local_metadata, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.training or self.norm == "running":
            return super().forward(x)
        return F.instance_norm(x, weight=self.weight, bias=self.bias, use_input_stats=True, eps=self.eps)


class Residual(nn.Module):
    """Pre-activation bottleneck residual: (BN, ReLU, conv) x3 plus a skip.

    Main branch: 1x1 ``in -> out/2``, 3x3 ``out/2 -> out/2`` (pad 1), 1x1 ``out/2 -> out``.
    Skip: identity when ``in == out``, else a 1x1 convolution ``in -> out`` without batch norm.
    Spatial size is preserved; input and output are (B, C, H, W).
    """

    def __init__(self, in_features: int, out_features: int, *, norm: NormMode = "image") -> None:
        super().__init__()
        mid = out_features // 2
        self.bn1 = BatchNorm(in_features, norm=norm)
        self.conv1 = nn.Conv2d(in_features, mid, 1)
        self.bn2 = BatchNorm(mid, norm=norm)
        self.conv2 = nn.Conv2d(mid, mid, 3, padding=1)
        self.bn3 = BatchNorm(mid, norm=norm)
        self.conv3 = nn.Conv2d(mid, out_features, 1)
        self.skip = nn.Conv2d(in_features, out_features, 1) if in_features != out_features else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        y = self.conv1(F.relu(self.bn1(x)))
        y = self.conv2(F.relu(self.bn2(y)))
        y = self.conv3(F.relu(self.bn3(y)))
        return y + self.skip(x)


def _residuals(count: int, features: int, norm: NormMode) -> list[nn.Module]:
    return [Residual(features, features, norm=norm) for _ in range(count)]


class Hourglass(nn.Module):
    """One level of VRN's hourglass (recursive); ``depth`` levels in all.

    ``out = Residual(same(x) + low(x))`` where ``same`` = three residuals then the next inner
    level at full resolution (innermost: three residuals only), and ``low`` = max-pool 2,
    six residuals (innermost: nine), nearest upsample x2. This is the released network's
    layout, not the textbook Newell hourglass: every level pools once from the *same*
    resolution, so the lowest resolution is half the input. With depth 4 a hourglass holds
    43 residuals. Input (B, C, H, W) with even H and W; output the same shape.
    """

    def __init__(self, depth: int, features: int, *, norm: NormMode = "image") -> None:
        super().__init__()
        inner: list[nn.Module] = [Hourglass(depth - 1, features, norm=norm)] if depth > 1 else []
        self.same = nn.Sequential(*_residuals(3, features, norm), *inner)
        self.low = nn.Sequential(
            nn.MaxPool2d(2),
            *_residuals(6 if depth > 1 else 9, features, norm),
            nn.Upsample(scale_factor=2, mode="nearest"),
        )
        self.out = Residual(features, features, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.out(self.same(x) + self.low(x))


class ConvBnRelu(nn.Sequential):
    """1x1 convolution, batch norm, ReLU."""

    def __init__(self, in_features: int, out_features: int, *, norm: NormMode = "image") -> None:
        super().__init__(nn.Conv2d(in_features, out_features, 1), BatchNorm(out_features, norm=norm), nn.ReLU())


class Stack(nn.Module):
    """One stack: ``x + F(x)`` with ``F`` = hourglass then (1x1 conv, BN, ReLU) x2."""

    def __init__(self, features: int, depth: int, *, norm: NormMode = "image") -> None:
        super().__init__()
        self.body = nn.Sequential(
            Hourglass(depth, features, norm=norm),
            ConvBnRelu(features, features, norm=norm),
            ConvBnRelu(features, features, norm=norm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x + self.body(x)


def stacked(count: int, features: int, depth: int, *, norm: NormMode = "image") -> nn.Sequential:
    """``count`` :class:`Stack` modules of ``features`` channels and hourglass ``depth``, in sequence."""
    return nn.Sequential(*[Stack(features, depth, norm=norm) for _ in range(count)])


class Head(nn.Sequential):
    """Output head: 1x1 conv, BN, ReLU (``features`` channels), then 1x1 conv to ``out_channels``."""

    def __init__(self, features: int, out_channels: int, *, norm: NormMode = "image") -> None:
        super().__init__(ConvBnRelu(features, features, norm=norm), nn.Conv2d(features, out_channels, 1))


class Stem(nn.Sequential):
    """Input stem: 7x7/2 conv, BN, ReLU, residual, max-pool 2, two residuals (size / 4)."""

    def __init__(self, in_channels: int, features: int, *, norm: NormMode = "image") -> None:
        super().__init__(
            nn.Conv2d(in_channels, 64, 7, stride=2, padding=3),
            BatchNorm(64, norm=norm),
            nn.ReLU(),
            Residual(64, 128, norm=norm),
            nn.MaxPool2d(2),
            Residual(128, 128, norm=norm),
            Residual(128, features, norm=norm),
        )


def set_norm_mode(model: nn.Module, norm: NormMode) -> None:
    """Switch every :class:`BatchNorm` in ``model`` to ``norm`` (``"image"`` or ``"running"``)."""
    if norm not in ("image", "running"):
        raise ValueError(f"Unknown norm mode {norm!r}. Available: image, running.")
    for module in model.modules():
        if isinstance(module, BatchNorm):
            module.norm = norm
