"""A video's faces as one animated mesh and as a video of the mesh laid over the frames.

Each reconstructed frame's front surface is sampled on a fixed grid of the crop (every
:data:`GRID_STEP` crop pixels): the crop follows the face's position and size, so a grid
point keeps to the same place on the face from frame to frame. :func:`surface_grid` gives a
frame's grid (photo pixels), saved by :func:`~vrn_studio.pipeline.video.reconstruct_video`
beside its mesh. When the run ends, the grid points that carry a surface in at least half
the frames (the largest connected patch of them) become one fixed topology
(:class:`GridTopology`) shared by every frame, and from it:

- ``animation.glb``: one morph target per reconstructed frame, a morph-weight animation timed
  at the frames' timestamps, textured from the first frame with a face; frames without a face
  hold the last pose. Long videos are split into ``animation_partNN.glb`` of at most
  :data:`MAX_POSES_PER_FILE` poses (a browser holds every target in memory).
- ``overlay.mp4``: every frame of the video with the mesh shaded over the face (or, without a
  model, the landmarks), at the container's frame rate.

Both are written atomically, from the files on disk, so they can be made again after a
``--resume``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy import ndimage, sparse

from vrn_studio._io import atomic_path, atomic_write
from vrn_studio.errors import ExportError
from vrn_studio.export import FrameWriter, export_animated_glb
from vrn_studio.mesh import Mesh, mesh_to_photo, to_viewer_frame
from vrn_studio.mesh.raster import front_surface
from vrn_studio.pipeline.overlay import landmarks_overlay, mesh_overlay
from vrn_studio.pipeline.result import Result
from vrn_studio.pipeline.video_io import iter_frames

GRID_STEP = 2
"""Crop pixels between grid points: a 96 x 96 grid over the 192 px crop, the built-in model's
own output resolution."""
GRID_DIR = "grids"
"""Folder of the per-frame grids in a video's output folder."""
ANIMATION_NAME = "animation.glb"
"""The animated mesh's file name (``animation_partNN.glb`` when split)."""
OVERLAY_NAME = "overlay.mp4"
"""The overlay video's file name."""
MAX_POSES_PER_FILE = 450
"""Most poses (morph targets) in one animated GLB: 15 s at 30 frames/s, about 10 MB for a
face of 2,000 vertices."""
MAX_SLOPE = 3.0
"""Steepest surface a grid point keeps (depth change per unit of crop distance; 3 is 72
degrees from facing the camera)."""
OUTLINE_ITERATIONS = 8
"""Smoothing steps (half-way to the neighbours' mean) of the animation's outline: enough to
round off the grid's staircase, a fraction of a grid step."""
MAX_TEXTURE_SIDE = 1024
"""Longest side in pixels of the animation's texture (the face's region of one frame)."""


def eye_line_angle(landmarks: np.ndarray) -> float:
    """The head's roll in the image: the angle (radians, y down, so positive turns clockwise on
    screen) of the line from the centre of the right eye (points 36-41) to the left (42-47)."""
    points = np.asarray(landmarks, np.float64)
    dx, dy = points[42:48].mean(axis=0) - points[36:42].mean(axis=0)
    return float(np.arctan2(dy, dx))


