"""``vrn-studio video``: a video file to one mesh per frame, a table of landmarks and head pose, an
animated GLB and the mesh laid over the video."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from vrn_studio.cli.reconstruct_cmd import add_model_options, build_reconstructor
from vrn_studio.errors import VrnStudioError

MESH_FORMATS = ("ply", "obj", "glb", "stl", "textured-glb", "textured-obj")
"""Per-frame mesh formats ``--format`` offers (outputs of :func:`vrn_studio.pipeline.save_result`)."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``video`` sub-command."""
    p = sub.add_parser(
        "video",
        help="reconstruct every frame of a video file (meshes, table, animated GLB, overlay video)",
        description="Reconstruct every (n-th) frame of a video file with face tracking and temporal smoothing: "
        "OUT/frame_NNNNNN.<format> per frame with a face (photo pixels), OUT/frames.jsonl, a row per frame (time, "
        "face found, landmarks, box, head pose in degrees), OUT/animation.glb (one mesh of fixed topology "
        "animated at the video's timing; browser glTF viewers play it) and OUT/overlay.mp4 (the mesh over the "
        "video). Stopped or killed, it goes on with --resume.",
    )
    p.add_argument("video", type=Path, metavar="VIDEO", help="video file (MP4, AVI, MOV, MKV...)")
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    p.add_argument("--every", type=int, default=1, metavar="N", help="reconstruct every N-th frame (default: 1)")
    p.add_argument("--format", choices=(*MESH_FORMATS, "none"), default="ply", dest="mesh_format",
                   help="per-frame mesh format, or none for no per-frame meshes (default: ply)")
    p.add_argument("--resume", action="store_true",
                   help="go on with an interrupted run in OUT: finished frames are kept, the rest reconstructed")
    p.add_argument("--no-smoothing", dest="smooth", action="store_false",
                   help="do not filter over time (by default the landmarks get a One-Euro filter and the surface a "
                   "motion-gated average: a still face stops jittering, a moving one is followed within a frame)")
    p.add_argument("--no-animation", dest="animation", action="store_false", help="do not write animation.glb")
    p.add_argument("--no-overlay", dest="overlay", action="store_false", help="do not write overlay.mp4")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Reconstruct the video; print what was done. Returns 0, or 2 on an error (said on stderr)."""
    from vrn_studio.pipeline.video import reconstruct_video
    from vrn_studio.pipeline.video_io import probe_video

    if args.every < 1:
        raise VrnStudioError(f"--every must be at least 1; got {args.every}")
    info = probe_video(args.video)  # a bad file is reported before the model loads
    rec = build_reconstructor(args)  # without weights: landmarks and head pose only (it says so)
    with tqdm(total=None, unit="frame", desc=args.video.name, file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total or None
            bar.update(done - bar.n)

        def status(name: str) -> None:
            bar.set_postfix_str(f"writing {name}")

        mesh_format = None if args.mesh_format == "none" else args.mesh_format
        run_ = reconstruct_video(rec, info.path, args.out, every=args.every, mesh_format=mesh_format,
                                 resume=args.resume, remove_bumps=not args.no_bumps, smooth_landmarks=args.smooth,
                                 smooth_surface=args.smooth, animation=args.animation, overlay=args.overlay,
                                 progress=progress, status=status)
    print(f"{args.video}: {run_.reconstructed} frame(s) reconstructed, {run_.resumed} kept from before, "
          f"{run_.without_face} without a face ({info.fps:g} frames/s); table {run_.table}")
    for output in run_.outputs:
        print(f"wrote {output}")
    return 0
