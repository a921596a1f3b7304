"""Analytic probability volumes for the meshing and bump removal tests.

Each body has probability ``sigmoid((1 - r) / width)`` where r is the normalised radius
(r = 1 on the nominal surface), so the iso-surface at probability p is exactly the body
scaled by :func:`level_radius` (p). Volumes are indexed (depth, y, x) like the network's.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

FULL_SHAPE = (200, 192, 192)
HEAD_CENTRE = (100.0, 96.0, 96.0)  # (depth, y, x) voxels
HEAD_AXES = (60.0, 75.0, 58.0)  # semi-axes (depth, y, x) in voxels
WIDTH = 0.05


def level_radius(level: float, width: float = WIDTH) -> float:
    """Normalised radius r at which ``sigmoid((1 - r) / width) == level``."""
    return 1.0 - width * float(np.log(level / (1.0 - level)))


def ellipsoid(
    shape: tuple[int, int, int],
    centre: tuple[float, float, float],
    axes: tuple[float, float, float],
    width: float = WIDTH,
) -> np.ndarray:
    """Probability volume (float32) of one ellipsoid, centre and semi-axes in (d, y, x) voxels."""
    grids = [np.arange(n, dtype=np.float32) for n in shape]
    d, y, x = (((g - c) / a) ** 2 for g, c, a in zip(grids, centre, axes, strict=True))
    r2 = d[:, None, None] + y[None, :, None] + x[None, None, :]
    return _sigmoid((1.0 - np.sqrt(r2)) / width)


def with_blobs(
    volume: np.ndarray, centres: list[tuple[float, float, float]], radii: list[float]
) -> np.ndarray:
    """``volume`` with detached spheres added (voxel-wise maximum)."""
    out = volume.copy()
    for centre, radius in zip(centres, radii, strict=True):
        np.maximum(out, ellipsoid(volume.shape, centre, (radius,) * 3), out=out)
    return out


@lru_cache(maxsize=1)
def head() -> np.ndarray:
    """The head-sized ellipsoid in the full (200, 192, 192) grid (read-only, cached)."""
    volume = ellipsoid(FULL_SHAPE, HEAD_CENTRE, HEAD_AXES)
    volume.flags.writeable = False
    return volume


def small_head(shape: tuple[int, int, int] = (48, 40, 40)) -> np.ndarray:
    """A smaller ellipsoid for fast tests, centred, filling about half the grid."""
    centre = tuple((s - 1) / 2 for s in shape)
    axes = tuple(s * 0.3 for s in shape)
    return ellipsoid(shape, centre, axes)


def _sigmoid(t: np.ndarray) -> np.ndarray:
    return (0.5 * (1.0 + np.tanh(0.5 * t, dtype=np.float32))).astype(np.float32)
