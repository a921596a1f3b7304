"""Landmark heatmaps: 68 points <-> one 2D Gaussian channel per point.

Coordinates are crop pixels (x, y) with pixel centres at integers, as in
:class:`vrn_studio.crop.CropTransform`: pixel (0, 0) is the centre of the top-left pixel and
the image covers ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.

The paper's Gaussians have a standard deviation of 1 px on the 192 px crop (about 6 px
across). On a crop of another size the Gaussian keeps the same size *relative to the face*:
``sigma_x = sigma * W / 192`` and ``sigma_y = sigma * H / 192``, so a heatmap made at 96 px
is the 192 px heatmap resized by half.
"""

from __future__ import annotations

import math

import torch

LANDMARKS = 68
"""Landmarks per face (iBUG-68 layout)."""
HEATMAP_SIGMA = 1.0
"""Standard deviation of each landmark Gaussian, in pixels of a :data:`REFERENCE_SIZE` crop."""
REFERENCE_SIZE = 192
"""Crop side, in pixels, at which :data:`HEATMAP_SIGMA` holds."""


def heatmap_sigma(size: tuple[int, int], sigma: float = HEATMAP_SIGMA) -> tuple[float, float]:
    """Per-axis Gaussian standard deviation ``(sigma_y, sigma_x)`` in pixels of a ``size`` crop.

    Parameters
    ----------
    size : (int, int)
        Heatmap ``(H, W)`` in pixels.
    sigma : float, default: 1.0
        Standard deviation in pixels at the 192 px reference crop (> 0).
    """
    height, width = size
    if height <= 0 or width <= 0:
        raise ValueError(f"Heatmap size must be positive; got {tuple(size)}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive; got {sigma}")
    return sigma * height / REFERENCE_SIZE, sigma * width / REFERENCE_SIZE


