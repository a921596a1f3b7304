"""The paper's reconstruction error: normalised mean error over the face region (eq. 2).

``NME = (1 / N) sum_k ||x_k - y_k||_2 / d``, the mean over the N ground-truth face-region
vertices x_k of the distance to the corresponding predicted point y_k, divided by the 3D
outer interocular distance d (between the outer eye corners, iBUG landmarks 36 and 45,
0-based). The prediction and the ground truth must be in the same frame and length unit
(for VRN meshes: crop pixels, with the depth already halved); the NME itself has no unit.

Correspondence
--------------
The paper pairs vertices without saying how; a VRN mesh and a 3DMM ground truth share no
topology. ``correspondence="nearest"`` (the default) pairs each ground-truth vertex with the
nearest *vertex* of the prediction (a :class:`scipy.spatial.cKDTree` query). This is an
upper bound on the point-to-surface distance that approaches it as the prediction's vertex
spacing shrinks; VRN meshes have about one vertex per crop pixel, so the excess is a
fraction of a pixel. ``correspondence="surface"`` measures the exact distance to the
predicted triangles instead (:func:`surface_distance`; it needs ``pred_faces``).
``correspondence="index"`` pairs vertex k with vertex k, for predictions that share the
ground truth's topology (e.g. a fitted 3DMM).

Alignment
---------
``align="icp"`` first moves the prediction onto the ground truth with point-to-point ICP
(:func:`vrn_studio.eval.icp.icp_align`), as the authors did. ICP is run from the
ground-truth face region to the prediction and its transform inverted, so that it minimises
the squares of the very distances the NME averages; a prediction covering more than the
face region (neck, ears) is therefore not dragged onto it.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy.spatial import cKDTree

from vrn_studio.crop.crop import N_LANDMARKS
from vrn_studio.eval.icp import apply_transform, as_points, icp_align

LEFT_EYE_OUTER = 36
"""Index (0-based, iBUG 68) of the outer corner of the subject's right eye (image left)."""
RIGHT_EYE_OUTER = 45
"""Index (0-based, iBUG 68) of the outer corner of the subject's left eye (image right)."""
NOSE_TIP = 30
"""Index (0-based, iBUG 68) of the nose tip."""

DEFAULT_RADIUS_FACTOR = 1.0
"""Radius of :func:`face_region_mask` around the nose tip, in outer interocular distances.

The Florence and AFLW2000-3D protocols that followed the paper crop the ground truth to a
ball of 95 mm around the nose tip; adult outer interocular (outer canthal) distances are
about 90-100 mm, so one interocular distance is that crop expressed without a length unit.
"""

_QUERY_CHUNK = 4096
"""Query points measured together by :func:`surface_distance` (bounds its memory)."""

Correspondence = Literal["nearest", "surface", "index"]
Alignment = Literal["icp"]


def outer_interocular(landmarks_3d: np.ndarray) -> float:
    """The 3D outer interocular distance d of eq. 2.

    Parameters
    ----------
    landmarks_3d : array_like, shape (68, 3)
        iBUG-68 points (x, y, z) in the mesh's frame and unit.

    Returns
    -------
    float
        ``||landmarks_3d[36] - landmarks_3d[45]||``, in the landmarks' unit.

    Raises
    ------
    ValueError
        The shape is wrong, a value is not finite, or the two eye corners coincide.
    """
    points = as_points("gt_landmarks_3d", landmarks_3d, shape=(N_LANDMARKS, 3))
    distance = float(np.linalg.norm(points[LEFT_EYE_OUTER] - points[RIGHT_EYE_OUTER]))
    if distance <= 0:
        raise ValueError(
            f"Outer eye corners (landmarks {LEFT_EYE_OUTER} and {RIGHT_EYE_OUTER}) coincide at "
            f"{points[LEFT_EYE_OUTER].tolist()}: the interocular distance is zero"
        )
    return distance


