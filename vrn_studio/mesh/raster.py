"""Triangles projected on a pixel grid: every (pixel centre, triangle) crossing, and the
front-most surface over each pixel centre (a z-buffer with exact depths).

Frame: vertex (x, y, z) in pixels, pixel centres at integer (x, y), y down, z larger = nearer
the camera; the projection is orthographic along z. A centre exactly on an edge or vertex
shared by two triangles belongs to one of them only (the point is nudged by an
infinitesimal ``(eps, eps**2)``), so a closed mesh is crossed an even number of times by
every column and a surface has no cracks or doubled pixels.
"""

from __future__ import annotations

import numpy as np

_BATCH_SAMPLES = 1 << 21
"""Most candidate pixels one vectorised rasterisation batch evaluates (memory bound)."""



def front_surface(
    vertices: np.ndarray, faces: np.ndarray, height: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The front-most surface of a mesh over each pixel centre (a z-buffer).

    Parameters
    ----------
    vertices : np.ndarray, shape (N, 3), float
        (x, y, z) in pixels, z larger = nearer the camera (the frame of :func:`voxelise`).
    faces : np.ndarray, shape (M, 3), int
        Triangles.
    height, width : int
        The pixel grid.

    Returns
    -------
    depth : np.ndarray, shape (height, width), float64
        z of the front surface at each pixel centre, ``-inf`` where no triangle covers it.
    pixel : np.ndarray, shape (K,), int64
        Flat indices ``y * width + x`` of the covered pixels.
    triangle : np.ndarray, shape (K,), int64
        The front triangle (index into ``faces``) at each of them.
    weights : np.ndarray, shape (K, 3), float64
        Its barycentric weights there (to interpolate vertex attributes).
    """
    faces = np.asarray(faces, np.int64)
    pixel, triangle, weights, z = rasterise(np.asarray(vertices, np.float64)[faces], height, width)
    order = np.lexsort((-z, pixel))  # by pixel, front-most first
    first = np.ones(len(order), bool)
    first[1:] = pixel[order][1:] != pixel[order][:-1]
    front = order[first]
    depth = np.full(height * width, -np.inf)
    depth[pixel[front]] = z[front]
    return depth.reshape(height, width), pixel[front], triangle[front], weights[front]


def rasterise(
    tri: np.ndarray, height: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (pixel centre, triangle) crossing of triangles projected on a pixel grid.

    The projection is orthographic along z; pixel centres lie at integer (x, y) and a centre
    on an edge shared by two triangles belongs to exactly one of them (see the module
    docstring).

    Parameters
    ----------
    tri : np.ndarray, shape (M, 3, 3), float64
        Triangle corners (x, y, z) in pixels.
    height, width : int
        Size of the pixel grid; centres outside it are dropped.

    Returns
    -------
    pixel : np.ndarray, shape (K,), int64
        Flat pixel index ``y * width + x`` of each crossing.
    triangle : np.ndarray, shape (K,), int64
        Index into ``tri`` of the crossing triangle.
    weights : np.ndarray, shape (K, 3), float64
        Barycentric weights of the triangle's corners at the pixel centre (they sum to 1).
    z : np.ndarray, shape (K,), float64
        Depth of the triangle's plane at the pixel centre (exact for planes on the grid).
    """
    # Orient every projection counter-clockwise in the (x right, y down) frame, so that
    # inside = all three edge functions positive; drop projections with no area.
    area = _cross(tri[:, 1, :2] - tri[:, 0, :2], tri[:, 2, :2] - tri[:, 0, :2])
    corners = np.where((area < 0)[:, None], [0, 2, 1], [0, 1, 2])
    index = np.flatnonzero(area != 0)
    corners = corners[index]
    tri = np.take_along_axis(tri[index], corners[:, :, None], axis=1)
    lo = np.maximum(np.ceil(tri[:, :, :2].min(axis=1)), 0).astype(np.int64)
    hi = np.minimum(np.floor(tri[:, :, :2].max(axis=1)), [width - 1, height - 1]).astype(np.int64)
    keep = (hi >= lo).all(axis=1)
    tri, lo, hi, index, corners = tri[keep], lo[keep], hi[keep], index[keep], corners[keep]
    side = (hi - lo).max(axis=1, initial=0) + 1
    order = np.argsort(side, kind="stable")
    tri, lo, hi, side, index, corners = tri[order], lo[order], hi[order], side[order], index[order], corners[order]
    pixels, triangles, weights, depths = [], [], [], []
    start = 0
    while start < len(tri):
        # Triangles sorted by bounding-box side: batch as many as fit the sample budget.
        cost = np.arange(1, len(tri) - start + 1) * side[start:] ** 2
        stop = start + max(1, int(np.searchsorted(cost, _BATCH_SAMPLES, side="right")))
        pixel, which, weight, z = _rasterise_batch(
            tri[start:stop], lo[start:stop], hi[start:stop], int(side[stop - 1]), width
        )
        # Weights are of the oriented corners: put them back in the caller's corner order.
        unoriented = np.empty_like(weight)
        np.put_along_axis(unoriented, corners[start:stop][which], weight, axis=1)
        pixels.append(pixel)
        triangles.append(index[start:stop][which])
        weights.append(unoriented)
        depths.append(z)
        start = stop
    if not pixels:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0)
    return np.concatenate(pixels), np.concatenate(triangles), np.concatenate(weights), np.concatenate(depths)