def surface_grid(result: Result, step: int = GRID_STEP) -> np.ndarray | None:
    """The front surface of ``result``'s cleaned mesh on a fixed grid of its crop, turned with
    the head's roll (:func:`eye_line_angle`), so that a grid point keeps to the same place on
    the face when the head slides, comes nearer or tilts.

    Returns
    -------
    np.ndarray, shape (G, G, 3), float32, or None
        ``G = crop size / step``; point (i, j) lies over crop pixel ``(step * j + step // 2,
        step * i + step // 2)`` turned by the roll about the crop's centre, given in photo
        pixels (x right, y down, z towards the camera, as ``Result.mesh_photo``; z exact on
        the mesh's triangles, :func:`~vrn_studio.mesh.raster.front_surface`). z is NaN where
        no surface covers the point, and where the surface is steeper than
        :data:`MAX_SLOPE` or borders such a point: a grid seen from the front cannot follow
        the silhouette's walls. None without a mesh.
    """
    if result.mesh is None or result.mesh.is_empty:
        return None
    size = result.crop.shape[0]
    count = len(range(step // 2, size, step))
    centre = (size - 1) / 2
    angle = eye_line_angle(result.landmarks_crop)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])  # grid -> crop
    vertices = result.mesh.vertices.astype(np.float64)
    level = (vertices[:, :2] - centre) @ turn + centre  # crop -> grid: the inverse turn
    on_grid = np.column_stack([(level - step // 2) / step, vertices[:, 2]])
    z = front_surface(on_grid, result.mesh.faces, count, count)[0]
    z[~np.isfinite(z)] = np.nan
    slope = np.hypot(*np.gradient(z, float(step)))
    z[~(slope <= MAX_SLOPE)] = np.nan  # NaN slopes: the rim next to a point without surface
    centres = np.arange(count, dtype=np.float64) * step + step // 2
    gx, gy = np.meshgrid(centres, centres)
    xy = (np.stack([gx, gy], axis=-1).reshape(-1, 2) - centre) @ turn.T + centre
    points = Mesh(np.column_stack([xy, z.reshape(-1)]), np.zeros((0, 3), np.int64))
    return mesh_to_photo(points, result.transform).vertices.reshape(count, count, 3)


@dataclass(frozen=True)
class GridTopology:
    """The grid points and triangles shared by every frame of an animation.

    Attributes
    ----------
    mask : np.ndarray, shape (G, G), bool
        The grid points that are vertices, row by row.
    faces : np.ndarray, shape (F, 3), int64
        Two triangles per grid cell whose four corners are vertices, indexing the vertices in
        ``mask``'s row-major order, wound so their normals face the camera (photo frame).
    outline : scipy.sparse.csr_matrix, shape (N, N)
        Averages each outline vertex's neighbours along the outline (edges of one triangle
        only); zero rows elsewhere. :meth:`positions` smooths the outline with it, so the
        grid's staircase does not show as a jagged edge.
    """

    mask: np.ndarray
    faces: np.ndarray
    outline: sparse.csr_matrix

    @classmethod
    def from_grids(cls, grids: Iterator[np.ndarray] | Sequence[np.ndarray]) -> GridTopology | None:
        """The points with a surface in at least half the ``grids`` ((G, G, 3) each, read one at a
        time), less all but the largest 4-connected patch of them; None when there is none."""
        counts, frames = None, 0
        for grid in grids:
            seen = np.isfinite(grid[..., 2])
            counts = seen.astype(np.int32) if counts is None else counts + seen
            frames += 1
        if counts is None:
            return None
        labels, n = ndimage.label(counts * 2 >= frames)
        if n == 0:
            return None
        mask = labels == 1 + int(np.argmax(ndimage.sum_labels(np.ones_like(labels), labels, range(1, n + 1))))
        number = np.full(mask.shape, -1, np.int64)
        number[mask] = np.arange(int(mask.sum()))
        a, b, c, d = number[:-1, :-1], number[:-1, 1:], number[1:, :-1], number[1:, 1:]
        cell = (a >= 0) & (b >= 0) & (c >= 0) & (d >= 0)
        faces = np.concatenate([np.stack([a[cell], b[cell], c[cell]], 1), np.stack([b[cell], d[cell], c[cell]], 1)])
        return cls(mask, faces, _outline_average(faces, int(mask.sum())))

    def positions(self, grid: np.ndarray) -> np.ndarray | None:
        """The vertices (N, 3) of a frame's grid (photo pixels); a vertex where the frame has no
        surface takes the depth of the nearest grid point that has one. None when none has."""
        z = grid[..., 2]
        seen = np.isfinite(z)
        if not seen.any():
            return None
        nearest = ndimage.distance_transform_edt(~seen, return_distances=False, return_indices=True)
        filled = grid.copy()
        filled[..., 2] = z[nearest[0], nearest[1]]
        vertices = filled[self.mask].astype(np.float64)
        on_outline = np.asarray(self.outline.sum(axis=1)).ravel() > 0
        for _ in range(OUTLINE_ITERATIONS):
            vertices[on_outline] += 0.5 * (self.outline @ vertices - vertices)[on_outline]
        return vertices.astype(np.float32)


def _outline_average(faces: np.ndarray, count: int) -> sparse.csr_matrix:
    """The (count, count) matrix that averages each outline vertex's neighbours along the
    outline (the edges used by one triangle only)."""
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    unique, uses = np.unique(edges, axis=0, return_counts=True)
    rim = unique[uses == 1]
    rows, cols = np.concatenate([rim[:, 0], rim[:, 1]]), np.concatenate([rim[:, 1], rim[:, 0]])
    adjacency = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(count, count))
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    return sparse.diags(np.divide(1.0, degree, out=np.zeros(count), where=degree > 0)) @ adjacency


def save_grid(grid: np.ndarray, folder: Path, stem: str) -> str:
    """Write a frame's grid to ``folder/grids/<stem>.npy`` atomically; return its path relative
    to ``folder`` (as the video table names it)."""
    (folder / GRID_DIR).mkdir(exist_ok=True)
    name = f"{GRID_DIR}/{stem}.npy"
    with atomic_path(folder / name, overwrite=True) as tmp, open(tmp, "wb") as handle:
        np.save(handle, grid.astype(np.float32))
    return name


def grids_of(folder: Path, rows: Sequence[dict[str, Any]]) -> Iterator[np.ndarray]:
    """The grids that the table ``rows`` of the run in ``folder`` name, read one at a time."""
    for row in rows:
        if row.get("grid"):
            yield np.load(folder / row["grid"])


def _read_frame(video: Path, index: int) -> np.ndarray:
    """Frame ``index`` of ``video``, RGB."""
    for i, _, rgb in iter_frames(video):
        if i == index:
            return rgb
    raise ExportError(f"{video} has no frame {index} any more")


def _texture(frame: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The face's region of ``frame`` (at most :data:`MAX_TEXTURE_SIDE` px) and the UV
    coordinates (N, 2) of photo points ``xy`` in it (glTF: origin top left)."""
    height, width = frame.shape[:2]
    x0, y0 = np.clip(np.floor(xy.min(axis=0)).astype(int) - 4, 0, None)
    x1, y1 = np.minimum(np.ceil(xy.max(axis=0)).astype(int) + 5, [width, height])
    region = frame[y0:y1, x0:x1]
    scale = min(1.0, MAX_TEXTURE_SIDE / max(region.shape[:2]))
    if scale < 1:
        region = cv2.resize(region, (round(region.shape[1] * scale), round(region.shape[0] * scale)),
                            interpolation=cv2.INTER_AREA)
    uv = (xy - [x0, y0] + 0.5) / [x1 - x0, y1 - y0]
    return np.ascontiguousarray(region), uv


def write_animation(folder: Path, video: Path, rows: Sequence[dict[str, Any]], topology: GridTopology,
                    height: int) -> list[Path]:
    """Write the animated GLB(s) of a video run (see the module's notes).

    Parameters
    ----------
    folder : Path
        The run's output folder (its grids are read from there).
    video : Path
        The video (its first frame with a face is the texture).
    rows : sequence of dict
        The run's table rows in frame order (``frame``, ``time_s``, ``grid``).
    topology : GridTopology
    height : int
        The video's frame height in pixels (the viewer frame's y flip).

    Returns
    -------
    list of Path
        The files written, ``animation.glb`` or its parts.
    """
    start = next((i for i, row in enumerate(rows) if row.get("grid")), None)
    if start is None:
        return []
    keys = list(rows)[start:]
    texture = uv = None
    posed = [i for i, row in enumerate(keys) if row.get("grid")]
    parts = [posed[i:i + MAX_POSES_PER_FILE] for i in range(0, len(posed), MAX_POSES_PER_FILE)]
    written = []
    for number, part in enumerate(parts, 1):
        end = parts[number][0] if number < len(parts) else len(keys)
        poses = []
        for i in part:
            position = topology.positions(np.load(folder / keys[i]["grid"]))
            poses.append(poses[-1] if position is None else position)
        if uv is None:  # the first frame with a face textures every part
            texture, uv = _texture(_read_frame(video, keys[0]["frame"]), poses[0][:, :2])
        base = to_viewer_frame(Mesh(poses[0], topology.faces), height)
        flip = np.array([1.0, -1.0, 1.0])
        targets = np.stack([(pose - poses[0]) * flip for pose in poses])
        pose_of = np.searchsorted(part, np.arange(part[0], end), side="right") - 1  # hold the last pose
        t0 = keys[part[0]]["time_s"] if number > 1 else 0.0
        times = np.array([keys[i]["time_s"] - t0 for i in range(part[0], end)])
        keep = np.concatenate([[True], np.diff(times) > 0]) if len(times) else np.zeros(0, bool)
        data = export_animated_glb(base, targets, times[keep], np.eye(len(part))[pose_of[keep]], uv=uv,
                                   texture=texture)
        name = ANIMATION_NAME if len(parts) == 1 else f"animation_part{number:02d}.glb"
        written.append(atomic_write(folder / name, data, overwrite=True))
    return written


def write_overlay(folder: Path, video: Path, rows: Sequence[dict[str, Any]], topology: GridTopology | None,
                  fps: float) -> Path:
    """Write ``overlay.mp4``: every frame of ``video`` with the latest reconstructed frame's
    mesh (fixed topology) shaded over it, or its landmarks when the run has no meshes;
    frames whose latest row found no face are left as they are. MPEG-4 part 2 (``mp4v``, the
    codec OpenCV's wheels write) at ``fps``."""
    by_frame = {row["frame"]: row for row in rows}
    writer = FrameWriter(folder / OVERLAY_NAME, fps, overwrite=True)
    try:
        row, shape = None, None
        for index, _, rgb in iter_frames(video):
            if index in by_frame:
                row = by_frame[index]
                shape = None
                if row.get("grid") and topology is not None:
                    position = topology.positions(np.load(folder / row["grid"]))
                    shape = None if position is None else Mesh(position, topology.faces)
            picture = rgb
            if shape is not None:
                picture = mesh_overlay(rgb, shape)
            elif row is not None and row["face"]:
                picture = landmarks_overlay(rgb, np.asarray(row["landmarks"]), box=np.asarray(row["box"]))
            writer.write(picture)
    except BaseException:
        writer.abort()
        raise
    target = writer.close()
    if target is None:
        raise ExportError(f"{video} gave no frame to write {OVERLAY_NAME} from")
    return target
