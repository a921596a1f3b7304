"""``vrn-studio weights``: list, import, download and verify models."""

from __future__ import annotations

import argparse
from pathlib import Path

from vrn_studio.errors import WeightsError
from vrn_studio.weights import (
    KNOWN_MODELS,
    ModelEntry,
    download,
    find_model,
    import_t7,
    list_models,
    search_paths,
    verify_model,
)
from vrn_studio.weights.manifest import Manifest


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``weights`` command and its sub-commands to the CLI parser."""
    parser = subparsers.add_parser(
        "weights", help="list, import, download and verify models", description="Manage VRN model weights."
    )
    parser.set_defaults(func=lambda args: parser.print_help() or 0)
    sub = parser.add_subparsers(dest="weights_command", metavar="ACTION")

    list_parser = sub.add_parser("list", help="show installed models and where they are searched for")
    list_parser.set_defaults(func=_list)

    import_parser = sub.add_parser(
        "import",
        help="convert a Torch7 .t7 model, or a training checkpoint, into safetensors + manifest",
        description="Convert the published Torch7 model (FILE.t7), or a checkpoint written by "
        "`vrn-studio train` (epoch-NNNN.json, or its run folder), into an installed model.",
    )
    import_parser.add_argument("file", help="the .t7 file (e.g. vrn-unguided.t7) or a checkpoint .json / run folder")
    import_parser.add_argument("--name", default="vrn-unguided", help="model name (default: %(default)s)")
    import_parser.add_argument("--licence", default="unspecified",
                               help="licence recorded for a trained checkpoint (default: %(default)s)")
    import_parser.add_argument("--out", metavar="DIR", help="folder to write to (default: your user folder)")
    import_parser.add_argument("--overwrite", action="store_true", help="replace a model of the same name")
    import_parser.add_argument("--uncalibrated", action="store_true",
                               help="a trained checkpoint: keep its output as trained (surface at probability "
                               "0.5; mesh with --level 0.5) instead of moving the surface to the release's 10/255")
    import_parser.set_defaults(func=_import)

    download_parser = sub.add_parser("download", help="download a published model and import it")
    download_parser.add_argument("name", choices=sorted(KNOWN_MODELS), help="model to download")
    download_parser.add_argument(
        "--out", metavar="DIR", help="folder to write to (default: your user folder)"
    )
    download_parser.add_argument("--overwrite", action="store_true", help="replace a model of the same name")
    download_parser.set_defaults(func=_download)

    verify_parser = sub.add_parser("verify", help="check models against the SHA-256 in their manifests")
    verify_parser.add_argument("name", nargs="?", help="model to check (default: all installed)")
    verify_parser.set_defaults(func=_verify)


def _status(entry: ModelEntry) -> str:
    try:
        verify_model(entry)
    except WeightsError:
        return "NO (corrupt or changed; run `vrn-studio weights verify` for details)"
    return "yes"


def _list(args: argparse.Namespace) -> int:
    entries = list_models()
    if entries:
        rows = [("NAME", "LOCATION", "SIZE", "LICENCE", "SHA256", "VERIFIED")]
        rows += [
            (
                e.name,
                e.location,
                f"{e.manifest.size / 1e6:.1f} MB",
                e.manifest.licence,
                e.manifest.sha256[:12],
                _status(e),
            )
            for e in entries
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    else:
        print("No models installed. Get one with: vrn-studio weights download vrn-unguided")
    print("\nSearched, in order:")
    for path in search_paths():
        print(f"  {path}{'' if path.is_dir() else '  (does not exist)'}")
    return 0


def _describe(manifest_path: str, manifest: Manifest) -> str:
    return f"{manifest.name}: {manifest_path} ({manifest.size / 1e6:.1f} MB, sha256 {manifest.sha256[:12]})"


def _import(args: argparse.Namespace) -> int:
    if args.file.endswith(".json") or Path(args.file).is_dir():
        from vrn_studio.train.export import export_checkpoint

        path = export_checkpoint(
            args.file, args.name, out_dir=args.out, licence=args.licence, overwrite=args.overwrite,
            **({"iso_level": None} if args.uncalibrated else {}),
        )
        print(f"Exported the trained network: {_describe(str(path), Manifest.read(path))}")
        return 0
    path = import_t7(args.file, out_dir=args.out, name=args.name, overwrite=args.overwrite)
    print(f"Imported and checked against the .t7 network: {_describe(str(path), Manifest.read(path))}")
    return 0


def _download(args: argparse.Namespace) -> int:
    path = download(args.name, args.out, overwrite=args.overwrite)
    print(f"Downloaded, imported and checked: {_describe(str(path), Manifest.read(path))}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    entries = [find_model(args.name)] if args.name else list_models()
    if not entries:
        print("No models installed. Get one with: vrn-studio weights download vrn-unguided")
        return 0
    failed = 0
    for entry in entries:
        try:
            verify_model(entry)
        except WeightsError as exc:
            failed += 1
            print(f"FAILED  {entry.name} ({entry.path}): {exc}")
        else:
            print(f"ok      {entry.name} ({entry.weights_path})")
    return 1 if failed else 0
