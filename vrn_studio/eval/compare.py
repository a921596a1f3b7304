"""Compare a reconstructed mesh with a scan of the same face: alignment, distances, heat map.

:func:`compare_meshes` moves the mesh onto the scan by ICP (:func:`vrn_studio.eval.icp.icp_align`,
with a uniform scale unless told otherwise), then measures

* the distance from every aligned mesh vertex to the scan's surface
  (:func:`vrn_studio.eval.nme.surface_distance`), in the scan's length unit;
* the paper's NME (eq. 2, :func:`vrn_studio.eval.nme.nme`): the mean distance from each scan
  vertex of the face region to the aligned mesh's surface, over a normalising distance d.

Face region and normaliser
--------------------------
With the scan's 68 landmarks in 3D (:func:`load_landmarks_3d`) the region is the ball of
:func:`vrn_studio.eval.nme.face_region_mask` around the nose tip and d is the outer interocular
distance, as in the paper. Without them the region is the whole scan (crop the scan to the face
first) and d is the given ``interocular`` distance or, failing that, the diagonal of the scan's
bounding box: the NME is then comparable between meshes compared with the same scan, not with
the paper's figures. :attr:`Comparison.normaliser_kind` says which was used.

Alignment
---------
ICP starts from a rough alignment: the mesh's vertex centroid moved onto the scan's and, with
``scale``, its root-mean-square radius about it scaled to the scan's. ICP then matches every mesh
vertex to its nearest scan vertex, so a scan covering more than the mesh (neck, hair) does not
drag it; the two must face roughly the same way (within a few tens of degrees). A second ICP
refines the fit on the :data:`ICP_INLIER_FRACTION` of the vertices nearest the scan (trimmed
ICP), so that parts of the mesh the scan lacks, or a local difference to be measured, do not
pull it. With the scan's landmarks, the scan's face region is also aligned onto the mesh (the
same steps, then the inverse transform) and the fit with the lower NME is kept: every point of
a face region has its match on a reconstruction that covers the whole head or extrudes the face
backwards, whose back would drag a mesh-onto-scan fit (on a synthetic test face at 30 degrees
of yaw the NME went from 0.148 to 0.050). Point-to-point ICP converges slowly where the surfaces can slide along each
other; on smooth shapes without features it may stop short of the best fit.

The heat-map picture splits edges longer than :data:`LONG_EDGE_FACTOR` times the median first
(the surface is unchanged), since drawing samples every triangle as finely as the longest edge.

The heat map colours (:func:`heatmap_colors`) and the picture (:func:`heatmap_picture`, drawn
in software without OpenGL) share one colour map, :data:`HEAT_COLORMAP`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from scipy.spatial import cKDTree

from vrn_studio.crop.crop import N_LANDMARKS
from vrn_studio.errors import VrnStudioError
from vrn_studio.eval.icp import apply_transform, as_points, icp_align
from vrn_studio.eval.nme import face_region_mask, nme, outer_interocular, surface_distance
from vrn_studio.mesh import Mesh, depth_map, vertex_normals

HEAT_COLORMAP = np.array(
    [
        [69, 89, 203], [70, 125, 244], [61, 158, 254], [37, 192, 231], [24, 221, 194], [42, 239, 161],
        [89, 251, 115], [139, 255, 75], [180, 248, 54], [215, 229, 53], [239, 205, 58], [253, 174, 53],
        [253, 138, 38], [242, 96, 20], [223, 63, 8], [197, 38, 3], [161, 18, 1],
    ],
    dtype=np.float64,
)
"""RGB anchors (17, 3) of the distance colour map, from distance 0 to the top of the colour bar,
evenly spaced and linearly interpolated: Google's Turbo from 0.1 to 0.95 (blue, green, yellow,
red), its darkest ends left out so that shading still shows the shape."""

COLOR_RANGE_PERCENTILE = 95.0
"""Default top of the colour bar: this percentile of the distances, so that a few far vertices
(parts of the mesh the scan does not cover) do not wash out the rest."""

ICP_MAX_ITERATIONS = 100
"""Most ICP iterations :func:`compare_meshes` runs."""
ICP_RELATIVE_TOLERANCE = 1e-7
"""ICP stops when its RMS distance changes by less than this times the scan's bounding-box diagonal."""
ICP_INLIER_FRACTION = 0.9
"""Fraction of the mesh's vertices, those nearest the scan after a first ICP, that a second ICP
aligns: parts the scan lacks or real local differences then do not pull the fit (trimmed ICP)."""

