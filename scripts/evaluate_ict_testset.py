"""Measure a model on a fixed held-out synthetic test set: NME, normal error and terracing by |yaw|.

::

    python scripts/evaluate_ict_testset.py --model vrn-studio-guided --out training/results/v1-on-ict-testset.json
    python scripts/evaluate_ict_testset.py --model vrn-studio-guided --set mediapipe \\
        --out training/results/v1-on-mediapipe-heldout.json
    python scripts/evaluate_ict_testset.py --oracle-only --out training/results/v1-on-ict-testset.json

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
(binary, and soft as ``soft_targets`` trains on), at the release's 200 x 192 x 192, made as
training makes it (:meth:`~vrn_studio.train.synthetic.SyntheticFace.target`; the set's
source's default fill, ``"solid"`` for ICT heads and ``"behind"`` for the MediaPipe face, or
``--fill``) and meshed like a network's output (:func:`vrn_studio.mesh.volume_to_mesh`, at
:data:`ORACLE_LEVEL`). It is what a network reproducing its targets exactly would score.
Two references go with it (:func:`oracle`): the same target made at the built-in networks' 96 px
and resampled as their output is (their resolution's floor), and *another face's* exact
target at the same pose and crop (what knowing everything but the person scores: a model
that does not beat it has learnt a head, not this head).
Each block records its fill and the generator version.

``--oracle-only`` measures the oracle alone (no model is run) and, when ``--out`` exists,
replaces only its oracle blocks (an earlier block of another fill is kept as
``oracle_<fill>``; a block without a fill is version 3's ``"behind"``), leaving the model's
rows as they were.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vrn_studio import Reconstructor
from vrn_studio._io import atomic_write
from vrn_studio.eval.dataset import LANDMARKS_SUFFIX, Sample, iter_samples
from vrn_studio.eval.face_checks import silhouette_fit
from vrn_studio.eval.surface import FACE_PARTS, measure_prediction
from vrn_studio.headfit import HEAD_FITS
from vrn_studio.mesh import DEFAULT_LEVEL, Mesh, volume_to_mesh
from vrn_studio.model.vrn import resample_volume
from vrn_studio.train.synthetic import FILLS, GENERATOR_VERSION, SyntheticFaces, write_folder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_model import machine

TEST_SETS: dict[str, dict[str, object]] = {
    "ict": {"source": "ict", "seed": 2000, "yaws": (0.0, 30.0, 60.0, 90.0), "count": 30},
    "mediapipe": {"source": "mediapipe", "seed": 1000, "yaws": (0.0, 45.0, 90.0), "count": 30},
}
"""The fixed test sets: shape source, generator seed, |yaw| in degrees, faces per |yaw|."""
NETWORK_SIZE = 96
"""Input size of the built-in networks (v1, v2): the resolution of the oracle's ``binary_96px`` row."""
ORACLE_LEVEL = 0.5
"""Iso level of the oracle meshes: a soft target's exact surface, and halfway between a binary
target's last filled and first empty voxel centres (unbiased; the pipeline's 10/255 would put
the binary surface half a voxel in front and ripple the soft one)."""
FIGURES = (
    "nme", *(f"nme_{part}" for part in FACE_PARTS), "normal_error_degrees", "normal_error_median_degrees",
    "terracing_median_degrees", "terracing_p90_degrees", "silhouette_coverage", "silhouette_spread",
)


@functools.cache
def _at_network_size(seed: int, max_yaw: float, source: str, fill: str) -> SyntheticFaces:
    return SyntheticFaces(seed, size=NETWORK_SIZE, max_yaw=max_yaw, source=source, fill=fill)


