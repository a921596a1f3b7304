"""Run the VRN Studio benchmark from a fresh clone: ``python benchmarks/run.py [options]``.

Same options as ``vrn-studio benchmark`` (``--help``); results go to benchmarks/results/.
Without dlib's model file (GPU machines), pass ``--landmarks benchmarks/astronaut.landmarks.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vrn_studio.cli import benchmark_cmd


def main(argv: list[str] | None = None) -> int:
    """Parse the ``benchmark`` options and run it."""
    parser = argparse.ArgumentParser(prog="benchmarks/run.py")
    benchmark_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["benchmark", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
