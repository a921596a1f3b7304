"""``vrn-studio evaluate``: the paper's NME (eq. 2) of a model over a dataset folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from vrn_studio._io import atomic_write
from vrn_studio.errors import VrnStudioError
from vrn_studio.eval import face_region_mask, nme, outer_interocular
from vrn_studio.eval.dataset import LAYOUTS, Sample, iter_dataset, lift_landmarks
from vrn_studio.pipeline import Reconstructor


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` sub-command."""
    p = sub.add_parser(
        "evaluate",
        help="measure the NME of a model on a dataset of photos with ground-truth meshes",
        description=(
            "Reconstruct every photo of a dataset folder, using the sample's own 68 landmarks as the "
            "face (so detection failures do not bias the figure), and measure the paper's NME: the "
            "mean distance from each ground-truth vertex of the face region to the prediction, over "
            "the 3D outer interocular distance. Dataset formats are described in "
            "vrn_studio/eval/dataset.py."
        ),
    )
    p.add_argument("folder", type=Path, metavar="FOLDER", help="the dataset folder")
    p.add_argument("--format", choices=LAYOUTS, default="folder", dest="layout",
                   help="dataset layout (default: folder)")
    p.add_argument("--bfm", type=Path, metavar="MAT",
                   help="your Basel Face Model .mat (needed by --format 300w-lp; see vrn_studio/eval/bfm.py)")
    p.add_argument("--model", default="default", help="model name or .safetensors path (default: best installed)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    p.add_argument("--icp", action=argparse.BooleanOptionalAction, default=True,
                   help="rigidly align each prediction with ICP first, as the authors did (default: on); "
                        "without it only the free depth origin is matched (mean depth at the landmarks)")
    p.add_argument("-o", "--out", type=Path, default=Path("results.json"),
                   help="JSON report of per-sample and mean NME (default: results.json)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    p.set_defaults(func=run)


def build_reconstructor(args: argparse.Namespace) -> Reconstructor:
    """The Reconstructor the evaluation runs (WeightsError when the model is not installed)."""
    return Reconstructor(args.model, device=args.device)


def sample_nme(rec: Reconstructor, sample: Sample, *, icp: bool) -> dict[str, Any]:
    """Reconstruct one sample and measure its NME over the face region.

    Returns
    -------
    dict
        ``name``, ``nme`` (unitless), ``interocular`` (photo pixels) and ``region_vertices``
        (ground-truth vertices in the face region).

    Raises
    ------
    VrnStudioError
        The reconstruction failed or produced no surface.
    ValueError
        The ground truth gives an empty face region or a zero interocular distance.
    """
    result = rec.reconstruct(sample.image_path, face=sample.landmarks)
    if result.mesh_photo is None or result.mesh_photo.n_vertices == 0:
        raise VrnStudioError("the model produced no surface")
    pred = result.mesh_photo.vertices.astype(np.float64)
    gt = sample.mesh.vertices
    landmarks_3d = sample.landmarks_3d_or_lifted()
    region = face_region_mask(gt, landmarks_3d)
    if not icp:
        pred[:, 2] += landmarks_3d[:, 2].mean() - lift_landmarks(pred, sample.landmarks)[:, 2].mean()
    value = nme(pred, gt, gt_landmarks_3d=landmarks_3d, region_mask=region, align="icp" if icp else None)
    return {
        "name": sample.name, "nme": value, "interocular": outer_interocular(landmarks_3d),
        "region_vertices": int(region.sum()),
    }


def run(args: argparse.Namespace) -> int:
    """Evaluate every sample; exit 0 when all were measured, 1 when some failed."""
    if args.out.exists() and not args.overwrite:
        raise VrnStudioError(f"{args.out} exists; pass --overwrite to replace it")
    samples = list(iter_dataset(args.folder, args.layout, bfm=args.bfm))
    rec = build_reconstructor(args)
    rows: list[dict[str, Any]] = []
    for sample in tqdm(samples, unit="sample", disable=len(samples) < 2, file=sys.stderr):
        try:
            row = sample_nme(rec, sample, icp=args.icp)
        except (VrnStudioError, ValueError) as exc:
            rows.append({"name": sample.name, "error": str(exc)})
            tqdm.write(f"failed: {sample.name}: {exc}", file=sys.stderr)
            continue
        rows.append(row)
        tqdm.write(f"{sample.name}: NME {row['nme']:.4f}")
    values = [row["nme"] for row in rows if "nme" in row]
    mean = float(np.mean(values)) if values else None
    failed = len(rows) - len(values)
    report = {
        "dataset": str(args.folder), "format": args.layout, "model": rec.model_name, "icp": args.icp,
        "mean_nme": mean, "measured": len(values), "failed": failed, "samples": rows,
    }
    atomic_write(args.out, (json.dumps(report, indent=2) + "\n").encode("utf-8"), overwrite=args.overwrite)
    print(f"mean NME {mean:.4f} over {len(values)} sample(s)" if values else "no sample was measured")
    if failed:
        print(f"{failed} of {len(rows)} sample(s) failed", file=sys.stderr)
    print(f"wrote {args.out}")
    return 1 if failed else 0
