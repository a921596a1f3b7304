"""The released VRN's face crop, written as an explicit, invertible photo -> crop transform.

The release scales the photo so that the 68 landmarks' bounding box has an area of 90 x 90
pixels, centres the landmark mean and cuts out 192 x 192 pixels, padding with zeros. Here
that rule is a :class:`~vrn_studio.crop.transform.CropTransform` (:func:`release_transform`),
applied with one resampling (:func:`crop_image`), so any point can be mapped between photo
and crop exactly, in both directions.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from vrn_studio.crop.transform import CropTransform

CROP_SIZE = 192
"""Side of the network's input crop, in pixels."""

FACE_SIZE = 90.0
"""Geometric mean of the landmark bounding box's width and height in the crop, in crop pixels."""

N_LANDMARKS = 68


def validate_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Check 68 (x, y) landmarks and return them as a float64 array.

    Parameters
    ----------
    landmarks : array_like, shape (68, 2)
        iBUG-68 points (x, y) in photo pixels.

    Returns
    -------
    np.ndarray, shape (68, 2), float64
        A copy of the points.

    Raises
    ------
    ValueError
        The shape is not (68, 2), a value is NaN or infinite, or the points' bounding box has
        zero width or height (all points on one line), so no face size can be measured.
    """
    points = np.array(landmarks, dtype=np.float64)
    if points.shape != (N_LANDMARKS, 2):
        raise ValueError(f"Shape of landmarks is {points.shape} and should be ({N_LANDMARKS}, 2)")
    if not np.isfinite(points).all():
        bad = np.flatnonzero(~np.isfinite(points).all(axis=1))
        raise ValueError(f"Landmarks contain NaN or infinite values (points {bad.tolist()})")
    width, height = np.ptp(points, axis=0)
    if width <= 0 or height <= 0:
        raise ValueError(
            f"Landmarks are degenerate: their bounding box is {width:g} x {height:g} pixels; "
            "68 points spread over a face are needed"
        )
    return points


def release_transform(landmarks: np.ndarray, *, size: int = CROP_SIZE) -> CropTransform:
    """The release's crop rule for a face, as a photo -> crop transform.

    ``scale = 90 / sqrt((max x - min x) * (max y - min y))`` over the 68 landmarks, and the
    landmark mean goes to the crop centre ``((size - 1) / 2, (size - 1) / 2)`` (95.5 for 192):
    with pixel centres at integers that is the geometric centre of the crop, so the face sits
    symmetrically. The release instead resized the photo and cut whole pixels around the
    rounded mean, which puts the mean within about one pixel of the same place.

    Parameters
    ----------
    landmarks : array_like, shape (68, 2)
        iBUG-68 landmarks (x, y) in photo pixels.
    size : int, default: 192
        Side of the crop, in pixels. ``FACE_SIZE`` stays 90 crop pixels whatever the size.

    Returns
    -------
    CropTransform
        ``to_crop`` maps the landmark mean to the crop centre and the landmark bounding box
        to one whose width x height is 90 x 90 crop pixels squared.

    Raises
    ------
    ValueError
        Invalid landmarks (see :func:`validate_landmarks`) or ``size`` < 1.

    Examples
    --------
    >>> import numpy as np
    >>> square = np.zeros((68, 2))
    >>> square[1:] = [[180.0, 180.0]]
    >>> t = release_transform(square)
    >>> round(t.scale, 6)
    0.5
    """
    points = validate_landmarks(landmarks)
    if size < 1:
        raise ValueError(f"Crop size must be at least 1 pixel; got {size}")
    width, height = np.ptp(points, axis=0)
    scale = FACE_SIZE / math.sqrt(width * height)
    centre = (size - 1) / 2.0
    mean_x, mean_y = points.mean(axis=0)
    return CropTransform(scale=scale, tx=centre - scale * mean_x, ty=centre - scale * mean_y, size=size)


def crop_image(image: np.ndarray, transform: CropTransform) -> np.ndarray:
    """Resample a photo into the crop described by ``transform``.

    Crop pixel (u, v) takes the photo's colour at ``transform.to_photo((u, v))`` (bilinear,
    ``cv2.warpAffine`` with ``INTER_LINEAR``); crop pixels whose source lies outside the
    photo are 0 (black), and those within one source pixel of its border blend with that 0.

    When the crop shrinks the photo (``transform.scale < 1``) bilinear sampling alone would
    alias (skip pixels), so the photo region under the crop is first reduced with
    ``cv2.resize(..., INTER_AREA)`` (an area average) to about the crop's resolution, and the
    warp uses the exact composition of that resize with ``transform``. Points therefore still
    land at ``transform.to_crop(point)``.

    Parameters
    ----------
    image : np.ndarray, shape (H, W, 3), uint8
        The photo, RGB.
    transform : CropTransform
        Photo -> crop mapping; its ``size`` is the crop side.

    Returns
    -------
    np.ndarray, shape (size, size, 3), uint8
        The crop.

    Raises
    ------
    ValueError
        ``image`` is not an (H, W, 3) uint8 array.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(
            f"crop_image needs an (H, W, 3) uint8 RGB array; got shape {shape} dtype {dtype}. "
            "Use vrn_studio.image.load_image first."
        )
    matrix = transform.matrix
    if transform.scale < 1.0:
        image, matrix = _shrink_under_crop(image, transform)
    size = transform.size
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0),
    )


