"""Draw docs/frames.png: the coordinate frames of VRN Studio on the sample photo.

Usage: python scripts/make_frames_figure.py [--out docs/frames.png]

Panels: the photo (photo pixels, with the crop's square), the crop (crop pixels, the volume's
x and y indices), the volume seen from the side (depth index d, crop z = d / 2), and the
export/viewer frame (y up, face towards +z). Uses the built-in model when installed, else
stops at the crop and draws the side view from an ellipsoid.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vrn_studio.errors import WeightsError  # noqa: E402
from vrn_studio.image import sample_image_path  # noqa: E402
from vrn_studio.mesh import to_viewer_frame  # noqa: E402
from vrn_studio.pipeline import Reconstructor  # noqa: E402


def arrow(ax, origin, direction, label, color) -> None:
    """An axis arrow with its label at the tip."""
    ax.annotate("", xy=(origin[0] + direction[0], origin[1] + direction[1]), xytext=origin,
                arrowprops=dict(arrowstyle="->", color=color, lw=2))
    ax.text(origin[0] + 1.15 * direction[0], origin[1] + 1.15 * direction[1], label, color=color,
            ha="center", va="center", fontsize=10, fontweight="bold")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/frames.png"))
    args = parser.parse_args()
    try:
        result = Reconstructor(landmarker="dlib", device="cpu").reconstruct(sample_image_path("astronaut"))
    except WeightsError:
        result = Reconstructor(None, landmarker="dlib", device="cpu").reconstruct(sample_image_path("astronaut"))
    t, size = result.transform, result.crop.shape[0]

    fig, axes = plt.subplots(1, 4, figsize=(17, 4.6))
    ax = axes[0]
    ax.imshow(result.image)
    corners = t.to_photo(np.array([[0, 0], [size - 1, 0], [size - 1, size - 1], [0, size - 1], [0, 0]], float))
    ax.plot(corners[:, 0], corners[:, 1], "y-", lw=2)
    ax.plot(*result.face.landmarks.T, "c.", ms=3)
    arrow(ax, (8, 8), (90, 0), "x", "red")
    arrow(ax, (8, 8), (0, 90), "y", "lime")
    ax.set_title("photo pixels (x right, y down; pixel (0, 0) centred at 0, 0)\n"
                 "yellow: the crop, crop = scale * photo + (tx, ty)", fontsize=9)

    ax = axes[1]
    ax.imshow(result.crop)
    ax.plot(*result.landmarks_crop.T, "c.", ms=3)
    arrow(ax, (4, 4), (40, 0), "x", "red")
    arrow(ax, (4, 4), (0, 40), "y", "lime")
    ax.set_title(f"crop pixels ({size} x {size}) = volume indices x, y\n"
                 f"this photo: scale {t.scale:.3f}, tx {t.tx:.1f}, ty {t.ty:.1f}", fontsize=9)

    ax = axes[2]
    if result.mesh is not None:
        v = result.mesh.vertices
        ax.scatter(v[:, 2], v[:, 1], s=0.2, c=v[:, 2], cmap="viridis")
    else:
        theta = np.linspace(0, 2 * np.pi, 200)
        ax.plot(50 + 30 * np.cos(theta), 96 + 70 * np.sin(theta), "k-")
    ax.set_xlim(0, 100)
    ax.set_ylim(size, 0)
    ax.set_aspect("equal")
    ax.set_xlabel("crop z = d / 2 (d: depth index 0-199)")
    ax.set_ylabel("crop y")
    ax.annotate("towards the camera", xy=(98, 14), xytext=(30, 14), va="center", fontsize=9,
                arrowprops=dict(arrowstyle="->", lw=1.5))
    ax.set_title("crop-space mesh, seen from its right side\nvolume[d, y, x] -> (x, y, d / 2)", fontsize=9)

    ax = axes[3]
    if result.mesh is not None:
        up = to_viewer_frame(result.mesh, size).vertices
        ax.scatter(up[:, 0], up[:, 1], s=0.2, c=up[:, 2], cmap="viridis")
    ax.set_xlim(0, size)
    ax.set_ylim(0, size)
    ax.set_aspect("equal")
    arrow(ax, (6, 6), (40, 0), "x", "red")
    arrow(ax, (6, 6), (0, 40), "y", "lime")
    ax.text(20, 175, "z: out of the page, towards you\n(colour: z)", fontsize=9)
    ax.set_title("export / viewer frame (GLB, OBJ, PLY, STL)\n(x, y, z) -> (x, H - 1 - y, z); printable: x mm", fontsize=9)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
