"""The similarity transform between photo pixels and the network's crop pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CropTransform:
    """Photo -> crop mapping ``u = scale * x + tx``, ``v = scale * y + ty``.

    Coordinates are in pixels with pixel centres at integers (the convention of OpenCV's
    ``warpAffine`` and of landmark detectors): photo pixel (0, 0) is the centre of the
    top-left pixel. ``scale`` is crop pixels per photo pixel.

    Parameters
    ----------
    scale : float
        Crop pixels per photo pixel (> 0).
    tx, ty : float
        Crop position of the photo origin, in crop pixels.
    size : int, default: 192
        Side of the square crop, in pixels.

    Examples
    --------
    >>> t = CropTransform(scale=0.5, tx=10.0, ty=-4.0)
    >>> t.to_crop([[100.0, 50.0]])
    array([[60., 21.]])
    >>> t.to_photo(t.to_crop([[100.0, 50.0]]))
    array([[100.,  50.]])
    """

    scale: float
    tx: float
    ty: float
    size: int = 192

    def __post_init__(self) -> None:
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"Crop scale must be a positive finite number; got {self.scale}")

    @property
    def matrix(self) -> np.ndarray:
        """The 2x3 affine matrix photo -> crop, float64 (for ``cv2.warpAffine``)."""
        return np.array([[self.scale, 0.0, self.tx], [0.0, self.scale, self.ty]])

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Map photo points (N, 2) (x, y) to crop points (N, 2), float64."""
        p = np.asarray(points, dtype=np.float64)
        return p * self.scale + np.array([self.tx, self.ty])

    def resized(self, size: int) -> CropTransform:
        """The same framing as a crop of ``size`` pixels (e.g. a network trained at 96 px).

        Pixel centres stay at integers: crop pixel ``u`` of this crop is pixel
        ``(u + 0.5) * size / self.size - 0.5`` of the new one (:func:`resize_points`).

        >>> CropTransform(scale=0.5, tx=10.0, ty=-4.0).resized(96)
        CropTransform(scale=0.25, tx=4.75, ty=-2.25, size=96)
        """
        f = size / self.size
        return CropTransform(self.scale * f, (self.tx + 0.5) * f - 0.5, (self.ty + 0.5) * f - 0.5, size=size)

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        """Map crop points (N, 2) (u, v) back to photo points (N, 2), float64."""
        p = np.asarray(points, dtype=np.float64)
        return (p - np.array([self.tx, self.ty])) / self.scale


def resize_points(points: np.ndarray, from_size: int, to_size: int) -> np.ndarray:
    """Pixel coordinates (..., k) on a grid of ``from_size`` moved to one of ``to_size`` (same extent).

    Pixel centres are at integers on both grids: ``u' = (u + 0.5) * to_size / from_size - 0.5``.

    >>> resize_points(np.array([[0.0, 191.0]]), 192, 96).tolist()
    [[-0.25, 95.25]]
    """
    f = to_size / from_size
    return (np.asarray(points, np.float64) + 0.5) * f - 0.5
