"""Realistic inputs for timing without trained weights.

The released weights cannot be downloaded on build machines, and a network with random
weights predicts no head. Timing does not depend on weight values, but meshing and bump
removal depend on the volume's shape, so the benchmarks run the *released architecture*
with random weights and add its (rescaled) logits to those of a synthetic head: an
ellipsoid the size of the face region of a VRN volume plus detached blobs, the "bumps".
"""

from __future__ import annotations

import numpy as np
import torch

from vrn_studio.model import DEPTH_BINS, INPUT_SIZE, VRN

SHAPE: tuple[int, int, int] = (DEPTH_BINS, INPUT_SIZE, INPUT_SIZE)
"""(D, H, W) of the released network's volume."""


def head_logits(*, seed: int = 0, blobs: int = 2, sharpness: float = 10.0) -> np.ndarray:
    """Logits of a head-sized ellipsoid with detached blobs, shape (200, 192, 192), float32.

    Parameters
    ----------
    seed : int, default: 0
        Places the blobs (in front of the head, near the top corners of the crop).
    blobs : int, default: 2
        Number of detached blobs.
    sharpness : float, default: 10.0
        Logit slope per unit of normalised radius: the probability falls from 0.99 to 0.01
        over about a tenth of the ellipsoid's radius, as at the surface of a VRN volume.

    Returns
    -------
    np.ndarray
        ``sharpness * (1 - r)`` for the normalised ellipsoid radius ``r``, the maximum over
        the head and the blobs. At the release's level 10/255 the head meshes to about
        110k vertices, like a real VRN volume.
    """
    d, y, x = (np.arange(n, dtype=np.float32) for n in SHAPE)
    d, y, x = d[:, None, None], y[None, :, None], x[None, None, :]
    radius = np.sqrt(((x - 96) / 48) ** 2 + ((y - 100) / 62) ** 2 + ((d - 70) / 70) ** 2)
    rng = np.random.default_rng(seed)
    for _ in range(blobs):
        cd, cy, cx = rng.uniform([110, 15, 15], [180, 45, 177])
        blob = np.sqrt(((x - cx) / 4) ** 2 + ((y - cy) / 4) ** 2 + ((d - cd) / 6) ** 2)
        radius = np.minimum(radius, blob)
    return (sharpness * (1 - radius)).astype(np.float32)


def head_volume(**options: float) -> np.ndarray:
    """Probabilities ``sigmoid(head_logits(**options))``, shape (200, 192, 192), float32."""
    return (1 / (1 + np.exp(-head_logits(**options)))).astype(np.float32)  # type: ignore[arg-type]


class SyntheticHeadVRN(VRN):
    """The released VRN architecture with random weights, predicting a noisy synthetic head.

    Its logits are the network's own, rescaled to zero mean and standard deviation ``noise``
    on a random crop, plus :func:`head_logits`. All the network's work is done (nothing
    can be optimised away), and the volume has a head's surface roughened by the network,
    so that precision changes (fp16, bf16, TF32) show in the mesh as they would with
    trained weights.

    Parameters
    ----------
    noise : float, default: 0.1
        Standard deviation of the network's contribution, in logits (0.1 moves the surface
        by about half a voxel; 0.5 would make it far rougher than a trained network's).
    seed : int, default: 0
        Seeds the weights, the calibration crop and the blobs.
    """

    def __init__(self, *, noise: float = 0.1, seed: int = 0) -> None:
        torch.manual_seed(seed)
        super().__init__()
        self.register_buffer("head_logits", torch.from_numpy(head_logits(seed=seed)))
        self.eval()
        conv = self.head[-1]
        crop = torch.rand(1, 3, INPUT_SIZE, INPUT_SIZE, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            own = super().forward_logits(crop)
            scale = noise / own.std()
            conv.weight.mul_(scale)
            conv.bias.sub_(own.mean()).mul_(scale)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward_logits(x) + self.head_logits
