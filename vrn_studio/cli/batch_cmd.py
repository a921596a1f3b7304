"""``vrn-studio batch``: a photo collection (folder, glob or manifest) on one process or a Ray
cluster, resumable, with a results table."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from vrn_studio.cli.reconstruct_cmd import add_model_options, build_reconstructor, reconstructor_options
from vrn_studio.errors import VrnStudioError
from vrn_studio.pipeline import DEFAULT_OUTPUTS, output_names


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``batch`` sub-command."""
    p = sub.add_parser(
        "batch",
        help="reconstruct a photo collection (folder, glob or manifest), resumable, locally or on Ray",
        description="Reconstruct every photo of a collection into OUT (the outputs of reconstruct, under each "
        "photo's path relative to the collection) and write OUT/results.parquet, a row per photo (status, error, "
        "faces, model, per-stage timings, files and sizes). Run it again to go on: photos whose outputs are "
        "complete are kept, the rest (failed ones included) are redone.",
    )
    p.add_argument("input", metavar="INPUT",
                   help="a folder (photos in all subfolders), a glob pattern ('shoot/**/*.jpg', quoted), or a "
                   "manifest: .csv or .parquet with a path column (local paths or URIs such as s3://...)")
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process, photo after photo (default); ray: Ray Data, CPU tasks for "
                   "detection and meshing, the network in actors (a GPU each where the cluster has them)")
    p.add_argument("--address", default=None,
                   help="Ray: the cluster to join (host:6379 or ray://host:10001); default: a running local "
                   "instance, else a new one")
    p.add_argument("-f", "--formats", default=",".join(DEFAULT_OUTPUTS),
                   help=f"comma-separated outputs (default: %(default)s); available: {', '.join(output_names())}")
    p.add_argument("--frame", choices=("crop", "photo"), default="crop",
                   help="mesh coordinates: crop pixels, or the photo's pixels")
    p.add_argument("--csv", action="store_true", help="also write OUT/results.csv")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the batch; exit 0 when every photo succeeded, 1 when some failed (listed in the table)."""
    from vrn_studio.pipeline.batch import BatchOptions, collect_photos, run_batch

    outputs = tuple(name.strip() for name in args.formats.split(",") if name.strip())
    unknown = sorted(set(outputs) - set(output_names()))
    if unknown:
        raise VrnStudioError(f"Unknown format(s) {', '.join(unknown)}. Available: {', '.join(output_names())}")
    if args.address and args.engine != "ray":
        raise VrnStudioError("--address is for --engine ray")
    photos = collect_photos(args.input)
    rec = build_reconstructor(args)  # a missing or corrupt model is said once, here; the local engine reuses it
    options = BatchOptions({**reconstructor_options(args), "model": args.model if rec.net is not None else None},
                           outputs=outputs, frame=args.frame, remove_bumps=not args.no_bumps)
    if args.engine == "ray":
        logging.getLogger("ray").setLevel(logging.WARNING)  # Ray Data's per-dataset INFO lines
    with tqdm(total=len(photos), unit="photo", file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        batch = run_batch(photos, args.out, options, engine=args.engine, address=args.address, csv=args.csv,
                          progress=progress, reconstructor=rec)
    print(f"{len(photos)} photo(s): {batch.done} reconstructed, {batch.reused} kept from before, {batch.failed} "
          f"failed; table {batch.table}")
    return 1 if batch.failed else 0
