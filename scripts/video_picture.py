"""The picture of ``vrn-studio video`` in the README and docs/video.md.

::

    xvfb-run -a python scripts/video_picture.py --out docs/video.png

Writes a generated clip of the sample photo sliding and turning (the *moving* clip of
scripts/measure_video_smoothing.py, 40 frames), runs ``reconstruct_video`` on it with the
built-in model, and lays out three frames: the top row from ``overlay.mp4``, the rows below
from ``animation.glb`` as a viewer plays it (the pose of that frame, textured, and in clay
from the side).
"""

from __future__ import annotations

import argparse
import runpy
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pyvista as pv

from vrn_studio import Reconstructor
from vrn_studio.export import read_glb
from vrn_studio.mesh import DEFAULT_SMOOTH
from vrn_studio.pipeline.animation import ANIMATION_NAME, OVERLAY_NAME
from vrn_studio.pipeline.save import write_png
from vrn_studio.pipeline.video import read_table, reconstruct_video
from vrn_studio.pipeline.video_io import iter_frames

TILE = 300
"""Side of one picture, pixels."""
FRAMES = (0, 20, 39)


def poses(glb: Path) -> tuple[list[pv.PolyData], pv.Texture]:
    """The animation's pose of each of :data:`FRAMES` (keyframe = frame here) and its texture."""
    gltf, arrays = read_glb(glb.read_bytes())
    primitive = gltf["meshes"][0]["primitives"][0]
    base = arrays[primitive["attributes"]["POSITION"]]
    faces = arrays[primitive["indices"]].reshape(-1, 3)
    cells = np.hstack([np.full((len(faces), 1), 3), faces]).ravel()
    sampler = gltf["animations"][0]["samplers"][0]
    weights = arrays[sampler["output"]].reshape(len(arrays[sampler["input"]]), -1)
    uv = arrays[primitive["attributes"]["TEXCOORD_0"]]
    meshes = []
    for frame in FRAMES:
        target = primitive["targets"][int(weights[frame].argmax())]["POSITION"]
        mesh = pv.PolyData(np.asarray(base + arrays[target], np.float64), cells)
        mesh.active_texture_coordinates = np.column_stack([uv[:, 0], 1.0 - uv[:, 1]])
        meshes.append(mesh)
    view = gltf["bufferViews"][gltf["images"][0]["bufferView"]]
    data = glb.read_bytes()
    start = 20 + int.from_bytes(data[12:16], "little") + 8 + view["byteOffset"]
    png = cv2.imdecode(np.frombuffer(data[start:start + view["byteLength"]], np.uint8), cv2.IMREAD_COLOR)
    return meshes, pv.Texture(cv2.cvtColor(png, cv2.COLOR_BGR2RGB))


def main() -> int:
    """Make the clip, reconstruct it, write the picture."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    args = parser.parse_args()
    clips = runpy.run_path(str(Path(__file__).with_name("measure_video_smoothing.py")))
    views = runpy.run_path(str(Path(__file__).with_name("render_views.py")))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clip = clips["write_clip"](folder / "moving.avi", moving=True, frames=max(FRAMES) + 1)
        rec = Reconstructor("default", landmarker="dlib", device="cpu", smooth=DEFAULT_SMOOTH)
        reconstruct_video(rec, clip, folder / "out")
        meshes, texture = poses(folder / "out" / ANIMATION_NAME)
        overlay = {i: rgb for i, _, rgb in iter_frames(folder / "out" / OVERLAY_NAME) if i in FRAMES}
        table = read_table(folder / "out")
    rows = []
    for frame, mesh in zip(FRAMES, meshes):
        x, y = np.asarray(table[frame]["landmarks"]).mean(axis=0).round().astype(int)  # the face's centre
        x, y = np.clip([x, y], 150, [overlay[frame].shape[1] - 150, overlay[frame].shape[0] - 150])
        picture = cv2.resize(overlay[frame][y - 150:y + 150, x - 150:x + 150], (TILE, TILE), interpolation=cv2.INTER_AREA)
        cv2.putText(picture, f"frame {frame}", (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
        rows.append(np.vstack([picture, views["draw"](mesh, 30.0, {"texture": texture}, TILE),
                               views["draw"](mesh, 90.0, views["CLAY"], TILE)]))
    write_png(args.out, np.hstack(rows), overwrite=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
