"""``vrn-studio compare``: distances from a reconstructed mesh to a scan, as numbers and a heat map."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vrn_studio._io import atomic_write
from vrn_studio.errors import ExportError, VrnStudioError
from vrn_studio.eval.compare import (
    COLOR_RANGE_PERCENTILE,
    compare_meshes,
    heatmap_picture,
    load_landmarks_3d,
    load_mesh_file,
)
from vrn_studio.export import export_mesh
from vrn_studio.pipeline.save import write_png

DEFAULT_OUT = Path("compare-output")
"""Folder the outputs go to when ``-o`` is not given."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` sub-command."""
    p = sub.add_parser(
        "compare",
        help="align a mesh onto a scan and map the distances between them",
        description=(
            "Align MESH onto SCAN (ICP with a uniform scale, from their centroids and sizes) and measure "
            "the distance from every aligned vertex to the scan's surface, in the scan's unit, and the "
            "paper's NME. Writes into the output folder STEM_aligned.ply (the aligned mesh coloured by "
            "distance), STEM_heatmap.png (a view from +z, y up, with a colour bar) and STEM_compare.json "
            "(the numbers), STEM being MESH's file name stem. Both files may be in any format trimesh "
            "reads (OBJ, PLY, STL, GLB, OFF...)."
        ),
    )
    p.add_argument("mesh", type=Path, metavar="MESH", help="the reconstructed mesh, moved onto the scan")
    p.add_argument("scan", type=Path, metavar="SCAN", help="the reference scan, held fixed")
    p.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT,
                   help=f"output folder (default: {DEFAULT_OUT})")
    p.add_argument("--no-scale", dest="scale", action="store_false",
                   help="keep MESH's size (rigid ICP), for a mesh already in the scan's unit")
    p.add_argument("--units", default=None, metavar="NAME",
                   help="the scan's length unit, e.g. mm, to label distances (default: 'scan units')")
    p.add_argument("--landmarks", type=Path, metavar="JSON",
                   help="the scan's 68 landmarks in 3D (a 'landmarks_3d' list of [x, y, z]): the NME is then "
                        "averaged over the face region and divided by the outer interocular distance, as in "
                        "the paper; without them over the whole scan, divided by --interocular or else the "
                        "scan's bounding-box diagonal")
    p.add_argument("--interocular", type=float, metavar="D",
                   help="the NME's normalising distance in the scan's unit (overrides the landmarks')")
    p.add_argument("--vmax", type=float, metavar="D",
                   help=f"distance at the top of the colour bar (default: the {COLOR_RANGE_PERCENTILE:g}th "
                        "percentile of the distances)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=run)


def output_paths(out_dir: Path, stem: str) -> dict[str, Path]:
    """The files ``compare`` writes for a mesh called ``stem``: ``ply``, ``png`` and ``json``."""
    return {
        "ply": out_dir / f"{stem}_aligned.ply",
        "png": out_dir / f"{stem}_heatmap.png",
        "json": out_dir / f"{stem}_compare.json",
    }


def run(args: argparse.Namespace) -> int:
    """Compare, print a summary and write the three outputs; exit 0."""
    paths = output_paths(args.out, args.mesh.stem)
    existing = [str(path) for path in paths.values() if path.exists()]
    if existing and not args.overwrite:
        verb, them = ("exists", "it") if len(existing) == 1 else ("exist", "them")
        raise VrnStudioError(f"{', '.join(existing)} already {verb}; pass --overwrite to replace {them}")
    mesh, scan = load_mesh_file(args.mesh), load_mesh_file(args.scan)
    landmarks = None if args.landmarks is None else load_landmarks_3d(args.landmarks)
    result = compare_meshes(mesh, scan, scale=args.scale, interocular=args.interocular,
                            landmarks_3d=landmarks, vmax=args.vmax)
    units = args.units or "scan units"
    summary = result.summary()
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"Cannot create output folder {args.out}: {exc.strerror or exc}") from exc
    export_mesh(result.aligned, paths["ply"], overwrite=args.overwrite)
    picture = heatmap_picture(result.aligned, result.distances, result.vmax, label=f"distance ({units})")
    write_png(paths["png"], picture, overwrite=args.overwrite)
    report = {
        "mesh": str(args.mesh), "scan": str(args.scan), "units": units, "scale_estimated": args.scale,
        **summary, "transform": result.transform.tolist(),
        "outputs": {kind: str(path) for kind, path in paths.items()},
    }
    data = (json.dumps(report, indent=2) + "\n").encode("utf-8")
    atomic_write(paths["json"], data, overwrite=args.overwrite)
    normaliser = ("outer interocular distance" if summary["normaliser_kind"] == "interocular"
                  else "scan's bounding-box diagonal")
    print(
        f"aligned {args.mesh} onto {args.scan}: {'similarity' if args.scale else 'rigid'} ICP, "
        f"scale {summary['scale']:.4g}, RMS {summary['icp_rmse']:.4g} {units}\n"
        f"distance to the scan over {summary['vertices']} vertices ({units}): mean {summary['mean']:.4g}, "
        f"median {summary['median']:.4g}, p90 {summary['p90']:.4g}, max {summary['max']:.4g}\n"
        f"NME {summary['nme']:.4f} over {summary['region_vertices']} scan vertices "
        f"({normaliser} {summary['normaliser']:.4g} {units})\n"
        f"wrote {', '.join(str(path) for path in paths.values())}"
    )
    return 0
