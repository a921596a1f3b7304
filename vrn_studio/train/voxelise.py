"""Mesh to the binary volume VRN is trained on.

Conventions
-----------
The mesh is posed in *image space*, the frame of :func:`vrn_studio.mesh.volume_to_mesh`'s
output: vertex (x, y, z) with x, y in crop pixels (pixel centres at integers, y down) and
z the depth in crop pixels, larger = nearer the camera. The volume has shape (D, H, W),
indexed (depth, y, x), and voxel (d, y, x) has its centre at ``(x, y, d * z_scale)``. With
the default ``z_scale = 0.5`` one crop pixel of depth spans two depth bins: the network
was trained with depth stretched x2, so a 200-bin volume covers 100 crop pixels of depth.

Filling rule
------------
Voxels are sampled at their centres: a voxel is 1 when its centre lies inside the solid.
Each pixel column (y, x) is tested through its centre, and a triangle covers a column when
the centre falls inside the triangle's projection. Centres exactly on a shared edge or
vertex belong to one triangle only (the point is nudged by an infinitesimal
``(eps, eps**2)``), so a closed mesh is crossed an even number of times by every column.

``fill="behind"`` (open surfaces, such as the front of a face): the solid is everything
behind the front-most surface, so column (y, x) is filled from the back of the volume
(index 0) up to and including ``floor(z_front / z_scale)``, where ``z_front`` is the
largest depth of the surface over the column centre. This is how we read the paper's
"1 inside the face, 0 outside" for meshes that only have a front (300W-LP's 3DMM fits):
the visible surface extruded to the back of the grid, so the target never depends on the
unseen back of the head. A closed head mesh can be filled the same way with
``fill="behind"``.

``fill="inside"`` (closed meshes): a voxel is 1 when the ray from its centre towards the
camera crosses the surface an odd number of times (parity), which handles concave bodies
and several shells.

``fill="auto"`` (the default) takes ``"inside"`` when every edge of the mesh is shared by an
even number of triangles (a closed surface) and ``"behind"`` otherwise.

A column's filled count is on average its solid length: a front surface at depth index
``t`` fills ``floor(t) + 1`` voxels for the ``t + 0.5`` voxels of solid between the back
face of voxel 0 (index -0.5) and ``t``. Meshing the result with
:func:`vrn_studio.mesh.volume_to_mesh` at its default level (10/255) puts the surface
0.96 voxel in front of the last filled centre: on flat parts the round trip lies between
0.04 voxel behind and 0.96 voxel in front of the original surface (half a voxel in front on
average), and within 1.5 voxels everywhere on a sphere, silhouette included.

Parts of the mesh outside the grid are clipped: columns outside (H, W) are dropped, and a
surface in front of the grid fills its whole column.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from vrn_studio.mesh.raster import front_surface, rasterise

Fill = Literal["auto", "behind", "inside"]

VOLUME_SHAPE: tuple[int, int, int] = (200, 192, 192)
"""(D, H, W) of the network's volume: 200 depth bins over a 192 x 192 crop."""

def voxelise(
    mesh_vertices: np.ndarray,
    faces: np.ndarray,
    *,
    shape: tuple[int, int, int] = VOLUME_SHAPE,
    z_scale: float = 0.5,
    fill: Fill = "auto",
) -> np.ndarray:
    """Binary volume of a mesh posed in image space, aligned with the image.

    See the module docstring for the frame and the filling rule.

    Parameters
    ----------
    mesh_vertices : array_like, shape (N, 3), float
        Vertices (x, y, z): x, y in crop pixels (y down), z depth in crop pixels, larger =
        nearer the camera.
    faces : array_like, shape (M, 3), int
        Triangles as indices into ``mesh_vertices``; the winding does not matter.
    shape : tuple of int, default: (200, 192, 192)
        (D, H, W) of the volume.
    z_scale : float, default: 0.5
        Crop pixels per depth index (> 0): depth index = z / z_scale.
    fill : {"auto", "behind", "inside"}, default: "auto"
        ``"behind"``: everything behind the front-most surface (open meshes);
        ``"inside"``: parity inside a closed mesh; ``"auto"``: ``"inside"`` when the mesh is
        closed, else ``"behind"``.

    Returns
    -------
    np.ndarray, shape (D, H, W), bool
        True inside the face, indexed (depth, y, x).

    Raises
    ------
    ValueError
        On vertices that are not (N, 3) finite numbers, faces that are not (M, 3) integers
        indexing them, a shape that is not three positive integers, a non-positive
        ``z_scale`` or an unknown ``fill``.

    Examples
    --------
    A square patch over x, y in [1, 3) at z = 1.6 (depth index 3.2):

    >>> square = np.array([[1, 1, 1.6], [3, 1, 1.6], [3, 3, 1.6], [1, 3, 1.6]])
    >>> vol = voxelise(square, [[0, 1, 2], [0, 2, 3]], shape=(6, 4, 4))
    >>> vol.sum(axis=0)
    array([[0, 0, 0, 0],
           [0, 4, 4, 0],
           [0, 4, 4, 0],
           [0, 0, 0, 0]])
    """
    vertices, tris = _check_mesh(mesh_vertices, faces)
    depth, height, width = _check_shape(shape)
    if not (np.isfinite(z_scale) and z_scale > 0):
        raise ValueError(f"z_scale must be a positive number; got {z_scale}")
    if fill not in ("auto", "behind", "inside"):
        raise ValueError(f"Unknown fill {fill!r}. Available: auto, behind, inside.")
    if fill == "auto":
        fill = "inside" if is_closed(tris) else "behind"
    columns = height * width
    if fill == "behind":
        front = front_surface(vertices, tris, height, width)[0].reshape(-1) / z_scale
        volume = np.arange(depth, dtype=np.float64)[:, None] <= front[None, :]
    else:
        pixel, _, _, z = rasterise(vertices[tris], height, width)
        index = z / z_scale
        # A crossing at depth index t toggles every voxel d <= t (the ray from d towards
        # the camera passes it): mark floor(t), then accumulate the parity from the front.
        top = np.floor(index)
        keep = top >= 0
        top = np.minimum(top[keep], depth - 1).astype(np.int64)
        toggles = np.zeros((depth, columns), np.uint8)
        np.add.at(toggles, (top, pixel[keep]), 1)
        volume = np.bitwise_xor.accumulate(toggles[::-1] & 1, axis=0)[::-1].astype(bool)
    return volume.reshape(depth, height, width)