LONG_EDGE_FACTOR = 4.0
"""Edges longer than this times a mesh's median edge are split before the heat-map picture is drawn."""

_LIGHT = np.array([0.3, 0.4, 0.87]) / np.linalg.norm([0.3, 0.4, 0.87])
"""Direction towards the light in the scan's frame (x right, y up, z towards the viewer)."""
_AMBIENT = 0.35
"""Brightness of surface facing away from the light in :func:`heatmap_picture`, 0 to 1."""

NormaliserKind = Literal["interocular", "bbox-diagonal"]


class CompareError(VrnStudioError):
    """A mesh or landmark file cannot be used for a comparison, or the meshes cannot be aligned."""


@dataclass(frozen=True, eq=False)
class Comparison:
    """A mesh aligned onto a scan and its distances to it (see the module docstring).

    Parameters
    ----------
    aligned : Mesh
        The mesh moved onto the scan (its N vertices in the scan's frame and unit), each vertex
        coloured by its distance (:func:`heatmap_colors` over ``[0, vmax]``).
    distances : np.ndarray, shape (N,), float64
        Distance from each aligned vertex to the scan's surface, in the scan's unit.
    transform : np.ndarray, shape (4, 4), float64
        ``[[s R, t], [0, 0, 0, 1]]`` mapping the mesh's vertices onto the scan.
    icp_rmse : float
        Root-mean-square distance between the point pairs of the last ICP (the inliers; mesh
        vertices to their nearest scan vertices, or with landmarks the scan's face region to
        the mesh's nearest vertices), in the scan's unit.
    nme : float
        The paper's normalised mean error over ``region``, unitless.
    normaliser : float
        The distance d the NME is divided by, in the scan's unit.
    normaliser_kind : {"interocular", "bbox-diagonal"}
        Whether d is the outer interocular distance or the scan's bounding-box diagonal.
    region : np.ndarray, shape (M,), bool
        The scan vertices the NME averages over.
    vmax : float
        Distance at the top of the colour bar (> 0, scan's unit); the bottom is 0.
    """

    aligned: Mesh
    distances: np.ndarray
    transform: np.ndarray
    icp_rmse: float
    nme: float
    normaliser: float
    normaliser_kind: NormaliserKind
    region: np.ndarray
    vmax: float

    @property
    def scale(self) -> float:
        """The uniform scale s of :attr:`transform` (1 for a rigid alignment)."""
        return float(np.cbrt(np.linalg.det(self.transform[:3, :3])))

    def summary(self) -> dict[str, float | int | str]:
        """The comparison's numbers, for printing and JSON.

        Returns
        -------
        dict
            ``vertices`` (N) and the distances' ``mean``, ``median``, ``p90``, ``p95``, ``max``
            and ``rms`` (scan's unit); ``nme``, ``normaliser`` (scan's unit),
            ``normaliser_kind``, ``region_vertices``; ``icp_rmse`` (scan's unit), ``scale``,
            ``vmax`` (scan's unit).
        """
        d = self.distances
        return {
            "vertices": len(d),
            "mean": float(d.mean()),
            "median": float(np.median(d)),
            "p90": float(np.percentile(d, 90)),
            "p95": float(np.percentile(d, 95)),
            "max": float(d.max()),
            "rms": float(np.sqrt(np.mean(d**2))),
            "nme": self.nme,
            "normaliser": self.normaliser,
            "normaliser_kind": self.normaliser_kind,
            "region_vertices": int(self.region.sum()),
            "icp_rmse": self.icp_rmse,
            "scale": self.scale,
            "vmax": self.vmax,
        }


