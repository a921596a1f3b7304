"""Depth maps as 16-bit grey PNG files."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from vrn_studio._io import atomic_write

DEPTH_PNG_SCALE = 256.0
"""Default PNG units per pixel of depth: steps of 1/256 px, depths up to 255.99 px."""


def export_depth_png(
    depth: np.ndarray,
    path: str | os.PathLike[str],
    *,
    scale: float = DEPTH_PNG_SCALE,
    overwrite: bool = False,
) -> Path:
    """Write a depth map (from :func:`vrn_studio.mesh.depth_map`) as a 16-bit PNG, atomically.

    Parameters
    ----------
    depth : np.ndarray, shape (H, W), float
        Depth in pixels (larger = nearer the camera), NaN where there is no surface.
    path : str or os.PathLike
        Destination (conventionally ``.png``).
    scale : float, default: 256
        PNG units per pixel of depth.
    overwrite : bool, default: False
        Replace an existing file.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        On a depth that is not 2-D, negative or infinite, or too deep for ``scale``.
    ExportError
        On an existing file without ``overwrite``, or a failed write.

    Notes
    -----
    Pixel value ``v``: 0 means no surface; otherwise ``depth = v / scale``, where
    ``v = max(1, round(depth * scale))`` (a depth under ``0.5 / scale`` reads back as
    ``1 / scale``). For the network's crop (z = depth index * 0.5, at most 99.5) the
    default scale gives 1/256 px steps; photo-space depths may need a smaller scale.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = export_depth_png(np.array([[np.nan, 1.5]]), Path(folder) / "d.png")
    ...     cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    array([[  0, 384]], dtype=uint16)
    """
    depth = np.asarray(depth, dtype=np.float64)
    if depth.ndim != 2:
        raise ValueError(f"Depth map must be 2-D (H, W); got shape {depth.shape}")
    surface = ~np.isnan(depth)
    values = depth[surface]
    if values.size and (values.min() < 0 or not np.isfinite(values).all()):
        raise ValueError("Depth must be finite and non-negative (NaN marks pixels without surface)")
    limit = 65535 / scale
    if values.size and values.max() * scale >= 65535.5:
        raise ValueError(
            f"Depth {values.max():.3f} exceeds {limit:.3f}, the most scale={scale} can store; "
            f"pass a smaller scale"
        )
    encoded = np.zeros(depth.shape, np.uint16)
    encoded[surface] = np.maximum(1, np.rint(values * scale))
    ok, data = cv2.imencode(".png", encoded)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {depth.shape} depth map as PNG")
    return atomic_write(path, data.tobytes(), overwrite=overwrite)
