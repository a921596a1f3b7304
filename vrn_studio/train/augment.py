"""The paper's data augmentation, applied jointly to image, landmarks and volume.

Jackson et al. augment each training sample with an in-plane rotation (+-45 deg), a
translation (+-15 px), a scale (0.85-1.15), a horizontal flip in 20% of the samples and a
per-channel colour scaling; the image and its target volume move together. Here one
:class:`AugmentParams` holds the sampled values and :func:`augment` applies them to the
crop, its 68 landmarks and its volume, so the three stay aligned.

Geometry
--------
All in crop pixels with pixel centres at integers, y down. With ``c = ((W - 1) / 2,
(H - 1) / 2)`` the crop centre, a point p goes to::

    p' = s * R(angle) @ (F(p) - c) + c + t

where F mirrors x about the centre (``x -> W - 1 - x``) when ``flip`` is set, R rotates
counter-clockwise on screen by ``rotation_deg`` (OpenCV's convention for
``getRotationMatrix2D``), s is ``scale`` and t the translation. The image and every depth
slice of the volume are resampled with this similarity (bilinear, zeros outside the crop).

The volume's depth axis is scaled by the same ``s`` about the middle of the depth range,
``(D - 1) / 2``: the face is a 3-D body and a uniform 3-D similarity keeps its
proportions (a face scaled only in x, y would come out flattened or stretched in depth).
Depth is not rotated, flipped or translated. Beyond the first and last depth slices the
volume is extended with those slices, so a volume filled from the back of the grid (the
``"behind"`` fill of :func:`vrn_studio.train.voxelise`) stays filled from the back when it
shrinks. Binary volumes are resampled linearly and thresholded at 0.5; float volumes are
returned resampled. :func:`warp_vertices` applies the same 3-D similarity to a mesh, so
voxelising a warped mesh gives the warped volume (up to one voxel at the surface).

A flip also renames the landmarks: the subject's right eye, which was on the left of the
image, is on the right after the mirror, so augmented landmark i is the mirrored original
landmark ``FLIP_PERMUTATION[i]`` (iBUG-68 order).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vrn_studio.crop import validate_landmarks
from vrn_studio.train.voxelise import VOLUME_SHAPE

FLIP_PERMUTATION: np.ndarray = np.array(
    list(range(16, -1, -1))  # jaw 0-16
    + list(range(26, 16, -1))  # eyebrows 17-21 <-> 26-22
    + [27, 28, 29, 30]  # nose bridge
    + [35, 34, 33, 32, 31]  # nostrils
    + [45, 44, 43, 42, 47, 46]  # right eye 36-41 <-> left eye 45-42, 47-46
    + [39, 38, 37, 36, 41, 40]  # left eye 42-47 <-> right eye
    + [54, 53, 52, 51, 50, 49, 48]  # upper outer lip 48-54
    + [59, 58, 57, 56, 55]  # lower outer lip 55-59
    + [64, 63, 62, 61, 60]  # upper inner lip 60-64
    + [67, 66, 65],  # lower inner lip 65-67
    dtype=np.int64,
)
"""iBUG-68 index of each landmark's mirror partner: after a horizontal flip, landmark i is
the mirrored landmark ``FLIP_PERMUTATION[i]``. An involution; points on the symmetry axis
(chin 8, nose 27-30 and 33, lip centres 51, 57, 62, 66) map to themselves."""


@dataclass(frozen=True)
class AugmentParams:
    """One sample's augmentation; the default values change nothing.

    Parameters
    ----------
    rotation_deg : float, default: 0.0
        In-plane rotation about the crop centre, degrees, counter-clockwise on screen.
    translation : tuple of float, default: (0.0, 0.0)
        Shift (tx, ty) in crop pixels, applied after rotation and scale.
    scale : float, default: 1.0
        Zoom about the crop centre (> 0); the volume's depth is scaled by it too.
    flip : bool, default: False
        Mirror horizontally (before rotating) and permute the landmarks.
    color : tuple of float, default: (1.0, 1.0, 1.0)
        Factor for each of R, G, B (>= 0); results are rounded and clipped to 0-255.
    """

    rotation_deg: float = 0.0
    translation: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0
    flip: bool = False
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        translation = tuple(float(v) for v in self.translation)
        color = tuple(float(v) for v in self.color)
        if len(translation) != 2 or len(color) != 3:
            raise ValueError(
                f"translation needs 2 values and color 3; got {self.translation!r} and {self.color!r}"
            )
        values = (self.rotation_deg, self.scale, *translation, *color)
        if not np.isfinite(values).all():
            raise ValueError(f"Augmentation values must be finite; got {self!r}")
        if self.scale <= 0:
            raise ValueError(f"scale must be positive; got {self.scale}")
        if min(color) < 0:
            raise ValueError(f"color factors must be >= 0; got {color}")
        object.__setattr__(self, "rotation_deg", float(self.rotation_deg))
        object.__setattr__(self, "scale", float(self.scale))
        object.__setattr__(self, "flip", bool(self.flip))
        object.__setattr__(self, "translation", translation)
        object.__setattr__(self, "color", color)

    def matrix(self, size: tuple[int, int]) -> np.ndarray:
        """The in-plane similarity as a 2 x 3 matrix mapping original to augmented pixels.

        Parameters
        ----------
        size : tuple of int
            (H, W) of the crop.

        Returns
        -------
        np.ndarray, shape (2, 3), float64
            ``[A | b]`` with ``p' = A @ p + b`` for p = (x, y).

        Examples
        --------
        >>> AugmentParams(flip=True, translation=(2.0, 0.0)).matrix((4, 6))
        array([[-1.,  0.,  7.],
               [ 0.,  1.,  0.]])
        """
        height, width = size
        centre = ((width - 1) / 2, (height - 1) / 2)
        rotation = cv2.getRotationMatrix2D(centre, self.rotation_deg, self.scale)
        mirror = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        matrix = rotation @ mirror if self.flip else rotation
        matrix[:, 2] += self.translation
        return matrix


def sample_params(
    rng: np.random.Generator,
    *,
    max_rotation_deg: float = 45.0,
    max_translation: float = 15.0,
    scale_range: tuple[float, float] = (0.85, 1.15),
    flip_probability: float = 0.2,
    color_range: tuple[float, float] = (0.6, 1.4),
) -> AugmentParams:
    """Draw one sample's augmentation, uniformly within the paper's ranges by default.

    Parameters
    ----------
    rng : np.random.Generator
        Source of randomness; the same seed gives the same parameters.
    max_rotation_deg : float, default: 45.0
        Rotation drawn from [-max, max] degrees.
    max_translation : float, default: 15.0
        tx and ty each drawn from [-max, max] pixels.
    scale_range : tuple of float, default: (0.85, 1.15)
        Scale drawn from [low, high] (0 < low <= high).
    flip_probability : float, default: 0.2
        Chance of a horizontal flip, in [0, 1].
    color_range : tuple of float, default: (0.6, 1.4)
        Each channel's factor drawn from [low, high] (0 <= low <= high).

    Returns
    -------
    AugmentParams

    Raises
    ------
    ValueError
        On a negative maximum, an empty or non-positive range, or a probability outside [0, 1].

    Examples
    --------
    >>> p = sample_params(np.random.default_rng(0))
    >>> p == sample_params(np.random.default_rng(0)), -45 <= p.rotation_deg <= 45
    (True, True)
    """
    if not (max_rotation_deg >= 0 and max_translation >= 0):
        raise ValueError(
            f"max_rotation_deg and max_translation must be >= 0; got {max_rotation_deg} and {max_translation}"
        )
    if not 0 < scale_range[0] <= scale_range[1]:
        raise ValueError(f"scale_range must satisfy 0 < low <= high; got {scale_range}")
    if not 0 <= color_range[0] <= color_range[1]:
        raise ValueError(f"color_range must satisfy 0 <= low <= high; got {color_range}")
    if not 0 <= flip_probability <= 1:
        raise ValueError(f"flip_probability must lie in [0, 1]; got {flip_probability}")
    rotation = rng.uniform(-max_rotation_deg, max_rotation_deg)
    scale = rng.uniform(*scale_range)
    tx, ty = rng.uniform(-max_translation, max_translation, size=2)
    flip = rng.random() < flip_probability
    color = rng.uniform(*color_range, size=3)
    return AugmentParams(rotation, (tx, ty), scale, flip, (color[0], color[1], color[2]))


def augment(
    image: np.ndarray, landmarks: np.ndarray, volume: np.ndarray, params: AugmentParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply one augmentation to a training sample (see the module docstring for the maths).

    Parameters
    ----------
    image : np.ndarray, shape (H, W, 3), uint8
        RGB crop.
    landmarks : np.ndarray, shape (68, 2), float
        iBUG-68 points (x, y) in crop pixels.
    volume : np.ndarray, shape (D, H, W), bool or float
        Target volume indexed (depth, y, x), aligned with the image.
    params : AugmentParams
        The values to apply (from :func:`sample_params`).

    Returns
    -------
    image : np.ndarray, shape (H, W, 3), uint8
    landmarks : np.ndarray, shape (68, 2), float64
        Moved with the image, renamed by :data:`FLIP_PERMUTATION` when flipped; points
        may leave the crop.
    volume : np.ndarray, shape (D, H, W)
        bool for a bool input, else float32.

    Raises
    ------
    ValueError
        On an image that is not (H, W, 3) uint8, a volume that is not 3-D bool or float
        with the image's (H, W), or landmarks that are not 68 finite (x, y) points.
    """
    image = np.asarray(image)
    volume = np.asarray(volume)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"image must be an (H, W, 3) uint8 RGB array; got shape {image.shape} of dtype {image.dtype}"
        )
    if volume.ndim != 3 or volume.shape[1:] != image.shape[:2]:
        raise ValueError(
            f"Shape of volume is {volume.shape} and should be (D, {image.shape[0]}, {image.shape[1]}), "
            "indexed (depth, y, x) over the image"
        )
    if not (volume.dtype == bool or np.issubdtype(volume.dtype, np.floating)):
        raise ValueError(f"volume must be bool or float; got dtype {volume.dtype}")
    points = validate_landmarks(landmarks)
    height, width = image.shape[:2]
    matrix = params.matrix((height, width))

    warped = _warp_plane(image, matrix)
    colored = np.clip(np.rint(warped * np.asarray(params.color, np.float32)), 0, 255).astype(np.uint8)
    moved = points @ matrix[:, :2].T + matrix[:, 2]
    if params.flip:
        moved = moved[FLIP_PERMUTATION]
    return colored, moved, _warp_volume(volume, matrix, params.scale)


