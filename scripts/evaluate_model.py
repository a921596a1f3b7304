"""Measure a model the way its model card reports it: held-out synthetic NME by yaw, real photos.

::

    python scripts/evaluate_model.py --model vrn-studio-guided --out training/results/vrn-studio-guided.json

1. Held-out synthetic faces: ``--count`` faces at each |yaw| of ``--yaws`` (sides alternate),
   from the generator seeded with ``--seed`` (1000; training runs use small seeds, and the
   stream of seed 1000 shares no sample with them) with the shape source ``--source``
   (``mediapipe``, the faces model v1's card reports, unless told), written in the dataset folder format
   under ``--work`` and measured with ``vrn-studio evaluate`` (the paper's NME, eq. 2, ICP
   as the authors did, the sample's own landmarks as the face).
2. The real photos in resources/ (no ground truth): silhouette IoU with the landmarks'
   convex hull (face models), the hull's coverage and the silhouette's spread (head models),
   and the nose's protrusion (:mod:`vrn_studio.eval.face_checks`), and the
   median time of each pipeline stage over ``--repeat`` runs on the CPU.

The JSON written holds every figure, the machine and the library versions.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from vrn_studio import Reconstructor, __version__
from vrn_studio._io import atomic_write
from vrn_studio.cli.main import main as cli_main
from vrn_studio.eval.face_checks import nose_protrusion, silhouette_fit
from vrn_studio.headfit import HEAD_FITS
from vrn_studio.image import sample_image_path
from vrn_studio.train.synthetic import SyntheticFaces, write_folder

PHOTOS = ("astronaut.png", "grace_hopper.jpg")


def held_out(
    model: str, yaws: list[float], count: int, seed: int, work: Path, source: str = "mediapipe"
) -> dict[str, dict[str, float]]:
    """Mean, median and spread of the NME over ``count`` held-out faces per |yaw| of ``source``'s faces."""
    faces = SyntheticFaces(seed, source=source)
    figures = {}
    for yaw in yaws:
        folder = work / f"yaw{yaw:g}"
        write_folder(faces, folder, count, yaw=yaw, overwrite=True)
        report = folder / "report.json"
        code = cli_main(["evaluate", str(folder), "--model", model, "--device", "cpu", "-o", str(report),
                         "--overwrite"])
        rows = json.loads(report.read_text())["samples"]
        values = np.array([row["nme"] for row in rows if "nme" in row])
        figures[f"{yaw:g}"] = {
            "mean_nme": float(values.mean()), "median_nme": float(np.median(values)),
            "std_nme": float(values.std()), "measured": len(values), "failed": int(len(rows) - len(values)),
            "exit_code": code,
        }
        print(f"|yaw| {yaw:g}: NME {values.mean():.4f} (median {np.median(values):.4f}) over {len(values)} faces")
    return figures


def real_photos(model: str, repeat: int, head_fit: str = "none") -> dict[str, dict[str, object]]:
    """Silhouette IoU and fit (coverage, spread), nose protrusion on the bundled photos, and the median
    stage times (ms), of the result's mesh (the fitted head with ``head_fit="ict"``)."""
    rec = Reconstructor(model, landmarker="dlib", device="cpu", head_fit=head_fit)
    figures: dict[str, dict[str, object]] = {}
    for name in PHOTOS:
        runs = [rec.reconstruct(sample_image_path().parent / name) for _ in range(repeat + 1)][1:]
        result = runs[-1]
        marks = result.face.landmarks
        figures[name] = {
            **{f"silhouette_{k}": v for k, v in silhouette_fit(result.mesh_photo, marks, result.image.shape[:2]).items()},
            "nose_protrusion": nose_protrusion(result.mesh_photo, marks),
            "vertices": int(result.mesh.n_vertices),
            "removed_bodies": len(result.bumps.removed_sizes),
            "median_ms": {stage: round(1000 * float(np.median([r.timings[stage] for r in runs])), 1)
                          for stage in result.timings},
        }
        print(f"{name}: IoU {figures[name]['silhouette_iou']:.3f}, coverage {figures[name]['silhouette_coverage']:.3f}, "
              f"spread {figures[name]['silhouette_spread']:.2f}, nose {figures[name]['nose_protrusion']:.3f}")
    return figures


def machine() -> dict[str, object]:
    """The machine and library versions a report's figures were measured with."""
    return {"platform": platform.platform(), "processor": platform.processor(),
            "cpu_threads": torch.get_num_threads(), "python": sys.version.split()[0],
            "torch": torch.__version__, "vrn_studio": __version__}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, measure, write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vrn-studio-guided")
    parser.add_argument("--yaws", default="0,45,90", help="comma-separated |yaw| in degrees")
    parser.add_argument("--count", type=int, default=40,
                        help="held-out faces per yaw (0: the real photos only; evaluate_ict_testset.py measures the "
                             "fixed test sets)")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--source", default="mediapipe", help="shape source of the held-out faces")
    parser.add_argument("--work", type=Path, help="where the held-out faces go (default: a temporary folder)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per photo (after one warm-up)")
    parser.add_argument("--head-fit", choices=HEAD_FITS, default="none",
                        help="the real photos' mesh: the network's (none, default) or the fitted ICT head (ict)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        report = {
            "model": args.model,
            "head_fit": args.head_fit,
            "held_out_synthetic": {
                "seed": args.seed, "source": args.source, "faces_per_yaw": args.count,
                "by_abs_yaw_degrees": held_out(args.model, [float(y) for y in args.yaws.split(",")], args.count,
                                               args.seed, work, args.source),
            } if args.count else None,
            "real_photos": real_photos(args.model, args.repeat, args.head_fit),
            "machine": machine(),
        }
    atomic_write(args.out, (json.dumps(report, indent=2) + "\n").encode(), overwrite=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
