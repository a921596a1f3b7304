"""``vrn-studio`` command line: one sub-command per module, each with ``register``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from vrn_studio.errors import VrnStudioError


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command registered."""
    from vrn_studio.cli import info_cmd, reconstruct_cmd, weights_cmd

    parser = argparse.ArgumentParser(
        prog="vrn-studio", description="3D face reconstruction from one photo with VRN."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (reconstruct_cmd, weights_cmd, info_cmd):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code (0 ok, 1 some inputs failed, 2 error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(message)s")
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except VrnStudioError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
