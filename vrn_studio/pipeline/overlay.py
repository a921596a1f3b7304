"""Pictures of a result laid over its photo: landmarks, and the shaded mesh."""

from __future__ import annotations

import cv2
import numpy as np

from vrn_studio.mesh import Mesh, depth_map

LIGHT = np.array([0.3, -0.4, 0.87])
"""Direction towards the light in (x, y down, z towards the camera), for shading."""
CLAY = (150.0, 190.0, 255.0)
"""RGB of a fully lit mesh in overlays: a light blue that stands out from skin tones."""


def shade_depth(depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lambert shading of a depth image.

    Parameters
    ----------
    depth : np.ndarray, shape (H, W), float
        Depth in pixels (larger = nearer), NaN where there is no surface.

    Returns
    -------
    shade : np.ndarray, shape (H, W), float32
        Brightness in [0, 1].
    mask : np.ndarray, shape (H, W), bool
        Where there is a surface.
    """
    mask = np.isfinite(depth)
    filled = np.where(mask, depth, np.nanmin(depth) if mask.any() else 0.0).astype(np.float32)
    gy, gx = np.gradient(filled)
    normals = np.dstack([-gx, -gy, np.ones_like(gx)])
    normals /= np.linalg.norm(normals, axis=2, keepdims=True)
    light = LIGHT / np.linalg.norm(LIGHT)
    shade = np.clip(normals @ light, 0.0, 1.0) * 0.8 + 0.2
    return shade.astype(np.float32), mask


MAX_RENDER_SIDE = 1024
"""Longest side, in pixels, at which :func:`mesh_overlay` draws the face's region before
scaling it to the photo. The mesh carries about 200 crop pixels of detail across the face,
so drawing a face larger than this adds time and memory (quadratically), not detail."""
_MARGIN = 3
"""Pixels of background around the mesh in the drawn region: the shading's gradient at the
mesh's edge then sees the same neighbours as over the whole photo."""


def mesh_overlay(
    image: np.ndarray, mesh_photo: Mesh, *, alpha: float = 0.7, max_side: int = MAX_RENDER_SIDE
) -> np.ndarray:
    """The photo with the photo-space mesh drawn over it, shaded in a light blue clay colour.

    Only the mesh's region of the photo is drawn, at most ``max_side`` pixels on its longer
    side, then scaled to the photo (bilinear) and blended in: time and memory are bounded
    whatever the photo's size. Where the region is within ``max_side`` (any face in a photo
    of normal size) the picture is exactly that of drawing over the whole photo.

    Parameters
    ----------
    image : np.ndarray, shape (H, W, 3), uint8
        The photo, RGB.
    mesh_photo : Mesh
        The mesh in photo pixel coordinates (``Result.mesh_photo``).
    alpha : float, default: 0.7
        Opacity of the mesh, 0 to 1.
    max_side : int, default: MAX_RENDER_SIDE
        Longest side in pixels at which the mesh's region is drawn.

    Returns
    -------
    np.ndarray, shape (H, W, 3), uint8
    """
    out = image.copy()
    if mesh_photo.is_empty:
        return out
    height, width = image.shape[:2]
    xy = mesh_photo.vertices[:, :2]
    x0, y0 = np.maximum(np.floor(xy.min(axis=0)).astype(int) - _MARGIN, 0)
    x1, y1 = np.minimum(np.ceil(xy.max(axis=0)).astype(int) + _MARGIN + 1, [width, height])
    if x1 <= x0 or y1 <= y0:
        return out
    scale = min(1.0, max_side / max(x1 - x0, y1 - y0))
    vertices = mesh_photo.vertices.astype(np.float64) - [x0, y0, 0]
    if scale < 1:  # pixel centres: region pixel c covers photo pixel (c + 0.5) / scale - 0.5
        vertices = (vertices + [0.5, 0.5, 0]) * scale - [0.5, 0.5, 0]
    size = (max(1, round((y1 - y0) * scale)), max(1, round((x1 - x0) * scale)))
    shade, mask = shade_depth(depth_map(Mesh(vertices, mesh_photo.faces), shape=size))
    if scale < 1:
        shade = cv2.resize(shade, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(mask.astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR) > 0.5
    region = out[y0:y1, x0:x1]
    clay = shade[mask][:, None] * np.array(CLAY, np.float32)
    region[mask] = np.clip((1 - alpha) * region[mask].astype(np.float32) + alpha * clay, 0, 255).astype(np.uint8)
    return out


def landmarks_overlay(image: np.ndarray, landmarks: np.ndarray, *, box: np.ndarray | None = None) -> np.ndarray:
    """The photo with 68 landmarks (green dots) and an optional face box (yellow) drawn.

    ``landmarks`` is (68, 2) in the image's pixels; ``box`` is (x1, y1, x2, y2).
    """
    out = np.ascontiguousarray(image.copy())
    radius = max(1, round(min(image.shape[:2]) / 250))
    if box is not None:
        x1, y1, x2, y2 = np.round(box).astype(int)
        cv2.rectangle(out, (x1, y1), (x2, y2), (255, 210, 0), max(1, radius // 2 + 1))
    for x, y in np.round(landmarks).astype(int):
        cv2.circle(out, (int(x), int(y)), radius, (0, 255, 0), -1, lineType=cv2.LINE_AA)
    return out