def face_region_mask(
    gt_vertices: np.ndarray,
    gt_landmarks_3d: np.ndarray,
    radius_factor: float = DEFAULT_RADIUS_FACTOR,
) -> np.ndarray:
    """Which ground-truth vertices form the face region over which the NME is averaged.

    The paper averages over a face region of about 19k vertices of its 3DMM ground truth
    without defining it for other meshes. This approximation keeps the vertices within a
    3D ball around the nose tip (landmark 30) of radius ``radius_factor`` times the outer
    interocular distance: it depends on no particular topology, is invariant to pose, and
    with the default factor matches the 95 mm nose-tip crop of later evaluation protocols
    (see :data:`DEFAULT_RADIUS_FACTOR`).

    Parameters
    ----------
    gt_vertices : array_like, shape (M, 3)
        Ground-truth vertices.
    gt_landmarks_3d : array_like, shape (68, 3)
        Ground-truth iBUG-68 points in the same frame and unit.
    radius_factor : float
        Radius of the ball in outer interocular distances; > 0.

    Returns
    -------
    np.ndarray, shape (M,), bool
        True for the vertices of the face region.

    Raises
    ------
    ValueError
        A shape is wrong, a value is not finite, the interocular distance is zero, or
        ``radius_factor`` is not positive.
    """
    vertices = as_points("gt_vertices", gt_vertices)
    if not (math.isfinite(radius_factor) and radius_factor > 0):
        raise ValueError(f"radius_factor is {radius_factor} and should be a positive number")
    radius = radius_factor * outer_interocular(gt_landmarks_3d)
    nose = np.asarray(gt_landmarks_3d, dtype=np.float64)[NOSE_TIP]
    return np.linalg.norm(vertices - nose, axis=1) <= radius


def nme(
    pred_vertices: np.ndarray,
    gt_vertices: np.ndarray,
    *,
    interocular: float | None = None,
    gt_landmarks_3d: np.ndarray | None = None,
    region_mask: np.ndarray | None = None,
    correspondence: Correspondence = "nearest",
    pred_faces: np.ndarray | None = None,
    align: Alignment | None = None,
    symmetric: bool = False,
) -> float:
    """Normalised mean error of a predicted mesh against its ground truth (paper eq. 2).

    See the module docstring for the correspondence and the alignment.

    Parameters
    ----------
    pred_vertices : array_like, shape (N, 3)
        Predicted vertices, in the ground truth's frame and unit.
    gt_vertices : array_like, shape (M, 3)
        Ground-truth vertices.
    interocular : float, optional
        The normalising distance d (> 0, in the vertices' unit). By default it is
        computed from ``gt_landmarks_3d`` (:func:`outer_interocular`).
    gt_landmarks_3d : array_like, shape (68, 3), optional
        Ground-truth iBUG-68 points; needed when ``interocular`` is not given.
    region_mask : array_like, shape (M,), bool, optional
        The ground-truth vertices to average over (e.g. :func:`face_region_mask`); all of
        them by default.
    correspondence : {"nearest", "surface", "index"}
        ``"nearest"``: each ground-truth vertex is paired with the nearest predicted
        vertex. ``"surface"``: with the nearest point of the predicted triangles.
        ``"index"``: with the predicted vertex of the same index (N must equal M).
    pred_faces : array_like, shape (K, 3), int, optional
        Predicted triangles as indices into ``pred_vertices``; needed by ``"surface"``.
    align : {"icp"} or None
        ``"icp"``: rigidly align the prediction onto the face region first.
    symmetric : bool
        Average the error in both directions: the mean above, and the mean distance from
        each predicted vertex lying over the face region (its nearest ground-truth vertex is
        in the region) to the nearest face-region vertex. Only with ``"nearest"``.

    Returns
    -------
    float
        The NME, unitless; 0 for a perfect prediction.

    Raises
    ------
    ValueError
        A shape is wrong, a mesh is empty or not finite, the region is empty, the
        interocular distance is missing or not positive, an option is unknown, or (with
        ``symmetric``) no predicted vertex lies over the face region.

    Examples
    --------
    >>> gt = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    >>> nme(gt + [0, 0, 0.5], gt, interocular=2.0)
    0.25
    """
    pred = as_points("pred_vertices", pred_vertices)
    gt = as_points("gt_vertices", gt_vertices)
    d = _interocular(interocular, gt_landmarks_3d)
    mask = _region(region_mask, len(gt))
    if correspondence not in ("nearest", "surface", "index"):
        raise ValueError(
            f"correspondence is {correspondence!r} and should be 'nearest', 'surface' or 'index'"
        )
    if correspondence == "surface" and pred_faces is None:
        raise ValueError("correspondence='surface' needs pred_faces, the predicted triangles")
    if correspondence == "index" and len(pred) != len(gt):
        raise ValueError(
            f"correspondence='index' pairs vertices by index, but the prediction has {len(pred)} "
            f"vertices and the ground truth {len(gt)}"
        )
    if symmetric and correspondence != "nearest":
        raise ValueError("symmetric=True needs correspondence='nearest'")
    if align not in (None, "icp"):
        raise ValueError(f"align is {align!r} and should be None or 'icp'")
    region = gt[mask]
    if align == "icp":
        pred = align_onto_region(pred, region)
    if correspondence == "index":
        errors = np.linalg.norm(pred[mask] - region, axis=1)
        return float(errors.mean() / d)
    if correspondence == "surface":
        errors = surface_distance(region, pred, pred_faces)
    else:
        errors, _ = cKDTree(pred).query(region)
    error = float(errors.mean())
    if symmetric:
        _, nearest_gt = cKDTree(gt).query(pred)
        over_region = pred[mask[nearest_gt]]
        if len(over_region) == 0:
            raise ValueError("No predicted vertex lies over the face region: symmetric NME is undefined")
        back, _ = cKDTree(region).query(over_region)
        error = 0.5 * (error + float(back.mean()))
    return error / d


