"""``vrn-studio benchmark``: time every stage, naive baseline beside the optimised path."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from vrn_studio._io import atomic_write


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``benchmark`` sub-command."""
    p = sub.add_parser(
        "benchmark",
        help="time every stage (baseline vs optimised), the network's variants and the live path",
        description="Time every pipeline stage, the naive baseline and the optimised path in the same run, "
        "the network's variants (channels_last, compile, fp16/bf16...) and the live path on a video file, "
        "with the released architecture and random weights (no download needed); then the product path: "
        "the model users get with each installed landmarker (dlib, mediapipe) in the same run, its live loop "
        "and a profile of its stages.",
    )
    p.add_argument("--device", default="auto", help="network device: auto, cpu, cuda, cuda:1 (default: auto)")
    p.add_argument("--photo", type=Path, help="photo to reconstruct (default: the astronaut sample)")
    p.add_argument("--repeat", type=int, default=10, help="timed repetitions (default: 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed warm-up repetitions (default: 2)")
    p.add_argument("--no-compile", dest="compile", action="store_false",
                   help="skip torch.compile variants (they take a minute or more each to compile on a CPU)")
    p.add_argument("--webcam-seconds", type=float, default=15.0,
                   help="length of each live-path run on a video file; 0 skips it (default: 15)")
    p.add_argument("--landmarks", type=Path,
                   help="the photo's landmarks JSON (as vrn-studio reconstruct writes it): skips dlib, for "
                   "machines without its model; detection is then not timed")
    p.add_argument("--model", default="default",
                   help="model of the product path (default: default, the built-in model unless the published "
                   "weights are installed)")
    p.add_argument("--product-only", action="store_true",
                   help="measure only the product path (the model users get, each installed landmarker, the live "
                   "loop, a profile), not the released architecture's variants and baseline")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"),
                   help="folder for the JSON result (default: benchmarks/results)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, write ``<out>/<device>-<machine>-<date>.json``, print the tables."""
    from vrn_studio.bench import format_markdown, result_file_name, run_benchmark
    from vrn_studio.bench.runner import as_json

    landmarks = None
    if args.landmarks is not None:
        landmarks = np.asarray(json.loads(args.landmarks.read_text())["landmarks_photo"], np.float64)
    result = run_benchmark(device=args.device, photo=args.photo, repeat=args.repeat, warmup=args.warmup,
                           compile=args.compile, webcam_seconds=args.webcam_seconds, landmarks=landmarks,
                           model=args.model, product_only=args.product_only)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / result_file_name(result)
    atomic_write(path, (json.dumps(as_json(result), indent=1) + "\n").encode("utf-8"), overwrite=True)
    print(format_markdown(result))
    print(f"\nwritten: {path}")
    return 0
