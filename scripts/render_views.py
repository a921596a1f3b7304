"""Render each model's cleaned mesh of the sample photos from several yaws, as one PNG grid.

::

    xvfb-run -a python scripts/render_views.py --model vrn-studio-guided --out /tmp/views.png

``--head-fit ict`` draws the ICT head fitted to each model's volume (what the app and the command
line show by default), ``both`` a row of each. Rows are (model, head fit, photo), columns the camera's yaw about the head's vertical axis (0 = facing
the camera, 90 = the left profile), plus the crop the network saw. The mesh is drawn in a
plain clay colour with one light so that shape shows, not the photo's colours: terraces,
holes, spikes and a flat profile are visible here before they are in any number. The same
figure goes into model cards (``--out weights/NAME-views.png``).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import cv2
import numpy as np
import pyvista as pv

from vrn_studio import Reconstructor
from vrn_studio.headfit import HEAD_FITS
from vrn_studio.image import sample_image_path
from vrn_studio.mesh import Mesh, TexturedMesh, texture_from_photo, to_viewer_frame
from vrn_studio.pipeline.save import write_png

PHOTOS = ("astronaut", "grace_hopper")
TILE = 320
"""Side of one rendered view, pixels."""
CLAY = {"color": (0.80, 0.75, 0.70), "specular": 0.2}
"""``add_mesh`` options of the plain clay look."""


def views(mesh_crop: Mesh | TexturedMesh, yaws: list[float], tile: int = TILE) -> list[np.ndarray]:
    """The crop-space mesh drawn upright at each yaw (degrees), each (tile, tile, 3) uint8 RGB;
    in clay, or with its photo texture when given a :class:`TexturedMesh`."""
    textured = mesh_crop if isinstance(mesh_crop, TexturedMesh) else None
    upright = to_viewer_frame(textured.mesh if textured else mesh_crop, 192)
    faces = np.hstack([np.full((upright.n_faces, 1), 3), upright.faces]).ravel()
    surface = pv.PolyData(np.asarray(upright.vertices, np.float64), faces)
    look: dict = dict(CLAY)
    if textured is not None:
        surface.active_texture_coordinates = np.column_stack([textured.uv[:, 0], 1.0 - textured.uv[:, 1]])
        look = {"texture": pv.Texture(textured.texture)}
    return [draw(surface, yaw, look, tile) for yaw in yaws]


def draw(surface: pv.PolyData, yaw: float, look: dict, tile: int = TILE) -> np.ndarray:
    """``surface`` (viewer frame: y up, facing +z) seen from ``yaw`` degrees about its vertical
    axis, drawn with ``add_mesh`` options ``look``; (tile, tile, 3) uint8 RGB on white."""
    centre = np.asarray(surface.center)
    radius = float(np.linalg.norm(np.ptp(surface.points, axis=0))) or 1.0
    plotter = pv.Plotter(off_screen=True, window_size=(tile, tile))
    plotter.set_background("white")
    plotter.add_mesh(surface, smooth_shading=True, **look)
    angle = np.radians(yaw)
    plotter.camera.focal_point = centre
    plotter.camera.position = centre + 1.6 * radius * np.array([-np.sin(angle), 0.0, np.cos(angle)])
    plotter.camera.up = (0.0, 1.0, 0.0)
    plotter.camera.parallel_projection = True
    plotter.camera.parallel_scale = 0.55 * radius
    picture = np.asarray(plotter.screenshot(return_img=True))[..., :3].copy()
    plotter.close()
    return picture


def label(picture: np.ndarray, text: str) -> np.ndarray:
    """``picture`` with ``text`` written in its top-left corner."""
    out = np.ascontiguousarray(picture.copy())
    (width, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
    out[: height + 10, : width + 10] = 255
    cv2.putText(out, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (20, 20, 20), 1, cv2.LINE_AA)
    return out


def main() -> int:
    """Reconstruct, render and write the grid."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="model name or file (repeatable)")
    parser.add_argument("--yaws", type=float, nargs="+", default=[0.0, 45.0, 90.0])
    parser.add_argument("--level", type=float, default=None, help="iso level (default: the model's)")
    parser.add_argument("--smooth", type=int, default=0, help="Taubin smoothing iterations (Reconstructor(smooth=...))")
    parser.add_argument("--textured", action="store_true", help="draw the photo texture instead of clay")
    parser.add_argument("--head-fit", choices=(*HEAD_FITS, "both"), default="none",
                        help="draw the network's mesh (none, default), the fitted ICT head (ict), or both rows")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    args = parser.parse_args()
    rows = []
    fits = HEAD_FITS if args.head_fit == "both" else (args.head_fit,)
    for model, head_fit in itertools.product(args.model, fits):
        options: dict[str, object] = {"smooth": args.smooth, "head_fit": head_fit}
        if args.level is not None:
            options["level"] = args.level
        rec = Reconstructor(model, landmarker="dlib", device="cpu", **options)
        for photo in PHOTOS:
            result = rec.reconstruct(sample_image_path(photo))
            crop = cv2.resize(result.crop, (TILE, TILE), interpolation=cv2.INTER_AREA)
            name = Path(str(model)).stem + (" + head fit" if head_fit == "ict" else "")
            tiles = [label(crop, f"{name} / {photo}")]
            shown = texture_from_photo(result.mesh, result.transform, result.image) if args.textured else result.mesh
            tiles += [label(view, f"yaw {yaw:g}") for view, yaw in zip(views(shown, args.yaws), args.yaws, strict=True)]
            rows.append(np.hstack(tiles))
    write_png(args.out, np.vstack(rows), overwrite=True)
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
