"""A tiny synthetic dataset of coloured ellipsoids, for tests and smoke runs ONLY.

This is *not* the issue's synthetic face generator (posed, textured face renders): it is
the smallest data with the right format and a learnable image -> volume relation, so the
training loop, its checkpoints and its CLI can be exercised in seconds.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from vrn_studio.model.heatmaps import LANDMARKS
from vrn_studio.train.voxelise import voxelise

_RINGS, _SEGMENTS = 8, 12
"""Latitude rings and longitude segments of the ellipsoid mesh."""


def _unit_sphere() -> tuple[np.ndarray, np.ndarray]:
    """A closed UV sphere: vertices (N, 3) on the unit sphere and faces (M, 3)."""
    theta = np.linspace(0, np.pi, _RINGS + 1)[1:-1]  # polar angle, poles excluded
    phi = np.linspace(0, 2 * np.pi, _SEGMENTS, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1).reshape(-1, 3)
    vertices = np.concatenate([[[0, 0, 1]], ring, [[0, 0, -1]]])
    south = len(vertices) - 1
    faces = []
    for s in range(_SEGMENTS):
        n = (s + 1) % _SEGMENTS
        faces.append([0, 1 + s, 1 + n])
        for r in range(_RINGS - 2):
            a, b = 1 + r * _SEGMENTS + s, 1 + r * _SEGMENTS + n
            faces += [[a, a + _SEGMENTS, b], [b, a + _SEGMENTS, b + _SEGMENTS]]
        last = 1 + (_RINGS - 2) * _SEGMENTS
        faces.append([last + s, south, last + n])
    return vertices, np.asarray(faces)


class SyntheticSmokeDataset(Dataset):
    """``n`` random ellipsoids in front of random backgrounds (tests and smoke runs only).

    Sample ``i`` is a pure function of ``(seed, i)``. Each is a dict of

    - ``image``: (3, size, size) float32 in [0, 1], a flat-coloured ellipse on a flat
      background with a little noise;
    - ``volume``: (depth_bins, size, size) float32 in {0, 1}, the closed ellipsoid voxelised
      with :func:`~vrn_studio.train.voxelise.voxelise` (depth ``z_scale = 0.5``);
    - ``landmarks``: (68, 2) float32, crop pixels, points on the ellipsoid's visible half.

    Parameters
    ----------
    n : int
        Number of samples.
    size : int
        Crop side in pixels.
    depth_bins : int
        Depth slices of the volume.
    seed : int, default: 0
        Seed of the whole dataset.
    """

    def __init__(self, n: int, size: int, depth_bins: int, seed: int = 0) -> None:
        for name, value in (("n", n), ("size", size), ("depth_bins", depth_bins)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1; got {value}")
        self.n, self.size, self.depth_bins, self.seed = n, size, depth_bins, seed
        self._sphere = _unit_sphere()
        # Fixed landmark directions on the camera-facing half (+z towards the camera).
        rng = np.random.default_rng(12345)
        polar = np.arccos(rng.uniform(0.2, 1.0, LANDMARKS))
        azimuth = rng.uniform(0, 2 * np.pi, LANDMARKS)
        self._landmark_dirs = np.stack(
            [np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], -1
        )

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < self.n:
            raise IndexError(f"index {index} out of range for {self.n} samples")
        rng = np.random.default_rng([self.seed, index])
        s, depth = self.size, self.depth_bins
        radii = rng.uniform(0.2, 0.4, 3) * np.array([s, s, depth * 0.5])  # x, y px; z px (2 bins/px)
        centre = np.array([rng.uniform(0.4, 0.6) * s, rng.uniform(0.4, 0.6) * s, depth * 0.25])
        sphere_vertices, faces = self._sphere
        vertices = sphere_vertices * radii + centre
        volume = voxelise(vertices, faces, shape=(depth, s, s))
        inside = volume.any(axis=0)
        colours = rng.uniform(0, 1, (2, 3))
        image = np.where(inside[None], colours[0][:, None, None], colours[1][:, None, None])
        image = np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1)
        landmarks = (self._landmark_dirs * radii + centre)[:, :2]
        return {
            "image": torch.from_numpy(image.astype(np.float32)),
            "volume": torch.from_numpy(volume.astype(np.float32)),
            "landmarks": torch.from_numpy(landmarks.astype(np.float32)),
        }