def oracle(faces: SyntheticFaces, sample: Sample, count: int) -> dict[str, dict[str, float]]:
    """The figures of the sample's own target volumes (200 x 192 x 192, ``faces.fill``), each meshed
    at :data:`ORACLE_LEVEL`, and of two references; keys (see the module docstring):

    ``"binary"``, ``"soft"``
        Its binary and soft targets: what a network reproducing its targets exactly would score.
    ``"binary_96px"``
        Its binary target made at the built-in networks' 96 px and 100 depth bins, resampled
        as :func:`~vrn_studio.model.release_volume` resamples their output: their resolution's floor.
    ``"exact_head"``
        Only the silhouette figures of the exact head (:func:`~vrn_studio.eval.face_checks.silhouette_fit`):
        what a perfect head model scores on the real-photo check for head models.
    ``"another_face"``
        The binary target of the face two places on in the set (same yaw, other person, other
        expression; sets of 3 faces or more): a prediction that knows the pose and crop exactly
        but not the person.
    """
    index = int(sample.name.rsplit("-", 1)[1])
    yaw = json.loads(Path(f"{sample.image_path.with_suffix('')}{LANDMARKS_SUFFIX}").read_text())["pose_degrees"]["yaw"]
    face = faces.sample(index, yaw=yaw)
    small = _at_network_size(faces.seed, faces.max_yaw, faces.source.name, faces.fill).sample(index, yaw=yaw)
    volumes = {
        "binary": face.target().astype(np.float32),
        "soft": face.target(soft=True),
        "binary_96px": resample_volume(torch.from_numpy(small.target().astype(np.float32))[None], len(face.front))[0].numpy(),
    }
    if count > 2:  # fewer faces hold no other face of the same yaw sign
        volumes["another_face"] = faces.sample((index + 2) % count, yaw=yaw).target().astype(np.float32)
    found = {kind: measure_prediction(volume_to_mesh(volume, level=ORACLE_LEVEL), sample)
             for kind, volume in volumes.items()}
    size = len(face.front)  # the exact head drawn on a canvas three crops wide, so no part is cut off
    head = Mesh(face.vertices + [size, size, 0], face.faces)
    fit = silhouette_fit(head, face.landmarks + size, (3 * size, 3 * size))
    return found | {"exact_head": {f"silhouette_{k}": v for k, v in fit.items()}}


def oracle_block(faces: SyntheticFaces, found: dict[str, list[dict[str, float]]]) -> dict[str, object]:
    """The oracle's JSON block of one |yaw|: fill, generator version, a summary per :func:`oracle` kind."""
    return {"fill": faces.fill, "generator_version": GENERATOR_VERSION,
            **{f"{kind}_targets": summarise(rows) for kind, rows in found.items()}}


def summarise(rows: list[dict[str, float]]) -> dict[str, float]:
    """Mean, median, least and greatest of each figure over the rows that have it (a face's region
    may hold no vertex of a part, such as the jaw in profile)."""
    values = {k: [r[k] for r in rows if k in r] for k in FIGURES}
    return {f"{name}_{k}": float(statistic(v)) for name, statistic in
            (("mean", np.mean), ("median", np.median), ("min", np.min), ("max", np.max))
            for k, v in values.items() if v}


def evaluate_oracle(faces: SyntheticFaces, yaw: float, count: int, folder: Path) -> dict[str, object]:
    """Write ``count`` faces at |yaw| to ``folder`` and measure their targets alone: the oracle block."""
    write_folder(faces, folder, count, yaw=yaw, overwrite=True)
    found: dict[str, list[dict[str, float]]] = {}
    for sample in iter_samples(folder):
        for kind, figures in oracle(faces, sample, count).items():
            found.setdefault(kind, []).append(figures)
        print(f"{sample.name} |yaw| {yaw:g}: oracle NME binary {found['binary'][-1]['nme']:.4f}, "
              f"soft {found['soft'][-1]['nme']:.4f}", flush=True)
    return oracle_block(faces, found)


def evaluate_yaw(
    rec: Reconstructor, faces: SyntheticFaces, yaw: float, count: int, folder: Path, with_oracle: bool
) -> dict[str, object]:
    """Write ``count`` faces at |yaw| to ``folder``, reconstruct and measure each; rows and summary."""
    write_folder(faces, folder, count, yaw=yaw, overwrite=True)
    rows: list[dict[str, object]] = []
    oracles: dict[str, list[dict[str, float]]] = {}
    for sample in iter_samples(folder):
        began = time.perf_counter()
        result = rec.reconstruct(sample.image_path, face=sample.landmarks)
        row = {"name": sample.name, **measure_prediction(result.mesh_photo, sample),
               "seconds": round(time.perf_counter() - began, 3)}
        rows.append(row)
        print(f"{sample.name} |yaw| {yaw:g}: NME {row['nme']:.4f}, normals {row['normal_error_degrees']:.1f} deg",
              flush=True)
        if with_oracle:
            for kind, figures in oracle(faces, sample, count).items():
                oracles.setdefault(kind, []).append(figures)
    report: dict[str, object] = {**summarise(rows), "faces": len(rows),
                                 "mean_seconds_per_face": float(np.mean([r["seconds"] for r in rows]))}
    if with_oracle:
        report["oracle"] = oracle_block(faces, oracles)
    return report | {"samples": rows}


