"""Photo textures: UVs from each vertex's projection into the photo, the photo as the texture."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vrn_studio.mesh.geometry import face_normals
from vrn_studio.mesh.isosurface import PhotoTransform, depth_map, mesh_to_photo
from vrn_studio.mesh.types import Mesh

FACING_MIN = 0.15
"""A triangle is seen by the photo when its normal's z (towards the camera) is above this (about
81 degrees from the view direction; the mean of its corners' normals when the mesh has them,
which follow the volume's gradient across the depth bins' terraces): steeper ones would smear
a few texels over them."""

OCCLUSION_PX = 1.5
"""A corner more than this many crop pixels (plus what the local slope allows) behind the
front-most surface at its (x, y) is hidden (under the nose, behind an ear)."""

FILL_ROWS = 8
"""Height in texels of the band under the photo that unseen triangles map to."""


@dataclass(frozen=True, eq=False)
class TexturedMesh:
    """A mesh whose colour comes from a texture picture through per-vertex UVs.

    Attributes
    ----------
    mesh : Mesh
        Geometry and normals (no vertex colours). Vertices on the border between seen and
        unseen triangles appear twice, once per UV.
    uv : np.ndarray, shape (N, 2), float32
        Texture coordinates in [0, 1], origin at the texture's *top-left* corner (glTF's
        convention; OBJ's ``vt`` is ``(u, 1 - v)``).
    texture : np.ndarray, shape (H, W, 3), uint8
        RGB picture: the photo's pixels over the face's region at full resolution, then
        :data:`FILL_ROWS` rows of one skin colour.
    seen : np.ndarray, shape (M,), bool
        Per triangle: True when its colour comes from the photo, False when it maps to
        the skin-colour band (back, sides beyond :data:`FACING_MIN`, hidden parts, parts
        outside the photo).
    origin : tuple of int
        ``(x0, y0)``: the photo pixel at the texture's top-left texel.
    """

    mesh: Mesh
    uv: np.ndarray
    texture: np.ndarray
    seen: np.ndarray
    origin: tuple[int, int]


def texture_from_photo(mesh: Mesh, transform: PhotoTransform, image: np.ndarray, crop_size: int = 192) -> TexturedMesh:
    """Texture a crop-space mesh with the photo it came from.

    Each vertex's UV is its exact projection into the photo (``transform.to_photo`` of its
    crop x, y), so the texture is as sharp as the photo, not the 192 px crop. The photo
    sees only part of a head: triangles that face away from the camera, are seen at more
    than about 81 degrees (:data:`FACING_MIN`), are hidden behind a nearer part of the
    surface, or project outside the photo are mapped to a band of one skin colour (the
    median of the photo over the seen corners in the middle of the face) below the photo region, so the
    back and sides of a head get a plain skin tone instead of a stretched copy of the
    face. Their corners shared with seen triangles are duplicated, one per UV.

    Parameters
    ----------
    mesh : Mesh
        Crop-space mesh (x, y crop pixels, y down; z depth in crop pixels, larger = nearer).
    transform : CropTransform
        The photo -> crop transform that made the crop.
    image : np.ndarray, shape (H, W, 3), uint8
        The photo, RGB.
    crop_size : int, default: 192
        Side of the crop in pixels (for the hidden-surface test).

    Returns
    -------
    TexturedMesh
        In crop space, like ``mesh`` (pass ``result.mesh`` to :func:`to_viewer_frame` for
        other programs; the UVs do not depend on the frame).

    Examples
    --------
    >>> from vrn_studio.crop import CropTransform
    >>> tri = Mesh(np.array([[10.0, 10, 5], [30, 10, 5], [10, 30, 5]]), np.array([[0, 1, 2]]))
    >>> photo = np.full((64, 64, 3), 200, np.uint8)
    >>> tm = texture_from_photo(tri, CropTransform(scale=1.0, tx=0.0, ty=0.0), photo)
    >>> tm.texture.shape, tm.seen.tolist()
    ((33, 25, 3), [True])
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB; got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    photo_xy = mesh_to_photo(mesh, transform).vertices[:, :2].astype(np.float64)
    seen = _seen_faces(mesh, photo_xy, (height, width), crop_size)

    used = np.unique(mesh.faces[seen])
    if len(used):
        low = np.clip(np.floor(photo_xy[used].min(axis=0)).astype(int) - 2, 0, None)
        high = np.minimum(np.ceil(photo_xy[used].max(axis=0)).astype(int) + 3, (width, height))
    else:
        low, high = np.zeros(2, int), np.ones(2, int)
    region = image[low[1]:high[1], low[0]:high[0]]
    fill = _skin_colour(image, photo_xy[_central(mesh.vertices, used)])
    texture = np.concatenate([region, np.broadcast_to(fill, (FILL_ROWS, region.shape[1], 3))], axis=0)

    # Corners of unseen triangles get their own copy of the vertex, pointing into the band.
    n = mesh.n_vertices
    unseen_corners = np.unique(mesh.faces[~seen])
    copy_of = np.full(n, -1, np.int64)
    copy_of[unseen_corners] = n + np.arange(len(unseen_corners))
    faces = mesh.faces.copy()
    faces[~seen] = copy_of[mesh.faces[~seen]]
    keep = np.concatenate([np.arange(n), unseen_corners])
    used_after = np.zeros(len(keep), bool)
    used_after[faces] = True  # drop originals that only unseen triangles used
    renumber = np.cumsum(used_after) - 1
    faces = renumber[faces]

    tex_h, tex_w = texture.shape[:2]
    uv = np.empty((len(keep), 2), np.float64)
    uv[:n] = (photo_xy - low + 0.5) / (tex_w, tex_h)
    uv[n:] = (0.5, 1.0 - FILL_ROWS / 2 / tex_h)
    keep, uv = keep[used_after], uv[used_after]
    normals = None if mesh.normals is None else mesh.normals[keep]
    textured = Mesh(mesh.vertices[keep], faces, None, normals)
    return TexturedMesh(textured, np.clip(uv, 0.0, 1.0).astype(np.float32), np.ascontiguousarray(texture),
                        seen, (int(low[0]), int(low[1])))