def load_mesh_file(path: str | os.PathLike[str]) -> Mesh:
    """Read the triangles of any mesh file trimesh reads (OBJ, PLY, STL, GLB, OFF...).

    A scene (several meshes, e.g. a GLB) is concatenated with each part's transform applied.
    Vertices are neither merged nor reordered, so those of an OBJ without texture coordinates or
    of a PLY keep the file's order; an STL has three of its own per triangle.

    Parameters
    ----------
    path : str or os.PathLike
        The mesh file.

    Returns
    -------
    Mesh
        Vertices (N, 3) float32 in the file's unit, triangles (M, 3); no colours or normals.

    Raises
    ------
    CompareError
        The file is missing, a folder, empty, not in a mesh format, malformed, has no
        triangles (e.g. a point cloud) or has non-finite coordinates; the message names it.
    """
    import trimesh  # slow to import; only reading meshes needs it

    path = Path(path)
    if not path.exists():
        raise CompareError(f"Mesh file {path} does not exist")
    if path.is_dir():
        raise CompareError(f"{path} is a folder, not a mesh file")
    if path.stat().st_size == 0:
        raise CompareError(f"Mesh file {path} is empty (0 bytes)")
    try:
        loaded = trimesh.load(path, force="mesh", process=False)
    except NotImplementedError:
        raise CompareError(
            f"{path} is not a mesh file: '{path.suffix or path.name}' is not a format trimesh reads "
            f"({', '.join(sorted(trimesh.available_formats()))})"
        ) from None
    except Exception as exc:  # trimesh's parsers raise any type on a malformed file
        raise CompareError(f"Cannot read mesh file {path}: {type(exc).__name__}: {exc}") from exc
    vertices = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float64)
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))), dtype=np.int64)
    if len(faces) == 0:
        raise CompareError(
            f"Mesh file {path} has no triangles (an empty mesh or a point cloud); a surface is needed"
        )
    if not np.isfinite(vertices).all():
        raise CompareError(f"Mesh file {path} has NaN or infinite vertex coordinates")
    try:
        return Mesh(vertices, faces)
    except ValueError as exc:
        raise CompareError(f"Malformed mesh file {path}: {exc}") from exc