def merge_oracle(report: dict[str, object], by_yaw: dict[str, dict[str, object]]) -> dict[str, object]:
    """``report`` (a model's JSON) with each |yaw|'s oracle block replaced by ``by_yaw``'s; a replaced
    block of another fill moves to ``oracle_<fill>`` (no fill recorded: version 3's ``"behind"``)."""
    for yaw, block in by_yaw.items():
        entry = report["by_abs_yaw_degrees"][yaw]
        old = entry.pop("oracle", None)
        if old is not None:
            old = {"fill": "behind", "generator_version": 3} | old  # blocks before fills were recorded
            if old["fill"] != block["fill"]:
                entry[f"oracle_{old['fill']}"] = old
        entry["oracle"] = block
    return report


def main(argv: list[str] | None = None) -> int:
    """Parse the options, generate the test set, measure, write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vrn-studio-guided", help="model name or .safetensors path")
    parser.add_argument("--set", choices=sorted(TEST_SETS), default="ict", dest="test_set",
                        help="which fixed test set (default: %(default)s)")
    parser.add_argument("--count", type=int, help="faces per |yaw| (default: the set's 30; fewer for a quick look)")
    parser.add_argument("--no-oracle", dest="oracle", action="store_false",
                        help="skip the oracle rows (each face's own binary and soft target volumes, meshed)")
    parser.add_argument("--oracle-only", action="store_true",
                        help="measure the oracle alone; an existing --out keeps its model rows, its oracle "
                             "blocks are replaced")
    parser.add_argument("--fill", choices=FILLS, default="auto",
                        help="the oracle's target fill (default: the source's, as training uses)")
    parser.add_argument("--level", type=float, default=DEFAULT_LEVEL,
                        help="iso level the model's volume is meshed at (default: the release's 10/255, where "
                        "exported models put their surface; 0.5 for a model exported uncalibrated)")
    parser.add_argument("--smooth", type=int, default=0,
                        help="Taubin smoothing iterations of the cleaned mesh (Reconstructor(smooth=...); default 0)")
    parser.add_argument("--head-fit", choices=HEAD_FITS, default="none",
                        help="measure the network's mesh (none, default) or the ICT head fitted to its volume and "
                        "the landmarks (ict: Reconstructor(head_fit='ict'), what the app and the command line show)")
    parser.add_argument("--work", type=Path, help="where the faces go (default: a temporary folder)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    spec = TEST_SETS[args.test_set]
    count = args.count or int(spec["count"])
    faces = SyntheticFaces(int(spec["seed"]), source=str(spec["source"]), fill=args.fill)
    if args.oracle_only:
        return oracle_only(args, spec, faces, count)
    rec = Reconstructor(args.model, device="cpu", level=args.level, smooth=args.smooth, head_fit=args.head_fit)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        by_yaw = {f"{yaw:g}": evaluate_yaw(rec, faces, yaw, count, work / f"yaw{yaw:g}", args.oracle)
                  for yaw in spec["yaws"]}
    report = {
        "model": rec.model_name,
        "level": args.level,
        "smooth": args.smooth,
        "head_fit": args.head_fit,
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


def oracle_only(args: argparse.Namespace, spec: dict[str, object], faces: SyntheticFaces, count: int) -> int:
    """``--oracle-only``: the oracle blocks of every |yaw|, merged into an existing ``--out`` or alone."""
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        by_yaw = {f"{yaw:g}": evaluate_oracle(faces, yaw, count, work / f"yaw{yaw:g}") for yaw in spec["yaws"]}
    if args.out.is_file():
        report = json.loads(args.out.read_text(encoding="utf-8"))
        if report["test_set"]["faces_per_yaw"] != count or report["test_set"]["seed"] != spec["seed"]:
            raise SystemExit(f"{args.out} holds another test set; not merging the oracle into it")
        report = merge_oracle(report, by_yaw)
        report["oracle_wall_seconds"] = round(time.perf_counter() - began, 1)
    else:
        report = {"test_set": {"name": args.test_set, "source": spec["source"], "seed": spec["seed"],
                               "generator_version": GENERATOR_VERSION, "faces_per_yaw": count},
                  "by_abs_yaw_degrees": {yaw: {"oracle": block} for yaw, block in by_yaw.items()},
                  "oracle_wall_seconds": round(time.perf_counter() - began, 1), "machine": machine()}
    atomic_write(args.out, (json.dumps(report, indent=2) + "\n").encode(), overwrite=True)
    for yaw, block in by_yaw.items():
        print(f"|yaw| {yaw}: oracle ({block['fill']}) NME binary {block['binary_targets']['mean_nme']:.4f} / soft "
              f"{block['soft_targets']['mean_nme']:.4f}, normal error binary "
              f"{block['binary_targets']['mean_normal_error_degrees']:.1f} / soft "
              f"{block['soft_targets']['mean_normal_error_degrees']:.1f} deg")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
