"""Printable faces: a crop-space mesh cut flat at the back, closed, optionally on a base, in millimetres.

:func:`printable_mesh` turns a reconstruction's mesh into one solid a slicer accepts as it is:
every edge shared by exactly two triangles wound the same way (watertight and manifold),
outward normals (positive volume), a flat back to lie on the print bed, and real size.

Scale
-----
The outer eye corners (iBUG landmarks 36 and 45) are lifted onto the front of the mesh (the
front-most surface point over each landmark's (x, y), found by casting a ray from the
camera) and their 3D distance is set to ``interocular_mm``: by default the adult mean of
:data:`ADULT_OUTER_INTEROCULAR_MM`, or the sitter's own measurement. Where a corner lies
over no triangle, the landmarks' 2D distance in the crop is used instead.

Cut
---
A whole head would print as an egg balanced on its nose. A face relief is cut by a plane
perpendicular to the depth axis; by default (``cut_fraction=0.5``) half-way between the
front-most point (the nose tip) and the back-most point. On a whole head the ear canals lie
near the head's mid-coronal plane, so this keeps the face up to the ears, like a mask; VRN's
volumes extrude the visible face to the back of the grid, and the cut then halves that
extrusion. The part in front of the plane is kept and its cross-section is closed with a
flat cap (or, with a base, fused to the base's top face), both triangulated by ear clipping
with holes bridged in.

Holes
-----
:func:`~vrn_studio.mesh.volume_to_mesh` pads the grid with zeros where a body touches its
border, so its surfaces (and their smoothed copies) are closed. A mesh with holes from
elsewhere (a patch cut out, a decimation) is repaired: each hole is closed with a fan of
triangles around the centroid of its edge, which suits the small holes such edits leave; a
large, strongly non-planar hole gets a rough patch. A surface that cannot be repaired this
way (an edge shared by three triangles, neighbours wound oppositely, a hole whose edge
passes twice through one vertex) raises :class:`~vrn_studio.errors.ExportError`.

Frame
-----
The result is in the viewer frame (x right, y up, the face looking towards +z) in
millimetres, with its bounding box's corner at the origin: x and y start at 0 and the flat
back, or the base's bottom, lies at z = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vrn_studio.errors import ExportError
from vrn_studio.mesh.geometry import signed_volume
from vrn_studio.mesh.types import Mesh

ADULT_OUTER_INTEROCULAR_MM: float = 89.5
"""Adult mean outer interocular (exocanthion-exocanthion, biocular) width, in millimetres.

Farkas, *Anthropometry of the Head and Face*, 2nd ed. (Raven Press, 1994): ex-ex of North
American white adults aged 18-25 is 91.2 mm in men and 87.8 mm in women (SD about 3 mm);
this is their mean. Give the sitter's own measurement for a true-to-life print.
"""

DEFAULT_CUT_FRACTION: float = 0.5
"""Part of the mesh's depth kept in front of the cut plane, from the front-most point."""

BASE_MARGIN_MM: float = 2.0
"""How far a base reaches beyond the kept part's outline on each side, in millimetres."""

_N_LANDMARKS = 68
OUTER_EYE_CORNERS = (36, 45)
"""iBUG-68 indices (0-based) of the outer eye corners (``vrn_studio.eval.nme`` names them too,
but the mesh layer cannot import the evaluation layer)."""