def warp_vertices(
    vertices: np.ndarray,
    params: AugmentParams,
    *,
    shape: tuple[int, int, int] = VOLUME_SHAPE,
    z_scale: float = 0.5,
) -> np.ndarray:
    """Apply an augmentation's 3-D similarity to image-space mesh vertices.

    x, y move as the image does; z is scaled by ``params.scale`` about the middle of the
    volume's depth range, ``(D - 1) / 2 * z_scale``, as :func:`augment` does to the volume.
    A flip mirrors the mesh: reverse its triangles (``faces[:, ::-1]``) to keep their
    normals outward.

    Parameters
    ----------
    vertices : np.ndarray, shape (N, 3), float
        (x, y, z) in crop pixels, z larger = nearer the camera (see
        :func:`vrn_studio.train.voxelise`).
    params : AugmentParams
        The augmentation.
    shape : tuple of int, default: (200, 192, 192)
        (D, H, W) of the volume the mesh is voxelised into.
    z_scale : float, default: 0.5
        Crop pixels per depth index.

    Returns
    -------
    np.ndarray, shape (N, 3), float64

    Examples
    --------
    >>> warp_vertices(np.array([[95.5, 95.5, 49.75]]), AugmentParams(scale=1.1, rotation_deg=30.0))
    array([[95.5 , 95.5 , 49.75]])
    """
    v = np.asarray(vertices, np.float64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"Shape of vertices is {v.shape} and should be (N, 3)")
    matrix = params.matrix((shape[1], shape[2]))
    pivot = (shape[0] - 1) / 2 * z_scale
    xy = v[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    return np.column_stack([xy, (v[:, 2] - pivot) * params.scale + pivot])


def _warp_plane(plane: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Resample an (H, W) or (H, W, C) array with the 2 x 3 similarity, zeros outside."""
    height, width = plane.shape[:2]
    return cv2.warpAffine(
        plane, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def _warp_volume(volume: np.ndarray, matrix: np.ndarray, scale: float) -> np.ndarray:
    """Scale the depth axis about its middle (edge slices repeated), then warp each slice."""
    depth = volume.shape[0]
    pivot = (depth - 1) / 2
    source = np.clip((np.arange(depth) - pivot) / scale + pivot, 0, depth - 1)
    below = np.floor(source).astype(np.int64)
    above = np.minimum(below + 1, depth - 1)
    weight = (source - below).astype(np.float32)
    out = np.empty(volume.shape, np.float32)
    for d in range(depth):
        plane = volume[below[d]].astype(np.float32)
        if weight[d] > 0:
            plane += weight[d] * (volume[above[d]].astype(np.float32) - plane)
        out[d] = _warp_plane(plane, matrix)
    return out >= 0.5 if volume.dtype == bool else out