def _seen_faces(mesh: Mesh, photo_xy: np.ndarray, photo_shape: tuple[int, int], crop_size: int) -> np.ndarray:
    """(M,) bool: triangles facing the camera, not hidden, with every corner inside the photo."""
    normal_z = mesh.normals[:, 2] if mesh.normals is not None else None
    if normal_z is not None:  # the volume's gradient normals: smooth across the depth bins' terraces
        facing = normal_z[mesh.faces].mean(axis=1) > FACING_MIN
    else:
        facing = face_normals(mesh)[:, 2] > FACING_MIN
        normal_z = np.full(mesh.n_vertices, 1.0)
    front = depth_map(mesh, shape=(crop_size, crop_size))
    col = np.clip(np.rint(mesh.vertices[:, 0]).astype(np.int64), 0, crop_size - 1)
    row = np.clip(np.rint(mesh.vertices[:, 1]).astype(np.int64), 0, crop_size - 1)
    # The depth map holds the nearest surface within half a pixel: on a slope that is up to
    # half a pixel times the slope in front of a vertex that is not hidden at all.
    nz = np.clip(np.abs(normal_z), FACING_MIN, 1.0)
    slack = OCCLUSION_PX + 0.5 * np.sqrt(1.0 - nz**2) / nz
    visible = ~(mesh.vertices[:, 2] < front[row, col] - slack)  # NaN (no surface there) counts as visible
    height, width = photo_shape
    x, y = photo_xy[:, 0], photo_xy[:, 1]
    inside = (x >= 0) & (x <= width - 1) & (y >= 0) & (y <= height - 1)
    return facing & (visible & inside)[mesh.faces].all(axis=1)


def _central(vertices: np.ndarray, used: np.ndarray) -> np.ndarray:
    """The vertices of ``used`` in the middle of the face (the central half of its width, 35-75 %
    down its height: cheeks, nose, mouth; not hair, hat or background at its edges)."""
    if len(used) == 0:
        return used
    low, high = vertices[used, :2].min(axis=0), vertices[used, :2].max(axis=0)
    rel = (vertices[used, :2] - low) / np.maximum(high - low, 1e-6)
    middle = (rel[:, 0] > 0.25) & (rel[:, 0] < 0.75) & (rel[:, 1] > 0.35) & (rel[:, 1] < 0.75)
    return used[middle] if middle.any() else used


def _skin_colour(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Median RGB (3,) uint8 of ``image`` at photo points ``xy`` (N, 2); mid grey when none."""
    if len(xy) == 0:
        return np.full(3, 128, np.uint8)
    col = np.clip(np.rint(xy[:, 0]).astype(np.int64), 0, image.shape[1] - 1)
    row = np.clip(np.rint(xy[:, 1]).astype(np.int64), 0, image.shape[0] - 1)
    return np.median(image[row, col], axis=0).astype(np.uint8)
