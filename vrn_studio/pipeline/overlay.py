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


def mesh_overlay(image: np.ndarray, mesh_photo: Mesh, *, alpha: float = 0.7) -> np.ndarray:
    """The photo with the photo-space mesh drawn over it, shaded in a light blue clay colour.

    Parameters
    ----------
    image : np.ndarray, shape (H, W, 3), uint8
        The photo, RGB.
    mesh_photo : Mesh
        The mesh in photo pixel coordinates (``Result.mesh_photo``).
    alpha : float, default: 0.7
        Opacity of the mesh, 0 to 1.

    Returns
    -------
    np.ndarray, shape (H, W, 3), uint8
    """
    if mesh_photo.is_empty:
        return image.copy()
    shade, mask = shade_depth(depth_map(mesh_photo, shape=image.shape[:2]))
    clay = (shade[..., None] * np.array(CLAY)).astype(np.float32)
    out = image.astype(np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * clay[mask]
    return np.clip(out, 0, 255).astype(np.uint8)


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
