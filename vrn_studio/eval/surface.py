"""Surface quality of a reconstruction: normal error against the ground truth, and terracing.

The NME (eq. 2) measures where the surface is; the eye sees how it is *oriented* first: a
volume meshed at a few depth bins shows stair steps (terraces) long before the NME moves.
Two figures complement it, both in degrees:

Normal error (:func:`normal_angle_error`, and the median of :func:`normal_angles`)
    The mean (and median) angle between the ground truth's vertex normal at each face-region vertex and
    the predicted vertex normal of its nearest predicted vertex (the NME's ``"nearest"``
    correspondence), after the same ICP alignment (:func:`~vrn_studio.eval.nme.align_onto_region`).
    Normals are the area-weighted vertex normals (:func:`vrn_studio.mesh.vertex_normals`)
    oriented out of each mesh (:func:`outward`), so the figure does not depend on either
    mesh's winding convention.

Terracing (:func:`terracing`)
    The median and 90th percentile of the angle between the normals of adjacent triangles
    (sharing an edge) that both face the camera (outward normal with a positive depth
    component, depth towards the camera): a smooth surface bends little from one triangle
    to the next, a terraced one folds at every step. Measured on the predicted mesh alone.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from vrn_studio.eval.dataset import Sample
from vrn_studio.eval.nme import align_onto_region, face_region_mask, nme
from vrn_studio.mesh import Mesh, face_normals, vertex_normals


def outward(mesh: Mesh) -> float:
    """+1 when the mesh's triangles are wound with normals pointing away from its centroid, else -1.

    The sign of the area-weighted sum of ``(triangle centroid - mesh centroid) . normal``:
    the enclosed volume's sign for a closed mesh, and the bulk orientation of an open one
    (a face, or a volume's surface open at the grid's back).
    """
    corners = mesh.vertices.astype(np.float64)[mesh.faces]
    cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    offsets = corners.mean(axis=1) - mesh.vertices.mean(axis=0)
    return 1.0 if np.einsum("ij,ij->", offsets, cross) >= 0 else -1.0


def normal_angles(pred: Mesh, gt: Mesh, region_mask: np.ndarray) -> np.ndarray:
    """Angle in degrees between each face-region ground-truth vertex's normal and the predicted one.

    Parameters
    ----------
    pred : Mesh
        The prediction, already in the ground truth's frame (aligned).
    gt : Mesh
        The ground truth.
    region_mask : np.ndarray, shape (len(gt.vertices),), bool
        The ground-truth vertices to measure (:func:`~vrn_studio.eval.nme.face_region_mask`).

    Returns
    -------
    np.ndarray, shape (region_mask.sum(),)
        Degrees in [0, 180], one per region vertex, against the predicted vertex nearest it.
    """
    gt_normals = vertex_normals(gt).astype(np.float64) * outward(gt)
    pred_normals = vertex_normals(pred).astype(np.float64) * outward(pred)
    region = gt.vertices.astype(np.float64)[region_mask]
    _, nearest = cKDTree(pred.vertices).query(region)
    cosines = np.einsum("ij,ij->i", gt_normals[region_mask], pred_normals[nearest])
    return np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))


def normal_angle_error(pred: Mesh, gt: Mesh, region_mask: np.ndarray) -> float:
    """Mean angle in degrees between ground-truth and predicted normals over the face region
    (the mean of :func:`normal_angles`; same parameters); 0 when every pair of normals agrees."""
    return float(normal_angles(pred, gt, region_mask).mean())


def terracing(mesh: Mesh) -> tuple[float, float]:
    """Median and 90th percentile, in degrees, of the angle between adjacent camera-facing triangles.

    Parameters
    ----------
    mesh : Mesh
        Vertices (x, y, z) with z the depth towards the camera (a VRN mesh in crop or photo
        pixels).

    Returns
    -------
    (float, float)
        Median and 90th percentile over all pairs of camera-facing triangles sharing an edge.

    Raises
    ------
    ValueError
        No two camera-facing triangles share an edge.
    """
    normals = face_normals(mesh).astype(np.float64) * outward(mesh)
    facing = np.flatnonzero(normals[:, 2] > 0)
    tris = mesh.faces[facing]
    edges = np.sort(tris[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    owner = np.repeat(facing, 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    edges, owner = edges[order], owner[order]
    shared = np.flatnonzero((edges[1:] == edges[:-1]).all(axis=1))
    if len(shared) == 0:
        raise ValueError("no two camera-facing triangles share an edge")
    cosines = np.einsum("ij,ij->i", normals[owner[shared]], normals[owner[shared + 1]])
    angles = np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))
    return float(np.median(angles)), float(np.percentile(angles, 90))


FACE_PARTS: dict[str, range] = {
    "jaw": range(17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48), "mouth": range(48, 68),
}
"""The iBUG-68 landmarks (0-based) of each part of the face, for the NME by part."""


def part_masks(gt_vertices: np.ndarray, landmarks_3d: np.ndarray, region_mask: np.ndarray) -> dict[str, np.ndarray]:
    """The face region split by part: each region vertex goes to the part of its nearest 3D landmark.

    Parameters
    ----------
    gt_vertices : np.ndarray, shape (M, 3)
        The ground-truth vertices.
    landmarks_3d : np.ndarray, shape (68, 3)
        Their iBUG-68 landmarks.
    region_mask : np.ndarray, shape (M,), bool
        The face region (:func:`~vrn_studio.eval.nme.face_region_mask`).

    Returns
    -------
    dict
        One (M,) bool mask per :data:`FACE_PARTS` key; together they make up the region.
    """
    _, nearest = cKDTree(np.asarray(landmarks_3d, np.float64)).query(np.asarray(gt_vertices, np.float64))
    return {part: region_mask & np.isin(nearest, list(points)) for part, points in FACE_PARTS.items()}


def measure_prediction(pred: Mesh, sample: Sample) -> dict[str, float]:
    """NME (eq. 2, ICP-aligned, face region), normal error and terracing of a prediction.

    Parameters
    ----------
    pred : Mesh
        The predicted mesh in the sample's photo frame (``Result.mesh_photo``).
    sample : Sample
        The ground truth (mesh and landmarks in photo pixels).

    Returns
    -------
    dict
        ``nme`` (unitless) and ``nme_<part>`` for each :data:`FACE_PARTS` part the region holds
        (the same measure over that part of the region, :func:`part_masks`),
        ``normal_error_degrees`` (mean) and ``normal_error_median_degrees``
        (less swayed by the few vertices whose nearest predicted vertex lies on another part,
        such as across the lips), ``terracing_median_degrees``,
        ``terracing_p90_degrees`` and ``region_vertices``.
    """
    gt = sample.mesh
    landmarks_3d = sample.landmarks_3d_or_lifted()
    region = face_region_mask(gt.vertices, landmarks_3d)
    aligned = Mesh(align_onto_region(pred.vertices, gt.vertices[region]), pred.faces)
    median, p90 = terracing(pred)
    angles = normal_angles(aligned, gt, region)
    by_part = {f"nme_{part}": nme(aligned.vertices, gt.vertices, gt_landmarks_3d=landmarks_3d, region_mask=mask)
               for part, mask in part_masks(gt.vertices, landmarks_3d, region).items() if mask.any()}
    return {
        "nme": nme(aligned.vertices, gt.vertices, gt_landmarks_3d=landmarks_3d, region_mask=region),
        **by_part,
        "normal_error_degrees": float(angles.mean()),
        "normal_error_median_degrees": float(np.median(angles)),
        "terracing_median_degrees": median,
        "terracing_p90_degrees": p90,
        "region_vertices": int(region.sum()),
    }