def back_surface(vertices: np.ndarray, faces: np.ndarray, height: int, width: int) -> np.ndarray:
    """The back-most surface of a mesh over each pixel centre: the farthest crossing.

    :func:`~vrn_studio.mesh.raster.front_surface` of the mesh mirrored in depth (z negated), negated back: the same
    rasteriser and the same edge rule, so on a closed mesh every pixel centre the front
    surface covers has a back surface too.

    Parameters
    ----------
    vertices : np.ndarray, shape (N, 3), float
        (x, y, z) in pixels, z larger = nearer the camera (the frame of :func:`voxelise`).
    faces : np.ndarray, shape (M, 3), int
        Triangles (on a closed mesh, those facing away from the camera are enough).
    height, width : int
        The pixel grid.

    Returns
    -------
    np.ndarray, shape (height, width), float64
        Smallest z of the surface at each pixel centre, ``+inf`` where no triangle covers it.

    Examples
    --------
    Two squares over x, y in [1, 3), at z = 2 and z = 5:

    >>> quads = np.array([[1, 1, 0], [3, 1, 0], [3, 3, 0], [1, 3, 0]], float)
    >>> vertices = np.concatenate([quads + [0, 0, 2], quads + [0, 0, 5]])
    >>> faces = [[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]]
    >>> back_surface(vertices, faces, 4, 4)[1:3, 0:3].tolist()
    [[inf, 2.0, 2.0], [inf, 2.0, 2.0]]
    """
    mirrored = np.asarray(vertices, np.float64) * [1.0, 1.0, -1.0]
    return -front_surface(mirrored, faces, height, width)[0]


def is_closed(faces: np.ndarray) -> bool:
    """Whether every edge is shared by an even number of triangles (a closed surface).

    Parameters
    ----------
    faces : np.ndarray, shape (M, 3), int
        Triangles.

    Returns
    -------
    bool
        True for a closed (watertight) surface; False for an open one or no triangles.

    Examples
    --------
    >>> is_closed(np.array([[0, 1, 2], [3, 1, 0], [3, 2, 1], [3, 0, 2]]))
    True
    >>> is_closed(np.array([[0, 1, 2]]))
    False
    """
    faces = np.asarray(faces, np.int64).reshape(-1, 3)
    if len(faces) == 0:
        return False
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return bool((counts % 2 == 0).all())


def _check_mesh(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"Shape of mesh_vertices is {v.shape} and should be (N, 3)")
    if not np.isfinite(v).all():
        bad = np.flatnonzero(~np.isfinite(v).all(axis=1))
        raise ValueError(f"mesh_vertices contain NaN or infinite values (vertices {bad[:10].tolist()})")
    f = np.asarray(faces)
    if f.size == 0:
        return v, np.zeros((0, 3), np.int64)
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"faces must be an (M, 3) integer array; got shape {f.shape} of dtype {f.dtype}")
    if f.min() < 0 or f.max() >= len(v):
        raise ValueError(f"Face indices must lie in [0, {len(v)}); got [{f.min()}, {f.max()}]")
    return v, f.astype(np.int64)


def _check_shape(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    values = tuple(shape)
    if len(values) != 3 or not all(isinstance(n, (int, np.integer)) and n > 0 for n in values):
        raise ValueError(
            f"shape must be three positive integers (D, H, W), e.g. (200, 192, 192); got {shape!r}"
        )
    return int(values[0]), int(values[1]), int(values[2])
