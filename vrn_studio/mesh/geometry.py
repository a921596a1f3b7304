"""Vectorised triangle geometry (face normals, vertex normals, enclosed volume) and rotations."""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from vrn_studio.mesh.types import Mesh


def face_normals(mesh: Mesh) -> np.ndarray:
    """Unit normal of each triangle by the right-hand rule.

    Parameters
    ----------
    mesh : Mesh
        Any mesh.

    Returns
    -------
    np.ndarray, shape (M, 3), float32
        ``(v1 - v0) x (v2 - v0)`` normalised; zero for degenerate triangles.

    Examples
    --------
    >>> m = Mesh(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]]), np.array([[0, 1, 2]]))
    >>> face_normals(m)
    array([[0., 0., 1.]], dtype=float32)
    """
    return _normalise(_face_cross(mesh.vertices, mesh.faces))


def vertex_normals(mesh: Mesh) -> np.ndarray:
    """Unit normal of each vertex: the area-weighted mean of its triangles' normals.

    Parameters
    ----------
    mesh : Mesh
        Any mesh; the normals follow its winding (right-hand rule).

    Returns
    -------
    np.ndarray, shape (N, 3), float32
        Zero for vertices used by no triangle (or only by degenerate ones).
    """
    cross = _face_cross(mesh.vertices, mesh.faces)
    m = mesh.n_faces
    corners = sparse.csr_matrix(  # (M, N): triangle -> its three vertices, built without a sort
        (np.ones(3 * m), mesh.faces.ravel(), np.arange(0, 3 * m + 1, 3)), shape=(m, mesh.n_vertices)
    )
    return _normalise(corners.T @ cross)


def signed_volume(mesh: Mesh) -> float:
    """Volume enclosed by a closed mesh, positive when its normals point outward.

    Parameters
    ----------
    mesh : Mesh
        A closed (watertight) mesh; for an open mesh the value depends on the origin.

    Returns
    -------
    float
        In cubed units of the vertex coordinates.

    Examples
    --------
    >>> tetra = Mesh(np.eye(3, k=0).tolist() + [[0, 0, 0]], [[0, 1, 2], [3, 1, 0], [3, 2, 1], [3, 0, 2]])
    >>> round(signed_volume(tetra), 6)
    0.166667
    """
    v = mesh.vertices.astype(np.float64)
    a, b, c = (v[mesh.faces[:, i]] for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def euler_rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Rotation (3, 3) ``Rz(roll) @ Ry(yaw) @ Rx(pitch)``, angles in radians, right-handed.

    Pitch turns about x, then yaw about y, then roll about z; each ``R`` is the standard
    counter-clockwise rotation (``Rz(a) @ [1, 0, 0] = [cos a, sin a, 0]``).

    Examples
    --------
    >>> euler_rotation(0.0, math.pi / 2, 0.0).round(6) @ [0, 0, 1]
    array([1., 0., 0.])
    """
    cp, sp, cy, sy, cr, sr = (f(a) for a in (pitch, yaw, roll) for f in (math.cos, math.sin))
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _face_cross(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    v = vertices.astype(np.float64)
    a, b, c = (v[faces[:, i]] for i in range(3))
    return np.cross(b - a, c - a)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows of ``vectors`` (N, 3) scaled to unit length, float32; zero rows stay zero."""
    v = np.asarray(vectors)
    length = np.sqrt(np.einsum("ij,ij->i", v, v))[:, None]
    return np.divide(v, length, out=np.zeros(v.shape, np.float32), where=length > 0, casting="unsafe")
