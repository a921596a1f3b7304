"""Video to 3D: every (n-th) frame of a video file reconstructed with face tracking, one mesh per
frame and one table of landmarks and head pose, resumable after an interruption.

The video is read frame by frame (bounded memory, any length). Detection runs on the first
frame and every :data:`~vrn_studio.pipeline.tracking.REDETECT_EVERY` reconstructed frames; in
between the face box follows the previous frame's landmarks, as the app's live view does, and
a quick detection around the box (:meth:`~vrn_studio.pipeline.tracking.FaceTracker.checked_hint`) checks
that the face is still there, so frames without one are marked as such.
Each frame's mesh (photo pixels, upright: the ``frame="photo"`` of
:func:`~vrn_studio.pipeline.save_result`) is written atomically *before* its row is appended
to the table ``frames.jsonl`` (one JSON object per line, flushed and synced), so after a kill
every row names a complete file; ``resume=True`` skips the frames whose row and mesh are
there and redoes the rest.

>>> from vrn_studio.pipeline.video import frame_stem
>>> frame_stem(42)
'frame_000042'
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vrn_studio.errors import ExportError, NoFaceError
from vrn_studio.eval.dataset import read_mesh
from vrn_studio.face.mediapipe import MEDIAPIPE_TO_IBUG68
from vrn_studio.image import RESOURCES_DIR
from vrn_studio.pipeline.animation import (
    ANIMATION_NAME,
    OVERLAY_NAME,
    GridTopology,
    grids_of,
    save_grid,
    surface_grid,
    write_animation,
    write_overlay,
)
from vrn_studio.pipeline.reconstructor import Reconstructor
from vrn_studio.pipeline.result import Result
from vrn_studio.pipeline.save import save_result
from vrn_studio.pipeline.temporal import ONE_EURO, SURFACE_FILTER, OneEuroFilter, SurfaceFilter
from vrn_studio.pipeline.tracking import REDETECT_EVERY, FaceTracker
from vrn_studio.pipeline.video_io import iter_frames, probe_video

TABLE_NAME = "frames.jsonl"
"""The per-frame table in the output folder: one JSON object per reconstructed frame."""

CANONICAL_FACE = RESOURCES_DIR / "canonical_face_model.obj"
"""MediaPipe's canonical face (Apache 2.0; centimetres, y up, face towards +z): the 3D points
that :func:`head_pose` fits the 68 landmarks to."""


@dataclass(frozen=True)
class VideoRun:
    """What :func:`reconstruct_video` did: frames reconstructed now, frames found complete
    from an earlier run (``resumed``), frames without a face, the table's path, the files
    made from all frames (animation, overlay)."""

    reconstructed: int
    resumed: int
    without_face: int
    table: Path
    outputs: tuple[Path, ...] = ()
    """The animation and overlay files written at the end."""
    stopped: bool = False
    """Whether ``on_frame`` stopped the run before the end of the video."""


def frame_stem(index: int) -> str:
    """File name stem of frame ``index``'s outputs (0-based, zero-padded to six digits)."""
    return f"frame_{index:06d}"


@lru_cache(maxsize=1)
def _model_points() -> np.ndarray:
    """The canonical face's 68 landmark points in a camera-style frame (x right, y down, z away
    from the camera, the face looking at it), centimetres, shape (68, 3)."""
    vertices = read_mesh(CANONICAL_FACE).vertices[list(MEDIAPIPE_TO_IBUG68)]
    return np.ascontiguousarray(vertices * [1.0, -1.0, -1.0])


