"""Cost of the mesh overlay on a 36-megapixel photo: ``python benchmarks/overlay_large_photo.py``.

Makes a 6000 x 6000 photo (the sample astronaut photo scaled up, face ~1,100 px across), then
measures in child processes the peak resident memory of ``vrn-studio reconstruct -f overlay``
(the whole process) beside ``-f landmarks`` (the same run without the overlay), and in this
process the time of :func:`~vrn_studio.pipeline.overlay.mesh_overlay` alone (median of 3).
Writes ``benchmarks/results/overlay/<processor>-<date>.json`` and prints it.
"""

from __future__ import annotations

import datetime
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vrn_studio._io import atomic_write
from vrn_studio.bench.measure import environment
from vrn_studio.image import load_image, sample_image_path
from vrn_studio.pipeline import Reconstructor
from vrn_studio.pipeline.overlay import MAX_RENDER_SIDE, mesh_overlay

SIDE = 6000


def child_peak(photo: Path, out: Path, output: str) -> float:
    """Peak MiB of ``vrn-studio reconstruct PHOTO -f OUTPUT``, in a fresh interpreter of its own."""
    code = (
        "import resource, subprocess, sys;"
        f"subprocess.run([sys.executable, '-m', 'vrn_studio.cli.main', 'reconstruct', {str(photo)!r}, '-o', "
        f"{str(out)!r}, '-f', {output!r}, '--overwrite', '--landmarker', 'dlib'], check=True, capture_output=True);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    run = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(run.stdout.split()[-1]) / 1024


def main() -> int:
    """Measure, write the JSON result, print it."""
    with tempfile.TemporaryDirectory(prefix="vrn-overlay-") as folder:
        photo = Path(folder) / "large.jpg"
        big = cv2.resize(load_image(sample_image_path("astronaut")), (SIDE, SIDE), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(photo), big[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        peaks = {output: child_peak(photo, Path(folder) / output, output) for output in ("overlay", "landmarks")}
        result = Reconstructor(landmarker="dlib", device="cpu").reconstruct(photo)
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            mesh_overlay(result.image, result.mesh_photo)
            seconds.append(time.perf_counter() - start)
    width, height = np.ptp(result.mesh_photo.vertices[:, :2], axis=0)
    env = environment("cpu")
    report = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "environment": env,
        "photo": f"{SIDE}x{SIDE} (resources/astronaut.png scaled up), mesh region "
                 f"{width:.0f} x {height:.0f} px",
        "model": str(result.model),
        "max_render_side_px": MAX_RENDER_SIDE,
        "peak_rss_mib": {"reconstruct -f overlay": round(peaks["overlay"], 1),
                         "reconstruct -f landmarks": round(peaks["landmarks"], 1)},
        "overlay_seconds_median_of_3": round(statistics.median(seconds), 3),
        "overlay_seconds": [round(s, 3) for s in seconds],
    }
    slug = re.sub(r"[^a-z0-9]+", "-", str(env["cpu"]).lower()).strip("-")[:40]
    path = ROOT / "benchmarks" / "results" / "overlay" / f"{slug}-{report['created'][:10]}.json"
    atomic_write(path, (json.dumps(report, indent=1) + "\n").encode("utf-8"), overwrite=True)
    print(json.dumps(report, indent=1))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
