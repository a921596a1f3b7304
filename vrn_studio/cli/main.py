"""``vrn-studio`` command line: one sub-command per module, each with ``register``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from vrn_studio.errors import VrnStudioError


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command registered."""
    from vrn_studio.cli import (
        batch_cmd,
        benchmark_cmd,
        compare_cmd,
        evaluate_cmd,
        gui_cmd,
        info_cmd,
        reconstruct_cmd,
        synthesize_cmd,
        train_cmd,
        video_cmd,
        weights_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="vrn-studio", description="3D face reconstruction from one photo with VRN."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (reconstruct_cmd, gui_cmd, weights_cmd, info_cmd, benchmark_cmd, evaluate_cmd, compare_cmd,
                   synthesize_cmd, train_cmd, video_cmd, batch_cmd):
        module.register(sub)
    return parser


def gui_or_help(parser: argparse.ArgumentParser) -> int:
    """``vrn-studio`` alone opens the app; without its dependencies it prints help and why."""
    from vrn_studio.errors import MissingDependencyError
    from vrn_studio.gui import check_gui_dependencies
    from vrn_studio.gui import main as run_gui

    try:
        check_gui_dependencies()
    except MissingDependencyError as exc:
        parser.print_help()
        print(f"\nThe desktop app is not available: {exc}", file=sys.stderr)
        return 0
    return run_gui()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code (0 ok, 1 some inputs failed, 2 error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        if args.command is None:
            return gui_or_help(parser)
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