def head_pose(landmarks: np.ndarray, width: int, height: int) -> dict[str, float]:
    """Head rotation from 68 landmarks in photo pixels, by fitting the canonical face
    (:data:`CANONICAL_FACE`) with a pinhole camera of focal length ``max(width, height)``.

    Returns
    -------
    dict
        ``yaw``, ``pitch``, ``roll`` in degrees (0, 0, 0: facing the camera, upright), the
        rotations about the camera's vertical, horizontal and viewing axes
        (:func:`cv2.RQDecomp3x3`'s Euler angles of the head's rotation).

    Raises
    ------
    ValueError
        ``landmarks`` is not (68, 2) or the fit fails.
    """
    points = np.asarray(landmarks, np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"head_pose needs 68 (x, y) landmarks; got shape {points.shape}")
    focal = float(max(width, height))
    camera = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]])
    ok, rvec, _ = cv2.solvePnP(_model_points(), points, camera, None, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        raise ValueError("The head pose fit failed")
    pitch, yaw, roll = cv2.RQDecomp3x3(cv2.Rodrigues(rvec)[0])[0]
    return {"yaw": float(yaw), "pitch": float(pitch), "roll": float(roll)}


def read_table(out_dir: str | os.PathLike[str]) -> dict[int, dict[str, Any]]:
    """The rows of ``out_dir/frames.jsonl`` by frame index (a later row for a frame wins; a
    last line cut short by a kill is ignored)."""
    path = Path(out_dir) / TABLE_NAME
    rows: dict[int, dict[str, Any]] = {}
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        rows[int(row["frame"])] = row
    return rows


def reconstruct_video(
    reconstructor: Reconstructor,
    video: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    every: int = 1,
    mesh_format: str | None = "ply",
    resume: bool = False,
    redetect_every: int = REDETECT_EVERY,
    remove_bumps: bool = True,
    smooth_landmarks: bool = True,
    smooth_surface: bool = True,
    animation: bool = True,
    overlay: bool = True,
    progress: Callable[[int, int], None] | None = None,
    status: Callable[[str], None] | None = None,
    on_frame: Callable[[int, np.ndarray, Result | None], bool | None] | None = None,
) -> VideoRun:
    """Reconstruct every ``every``-th frame of ``video`` into ``out_dir``.

    Parameters
    ----------
    reconstructor : Reconstructor
        Model, landmarker, device and runtime, as for photos; with ``model=None`` only the
        table (landmarks and head pose) and the overlay of the landmarks are written.
    video : path
        A video file OpenCV reads (MP4, AVI, MOV, MKV...).
    out_dir : path
        Output folder: ``frame_NNNNNN.<mesh_format>`` per frame with a face, its surface on
        the fixed grid in ``grids/`` (:func:`~vrn_studio.pipeline.animation.surface_grid`),
        and ``frames.jsonl``, a row per frame: ``frame`` (0-based index), ``time_s`` (the
        frame's timestamp), ``face`` (found or not), ``mesh`` and ``grid`` (file names),
        ``landmarks`` (68 x [x, y] photo pixels), ``box``, ``pose_deg`` (:func:`head_pose`),
        ``seconds``; when all frames are done, ``animation.glb`` and ``overlay.mp4``
        (:mod:`vrn_studio.pipeline.animation`).
    every : int, default: 1
        Reconstruct frames 0, every, 2 * every...
    mesh_format : str or None, default: "ply"
        One of the mesh outputs of :func:`~vrn_studio.pipeline.save_result` (``ply``,
        ``obj``, ``glb``, ``stl``, ``textured-glb``...), or None for no per-frame meshes (the
        grids, table, animation and overlay are still written: a few MB instead of about
        3 MB a frame).
    resume : bool, default: False
        Go on with a folder that already holds a run: frames with a row and their files are
        kept, the others are reconstructed, and the animation and overlay are made again.
        Without it such a folder is an error, so an earlier run is never overwritten by
        mistake.
    redetect_every : int, default: REDETECT_EVERY
        Detect the face on every n-th reconstructed frame; follow it in between.
    remove_bumps : bool, default: True
        Bump removal, as for :meth:`Reconstructor.reconstruct`.
    smooth_landmarks : bool, default: True
        Filter the landmarks over time (:class:`~vrn_studio.pipeline.temporal.OneEuroFilter`
        with :data:`~vrn_studio.pipeline.temporal.ONE_EURO`) before they place the crop: the
        crop stops jittering on a still face. The table holds the filtered landmarks.
    smooth_surface : bool, default: True
        Average the network's volume over frames, gated by how fast the face changes shape
        (:class:`~vrn_studio.pipeline.temporal.SurfaceFilter` with
        :data:`~vrn_studio.pipeline.temporal.SURFACE_FILTER`): the surface of a still face
        stops flickering, a turning one is followed.
    animation, overlay : bool, default: True
        Write ``animation.glb`` and ``overlay.mp4`` at the end.
    progress : callable, optional
        Called with (frames handled so far, frames to handle or 0 when the container does not
        say) after each frame, and once first for the frames kept from an earlier run.
    status : callable, optional
        Called with the name of each file written at the end, before it is written.
    on_frame : callable, optional
        Called after each frame is written with (frame index, the frame RGB, its
        :class:`~vrn_studio.pipeline.Result` or None without a face), e.g. to show it; when it
        returns False the run stops there (``VideoRun.stopped``; the frames done are kept,
        ``resume`` goes on, and the animation and overlay are not written).

    Raises
    ------
    ~vrn_studio.pipeline.video_io.VideoError
        The video cannot be read.
    ExportError
        ``out_dir`` holds a run and ``resume`` is False, or a file cannot be written (disk
        full: the frames done so far are kept, ``resume`` goes on from there).
    """
    info = probe_video(video)
    folder = Path(out_dir)
    done = read_table(folder)
    if done and not resume:
        raise ExportError(f"{folder} already holds a run of {len(done)} frame(s): pass resume to go on, or "
                          "choose another folder")
    complete = {i for i, row in done.items() if _row_complete(folder, row, reconstructor.net is not None)}
    folder.mkdir(parents=True, exist_ok=True)
    total = -(-info.frame_count // every) if info.frame_count else 0
    tracker = FaceTracker(redetect_every)
    smoother = OneEuroFilter(*ONE_EURO) if smooth_landmarks else None
    surface = SurfaceFilter(*SURFACE_FILTER) if smooth_surface else None
    resumed = sum(1 for index in complete if index % every == 0)
    reconstructed = without_face = 0
    if progress and resumed:
        progress(resumed, total)
    with open(folder / TABLE_NAME, "a", encoding="utf-8") as table:
        for handled, (index, time_s, rgb) in enumerate(iter_frames(info.path, every, skip=complete), resumed + 1):
            start = time.perf_counter()
            row: dict[str, Any] = {"frame": index, "time_s": round(time_s, 6), "face": False, "mesh": None, "grid": None}
            result = None
            try:
                hint = tracker.checked_hint(reconstructor.landmarker, rgb)
                found = reconstructor.find_face(rgb, hint)
                face = found if smoother is None else replace(found, landmarks=smoother(found.landmarks, time_s))
                gate = None if surface is None else functools.partial(surface, landmarks=face.landmarks, t=time_s)
                result = reconstructor.reconstruct(rgb, face=face, remove_bumps=remove_bumps, volume_filter=gate)
            except NoFaceError:
                tracker.reset()
                for each in (smoother, surface):
                    if each is not None:
                        each.reset()
                without_face += 1
            else:
                tracker.update(found, detected=hint is None)
                if result.mesh is not None:
                    if mesh_format is not None:
                        written = save_result(result, folder, outputs=[mesh_format], stem=frame_stem(index),
                                              frame="photo", overwrite=True)
                        row["mesh"] = written[0].name if written else None  # none: an empty mesh
                    grid = surface_grid(result)
                    if grid is not None and np.isfinite(grid[..., 2]).any():
                        row["grid"] = save_grid(grid, folder, frame_stem(index))
                marks = face.landmarks
                row.update(face=True, landmarks=np.round(marks, 2).tolist(),
                           box=np.round(result.face.box, 2).tolist(),
                           pose_deg={k: round(v, 2) for k, v in head_pose(marks, info.width, info.height).items()})
                reconstructed += 1
            row["seconds"] = round(time.perf_counter() - start, 4)
            table.write(json.dumps(row) + "\n")
            table.flush()
            os.fsync(table.fileno())
            if progress:
                progress(handled, total)
            if on_frame is not None and on_frame(index, rgb, result) is False:
                return VideoRun(reconstructed, resumed, without_face, folder / TABLE_NAME, stopped=True)
    rows = [row for _, row in sorted(read_table(folder).items())]
    topology = GridTopology.from_grids(grids_of(folder, rows))
    outputs: list[Path] = []
    if animation and topology is not None:
        if status:
            status(ANIMATION_NAME)
        outputs += write_animation(folder, info.path, rows, topology, info.height)
    if overlay:
        if status:
            status(OVERLAY_NAME)
        outputs.append(write_overlay(folder, info.path, rows, topology, info.fps))
    return VideoRun(reconstructed, resumed, without_face, folder / TABLE_NAME, tuple(outputs))


def _row_complete(folder: Path, row: dict[str, Any], has_model: bool) -> bool:
    """Whether an earlier run's row can be kept: no face, or the files it names are there (a
    landmarks-only row only when this run has no model either)."""
    if not row["face"]:
        return True
    named = [row[key] for key in ("mesh", "grid") if row.get(key)]
    if not named:
        return not has_model
    return all((folder / name).is_file() for name in named)