def _rasterise_batch(
    tri: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Crossings of counter-clockwise triangles whose pixel boxes fit in n x n.

    Returns the flat pixel indices, the index of each crossing's triangle in ``tri``, the
    barycentric weights (K, 3) of its corners and the depth of its plane.
    """
    offset = np.arange(n)
    px = (lo[:, 0, None] + offset)[:, None, :]  # (B, 1, n)
    py = (lo[:, 1, None] + offset)[:, :, None]  # (B, n, 1)
    inside = (px <= hi[:, 0, None, None]) & (py <= hi[:, 1, None, None])
    values = []
    for k in range(3):
        value, covers = _edge_function(tri[:, k, :2], tri[:, (k + 1) % 3, :2], px, py)
        values.append(value)
        inside &= covers
    b, row, col = np.nonzero(inside)
    # Barycentric weight of corner k is the edge function of the opposite edge (k + 1 -> k + 2).
    e0, e1, e2 = (v[b, row, col] for v in values)
    total = e0 + e1 + e2
    z = (e1 * tri[b, 0, 2] + e2 * tri[b, 1, 2] + e0 * tri[b, 2, 2]) / total
    return py[b, row, 0] * width + px[b, 0, col], b, np.column_stack([e1, e2, e0]) / total[:, None], z


def _edge_function(
    a: np.ndarray, b: np.ndarray, px: np.ndarray, py: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``cross(b - a, p - a)`` for every pixel centre p, and whether p is on the inner side.

    Parameters
    ----------
    a, b : np.ndarray, shape (B, 2)
        Edge endpoints (x, y) of each triangle, the triangle counter-clockwise.
    px : np.ndarray, shape (B, 1, n), int
    py : np.ndarray, shape (B, n, 1), int
        Pixel centres of each triangle's grid.

    Returns
    -------
    value : np.ndarray, shape (B, n, n), float64
    covers : np.ndarray, shape (B, n, n), bool

    Notes
    -----
    The value is computed from the edge's lexicographically smaller endpoint, so the same
    edge walked the other way by a neighbouring triangle gives exactly the negated value;
    a zero value (p on the edge) counts as inside when the nudged point
    ``p + (eps, eps**2)`` is inside, so exactly one of two neighbours covers p.
    """
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    p = np.where(swap[:, None], b, a)[:, :, None, None]
    q = np.where(swap[:, None], a, b)[:, :, None, None]
    sign = np.where(swap, -1.0, 1.0)[:, None, None]
    dx, dy = sign * (q[:, 0] - p[:, 0]), sign * (q[:, 1] - p[:, 1])
    value = sign * ((q[:, 0] - p[:, 0]) * (py - p[:, 1]) - (q[:, 1] - p[:, 1]) * (px - p[:, 0]))
    # cross(d, (eps, eps**2)) = d_x eps**2 - d_y eps: positive when d_y < 0, or d_y == 0 < d_x.
    nudge_inside = (dy < 0) | ((dy == 0) & (dx > 0))
    return value, (value > 0) | ((value == 0) & nudge_inside)


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