def landmark_heatmaps(
    landmarks: torch.Tensor,
    size: tuple[int, int],
    sigma: float = HEATMAP_SIGMA,
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """One unnormalised 2D Gaussian per landmark, peak 1.0 at the landmark.

    ``h[b, k, y, x] = exp(-(x - u)^2 / (2 sx^2) - (y - v)^2 / (2 sy^2))`` for landmark
    ``(u, v) = landmarks[b, k]``, with ``(sy, sx) = heatmap_sigma(size, sigma)``. A landmark
    outside the image (beyond ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``) or not finite (NaN marks a
    missing point) gives an all-zero channel. Values lie in [0, 1], like the RGB they are
    stacked with.

    Parameters
    ----------
    landmarks : torch.Tensor, shape (B, N, 2) or (N, 2)
        Landmarks (x, y) in crop pixels; N is usually 68.
    size : (int, int)
        Heatmap ``(H, W)`` in pixels, normally the crop size.
    sigma : float, default: 1.0
        Standard deviation in pixels at the 192 px reference crop; scaled with ``size``.
    dtype : torch.dtype, default: torch.float32
        Floating dtype of the result (computed in float32 at least).

    Returns
    -------
    torch.Tensor, shape (B, N, H, W)
        On the device of ``landmarks``; B = 1 for a (N, 2) input.

    Examples
    --------
    >>> h = landmark_heatmaps(torch.tensor([[10.0, 20.0]]), (32, 48))
    >>> h.shape, float(h[0, 0, 20, 10])
    (torch.Size([1, 1, 32, 48]), 1.0)
    """
    points = torch.as_tensor(landmarks)
    if points.ndim == 2:
        points = points[None]
    if points.ndim != 3 or points.shape[-1] != 2:
        raise ValueError(
            f"Landmarks shape is {tuple(torch.as_tensor(landmarks).shape)}; expected (B, N, 2) or (N, 2)"
        )
    height, width = size
    sigma_y, sigma_x = heatmap_sigma((height, width), sigma)
    work = torch.promote_types(dtype, torch.float32)
    points = points.to(work)
    u, v = points[..., 0:1], points[..., 1:2]  # (B, N, 1)
    xs = torch.arange(width, dtype=work, device=points.device)
    ys = torch.arange(height, dtype=work, device=points.device)
    # Separable: exp(a + b) = exp(a) * exp(b), an outer product of two 1D profiles.
    gx = torch.exp(-((xs - u) ** 2) / (2 * sigma_x**2))  # (B, N, W)
    gy = torch.exp(-((ys - v) ** 2) / (2 * sigma_y**2))  # (B, N, H)
    inside = (u >= -0.5) & (u <= width - 0.5) & (v >= -0.5) & (v <= height - 0.5)  # NaN -> False
    zero = torch.zeros((), dtype=work, device=points.device)
    # Zero both profiles: a NaN landmark makes its profile NaN, and NaN * 0 is still NaN.
    gx, gy = torch.where(inside, gx, zero), torch.where(inside, gy, zero)
    return (gy[..., :, None] * gx[..., None, :]).to(dtype)


def heatmap_argmax(heatmaps: torch.Tensor, sigma: float = HEATMAP_SIGMA) -> torch.Tensor:
    """Landmark positions from heatmaps: the peak, refined to sub-pixel by a local centroid.

    Inverse of :func:`landmark_heatmaps` (used at test time on a predicted heatmap). For each
    channel, the brightest pixel is found, then the landmark is the centroid of the heatmap in
    a window of ``ceil(3 * sigma_px)`` pixels around it (values below zero count as zero),
    with ``sigma_px`` from :func:`heatmap_sigma`; near the image border the window shrinks
    symmetrically about the peak. On a clean Gaussian away from the border the error is below
    0.01 px at 192 px (sigma 1 px) and below 0.03 px at 96 px; on smaller crops the Gaussian
    is narrower than a pixel and the error grows towards a quarter of a pixel (48 px); within
    ``3 * sigma_px`` of the border it is at most about half a pixel.

    Parameters
    ----------
    heatmaps : torch.Tensor, shape (B, N, H, W)
        One heatmap per landmark.
    sigma : float, default: 1.0
        The Gaussian's standard deviation at the 192 px reference crop; sets the window.

    Returns
    -------
    torch.Tensor, shape (B, N, 2)
        Landmarks (x, y) in pixels, pixel centres at integers, float32 (float64 for a float64
        input). A channel with no positive value (an empty channel) gives NaN.
    """
    if heatmaps.ndim != 4:
        raise ValueError(f"Heatmaps shape is {tuple(heatmaps.shape)}; expected (B, N, H, W)")
    batch, count, height, width = heatmaps.shape
    sigma_y, sigma_x = heatmap_sigma((height, width), sigma)
    radius_y, radius_x = math.ceil(3 * sigma_y), math.ceil(3 * sigma_x)
    work = torch.promote_types(heatmaps.dtype, torch.float32)
    maps = heatmaps.to(work).clamp_min(0).reshape(batch * count, height, width)
    peak = maps.flatten(1).argmax(dim=1)
    peak_y, peak_x = peak // width, peak % width  # (M,)
    dy = torch.arange(-radius_y, radius_y + 1, device=maps.device)
    dx = torch.arange(-radius_x, radius_x + 1, device=maps.device)
    rows = peak_y[:, None] + dy  # (M, wy)
    cols = peak_x[:, None] + dx  # (M, wx)
    # Near a border the window shrinks symmetrically about the peak, so that the cut-off tail
    # does not pull the centroid inwards.
    reach_y = torch.minimum(peak_y, height - 1 - peak_y)[:, None]
    reach_x = torch.minimum(peak_x, width - 1 - peak_x)[:, None]
    valid = (dy.abs() <= reach_y)[:, :, None] & (dx.abs() <= reach_x)[:, None, :]
    channel = torch.arange(maps.shape[0], device=maps.device)[:, None, None]
    window = maps[channel, rows.clamp(0, height - 1)[:, :, None], cols.clamp(0, width - 1)[:, None, :]]
    window = window * valid  # (M, wy, wx)
    mass = window.sum(dim=(1, 2))
    y = (window.sum(dim=2) * rows.to(work)).sum(dim=1) / mass
    x = (window.sum(dim=1) * cols.to(work)).sum(dim=1) / mass
    result = torch.stack([x, y], dim=-1)
    result[mass <= 0] = float("nan")
    return result.reshape(batch, count, 2)
