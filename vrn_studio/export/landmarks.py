"""The 68 facial landmarks and the crop transform as a JSON file."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vrn_studio._io import atomic_write
from vrn_studio.crop import CropTransform

_POINT = re.compile(r"\[\s*-?[\d.eE+-]+,\s*-?[\d.eE+-]+\s*\]")
"""A two-number list as ``json.dumps(indent=...)`` spreads it over lines; kept on one line."""

LANDMARKS_FORMAT = "vrn-studio-landmarks/1"


def export_landmarks(
    path: str | os.PathLike[str],
    *,
    landmarks_photo: np.ndarray,
    landmarks_crop: np.ndarray,
    transform: CropTransform,
    box: Sequence[float] | None = None,
    score: float | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the landmarks of one face to a JSON file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination (conventionally ``.json``).
    landmarks_photo : np.ndarray, shape (68, 2)
        (x, y) in photo pixels, iBUG-68 order.
    landmarks_crop : np.ndarray, shape (68, 2)
        The same points in crop pixels.
    transform : CropTransform
        Photo -> crop transform of the crop.
    box : sequence of 4 floats or None
        Face box (x1, y1, x2, y2) in photo pixels, when a detector gave one.
    score : float or None
        Detector confidence, when there is one.
    overwrite : bool, default: False
        Replace an existing file.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        On landmarks that are not finite (68, 2) arrays, or a box that is not 4 numbers.
    ExportError
        On an existing file without ``overwrite``, or a failed write.

    Notes
    -----
    Schema (all coordinates in pixels, x right, y down, pixel centres at integers)::

        {"format": "vrn-studio-landmarks/1",
         "scheme": "iBUG-68", "index_base": 0,   # point i is iBUG point i + 1
         "landmarks_photo": [[x, y], ...68],
         "landmarks_crop": [[x, y], ...68],
         "transform": {"scale": s, "tx": tx, "ty": ty, "size": 192},  # crop = s * photo + t
         "box": [x1, y1, x2, y2] or null,
         "score": float or null}
    """
    points = {"landmarks_photo": landmarks_photo, "landmarks_crop": landmarks_crop}
    for name, value in points.items():
        array = np.asarray(value, dtype=np.float64)
        if array.shape != (68, 2) or not np.isfinite(array).all():
            raise ValueError(f"{name} must be a finite (68, 2) array; got shape {array.shape}")
        points[name] = array.tolist()
    if box is not None:
        box = [float(b) for b in box]
        if len(box) != 4:
            raise ValueError(f"box must be (x1, y1, x2, y2); got {len(box)} numbers")
    document = {
        "format": LANDMARKS_FORMAT,
        "scheme": "iBUG-68",
        "index_base": 0,
        **points,
        "transform": dataclasses.asdict(transform),
        "box": box,
        "score": None if score is None else float(score),
    }
    text = _POINT.sub(lambda m: re.sub(r"\s+", " ", m.group(0)), json.dumps(document, indent=1, allow_nan=False))
    return atomic_write(path, (text + "\n").encode("utf-8"), overwrite=overwrite)
