"""``vrn-studio synthesize``: write synthetic faces (photo, exact mesh, landmarks) to a folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``synthesize`` sub-command."""
    p = sub.add_parser(
        "synthesize",
        help="write synthetic training / evaluation faces in the dataset folder format",
        description="Render posed, textured synthetic faces with their exact meshes and 68 landmarks "
        "(vrn_studio.train.synthetic), in the folder format that `vrn-studio evaluate` and training read. "
        "The same seed and index always give the same face.",
    )
    p.add_argument("folder", type=Path, help="folder to write to (created if needed)")
    p.add_argument("-n", "--count", type=int, default=16, help="number of faces (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default: %(default)s)")
    p.add_argument("--first", type=int, default=0, help="index of the first face (default: %(default)s)")
    p.add_argument("--source", default="ict",
                   help="shape source: ict (the ICT Face Model's heads) or mediapipe (the template that "
                        "made model v1) (default: %(default)s)")
    p.add_argument("--yaw", type=float, help="fix |yaw| in degrees, alternating sides (default: drawn in +-90)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the faces; print how many and where."""
    from vrn_studio.train.synthetic import SOURCES, SyntheticFaces, write_folder

    if args.source not in SOURCES:
        raise SystemExit(f"vrn-studio synthesize: --source must be one of {', '.join(SOURCES)}")
    if args.count < 1:
        raise SystemExit("vrn-studio synthesize: --count must be at least 1")
    if args.yaw is not None and not 0 <= args.yaw <= 90:
        raise SystemExit("vrn-studio synthesize: --yaw must be between 0 and 90 degrees")
    faces = SyntheticFaces(args.seed, source=args.source)
    photos = write_folder(
        faces, args.folder, args.count, yaw=args.yaw, first=args.first, overwrite=args.overwrite
    )
    print(f"wrote {len(photos)} face(s) to {args.folder}")
    return 0
