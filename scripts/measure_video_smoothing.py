"""Measure the temporal smoothing of ``vrn-studio video`` on generated videos (docs/video.md).

A *still* clip (the sample photo with camera noise, sigma 6 grey levels, and sub-pixel jitter,
0.3 px) and a *moving* clip (the photo sliding 3 px and turning 0.5 degrees a frame), 60 frames
at 30 frames/s each, run through ``reconstruct_video`` with and without smoothing:

- landmarks (``model=None``): mean frame-to-frame landmark motion on the still clip, and the
  lag (frames) of the smoothed landmarks behind the unsmoothed ones on the moving clip (mean
  offset of the landmarks' centre over the motion per frame);
- surface (the built-in model, landmark and surface filters together): mean frame-to-frame
  motion of the fixed topology's vertices (the animation's, photo pixels) on the still clip,
  and on the moving clip the mean offset of the smoothed vertices from the unsmoothed ones
  over their motion per frame (an upper bound of the lag: the unsmoothed vertices' own noise
  counts as offset too).

    python scripts/measure_video_smoothing.py --out docs/video-smoothing.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np

from vrn_studio.image import load_image, sample_image_path
from vrn_studio.pipeline import Reconstructor
from vrn_studio.mesh import DEFAULT_SMOOTH
from vrn_studio.pipeline.animation import GridTopology, grids_of
from vrn_studio.pipeline.temporal import ONE_EURO, SURFACE_FILTER
from vrn_studio.pipeline.video import read_table, reconstruct_video

FPS, FRAMES = 30.0, 60


def write_clip(path: Path, *, moving: bool, frames: int = FRAMES, seed: int = 0) -> Path:
    """A 640 x 512 MJPG clip of the sample photo: still with noise and jitter, or moving."""
    rng = np.random.default_rng(seed)
    photo = cv2.cvtColor(load_image(sample_image_path("astronaut")), cv2.COLOR_RGB2BGR)
    canvas = np.full((512, 640, 3), 90, np.uint8)
    canvas[:, 64:576] = photo
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (640, 512))
    for i in range(frames):
        if moving:
            matrix = cv2.getRotationMatrix2D((320, 256), 0.5 * i, 1.0)
            matrix[0, 2] += 3.0 * i - 90
        else:
            matrix = np.float64([[1, 0, rng.normal(0, 0.3)], [0, 1, rng.normal(0, 0.3)]])
        frame = cv2.warpAffine(canvas, matrix, (640, 512), flags=cv2.INTER_LINEAR, borderValue=(90, 90, 90))
        frame = np.clip(frame + rng.normal(0, 6, frame.shape), 0, 255).astype(np.uint8)
        writer.write(frame)
    writer.release()
    return path


def vertices_over_time(video: Path, smooth: bool, rec: Reconstructor, folder: Path) -> list[np.ndarray]:
    """The (G, G, 3) surface grids that ``reconstruct_video`` writes for ``video``, frame by frame."""
    out = folder / f"{video.stem}-{smooth}"
    reconstruct_video(rec, video, out, smooth_landmarks=smooth, smooth_surface=smooth, animation=False, overlay=False)
    rows = [row for _, row in sorted(read_table(out).items())]
    return list(grids_of(out, rows))


def _motion(topology: GridTopology, grids: list[np.ndarray]) -> np.ndarray:
    """(frames, N, 3) vertices of the fixed topology."""
    return np.stack([topology.positions(grid) for grid in grids])


def measure_surface(model: str = "default", landmarker: str = "dlib", frames: int = FRAMES) -> dict[str, float]:
    """Vertex motion on the still clip (px per frame) and the moving clip's lag bound (frames)."""
    rec = Reconstructor(model, landmarker=landmarker, device="cpu", smooth=DEFAULT_SMOOTH)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        still = write_clip(folder / "still.avi", moving=False, frames=frames)
        moving = write_clip(folder / "moving.avi", moving=True, frames=frames)
        runs = {(clip.stem, smooth): vertices_over_time(clip, smooth, rec, folder)
                for clip in (still, moving) for smooth in (False, True)}
    figures: dict[str, float | str] = {"model": rec.model_name, "landmarker": landmarker, "frames": frames,
                                       "surface_filter_min_cutoff_hz": SURFACE_FILTER[0],
                                       "surface_filter_beta": SURFACE_FILTER[1]}
    for clip in ("still", "moving"):
        grids = runs[clip, False] + runs[clip, True]
        topology = GridTopology.from_grids(grids)
        raw, smoothed = _motion(topology, runs[clip, False]), _motion(topology, runs[clip, True])
        if clip == "still":
            motion = [float(np.linalg.norm(np.diff(v, axis=0), axis=2).mean()) for v in (raw, smoothed)]
            figures.update(still_vertex_motion_px_raw=round(motion[0], 3), still_vertex_motion_px_smoothed=round(motion[1], 3),
                           still_vertex_motion_reduction=round(1 - motion[1] / motion[0], 3), vertices=raw.shape[1])
        else:
            speed = np.linalg.norm(np.diff(raw, axis=0), axis=2)[10:].mean()
            offset = np.linalg.norm(raw - smoothed, axis=2)[10:].mean()
            figures.update(moving_vertex_speed_px_per_frame=round(float(speed), 3),
                           moving_vertex_lag_frames=round(float(offset / speed), 3))
    return figures


def landmarks_over_time(video: Path, smooth: bool, landmarker: str) -> np.ndarray:
    """(frames, 68, 2) landmarks that ``reconstruct_video`` writes for ``video``."""
    with tempfile.TemporaryDirectory() as out:
        reconstruct_video(Reconstructor(None, landmarker=landmarker, device="cpu"), video, out,
                          smooth_landmarks=smooth)
        rows = read_table(out)
    return np.stack([np.asarray(rows[i]["landmarks"]) for i in sorted(rows) if rows[i]["face"]])


def measure(landmarker: str = "dlib", frames: int = FRAMES) -> dict[str, float]:
    """Motion on the still clip (px per frame, mean over landmarks and frames) and lag (frames)."""
    with tempfile.TemporaryDirectory() as folder:
        still = write_clip(Path(folder) / "still.avi", moving=False, frames=frames)
        moving = write_clip(Path(folder) / "moving.avi", moving=True, frames=frames)
        motion = {}
        for smooth in (False, True):
            marks = landmarks_over_time(still, smooth, landmarker)
            motion[smooth] = float(np.linalg.norm(np.diff(marks, axis=0), axis=2).mean())
        raw, smoothed = (landmarks_over_time(moving, s, landmarker) for s in (False, True))
    centre_raw, centre_smooth = raw.mean(axis=1), smoothed.mean(axis=1)
    speed = np.linalg.norm(np.diff(centre_raw, axis=0), axis=1)[10:].mean()
    lag = float(np.linalg.norm(centre_raw - centre_smooth, axis=1)[10:].mean() / speed)
    return {
        "landmarker": landmarker, "frames": frames, "fps": FPS, "one_euro_min_cutoff_hz": ONE_EURO[0], "one_euro_beta": ONE_EURO[1],
        "still_motion_px_raw": round(motion[False], 3), "still_motion_px_smoothed": round(motion[True], 3),
        "still_motion_reduction": round(1 - motion[True] / motion[False], 3),
        "moving_speed_px_per_frame": round(float(speed), 3), "moving_lag_frames": round(lag, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landmarker", default="dlib")
    parser.add_argument("--model", default="default", help="model of the surface measurement")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = {"landmarks": measure(args.landmarker), "surface": measure_surface(args.model, args.landmarker)}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