def align_onto_region(pred_vertices: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The prediction rigidly moved onto a ground-truth face region by ICP (see the module docstring).

    ICP runs from the region to the prediction and its transform is inverted, so the
    distances it minimises are the ones the NME averages.

    Parameters
    ----------
    pred_vertices : array_like, shape (N, 3)
        Predicted vertices, in the ground truth's frame and unit.
    region : array_like, shape (M, 3)
        The ground-truth vertices of the face region.

    Returns
    -------
    np.ndarray, shape (N, 3), float64
        The moved prediction.
    """
    pred = as_points("pred_vertices", pred_vertices)
    _, transform, _ = icp_align(region, pred)
    return apply_transform(np.linalg.inv(transform), pred)


def surface_distance(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Exact distance from each point to the nearest point of a triangle mesh.

    The nearest vertex of a triangle in use bounds the distance from above; only the
    triangles whose bounding balls (about their centroids) come within that bound are then
    measured, each exactly (the distance to the triangle's plane when the projection falls
    inside it, else to its nearest edge). Triangles are searched in groups of similar size,
    so a few large ones (a decimated mesh's flat parts) do not widen every search;
    degenerate triangles count through their edges.

    Parameters
    ----------
    points : array_like, shape (P, 3)
        Query points.
    vertices : array_like, shape (N, 3)
        Mesh vertices, in the points' frame and unit.
    faces : array_like, shape (K, 3), int
        Triangles as indices into ``vertices``; at least one.

    Returns
    -------
    np.ndarray, shape (P,), float64
        Distances, in the points' unit.

    Raises
    ------
    ValueError
        A shape is wrong, a value is not finite, there is no triangle, or an index is out
        of range.

    Examples
    --------
    >>> triangle = np.array([[0.0, 0, 0], [4, 0, 0], [0, 4, 0]])
    >>> surface_distance([[1.0, 1, 3], [-3, 0, 4]], triangle, [[0, 1, 2]])
    array([3., 5.])
    """
    queries = as_points("points", points)
    verts = as_points("vertices", vertices)
    tris = np.asarray(faces)
    if tris.ndim != 2 or tris.shape[1] != 3 or len(tris) == 0 or not np.issubdtype(tris.dtype, np.integer):
        raise ValueError(
            f"faces has shape {tris.shape} and dtype {tris.dtype}; it should be (K >= 1, 3) integers"
        )
    if tris.min() < 0 or tris.max() >= len(verts):
        raise ValueError(f"Face indices must lie in [0, {len(verts)}); got [{tris.min()}, {tris.max()}]")
    corners = verts[tris]  # (K, 3 corners, 3)
    centroids = corners.mean(axis=1)
    radius = np.linalg.norm(corners - centroids[:, None], axis=2).max(axis=1)
    bound, _ = cKDTree(verts[np.unique(tris)]).query(queries)
    distances = bound.copy()
    # Triangles grouped by size (radii within a factor of two): a few large triangles widen the
    # search of their own group only, not of every query against every triangle.
    size_class = np.floor(np.log2(np.maximum(radius, 1e-12) / max(float(radius.max()), 1e-12))).astype(np.int64)
    for group in np.unique(size_class):
        members = np.flatnonzero(size_class == group)
        tree, reach = cKDTree(centroids[members]), float(radius[members].max())
        for start in range(0, len(queries), _QUERY_CHUNK):
            rows = np.arange(start, min(start + _QUERY_CHUNK, len(queries)))
            candidates = tree.query_ball_point(queries[rows], bound[rows] + reach)
            owner = np.repeat(rows, [len(c) for c in candidates])
            if len(owner) == 0:
                continue
            triangle = members[np.concatenate(candidates).astype(np.int64)]
            np.minimum.at(distances, owner, _point_triangle_distance(queries[owner], corners[triangle]))
    return distances


def _point_triangle_distance(q: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Distance from each point q[i] (P, 3) to the triangle tri[i] (P, 3 corners, 3)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    normal = np.cross(b - a, c - a)
    area2 = np.einsum("ij,ij->i", normal, normal)
    height = np.einsum("ij,ij->i", q - a, normal) / np.where(area2 > 0, area2, 1.0)
    foot = q - height[:, None] * normal
    inside = area2 > 0
    for p0, p1 in ((a, b), (b, c), (c, a)):
        inside &= np.einsum("ij,ij->i", np.cross(p1 - p0, foot - p0), normal) >= 0
    edge = np.full(len(q), np.inf)
    for p0, p1 in ((a, b), (b, c), (c, a)):
        direction = p1 - p0
        length2 = np.einsum("ij,ij->i", direction, direction)
        t = np.clip(np.einsum("ij,ij->i", q - p0, direction) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
        edge = np.minimum(edge, np.linalg.norm(q - p0 - t[:, None] * direction, axis=1))
    return np.where(inside, np.abs(height) * np.sqrt(area2), edge)


def _interocular(interocular: float | None, landmarks_3d: np.ndarray | None) -> float:
    if interocular is None:
        if landmarks_3d is None:
            raise ValueError("Give either interocular or gt_landmarks_3d to normalise the NME")
        return outer_interocular(landmarks_3d)
    if not (math.isfinite(interocular) and interocular > 0):
        raise ValueError(f"interocular is {interocular} and should be a positive distance")
    return float(interocular)


def _region(region_mask: np.ndarray | None, n_vertices: int) -> np.ndarray:
    if region_mask is None:
        return np.ones(n_vertices, dtype=bool)
    mask = np.asarray(region_mask)
    if mask.dtype != np.bool_ or mask.shape != (n_vertices,):
        raise ValueError(
            f"region_mask has shape {mask.shape} and dtype {mask.dtype}; it should be a bool array "
            f"of shape ({n_vertices},), one flag per ground-truth vertex"
        )
    if not mask.any():
        raise ValueError("region_mask selects no ground-truth vertex: the face region is empty")
    return mask