def load_landmarks_3d(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a scan's 68 landmarks in 3D from a JSON file.

    The file holds either an object with a ``"landmarks_3d"`` list of 68 ``[x, y, z]`` (a
    dataset folder's ``NAME.landmarks.json``, see :mod:`vrn_studio.eval.dataset`) or such a list
    alone, in iBUG-68 order, in the scan's frame and unit.

    Returns
    -------
    np.ndarray, shape (68, 3), float64

    Raises
    ------
    CompareError
        The file is missing or not JSON, or holds no 68 finite 3D points.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CompareError(f"Cannot read landmark file {path}: {exc}") from exc
    points = data.get("landmarks_3d") if isinstance(data, dict) else data
    try:
        return as_points("landmarks_3d", points, shape=(N_LANDMARKS, 3))
    except (ValueError, TypeError) as exc:
        raise CompareError(
            f"Landmark file {path} needs a 'landmarks_3d' list of {N_LANDMARKS} [x, y, z]: {exc}"
        ) from exc


def heatmap_colors(distances: np.ndarray, vmax: float) -> np.ndarray:
    """Colours of distances on :data:`HEAT_COLORMAP`, from 0 to ``vmax``.

    Parameters
    ----------
    distances : array_like, shape (N,)
        Distances (>= 0), any unit; values above ``vmax`` get the top colour.
    vmax : float
        Distance of the top colour, > 0, in the distances' unit.

    Returns
    -------
    np.ndarray, shape (N, 3), uint8
        RGB colours.

    Raises
    ------
    ValueError
        ``vmax`` is not a positive number.

    Examples
    --------
    >>> heatmap_colors([0.0, 2.0, 5.0], vmax=2.0).tolist()
    [[69, 89, 203], [161, 18, 1], [161, 18, 1]]
    """
    if not (math.isfinite(vmax) and vmax > 0):
        raise ValueError(f"vmax is {vmax} and should be a positive distance")
    t = np.clip(np.asarray(distances, dtype=np.float64) / vmax, 0.0, 1.0) * (len(HEAT_COLORMAP) - 1)
    low = np.minimum(np.floor(t).astype(np.int64), len(HEAT_COLORMAP) - 2)
    frac = (t - low)[:, None]
    rgb = HEAT_COLORMAP[low] * (1 - frac) + HEAT_COLORMAP[low + 1] * frac
    return np.rint(rgb).astype(np.uint8)


def compare_meshes(
    mesh: Mesh,
    scan: Mesh,
    *,
    scale: bool = True,
    interocular: float | None = None,
    landmarks_3d: np.ndarray | None = None,
    vmax: float | None = None,
) -> Comparison:
    """Align ``mesh`` onto ``scan`` and measure how far apart they are (see the module docstring).

    Parameters
    ----------
    mesh : Mesh
        The reconstruction (any frame and unit).
    scan : Mesh
        The reference surface; every result is in its frame and unit.
    scale : bool, default: True
        Estimate a uniform scale (similarity ICP); False keeps the mesh's size (rigid ICP, for
        meshes already in the scan's unit).
    interocular : float, optional
        The NME's normaliser d in the scan's unit (> 0); by default the outer interocular
        distance of ``landmarks_3d``, else the scan's bounding-box diagonal.
    landmarks_3d : array_like, shape (68, 3), optional
        The scan's iBUG-68 landmarks (scan's frame and unit): the NME is then averaged over
        the face region around the nose tip (:func:`vrn_studio.eval.nme.face_region_mask`)
        instead of the whole scan.
    vmax : float, optional
        Top of the colour bar (> 0, scan's unit); by default the
        :data:`COLOR_RANGE_PERCENTILE` percentile of the distances.

    Returns
    -------
    Comparison

    Raises
    ------
    CompareError
        A mesh has no triangle, the mesh's vertices all coincide, the landmarks or a distance
        are invalid, or the alignment degenerates.
    """
    for name, value in (("mesh", mesh), ("scan", scan)):
        if value.is_empty:
            raise CompareError(f"The {name} has no triangles: nothing to compare")
    if vmax is not None and not (math.isfinite(vmax) and vmax > 0):
        raise CompareError(f"The colour range's top is {vmax} and should be a positive distance")
    target = scan.vertices.astype(np.float64)
    diagonal = float(np.linalg.norm(np.ptp(target, axis=0)))
    kind: NormaliserKind
    try:
        region = None if landmarks_3d is None else face_region_mask(target, landmarks_3d)
        if interocular is not None:
            normaliser, kind = float(interocular), "interocular"
        elif landmarks_3d is not None:
            normaliser, kind = outer_interocular(landmarks_3d), "interocular"
        else:
            normaliser, kind = diagonal, "bbox-diagonal"
        source = mesh.vertices.astype(np.float64)
        tolerance = ICP_RELATIVE_TOLERANCE * diagonal
        fits = [_align(source, target, scale=scale, tolerance=tolerance)]
        if region is not None:  # also the scan's face region onto the mesh; the fit with the lower NME wins
            back, rmse = _align(target[region], source, scale=scale, tolerance=tolerance)
            fits.append((np.linalg.inv(back), rmse / float(np.cbrt(np.linalg.det(back[:3, :3])))))
        scored = []
        for transform, rmse in fits:
            aligned = apply_transform(transform, source)
            value = nme(aligned, target, interocular=normaliser, region_mask=region,
                        correspondence="surface", pred_faces=mesh.faces)
            scored.append((value, transform, rmse, aligned))
        value, transform, rmse, aligned = min(scored, key=lambda fit: fit[0])
        distances = surface_distance(aligned, target, scan.faces)
    except ValueError as exc:
        raise CompareError(f"Cannot compare the mesh with the scan: {exc}") from exc
    if vmax is None:  # a positive range even when (almost) every distance is 0
        vmax = float(np.percentile(distances, COLOR_RANGE_PERCENTILE)) or float(distances.max()) or 1.0
    return Comparison(
        aligned=Mesh(aligned, mesh.faces, colors=heatmap_colors(distances, vmax)),
        distances=distances,
        transform=transform,
        icp_rmse=rmse,
        nme=value,
        normaliser=normaliser,
        normaliser_kind=kind,
        region=np.ones(len(target), bool) if region is None else region,
        vmax=vmax,
    )


def _align(
    source: np.ndarray, target: np.ndarray, *, scale: bool, tolerance: float
) -> tuple[np.ndarray, float]:
    """The (4, 4) transform moving ``source`` points onto ``target`` points and the final ICP's RMS
    distance: the rough alignment, ICP, then ICP again on the
    :data:`ICP_INLIER_FRACTION` of the points nearest the target (raises ValueError where the
    similarity degenerates)."""
    icp = partial(icp_align, target=target, max_iterations=ICP_MAX_ITERATIONS, tolerance=tolerance,
                  scale=scale)
    transform = _rough_alignment(source, target, scale=scale)
    _, step, _ = icp(apply_transform(transform, source))
    transform = step @ transform
    gaps, _ = cKDTree(target).query(apply_transform(transform, source))
    inliers = source[gaps <= np.quantile(gaps, ICP_INLIER_FRACTION)]
    _, step, rmse = icp(apply_transform(transform, inliers))
    return step @ transform, rmse


def _rough_alignment(source: np.ndarray, target: np.ndarray, *, scale: bool) -> np.ndarray:
    """(4, 4) transform moving the centroid of ``source`` onto that of ``target`` and, with
    ``scale``, scaling its RMS radius about the centroid to ``target``'s."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s = 1.0
    if scale:
        radius = float(np.sqrt(((source - mu_s) ** 2).sum(axis=1).mean()))
        if radius == 0:
            raise ValueError("all the mesh's vertices are the same point, so its scale is unknown")
        s = float(np.sqrt(((target - mu_t) ** 2).sum(axis=1).mean())) / radius
    transform = np.eye(4)
    transform[:3, :3] *= s
    transform[:3, 3] = mu_t - s * mu_s
    return transform


def _split_long_edges(
    vertices: np.ndarray, faces: np.ndarray, *, max_edge: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The same surface with every edge longer than ``max_edge`` (default: :data:`LONG_EDGE_FACTOR`
    times the median edge) split at shared midpoints (:func:`trimesh.remesh.subdivide_to_size`);
    the first vertices are ``vertices``. :func:`vrn_studio.mesh.depth_map` samples every
    triangle as finely as the longest edge needs, so a few long edges (hole fills, a scan's
    rim, a head's back) would slow the picture down a lot."""
    from trimesh.remesh import subdivide_to_size

    lengths = np.linalg.norm(vertices[faces] - vertices[np.roll(faces, 1, axis=1)], axis=2)
    longest = float(lengths.max())
    limit = LONG_EDGE_FACTOR * float(np.median(lengths)) if max_edge is None else max_edge
    if not longest > limit > 0:
        return vertices, faces
    # each pass halves the long edges; the margin covers the diagonals cut across split quads
    return subdivide_to_size(vertices, faces, limit, max_iter=math.ceil(math.log2(longest / limit)) + 4)


def heatmap_picture(
    mesh: Mesh,
    distances: np.ndarray,
    vmax: float,
    *,
    label: str = "distance",
    size: int = 512,
) -> np.ndarray:
    """A front view of a mesh coloured by distance, with a labelled colour bar, drawn without OpenGL.

    The mesh is seen along -z (x right, y up, as scans and VRN Studio's exported meshes are
    stored) by orthographic projection and shaded by a fixed light; each pixel takes the colour
    (:func:`heatmap_colors`) of the vertex nearest to the visible surface point. A colour bar on
    the right goes from 0 to ``vmax``; its top label ends in ``+`` when some distance exceeds it.

    Parameters
    ----------
    mesh : Mesh
        The mesh, e.g. :attr:`Comparison.aligned`; at least one triangle.
    distances : array_like, shape (N,)
        One distance per vertex, in the unit named by ``label``.
    vmax : float
        Top of the colour bar (> 0).
    label : str, default: "distance"
        Title of the colour bar, with its unit (e.g. ``"distance (mm)"``); ASCII.
    size : int, default: 512
        Height of the picture in pixels (>= 64); the mesh fills it, with a margin.

    Returns
    -------
    np.ndarray, shape (size, W, 3), uint8
        RGB picture on a white background: the view, then the colour bar.

    Raises
    ------
    ValueError
        ``distances`` does not have one value per vertex, ``vmax`` is not positive, the mesh
        has no triangle, or ``size`` is below 64.
    """
    values = np.asarray(distances, dtype=np.float64)
    if values.shape != (mesh.n_vertices,):
        raise ValueError(f"Shape of distances is {values.shape} and should be ({mesh.n_vertices},)")
    if mesh.is_empty:
        raise ValueError("The mesh has no triangles to draw")
    if size < 64:
        raise ValueError(f"size is {size} and should be at least 64 pixels")
    colors = heatmap_colors(values, vmax)
    view = _front_view(mesh, colors, size)
    return np.hstack([view, _colour_bar(size, vmax, label, saturated=bool(values.max() > vmax))])


def _front_view(mesh: Mesh, colors: np.ndarray, size: int) -> np.ndarray:
    """(size, W, 3) uint8: ``mesh`` seen from +z with y up, each pixel the colour of the nearest
    vertex to the visible surface, shaded by the vertex normals (either winding)."""
    margin = size // 16
    used = np.unique(mesh.faces)
    low, high = mesh.vertices[used].min(axis=0), mesh.vertices[used].max(axis=0)
    pixels = (size - 2 * margin) / max(float((high - low)[:2].max()), 1e-12)
    width = int(np.ceil((high[0] - low[0]) * pixels)) + 2 * margin + 1
    # image coordinates: column = x, row = y flipped (y up), depth = z (nearer is larger)
    points = np.column_stack([
        (mesh.vertices[:, 0] - low[0]) * pixels + margin,
        (high[1] - mesh.vertices[:, 1]) * pixels + margin,
        mesh.vertices[:, 2] * pixels,
    ])
    depth = depth_map(Mesh(*_split_long_edges(points, mesh.faces)), shape=(size, width))
    rows, cols = np.nonzero(np.isfinite(depth))
    _, nearest = cKDTree(points[used]).query(np.column_stack([cols, rows, depth[rows, cols]]))
    nearest = used[nearest]
    shade = _AMBIENT + (1 - _AMBIENT) * np.abs(vertex_normals(mesh)[nearest] @ _LIGHT)
    picture = np.full((size, width, 3), 255, np.uint8)
    picture[rows, cols] = np.clip(colors[nearest] * shade[:, None], 0, 255).astype(np.uint8)
    return picture


def _colour_bar(height: int, vmax: float, label: str, *, saturated: bool) -> np.ndarray:
    """(height, W, 3) uint8 panel: a vertical colour bar from 0 (bottom) to ``vmax`` (top),
    five tick labels and ``label`` above it, black on white."""
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, height / 1000, max(1, round(height / 400))
    top, bottom = height // 8, height - height // 12
    bar_width, pad = max(8, height // 20), max(4, height // 50)
    ticks = np.linspace(0.0, 1.0, 5)
    texts = [f"{t * vmax:.3g}" for t in ticks]
    if saturated:
        texts[-1] += "+"
    tick_width = max(cv2.getTextSize(text, font, scale, thickness)[0][0] for text in texts)
    (label_width, label_height), _ = cv2.getTextSize(label, font, scale, thickness)
    width = max(label_width, bar_width + pad + tick_width) + 2 * pad
    panel = np.full((height, width, 3), 255, np.uint8)
    gradient = heatmap_colors(np.linspace(vmax, 0.0, bottom - top), vmax)
    panel[top:bottom, pad:pad + bar_width] = gradient[:, None, :]
    cv2.putText(panel, label, (pad, top - label_height), font, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    for t, text in zip(ticks, texts, strict=True):
        row = round(bottom - 1 - t * (bottom - top - 1))
        cv2.line(panel, (pad + bar_width, row), (pad + bar_width + pad // 2, row), (0, 0, 0), thickness)
        (_, text_height), _ = cv2.getTextSize(text, font, scale, thickness)
        cv2.putText(panel, text, (pad + bar_width + pad, row + text_height // 2), font, scale, (0, 0, 0),
                    thickness, cv2.LINE_AA)
    return panel