def crop_face(image: np.ndarray, landmarks: np.ndarray, *, size: int = CROP_SIZE) -> tuple[np.ndarray, CropTransform]:
    """Cut the network's input crop around a face, the release's way.

    Parameters
    ----------
    image : np.ndarray, shape (H, W, 3), uint8
        The photo, RGB.
    landmarks : array_like, shape (68, 2)
        The face's iBUG-68 landmarks (x, y) in photo pixels.
    size : int, default: 192
        Side of the crop, in pixels.

    Returns
    -------
    crop : np.ndarray, shape (size, size, 3), uint8
        The crop, zero where it leaves the photo.
    transform : CropTransform
        Photo -> crop mapping (``to_photo`` lays crop-space results back onto the photo).

    See Also
    --------
    release_transform, crop_image
    """
    transform = release_transform(landmarks, size=size)
    return crop_image(image, transform), transform


def _shrink_under_crop(image: np.ndarray, transform: CropTransform) -> tuple[np.ndarray, np.ndarray]:
    """Area-reduce the photo region the crop covers; return it and the composed 2x3 matrix.

    ``cv2.resize`` maps pixel centres as ``x' = f * (x - x0 + 0.5) - 0.5`` with
    ``f = new width / old width`` for a region starting at column ``x0``; the returned matrix
    is ``transform`` applied after the inverse of that map.
    """
    height, width = image.shape[:2]
    s = transform.scale
    margin = math.ceil(2.0 / s) + 2
    corners = transform.to_photo([[0.0, 0.0], [transform.size - 1.0, transform.size - 1.0]])
    x0 = max(0, math.floor(corners[0, 0]) - margin)
    y0 = max(0, math.floor(corners[0, 1]) - margin)
    x1 = min(width, math.ceil(corners[1, 0]) + margin + 1)
    y1 = min(height, math.ceil(corners[1, 1]) + margin + 1)
    if x1 <= x0 or y1 <= y0:  # the crop lies wholly outside the photo
        return np.zeros((1, 1, 3), np.uint8), transform.matrix
    region = image[y0:y1, x0:x1]
    new_w = max(1, round((x1 - x0) * s))
    new_h = max(1, round((y1 - y0) * s))
    small = cv2.resize(region, (new_w, new_h), interpolation=cv2.INTER_AREA)
    fx, fy = new_w / (x1 - x0), new_h / (y1 - y0)
    # crop = s * x + t with x = (x' + 0.5) / f - 0.5 + x0
    matrix = np.array([
        [s / fx, 0.0, transform.tx + s * (0.5 / fx - 0.5 + x0)],
        [0.0, s / fy, transform.ty + s * (0.5 / fy - 0.5 + y0)],
    ])
    return small, matrix
