"""``vrn-studio reconstruct``: photos (files or folders) to meshes and pictures."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from vrn_studio.errors import VrnStudioError, WeightsError
from vrn_studio.headfit import DEFAULT_HEAD_FIT, HEAD_FITS
from vrn_studio.image import list_images, sample_image_path
from vrn_studio.mesh import ADULT_OUTER_INTEROCULAR_MM, DEFAULT_LEVEL, DEFAULT_SMOOTH
from vrn_studio.pipeline import DEFAULT_OUTPUTS, Reconstructor, Result, output_names, save_result
from vrn_studio.pipeline.runtime import RUNTIMES

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``reconstruct`` sub-command."""
    p = sub.add_parser(
        "reconstruct",
        help="reconstruct 3D faces from photos",
        description="Reconstruct a 3D face from each photo. With no PATH, uses the bundled sample photo.",
    )
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="photos or folders of photos")
    p.add_argument("-o", "--out", type=Path, default=Path("vrn-output"), help="output folder (default: vrn-output)")
    p.add_argument(
        "-f", "--formats", default=",".join(DEFAULT_OUTPUTS),
        help=f"comma-separated outputs (default: %(default)s); available: {', '.join(output_names())}",
    )
    add_model_options(p)
    p.add_argument("--faces", type=_face_choice, default=None, metavar="all|N",
                   help="which faces of each photo: all, or face N (1 = the largest); outputs are named "
                   "STEM_faceN.* (default: the largest face only, named STEM.*)")
    p.add_argument("--interocular-mm", type=_positive, default=ADULT_OUTER_INTEROCULAR_MM, metavar="MM",
                   help="print-stl / print-3mf: distance between the outer eye corners in mm, which sets the "
                   f"print's scale (default: {ADULT_OUTER_INTEROCULAR_MM} mm, the adult mean)")
    p.add_argument("--base-mm", type=_positive, default=0.0, metavar="MM",
                   help="print-stl / print-3mf: thickness of a base slab behind the face (default: none)")
    p.add_argument("--frame", choices=("crop", "photo"), default="crop",
                   help="mesh coordinates: crop pixels, or the photo's pixels (to lay over it)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=run)


def add_model_options(p: argparse.ArgumentParser) -> None:
    """The options that build the :class:`Reconstructor` (model, device, landmarker, runtime,
    meshing, bump removal, smoothing, decimation, head fit), shared by ``reconstruct`` and ``video``."""
    p.add_argument("--model", default="default", help="model name or .safetensors path (default: best installed)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32", help="network precision")
    p.add_argument(
        "--landmarker", default="auto",
        help="auto, mediapipe, fan or dlib (default: auto, the first of those that can run)",
    )
    p.add_argument("--runtime", choices=RUNTIMES, default="torch",
                   help="what runs the network: torch (default), onnxruntime (CPU, float32) or onnxruntime-int8 "
                        "(CPU, about 2x faster, less faithful); the ONNX ones need the onnx extra")
    p.add_argument("--norm", choices=("image", "running"), default=None,
                   help="batch-norm statistics: per image as the release, or running (default: what the "
                   "model's manifest says)")
    p.add_argument("--level", type=float, default=DEFAULT_LEVEL,
                   help=f"iso level in probability units (default: {DEFAULT_LEVEL:.4f}, the release's 10/255)")
    p.add_argument("--no-bumps", action="store_true", help="keep detached bodies (skip bump removal)")
    p.add_argument("--bump-mode", choices=("largest", "fraction"), default="largest",
                   help="keep the largest body, or drop bodies under --min-fraction")
    p.add_argument("--min-fraction", type=float, default=0.1, help="size threshold of --bump-mode fraction")
    p.add_argument("--smooth", type=_at_least(0), default=DEFAULT_SMOOTH, metavar="N",
                   help="Taubin smoothing iterations after bump removal: the default %(default)s takes out the depth "
                   "bins' terraces, moving no vertex more than about a pixel and leaving NME unchanged; 0 keeps "
                   "the marching-cubes surface")
    p.add_argument("--triangles", type=_at_least(4), dest="target_faces", metavar="N",
                   help="decimate the mesh to about N triangles (after smoothing)")
    p.add_argument("--head-fit", choices=HEAD_FITS, default=DEFAULT_HEAD_FIT,
                   help="ict (default): the mesh is the ICT head model fitted to the network's volume and the "
                   "landmarks (whole head, smooth, ears and neck); none: the network's own mesh")


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}; got {value}")
        return value

    return parse


