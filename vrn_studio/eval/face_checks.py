"""Plausibility checks of a reconstruction on a real photo, where no ground truth exists.

Two figures a face mesh must get right whatever the model:

- :func:`silhouette_iou`: the mesh's silhouette laid on the photo against the convex hull
  of the 68 detected landmarks (intersection over union; the hull spans brows to chin and
  cheek to cheek, the region VRN's volumes cover). It judges *face* models (the release,
  ``vrn-studio-guided``) only: a whole-head model covers forehead, ears and neck, far outside
  the hull, so a perfect head scores about 0.3-0.5 on it. Head models are judged by
  :func:`silhouette_fit` instead: the hull covered (``coverage``, about 1 for any face or head
  that fits) and the silhouette's area over the hull's (``spread``, about 1 for a face mask,
  2-3.5 for a head, more when the mesh spills beyond the head);
- :func:`nose_protrusion`: how far the surface at the nose tip (landmark 30, 0-based; 31 in
  iBUG's 1-based numbering) stands in front of the surface at the outer eye corners (36
  and 45), over the outer interocular distance. On real faces it is about 0.3-0.5; a flat
  or inverted face gives 0 or less.
"""

from __future__ import annotations

import cv2
import numpy as np

from vrn_studio.crop import validate_landmarks
from vrn_studio.eval.dataset import lift_landmarks
from vrn_studio.mesh import Mesh

NOSE_TIP_2D = 30
EYE_OUTER_2D = (36, 45)


def silhouette_mask(mesh: Mesh, shape: tuple[int, int]) -> np.ndarray:
    """Photo pixels (H, W) bool covered by the mesh's projection (x, y in photo pixels).

    Each triangle is filled on its own: one ``fillPoly`` of all of them would fill by the
    even-odd rule and leave a pixel that two triangles cover (a closed head's front and back,
    a fold) empty.

    Examples
    --------
    >>> twice = Mesh(np.array([[0, 0, 0], [9, 0, 0], [0, 9, 0.0]]), np.array([[0, 1, 2], [0, 1, 2]]))
    >>> int(silhouette_mask(twice, (10, 10)).sum())
    55
    """
    mask = np.zeros(shape, np.uint8)
    for triangle in np.rint(mesh.vertices[mesh.faces][:, :, :2] * 16).astype(np.int32):
        cv2.fillConvexPoly(mask, triangle, 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def hull_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Photo pixels (H, W) bool inside the convex hull of ``points`` (N, 2)."""
    mask = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.rint(np.asarray(points) * 16).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def silhouette_iou(mesh_photo: Mesh, landmarks: np.ndarray, shape: tuple[int, int]) -> float:
    """IoU of the mesh's silhouette and the landmarks' convex hull on a photo of ``shape`` (H, W).

    Parameters
    ----------
    mesh_photo : Mesh
        The reconstruction in photo pixels (``Result.mesh_photo``).
    landmarks : np.ndarray, shape (68, 2)
        The face's landmarks in photo pixels.
    shape : tuple of int
        (height, width) of the photo.

    Examples
    --------
    >>> square = Mesh(np.array([[0, 0, 0], [9, 0, 0], [9, 9, 0], [0, 9, 0.0]]), np.array([[0, 1, 2], [0, 2, 3]]))
    >>> points = np.array([[0, 0], [9, 0], [9, 9], [0, 9.0]] * 17)
    >>> round(silhouette_iou(square, points, (12, 12)), 3)
    1.0
    """
    return silhouette_fit(mesh_photo, landmarks, shape)["iou"]


def silhouette_fit(mesh_photo: Mesh, landmarks: np.ndarray, shape: tuple[int, int]) -> dict[str, float]:
    """How the mesh's silhouette sits on the landmarks' convex hull, for face and head models alike.

    Parameters are those of :func:`silhouette_iou`.

    Returns
    -------
    dict
        ``coverage``: the fraction of the hull's pixels inside the silhouette (0-1);
        ``spread``: the silhouette's area over the hull's (0 when the hull is empty);
        ``iou``: :func:`silhouette_iou`, their intersection over their union (0 when both are empty).

    Examples
    --------
    >>> head = Mesh(np.array([[0, 0, 0], [19, 0, 0], [19, 19, 0], [0, 19, 0.0]]), np.array([[0, 1, 2], [0, 2, 3]]))
    >>> points = np.array([[5, 5], [14, 5], [14, 14], [5, 14.0]] * 17)
    >>> fit = silhouette_fit(head, points, (24, 24))
    >>> round(fit["coverage"], 2), round(fit["spread"], 1)
    (1.0, 4.0)
    """
    points = validate_landmarks(landmarks)
    silhouette, hull = silhouette_mask(mesh_photo, shape), hull_mask(points, shape)
    area, both = int(hull.sum()), int(np.logical_and(silhouette, hull).sum())
    union = int(np.logical_or(silhouette, hull).sum())
    return {"coverage": both / area if area else 0.0, "spread": float(silhouette.sum() / area) if area else 0.0,
            "iou": both / union if union else 0.0}


def nose_protrusion(mesh_photo: Mesh, landmarks: np.ndarray) -> float:
    """Depth of the surface at the nose tip over that at the outer eye corners, per interocular.

    The surface depth under a landmark is that of the front-most of the mesh vertices
    nearest it in the photo plane (:func:`~vrn_studio.eval.dataset.lift_landmarks`); the
    result is ``(z_nose - mean(z_eyes)) / |eye_36 - eye_45|``, both in photo pixels, with z
    towards the camera.

    Examples
    --------
    >>> x, y = np.meshgrid(np.arange(11.0), np.arange(6.0))
    >>> z = np.maximum(0, 4 - abs(x - 5) - abs(y - 5))  # a bump of height 4 at (5, 5)
    >>> cone = Mesh(np.column_stack([x.ravel(), y.ravel(), z.ravel()]), np.zeros((0, 3), int))
    >>> points = np.tile([5.0, 5.0], (68, 1))
    >>> points[36], points[45] = [0, 0], [10, 0]
    >>> nose_protrusion(cone, points)
    0.4
    """
    points = validate_landmarks(landmarks)
    lifted = lift_landmarks(mesh_photo.vertices, points)
    eyes = lifted[list(EYE_OUTER_2D)]
    return float((lifted[NOSE_TIP_2D, 2] - eyes[:, 2].mean()) / np.linalg.norm(eyes[0, :2] - eyes[1, :2]))
