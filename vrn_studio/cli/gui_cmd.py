"""``vrn-studio gui [IMAGE]``: open the desktop app (also what ``vrn-studio`` alone does)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``gui`` sub-command."""
    p = sub.add_parser("gui", help="open the desktop app", description="Open the VRN Studio window.")
    p.add_argument("image", nargs="?", help="a photo to open")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Open the window; the exit code is Qt's."""
    from vrn_studio.gui import main

    return main(image=getattr(args, "image", None))
