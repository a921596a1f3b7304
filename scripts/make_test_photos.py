"""Make the landmarker test photos of ``resources/`` from the bundled public-domain portraits.

- ``group.jpg`` (1280 x 886): six head-and-shoulders cut-outs of ``astronaut.png`` and
  ``grace_hopper.jpg`` (some mirrored, some darker) at face widths of 44 to 120 px on a soft
  background: a group photo with small faces, as dlib's detector finds them.
- ``yaw60.png`` (384 x 384): a synthetic ICT head turned 60 degrees, skinned with
  ``astronaut.png``'s face (``vrn_studio.train.synthetic``), drawn at twice the crop size.

Deterministic: running it again writes the same pixels (given the same library versions).

    python scripts/make_test_photos.py
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from vrn_studio.image import load_image
from vrn_studio.train.synthetic import SyntheticFaces

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
GROUP_FACES = (  # photo, mirrored, brightness, face width (px), centre of the face (x, y)
    ("astronaut.png", False, 1.0, 120, (250, 300)),
    ("grace_hopper.jpg", False, 0.9, 96, (620, 260)),
    ("astronaut.png", True, 0.8, 76, (980, 240)),
    ("grace_hopper.jpg", True, 1.0, 62, (420, 640)),
    ("astronaut.png", False, 1.1, 52, (760, 620)),
    ("grace_hopper.jpg", False, 0.85, 44, (1100, 640)),
)
YAW60 = (1, 60.0)
"""The synthetic sample (index, yaw in degrees) of ``yaw60.png``: ICT seed 2024, a photo skin."""


def group_photo() -> np.ndarray:
    """The 1280 x 886 RGB group photo."""
    marks = json.loads((RESOURCES / "face_landmarks.json").read_text(encoding="utf-8"))
    y, x = np.mgrid[:886, :1280]
    canvas = np.stack([150 + 40 * x / 1280, 140 + 30 * y / 886, 120 + 20 * (x + y) / 2166], -1)
    for name, mirrored, brightness, width, (cx, cy) in GROUP_FACES:
        photo = load_image(RESOURCES / name).astype(np.float64)
        points = np.asarray(marks[name], np.float64)
        if mirrored:
            photo = photo[:, ::-1]
            points[:, 0] = photo.shape[1] - 1 - points[:, 0]
        scale = width / np.ptp(points[:, 0])
        centre = points.mean(0) * scale
        small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        # the head and shoulders: 2.2 face widths across, from 1.3 above the face's centre to 1.6 below
        x0, x1 = int(centre[0] - 1.1 * width), int(centre[0] + 1.1 * width)
        y0, y1 = int(centre[1] - 1.3 * width), int(centre[1] + 1.6 * width)
        x0, y0 = max(x0, 0), max(y0, 0)
        cut = small[y0:y1, x0:x1] * brightness
        top, left = int(cy - (centre[1] - y0)), int(cx - (centre[0] - x0))
        canvas[top : top + cut.shape[0], left : left + cut.shape[1]] = cut[: 886 - top, : 1280 - left]
    return np.clip(canvas, 0, 255).astype(np.uint8)


def yaw60_photo() -> np.ndarray:
    """The 384 x 384 RGB render of a head at 60 degrees of yaw."""
    index, yaw = YAW60
    face = SyntheticFaces(seed=2024, source="ict").sample(index, yaw=yaw)
    return cv2.resize(face.image, (384, 384), interpolation=cv2.INTER_CUBIC)


def main() -> None:
    cv2.imwrite(str(RESOURCES / "group.jpg"), group_photo()[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(str(RESOURCES / "yaw60.png"), yaw60_photo()[:, :, ::-1])


if __name__ == "__main__":
    main()