def _positive(text: str) -> float:
    """An argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0; got {text}")
    return value


def _face_choice(text: str) -> str | int:
    """An argparse type: ``all`` or a face number (1 = the largest), returned as a 0-based index."""
    if text.strip().lower() == "all":
        return "all"
    return _at_least(1)(text) - 1


def iter_images(paths: list[Path]) -> Iterator[Path]:
    """Expand folders (not recursively) into their image files, sorted; keep files as given."""
    for path in paths:
        if path.is_dir():
            yield from list_images(path)
        else:
            yield path


def reconstructor_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`Reconstructor` keyword arguments of :func:`add_model_options`' arguments, the model left out."""
    return {
        "landmarker": args.landmarker, "device": args.device, "dtype": DTYPES[args.dtype], "norm": args.norm,
        "level": args.level, "bump_mode": args.bump_mode, "min_fraction": args.min_fraction, "runtime": args.runtime,
        "smooth": args.smooth, "target_faces": args.target_faces, "head_fit": args.head_fit,
    }


def build_reconstructor(args: argparse.Namespace) -> Reconstructor:
    """The Reconstructor of :func:`add_model_options`' arguments; without weights for the
    default model, one that stops after the crop (and says so)."""
    options = reconstructor_options(args)
    try:
        return Reconstructor(args.model, **options)
    except WeightsError as exc:
        if args.model != "default":
            raise
        print(f"note: {exc}\nnote: running face detection and crop only (no 3D mesh).", file=sys.stderr)
        return Reconstructor(None, **options)


def run(args: argparse.Namespace) -> int:
    """Reconstruct every photo; exit 0 when all succeed, 1 when some failed."""
    outputs = [name.strip() for name in args.formats.split(",") if name.strip()]
    unknown = sorted(set(outputs) - set(output_names()))
    if unknown:
        raise VrnStudioError(f"Unknown format(s) {', '.join(unknown)}. Available: {', '.join(output_names())}")
    paths = list(iter_images(args.paths)) if args.paths else [sample_image_path()]
    if not paths:
        raise VrnStudioError(f"No images found in {', '.join(map(str, args.paths))}")
    rec = build_reconstructor(args)
    failures = 0
    bar = tqdm(paths, unit="photo", disable=len(paths) < 2, file=sys.stderr)
    for path in bar:
        try:
            if args.faces is None:
                results = [rec.reconstruct(path, remove_bumps=not args.no_bumps)]
            else:
                chosen = "all" if args.faces == "all" else [args.faces]
                results = rec.reconstruct_faces(path, faces=chosen, remove_bumps=not args.no_bumps)
            for result in results:
                stem = path.stem if args.faces is None else f"{path.stem}_face{result.face_index + 1}"
                written = save_result(result, args.out, outputs=outputs, stem=stem, frame=args.frame,
                                      overwrite=args.overwrite, interocular_mm=args.interocular_mm,
                                      base_mm=args.base_mm)
                _report(path, result, written, args.faces is not None)
        except VrnStudioError as exc:
            failures += 1
            tqdm.write(f"failed: {path}: {exc}", file=sys.stderr)
    if failures:
        print(f"{failures} of {len(paths)} photo(s) failed", file=sys.stderr)
    return 1 if failures else 0


def _report(path: Path, result: Result, written: list[Path], numbered: bool) -> None:
    """One photo's (or, when ``numbered``, one face's) line of the console report."""
    stages = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in result.timings.items())
    removed = ""
    if result.bumps is not None and result.bumps.n_removed:
        sizes = ", ".join(str(size) for size in result.bumps.removed_sizes)
        removed = f", removed {result.bumps.n_removed} bump(s) of {sizes} vertices"
    elif result.bumps is not None:
        removed = ", no bumps"
    which = f", face {result.face_index + 1} of {len(result.faces)}" if numbered else f", {len(result.faces)} face(s)"
    tqdm.write(
        f"{path}{which}, landmarker {result.landmarker}, model {result.model or 'none'}"
        f"{removed}\n  {stages}\n  wrote {', '.join(str(p) for p in written)}"
    )