@dataclass(frozen=True, eq=False)
class PrintableMesh:
    """A closed solid ready for a slicer, and how it relates to the crop it came from.

    Attributes
    ----------
    mesh : Mesh
        The solid in millimetres, viewer frame (x right, y up, face towards +z), bounding
        box from (0, 0, 0) to :attr:`size_mm`; the flat back, or the base's bottom, is at
        z = 0. No colours, no normals.
    mm_per_pixel : float
        Scale: millimetres per crop pixel (depth included).
    size_mm : tuple of float
        Bounding size (width, height, depth) in millimetres, base included.
    base_mm : float
        Thickness of the base slab behind the face in millimetres; 0 for none.
    origin_crop : tuple of float
        The crop-space point (x, y, z) that maps to the origin: the bounding box's left
        (smallest x), bottom (largest crop y) and back (the back plane or base bottom).
    """

    mesh: Mesh
    mm_per_pixel: float
    size_mm: tuple[float, float, float]
    base_mm: float
    origin_crop: tuple[float, float, float]

    @property
    def title(self) -> str:
        """One line naming the print and its size, e.g. for an STL header (at most 80 ASCII bytes).

        Examples
        --------
        >>> p = PrintableMesh(Mesh.empty(), 1.0, (91.24, 120.4, 60.06), 0.0, (0.0, 0.0, 0.0))
        >>> p.title
        'VRN Studio printable face, 91.2 x 120.4 x 60.1 mm'
        """
        width, height, depth = self.size_mm
        return f"VRN Studio printable face, {width:.1f} x {height:.1f} x {depth:.1f} mm"

    def from_crop(self, points: np.ndarray) -> np.ndarray:
        """Crop-space points (x, y down, z towards the camera, in pixels) in this print's frame.

        Parameters
        ----------
        points : array_like, shape (N, 3)
            Points in crop pixels.

        Returns
        -------
        np.ndarray, shape (N, 3), float64
            The same points in millimetres in the frame of :attr:`mesh`.
        """
        return _crop_to_print(np.asarray(points, np.float64), self.origin_crop, self.mm_per_pixel)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Points of this print's frame (millimetres) back in crop pixels: :meth:`from_crop`'s inverse.

        Parameters
        ----------
        points : array_like, shape (N, 3)
            Points in millimetres in the frame of :attr:`mesh`.

        Returns
        -------
        np.ndarray, shape (N, 3), float64
            The same points in crop pixels (x, y down, z towards the camera).

        Examples
        --------
        >>> p = PrintableMesh(Mesh.empty(), 0.5, (1.0, 1.0, 1.0), 0.0, (10.0, 20.0, 30.0))
        >>> p.to_crop(p.from_crop(np.array([[12.0, 18.0, 40.0]]))).tolist()
        [[12.0, 18.0, 40.0]]
        """
        ox, oy, oz = self.origin_crop
        pixels = np.asarray(points, np.float64) / self.mm_per_pixel
        return np.column_stack([pixels[:, 0] + ox, oy - pixels[:, 1], pixels[:, 2] + oz])


def printable_mesh(
    mesh: Mesh,
    landmarks_crop: np.ndarray,
    *,
    interocular_mm: float = ADULT_OUTER_INTEROCULAR_MM,
    base_mm: float = 0.0,
    cut_fraction: float = DEFAULT_CUT_FRACTION,
) -> PrintableMesh:
    """A watertight, flat-backed solid of the face at real size, ready for an STL or 3MF file.

    See the module docstring for the scale, the cut, hole repair and the frame.

    Parameters
    ----------
    mesh : Mesh
        The reconstruction in crop space (x, y in crop pixels, y down; z depth in crop
        pixels, larger = nearer the camera), e.g. ``Result.mesh``. Closed, or with holes
        that a fan of triangles can close; outward or inward winding (inward is flipped).
    landmarks_crop : array_like, shape (68, 2)
        The iBUG-68 landmarks in crop pixels (``Result.landmarks_crop``); only the outer
        eye corners (36 and 45) are used.
    interocular_mm : float, default: ADULT_OUTER_INTEROCULAR_MM
        Distance between the outer eye corners in millimetres (> 0): sets the scale.
    base_mm : float, default: 0.0
        Thickness in millimetres (>= 0) of a rectangular slab fused behind the face,
        reaching :data:`BASE_MARGIN_MM` beyond its outline; 0 for none.
    cut_fraction : float, default: DEFAULT_CUT_FRACTION
        Part of the mesh's depth kept, in (0, 1): the cut plane lies this fraction of the
        way from the front-most to the back-most point.

    Returns
    -------
    PrintableMesh
        The solid in millimetres and its scale and size.

    Raises
    ------
    ExportError
        The mesh is empty; ``interocular_mm``, ``base_mm`` or ``cut_fraction`` is out of
        range; or the surface cannot be made watertight (edges shared by more than two
        triangles or wound inconsistently, pinched holes).
    ValueError
        ``landmarks_crop`` is not a finite (68, 2) array.

    Examples
    --------
    >>> from vrn_studio.mesh import volume_to_mesh
    >>> d, y, x = np.mgrid[:48, :48, :48]
    >>> ball = ((d - 24) ** 2 + (y - 24) ** 2 + (x - 24) ** 2 < 400).astype(np.float32)  # radius 20
    >>> marks = np.zeros((68, 2))
    >>> marks[36], marks[45] = (14, 24), (34, 24)
    >>> sphere = volume_to_mesh(ball, level=0.5, z_scale=1.0)
    >>> p = printable_mesh(sphere, marks, interocular_mm=90.0, base_mm=3.0)
    >>> p.mm_per_pixel, p.title
    (4.5, 'VRN Studio printable face, 179.5 x 179.5 x 91.3 mm')
    """
    if mesh.is_empty:
        raise ExportError("Cannot make a printable mesh: the mesh has no triangles")
    marks = np.asarray(landmarks_crop, np.float64)
    if marks.shape != (_N_LANDMARKS, 2) or not np.isfinite(marks).all():
        raise ValueError(f"landmarks_crop must be a finite ({_N_LANDMARKS}, 2) array; got shape {marks.shape}")
    if not (math.isfinite(interocular_mm) and interocular_mm > 0):
        raise ExportError(
            f"The interocular distance must be a positive number of millimetres; got {interocular_mm}"
        )
    if not (math.isfinite(base_mm) and base_mm >= 0):
        raise ExportError(f"The base thickness must be 0 or more millimetres; got {base_mm}")
    if not 0 < cut_fraction < 1:
        raise ExportError(f"The cut fraction must lie strictly between 0 and 1; got {cut_fraction}")

    vertices, faces = _closed_surface(mesh)
    scale = interocular_mm / _interocular_px(vertices, faces, marks[list(OUTER_EYE_CORNERS)])
    z = vertices[:, 2]
    z_cut = _clear_plane(z, z.max() - cut_fraction * (z.max() - z.min()))
    vertices, faces, segments = _cut_below(vertices, faces, z_cut)
    loops = _cycles(segments[:, 0], segments[:, 1])
    if loops is None:
        raise ExportError(
            "Cannot close the back of the printable mesh: the cut outline is not a set of closed loops"
        )
    z_back = z_cut - base_mm / scale
    if base_mm > 0:
        vertices, closing = _base(vertices, faces, loops, z_cut, z_back, BASE_MARGIN_MM / scale)
    else:  # the cap lies inside the loops, on their right: triangulate them reversed, then flip back
        closing = _fill_polygons(vertices[:, :2], [loop[::-1] for loop in loops])[:, ::-1]
    faces = np.concatenate([faces, closing])
    used, faces = np.unique(faces, return_inverse=True)
    vertices, faces = vertices[used], faces.reshape(-1, 3)

    origin = (float(vertices[:, 0].min()), float(vertices[:, 1].max()), z_back)
    # The y flip is a mirror: reverse the winding so normals still point out (as to_viewer_frame).
    solid = Mesh(_crop_to_print(vertices, origin, scale), faces[:, [0, 2, 1]])
    _check_solid(solid)
    size = tuple(float(s) for s in solid.vertices.max(axis=0))
    return PrintableMesh(solid, float(scale), (size[0], size[1], size[2]), float(base_mm), origin)


def _crop_to_print(points: np.ndarray, origin: tuple[float, float, float], scale: float) -> np.ndarray:
    """Crop-space points (N, 3) -> millimetres in the print frame (y flipped up, origin moved)."""
    ox, oy, oz = origin
    return np.column_stack([points[:, 0] - ox, oy - points[:, 1], points[:, 2] - oz]) * scale


# ---------------------------------------------------------------- topology


def _directed_edges(faces: np.ndarray) -> np.ndarray:
    """The three directed edges (a, b) of each triangle, shape (3M, 2)."""
    return np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])


def _open_edges(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """Directed edges (K, 2) whose reverse no triangle has: the edges of the surface's holes.

    Raises
    ------
    ExportError
        A directed edge is used twice: an edge shared by more than two triangles, or two
        neighbours wound in opposite directions.
    """
    edges = _directed_edges(faces)
    keys = edges[:, 0] * n_vertices + edges[:, 1]
    unique, counts = np.unique(keys, return_counts=True)
    if (counts > 1).any():
        raise ExportError(
            f"Cannot make a printable mesh: {int((counts > 1).sum())} edges are shared by more than two "
            "triangles or by neighbours wound in opposite directions (a non-manifold surface). "
            "Mesh the volume again, or repair the mesh in a mesh editor"
        )
    reverse = edges[:, 1] * n_vertices + edges[:, 0]
    position = np.minimum(np.searchsorted(unique, reverse), len(unique) - 1)
    return edges[unique[position] != reverse]


def _cycles(start: np.ndarray, end: np.ndarray) -> list[np.ndarray] | None:
    """Split directed edges start[i] -> end[i] into closed loops of vertex ids, or None when
    they are not (a vertex with two edges leaving or entering it, or an open chain)."""
    starts, ends = start.tolist(), end.tolist()
    if len(set(starts)) != len(starts) or set(starts) != set(ends) or len(set(ends)) != len(ends):
        return None
    following = dict(zip(starts, ends, strict=True))
    seen: set[int] = set()
    loops = []
    for first in starts:
        if first in seen:
            continue
        loop = [first]
        vertex = following[first]
        while vertex != first:
            loop.append(vertex)
            vertex = following[vertex]
        seen.update(loop)
        loops.append(np.array(loop, np.int64))
    return loops


def _closed_surface(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """The mesh as float64 vertices and faces, coincident vertices merged, degenerate
    triangles dropped, holes closed by centroid fans and the winding made outward."""
    vertices, inverse = np.unique(mesh.vertices.astype(np.float64), axis=0, return_inverse=True)
    faces = inverse.reshape(-1)[mesh.faces]
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])]
    hole_edges = _open_edges(faces, len(vertices))
    if len(hole_edges):
        # A patch must hold each edge of a hole reversed.
        holes = _cycles(hole_edges[:, 1], hole_edges[:, 0])
        if holes is None:
            raise ExportError(
                "Cannot make a printable mesh: the edge of a hole passes twice through one vertex "
                "(a pinched surface), so the hole cannot be closed. Mesh the volume again, or repair "
                "the mesh in a mesh editor"
            )
        centres = np.array([vertices[hole].mean(axis=0) for hole in holes])
        fans = [
            np.column_stack([hole, np.roll(hole, -1), np.full(len(hole), len(vertices) + i)])
            for i, hole in enumerate(holes)
        ]
        vertices = np.concatenate([vertices, centres])
        faces = np.concatenate([faces, *fans])
    if signed_volume(Mesh(vertices, faces)) < 0:
        faces = faces[:, ::-1].copy()
    return vertices, faces


def _check_solid(solid: Mesh) -> None:
    """Raise ExportError unless ``solid`` is watertight, consistently and outward wound, and
    free of coincident vertices (which an STL reader would merge)."""
    if len(_open_edges(solid.faces, solid.n_vertices)):
        raise ExportError("Cannot make a printable mesh: the result still has holes")
    if len(np.unique(solid.vertices, axis=0)) != solid.n_vertices:
        raise ExportError("Cannot make a printable mesh: the result has coincident vertices")
    if signed_volume(solid) <= 0:
        raise ExportError("Cannot make a printable mesh: the result encloses no volume")


# ---------------------------------------------------------------- scale


def _interocular_px(vertices: np.ndarray, faces: np.ndarray, corners: np.ndarray) -> float:
    """Distance in crop pixels between the two eye corners (2, 2) lifted onto the front of the
    surface; their 2D distance where either lies over no triangle."""
    triangles = vertices[faces]
    lifted = [_front_point(triangles, point) for point in corners]
    if any(point is None for point in lifted):
        distance = float(np.linalg.norm(corners[0] - corners[1]))
    else:
        distance = float(np.linalg.norm(lifted[0] - lifted[1]))
    if distance <= 0:
        raise ExportError(
            "Cannot scale the printable mesh: the outer eye corners (landmarks 36 and 45) coincide"
        )
    return distance


def _front_point(triangles: np.ndarray, point: np.ndarray) -> np.ndarray | None:
    """Front-most (largest z) point of ``triangles`` (M, 3, 3) over ``point`` (x, y), or None."""
    a = triangles[:, 0]
    e1, e2 = triangles[:, 1] - a, triangles[:, 2] - a
    d = point - a[:, :2]
    det = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    safe = np.where(det != 0, det, 1.0)
    u = (d[:, 0] * e2[:, 1] - e2[:, 0] * d[:, 1]) / safe
    v = (e1[:, 0] * d[:, 1] - d[:, 0] * e1[:, 1]) / safe
    hit = (det != 0) & (u >= 0) & (v >= 0) & (u + v <= 1)
    if not hit.any():
        return None
    depth = a[hit, 2] + u[hit] * e1[hit, 2] + v[hit] * e2[hit, 2]
    return np.array([point[0], point[1], depth.max()])


# ---------------------------------------------------------------- cut


def _clear_plane(z: np.ndarray, target: float, window: float = 0.25) -> float:
    """The depth within ``window`` of ``target`` farthest from every vertex depth ``z``: a cut
    plane through no vertex, so the cut makes no sliver or duplicate vertex."""
    near = np.sort(z[np.abs(z - target) < window])
    bounds = np.concatenate([[target - window], near, [target + window]])
    widest = int(np.argmax(np.diff(bounds)))
    return float(bounds[widest] + bounds[widest + 1]) / 2


def _cut_below(
    vertices: np.ndarray, faces: np.ndarray, z_cut: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the surface in front of the plane ``z = z_cut`` (no vertex on it).

    Returns
    -------
    vertices : np.ndarray, shape (N + K, 3)
        The input vertices, then one new vertex on the plane per edge crossing it.
    faces : np.ndarray, shape (F, 3)
        The triangles in front of the plane, those crossing it cut to their front part.
    segments : np.ndarray, shape (S, 2)
        Directed edges on the plane that the closing surface must hold (each front
        triangle's edge on the plane, reversed).
    """
    n = len(vertices)
    front = vertices[:, 2] > z_cut
    count = front[faces].sum(axis=1)
    crossing = (count == 1) | (count == 2)
    split, lone = faces[crossing], count[crossing] == 1
    # Roll each crossing triangle (keeping its winding) so that its odd vertex comes first.
    odd = np.argmax(front[split] == lone[:, None], axis=1)
    a, b, c = np.take_along_axis(split, (odd[:, None] + np.arange(3)) % 3, axis=1).T
    keys = np.concatenate([np.minimum(a, b) * n + np.maximum(a, b), np.minimum(a, c) * n + np.maximum(a, c)])
    edges, inverse = np.unique(keys, return_inverse=True)
    low, high = vertices[edges // n], vertices[edges % n]
    t = (z_cut - low[:, 2]) / (high[:, 2] - low[:, 2])
    points = low + t[:, None] * (high - low)
    points[:, 2] = z_cut
    p_ab, p_ac = np.split(n + inverse.reshape(-1), 2)
    tips = np.column_stack([a, p_ab, p_ac])[lone]  # the odd vertex is in front
    quads = np.column_stack([p_ab, b, c, p_ac])[~lone]  # the odd vertex is behind
    kept = np.concatenate([faces[count == 3], tips, quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    segments = np.concatenate([np.column_stack([p_ac, p_ab])[lone], np.column_stack([p_ab, p_ac])[~lone]])
    return np.concatenate([vertices, points]), kept, segments


def _base(
    vertices: np.ndarray,
    faces: np.ndarray,
    loops: list[np.ndarray],
    z_top: float,
    z_bottom: float,
    margin: float,
) -> tuple[np.ndarray, np.ndarray]:
    """A box from ``z_bottom`` to ``z_top`` under the kept part, its top face fused to the cut.

    The top face is the rectangle (the kept part's outline grown by ``margin``) with the cut
    loops as holes, so the box and the face share their edges along the cut.

    Returns
    -------
    vertices : np.ndarray
        ``vertices`` and the box's 8 corners (top 4, then bottom 4).
    faces : np.ndarray
        The box's triangles: top, 4 sides, bottom.
    """
    used = vertices[np.unique(faces)]
    (x0, y0), (x1, y1) = used[:, :2].min(axis=0) - margin, used[:, :2].max(axis=0) + margin
    ring = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])  # counter-clockwise in (x, y)
    top = np.arange(len(vertices), len(vertices) + 4)
    bottom = top + 4
    corners = np.concatenate([np.column_stack([ring, np.full(4, z)]) for z in (z_top, z_bottom)])
    vertices = np.concatenate([vertices, corners])
    lid = _fill_polygons(vertices[:, :2], [top, *loops])  # outside the loops: their left
    following, below_following = np.roll(top, -1), np.roll(bottom, -1)
    sides = np.concatenate(
        [np.column_stack([following, top, bottom]), np.column_stack([following, bottom, below_following])]
    )
    floor = np.array([[bottom[0], bottom[2], bottom[1]], [bottom[0], bottom[3], bottom[2]]])
    return vertices, np.concatenate([lid, sides, floor])


# ---------------------------------------------------------------- polygons


def _cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z of ``(a - o) x (b - o)`` for 2D points (broadcasting): > 0 when o, a, b turn left."""
    ax, ay = a[..., 0] - o[..., 0], a[..., 1] - o[..., 1]
    bx, by = b[..., 0] - o[..., 0], b[..., 1] - o[..., 1]
    return ax * by - ay * bx


def _fill_polygons(xy: np.ndarray, loops: list[np.ndarray]) -> np.ndarray:
    """Triangulate the region left of every directed loop, using only the loops' vertices.

    Parameters
    ----------
    xy : np.ndarray, shape (P, 2)
        Vertex positions.
    loops : list of np.ndarray
        Disjoint simple closed loops of vertex ids: counter-clockwise loops bound regions,
        clockwise loops are holes in the smallest counter-clockwise loop around them.

    Returns
    -------
    np.ndarray, shape (T, 3), int64
        Counter-clockwise triangles.
    """
    areas = [float(_cross(np.zeros(2), xy[loop], xy[np.roll(loop, -1)]).sum()) / 2 for loop in loops]
    outers = [i for i, area in enumerate(areas) if area > 0]
    holes: dict[int, list[np.ndarray]] = {i: [] for i in outers}
    for i, area in enumerate(areas):
        if area < 0:
            around = [j for j in outers if _inside(xy[loops[i][0]], xy[loops[j]])]
            if not around:
                raise ExportError(
                    "Cannot close the back of the printable mesh: a hole in the cut lies outside it"
                )
            holes[min(around, key=lambda j: areas[j])].append(loops[i])
    triangles = [_ear_clip(xy, _bridge(xy, loops[i], holes[i])) for i in outers]
    return np.concatenate(triangles) if triangles else np.zeros((0, 3), np.int64)


def _inside(point: np.ndarray, polygon: np.ndarray) -> bool:
    """Whether ``point`` (2,) lies inside ``polygon`` (K, 2) by the even-odd rule."""
    after = np.roll(polygon, -1, axis=0)
    straddles = (polygon[:, 1] > point[1]) != (after[:, 1] > point[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (after[:, 0] - polygon[:, 0]) / (after[:, 1] - polygon[:, 1])
        x = polygon[:, 0] + (point[1] - polygon[:, 1]) * slope
    return bool(np.count_nonzero(straddles & (x > point[0])) % 2)


def _bridge(xy: np.ndarray, outer: np.ndarray, holes: list[np.ndarray]) -> np.ndarray:
    """One weakly simple loop: ``outer`` with each hole spliced in along a bridge edge.

    Holes go rightmost first (as in Eberly's ear clipping), each joined by the shortest
    segment from one of its vertices to the loop so far that crosses no edge and leaves both
    ends into the region.
    """
    ring = outer
    holes = sorted(holes, key=lambda hole: -xy[hole, 0].max())
    for k, hole in enumerate(holes):
        walls = [ring, hole, *holes[k + 1:]]
        starts = np.concatenate([xy[w] for w in walls])
        ends = np.concatenate([xy[np.roll(w, -1)] for w in walls])
        distance = np.linalg.norm(xy[hole][:, None] - xy[ring][None], axis=2)
        for flat in np.argsort(distance, axis=None):
            i, j = np.unravel_index(flat, distance.shape)
            if _opens_into(xy, hole, i, ring, j) and _opens_into(xy, ring, j, hole, i) and not _crosses(
                xy[hole[i]], xy[ring[j]], starts, ends
            ):
                ring = np.concatenate([ring[: j + 1], np.roll(hole, -i), hole[i:i + 1], ring[j:]])
                break
        else:
            raise ExportError(
                "Cannot close the back of the printable mesh: a hole in the cut cannot be bridged"
            )
    return ring


def _opens_into(xy: np.ndarray, loop: np.ndarray, i: int, other: np.ndarray, j: int) -> bool:
    """Whether the segment from ``loop[i]`` towards ``other[j]`` starts into the region (left of loop)."""
    p, v, n = xy[loop[i - 1]], xy[loop[i]], xy[loop[(i + 1) % len(loop)]]
    target = xy[other[j]]
    after, before = _cross(v, n, target) > 0, _cross(v, target, p) > 0
    return bool(after and before) if _cross(p, v, n) > 0 else bool(after or before)


def _crosses(p: np.ndarray, q: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> bool:
    """Whether segment p-q meets any edge starts[k]-ends[k] other than at p or q themselves."""
    touching = (starts == p).all(1) | (starts == q).all(1) | (ends == p).all(1) | (ends == q).all(1)
    d1, d2 = _cross(p, q, starts), _cross(p, q, ends)
    d3, d4 = _cross(starts, ends, p), _cross(starts, ends, q)
    proper = (d1 * d2 < 0) & (d3 * d4 < 0)
    length = np.dot(q - p, q - p)
    along = np.einsum("ij,j->i", starts - p, q - p)
    through = (d1 == 0) & (along > 0) & (along < length)  # an edge's start lies on the segment
    return bool((~touching & (proper | through)).any())


def _ear_clip(xy: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """Counter-clockwise triangles (n - 2, 3) of the weakly simple counter-clockwise ``ring``
    (vertex ids; bridge vertices appear twice) by ear clipping.

    An ear must be at least a millionth of the ring's extent high, so that no triangle can
    turn over when its corners are rounded to float32.
    """
    ids = list(ring.tolist())
    points = xy[ring]
    min_height = 1e-6 * float(np.ptp(points, axis=0).max())
    triangles = []
    i = misses = 0
    while len(ids) > 3:
        count = len(ids)
        before, here, after = (i - 1) % count, i % count, (i + 1) % count
        a, b, c = points[before], points[here], points[after]
        longest = max(np.linalg.norm(b - a), np.linalg.norm(c - b), np.linalg.norm(a - c))
        if _cross(a, b, c) > min_height * longest:
            others = ~((points == a).all(1) | (points == b).all(1) | (points == c).all(1))
            inside = (_cross(a, b, points) >= 0) & (_cross(b, c, points) >= 0) & (_cross(c, a, points) >= 0)
            ear = not (others & inside).any()
        else:
            ear = False
        if not ear and misses > count:  # rounding left no clean ear: clip the most convex corner
            turns = _cross(np.roll(points, 1, axis=0), points, np.roll(points, -1, axis=0))
            here = int(np.argmax(turns))
            before, after = (here - 1) % count, (here + 1) % count
            ear = True
        if ear:
            triangles.append((ids[before], ids[here], ids[after]))
            del ids[here]
            points = np.delete(points, here, axis=0)
            i, misses = here, 0
        else:
            i, misses = i + 1, misses + 1
    triangles.append(tuple(ids))
    return np.array(triangles, np.int64)
