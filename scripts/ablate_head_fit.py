"""What the network adds to the head fit: the fit with and without the volume's surface, exact and noisy landmarks.

::

    python scripts/ablate_head_fit.py --model vrn-studio-guided-v2 --out training/results/head-fit/ablation-ict.json

On a fixed test set of ``scripts/evaluate_ict_testset.py`` (default ``ict``: ICT heads, seed
2000, |yaw| 0, 30, 60, 90), each face is reconstructed once per landmark condition and
measured four ways (:func:`vrn_studio.eval.surface.measure_prediction`: the paper's NME with
ICP over the face region, and the normal error):

``network``
    The network's mesh (``Reconstructor(head_fit="none")``).
``fit``
    The ICT head fitted to the volume and the landmarks (:func:`vrn_studio.headfit.fit_head`,
    what the app shows).
``landmarks_only``
    The same fit without the surface term (``surface_sigma=inf``): what the landmarks and the
    head model give without the network's shape (the surface still places the head in depth).
``neutral``
    The neutral ICT head at the fit's first pose (``iterations=0``): no shape fitted at all.

Landmark conditions: ``exact`` (the test set's own landmarks), and ``noisy``: each coordinate
moved by Gaussian noise of ``--noise`` (default 0.03) outer interocular distances (3-D, the
NME's unit, so the noise does not shrink with the yaw), about what
a landmark detector on photos gets wrong (docs/landmarkers.md), given to the network and the
fit alike.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vrn_studio import Reconstructor
from vrn_studio._io import atomic_write
from vrn_studio.eval.dataset import Sample, iter_samples
from vrn_studio.eval.surface import measure_prediction
from vrn_studio.headfit import fit_head
from vrn_studio.mesh import mesh_to_photo
from vrn_studio.train.synthetic import GENERATOR_VERSION, SyntheticFaces, write_folder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_ict_testset import TEST_SETS, summarise
from evaluate_model import machine

KINDS = ("network", "fit", "landmarks_only", "neutral")
"""What each face is measured as (see the module docstring)."""


def measure_face(rec: Reconstructor, sample: Sample, landmarks: np.ndarray) -> dict[str, dict[str, float]]:
    """The figures of one face given ``landmarks`` (68, 2) photo pixels, per :data:`KINDS`."""
    result = rec.reconstruct(sample.image_path, face=landmarks)
    marks = result.landmarks_crop
    heads = {
        "fit": fit_head(result.volume, marks),
        "landmarks_only": fit_head(result.volume, marks, surface_sigma=math.inf),
        "neutral": fit_head(result.volume, marks, iterations=0),
    }
    meshes = {"network": result.mesh_photo} | {k: mesh_to_photo(h.mesh, result.transform) for k, h in heads.items()}
    return {kind: measure_prediction(mesh, sample) for kind, mesh in meshes.items()}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, measure every face of the set under both landmark conditions, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vrn-studio-guided-v2", help="model name or .safetensors path")
    parser.add_argument("--set", choices=sorted(TEST_SETS), default="ict", dest="test_set")
    parser.add_argument("--count", type=int, help="faces per |yaw| (default: the set's 30)")
    parser.add_argument("--noise", type=float, default=0.03,
                        help="landmark noise of the noisy condition, outer interocular distances (default 0.03)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    spec = TEST_SETS[args.test_set]
    count = args.count or int(spec["count"])
    faces = SyntheticFaces(int(spec["seed"]), source=str(spec["source"]))
    rec = Reconstructor(args.model, device="cpu")
    began = time.perf_counter()
    by_yaw: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for yaw in spec["yaws"]:
            folder = Path(tmp) / f"yaw{yaw:g}"
            write_folder(faces, folder, count, yaw=yaw, overwrite=True)
            rows: dict[str, dict[str, list[dict[str, float]]]] = {"exact": {}, "noisy": {}}
            for index, sample in enumerate(iter_samples(folder)):
                marks = np.asarray(sample.landmarks, np.float64)
                points = sample.landmarks_3d_or_lifted()  # 3-D, so the noise does not shrink with the yaw
                interocular = float(np.linalg.norm(points[36] - points[45]))
                noise = np.random.default_rng((int(spec["seed"]), index)).normal(0.0, args.noise * interocular, marks.shape)
                for condition, given in (("exact", marks), ("noisy", marks + noise)):
                    for kind, figures in measure_face(rec, sample, given).items():
                        rows[condition].setdefault(kind, []).append(figures)
                print(f"{sample.name} |yaw| {yaw:g}: " + ", ".join(
                    f"{condition} {kind} {rows[condition][kind][-1]['nme']:.4f}"
                    for condition in rows for kind in ("network", "fit", "landmarks_only")), flush=True)
            by_yaw[f"{yaw:g}"] = {condition: {kind: summarise(found) for kind, found in kinds.items()}
                                  for condition, kinds in rows.items()}
    report = {
        "model": rec.model_name,
        "test_set": {"name": args.test_set, "source": spec["source"], "seed": spec["seed"],
                     "generator_version": GENERATOR_VERSION, "faces_per_yaw": count},
        "landmark_noise_interocular": args.noise,
        "kinds": list(KINDS),
        "by_abs_yaw_degrees": by_yaw,
        "wall_seconds": round(time.perf_counter() - began, 1),
        "machine": machine(),
    }
    atomic_write(args.out, (json.dumps(report, indent=2) + "\n").encode(), overwrite=True)
    for yaw, block in by_yaw.items():
        print(f"|yaw| {yaw}: " + "; ".join(
            f"{condition}: " + ", ".join(f"{kind} {block[condition][kind]['mean_nme']:.4f}" for kind in KINDS)
            for condition in block))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
