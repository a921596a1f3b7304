"""Stand-ins for the network shared by the core and GUI tests."""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vrn_studio.image import ImageSource, load_image, sample_image_path
from vrn_studio.mesh import Mesh
from vrn_studio.model import VRN
from vrn_studio.pipeline import Reconstructor, Result, StageDone

ASTRONAUT_LANDMARKS = np.asarray(
    json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "astronaut.landmarks.json").read_text())[
        "landmarks_photo"
    ],
    np.float64,
)
"""The sample astronaut photo's 68 landmarks in photo pixels (dlib), shape (68, 2), float64."""


class EllipsoidNet(VRN):
    """A VRN whose output is a fixed head-sized ellipsoid plus (``blob``) one detached blob."""

    def __init__(self, blob: bool = True) -> None:
        super().__init__(features=8, stacks=1, hourglass_depth=1)
        d, y, x = np.mgrid[0:200, 0:192, 0:192].astype(np.float32)
        inside = ((x - 95.5) / 60) ** 2 + ((y - 95.5) / 75) ** 2 + ((d - 100) / 80) ** 2 < 1
        if blob:
            inside |= ((x - 20) / 6) ** 2 + ((y - 20) / 6) ** 2 + ((d - 150) / 12) ** 2 < 1
        self.register_buffer("volume", torch.from_numpy(np.where(inside, 0.95, 0.01)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.volume.to(x.dtype)[None].expand(x.shape[0], -1, -1, -1)


class SlowReconstructor(Reconstructor):
    """A Reconstructor on :class:`EllipsoidNet` that sleeps ``delay`` seconds after each stage,
    so tests can watch progress, cancel mid-run and check the UI keeps ticking."""

    def __init__(self, delay: float = 0.3, blob: bool = True, **options: Any) -> None:
        super().__init__(EllipsoidNet(blob), **{"landmarker": "dlib", "device": "cpu", **options})
        self.delay = delay

    def iter_stages(self, image: ImageSource, **options: Any) -> Generator[StageDone, None, Result]:  # noqa: D102
        stages = super().iter_stages(image, **options)
        while True:
            try:
                stage = next(stages)
            except StopIteration as done:
                return done.value
            time.sleep(self.delay)
            yield stage


class FakeCamera:
    """A cv2.VideoCapture stand-in for a camera that delivers ``frames`` BGR frames of the
    astronaut's face (320 x 320) and is then unplugged (``read`` fails from then on)."""

    def __init__(self, index: int, frames: int = 5) -> None:
        self.index, self.left, self.released = index, frames, False
        self.frame = np.ascontiguousarray(load_image(sample_image_path("astronaut"))[0:320, 40:360, ::-1])

    def isOpened(self) -> bool:  # noqa: N802 (cv2's name)
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.left == 0 or self.released:
            return False, None
        self.left -= 1
        return True, self.frame.copy()

    def get(self, prop: int) -> float:
        return 0.0

    def set(self, prop: int, value: float) -> bool:
        return False

    def release(self) -> None:
        self.released = True


def pinched(mesh: Mesh) -> Mesh:
    """``mesh`` less its first triangle and another touching it at one corner only: two holes
    that share a vertex, which no repair closes into a manifold solid."""
    touching = np.isin(mesh.faces, mesh.faces[0])
    corner_only = np.flatnonzero(touching.sum(axis=1) == 1)[0]
    return Mesh(mesh.vertices, np.delete(mesh.faces, [0, corner_only], axis=0))
