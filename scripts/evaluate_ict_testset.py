"""Measure a model on a fixed held-out synthetic test set: NME, normal error and terracing by |yaw|.

::

    python scripts/evaluate_ict_testset.py --model vrn-studio-guided --out training/results/v1-on-ict-testset.json
    python scripts/evaluate_ict_testset.py --model vrn-studio-guided --set mediapipe \\
        --out training/results/v1-on-mediapipe-heldout.json

Test sets (``--set``), made deterministically by :class:`vrn_studio.train.synthetic.SyntheticFaces`
and written in the dataset folder format (:func:`~vrn_studio.train.synthetic.write_folder`:
samples 0 .. count - 1 at each |yaw|, the sign of the yaw alternating, so every |yaw| shows
the same heads):

``ict`` (issue 14's fixed test set)
    ICT Face Model heads, seed 2000 (training runs use small seeds; the stream of seed 2000
    shares no sample with them), 30 faces at |yaw| 0, 30, 60 and 90 degrees.
``mediapipe`` (model v1's own held-out set, as ``scripts/evaluate_model.py`` makes it)
    The MediaPipe template, seed 1000, 30 faces at |yaw| 0, 45 and 90 degrees.

Each face is reconstructed on the CPU from its photo with its own 68 landmarks as the face
(as ``vrn-studio evaluate`` does, so detection failures do not bias the figures) and
measured by :func:`vrn_studio.eval.surface.measure_prediction`: the paper's NME (eq. 2,
face region, ICP-aligned), the mean angle between predicted and true normals over the face
region, and the terracing of the predicted (cleaned) mesh. The JSON holds per-face rows,
per-|yaw| means and medians, the generator version and the machine.

Unless ``--no-oracle``, each |yaw| also reports the *oracle*: every face's own target volume
(binary, and soft as ``soft_targets`` trains on), at the release's 200 x 192 x 192, meshed
like a network's output (:func:`vrn_studio.mesh.volume_to_mesh`, at :data:`ORACLE_LEVEL`).
It is what a network reproducing its targets exactly would score: the targets fill
everything behind the visible surface, so at large yaw the hidden half of the face region
cannot be right whatever the network.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vrn_studio import Reconstructor
from vrn_studio._io import atomic_write
from vrn_studio.eval.dataset import LANDMARKS_SUFFIX, Sample, iter_samples
from vrn_studio.eval.surface import measure_prediction
from vrn_studio.mesh import volume_to_mesh
from vrn_studio.train.synthetic import DEPTH_BINS, GENERATOR_VERSION, SyntheticFaces, volume_from_front, write_folder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_model import machine  # noqa: E402  (a sibling script)

TEST_SETS: dict[str, dict[str, object]] = {
    "ict": {"source": "ict", "seed": 2000, "yaws": (0.0, 30.0, 60.0, 90.0), "count": 30},
    "mediapipe": {"source": "mediapipe", "seed": 1000, "yaws": (0.0, 45.0, 90.0), "count": 30},
}
"""The fixed test sets: shape source, generator seed, |yaw| in degrees, faces per |yaw|."""
ORACLE_LEVEL = 0.5
"""Iso level of the oracle meshes: a soft target's exact surface, and halfway between a binary
target's last filled and first empty voxel centres (unbiased; the pipeline's 10/255 would put
the binary surface half a voxel in front and ripple the soft one)."""
FIGURES = ("nme", "normal_error_degrees", "terracing_median_degrees", "terracing_p90_degrees")


def oracle(faces: SyntheticFaces, sample: Sample, *, soft: bool) -> dict[str, float]:
    """The figures of the sample's own target volume (binary or soft, 200 x 192 x 192) meshed at
    :data:`ORACLE_LEVEL`: what a network reproducing its targets exactly would score."""
    index = int(sample.name.rsplit("-", 1)[1])
    yaw = json.loads(Path(f"{sample.image_path.with_suffix('')}{LANDMARKS_SUFFIX}").read_text())["pose_degrees"]["yaw"]
    face = faces.sample(index, yaw=yaw)
    volume = volume_from_front(face.front, DEPTH_BINS, soft=soft).astype(np.float32)
    return measure_prediction(volume_to_mesh(volume, level=ORACLE_LEVEL), sample)


def summarise(rows: list[dict[str, float]]) -> dict[str, float]:
    """Mean and median of each figure over the rows."""
    summary = {f"mean_{k}": float(np.mean([r[k] for r in rows])) for k in FIGURES}
    return summary | {f"median_{k}": float(np.median([r[k] for r in rows])) for k in FIGURES}


def evaluate_yaw(
    rec: Reconstructor, faces: SyntheticFaces, yaw: float, count: int, folder: Path, with_oracle: bool
) -> dict[str, object]:
    """Write ``count`` faces at |yaw| to ``folder``, reconstruct and measure each; rows and summary."""
    write_folder(faces, folder, count, yaw=yaw, overwrite=True)
    rows, oracles = [], {"binary": [], "soft": []}
    for sample in iter_samples(folder):
        began = time.perf_counter()
        result = rec.reconstruct(sample.image_path, face=sample.landmarks)
        row = {"name": sample.name, **measure_prediction(result.mesh_photo, sample),
               "seconds": round(time.perf_counter() - began, 3)}
        rows.append(row)
        print(f"{sample.name} |yaw| {yaw:g}: NME {row['nme']:.4f}, normals {row['normal_error_degrees']:.1f} deg",
              flush=True)
        if with_oracle:
            for kind, found in oracles.items():
                found.append(oracle(faces, sample, soft=kind == "soft"))
    report: dict[str, object] = {**summarise(rows), "faces": len(rows),
                                 "mean_seconds_per_face": float(np.mean([r["seconds"] for r in rows]))}
    if with_oracle:
        report["oracle"] = {f"{kind}_targets": summarise(found) for kind, found in oracles.items()}
    return report | {"samples": rows}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, generate the test set, measure, write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vrn-studio-guided", help="model name or .safetensors path")
    parser.add_argument("--set", choices=sorted(TEST_SETS), default="ict", dest="test_set",
                        help="which fixed test set (default: %(default)s)")
    parser.add_argument("--count", type=int, help="faces per |yaw| (default: the set's 30; fewer for a quick look)")
    parser.add_argument("--no-oracle", dest="oracle", action="store_false",
                        help="skip the oracle rows (each face's own binary and soft target volumes, meshed)")
    parser.add_argument("--work", type=Path, help="where the faces go (default: a temporary folder)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    spec = TEST_SETS[args.test_set]
    count = args.count or int(spec["count"])
    faces = SyntheticFaces(int(spec["seed"]), source=str(spec["source"]))
    rec = Reconstructor(args.model, device="cpu")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        by_yaw = {f"{yaw:g}": evaluate_yaw(rec, faces, yaw, count, work / f"yaw{yaw:g}", args.oracle)
                  for yaw in spec["yaws"]}
    report = {
        "model": rec.model_name,
        "test_set": {"name": args.test_set, "source": spec["source"], "seed": spec["seed"],
                     "generator_version": GENERATOR_VERSION, "faces_per_yaw": count,
                     "indices": [0, count - 1], "yaw_sign": "alternating, + on even indices"},
        "measure": "vrn_studio.eval.surface.measure_prediction (NME eq. 2 with ICP over the face region; "
                   "normal error over the face region after the same alignment; terracing of the cleaned mesh)",
        "by_abs_yaw_degrees": by_yaw,
        "wall_seconds": round(time.perf_counter() - began, 1),
        "machine": machine(),
    }
    atomic_write(args.out, (json.dumps(report, indent=2) + "\n").encode(), overwrite=True)
    for yaw, figures in by_yaw.items():
        print(f"|yaw| {yaw}: NME {figures['mean_nme']:.4f}, normal error {figures['mean_normal_error_degrees']:.1f} "
              f"deg, terracing median {figures['mean_terracing_median_degrees']:.2f} / p90 "
              f"{figures['mean_terracing_p90_degrees']:.2f} deg")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
