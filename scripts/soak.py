"""Soak the live webcam path: a looping video file through the main window for minutes,
recording memory (RSS) and thread counts over time.

Run under a display, e.g.::

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/soak.py --minutes 10 --out soak.json

The window is the real :class:`~vrn_studio.gui.main_window.MainWindow`; its
:class:`~vrn_studio.gui.webcam.WebcamRunner` streams a generated clip of the bundled
astronaut photo (``--video`` for another file) with ``loop=True``, so every frame goes
through capture, the photo panel, reconstruction and the 3D panel's in-place mesh update.
The network is the test suite's ``EllipsoidNet`` (``--model synthetic``, the default: no
weights needed) or an installed model by name. Samples go to a JSON file (with a summary)
and, with ``--csv``, a CSV file. ``tests/reliability/test_soak.py`` runs a short version of
:func:`soak` and asserts bounded growth.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from vrn_studio.gui.main_window import MainWindow
from vrn_studio.gui.settings import SettingsStore
from vrn_studio.image import load_image, sample_image_path
from vrn_studio.pipeline import Reconstructor

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Sample:
    """One measurement of the process during a soak."""

    seconds: float
    """Time since the stream started."""
    rss_mb: float
    """Resident memory of the whole process, MiB."""
    python_threads: int
    """``threading.active_count()``: the threads Python started (webcam, workers)."""
    os_threads: int
    """Every thread of the process (Qt, VTK, torch's pools included)."""
    none_refs: int
    """``sys.getrefcount(None)``: falls steadily where PySide6 leaks references to None
    (PySide6 6.12.0 on Python < 3.12, see docs/reliability.md); the interpreter aborts if it
    reaches zero."""
    frames_captured: int
    frames_reconstructed: int
    running: bool
    """False for the last sample, taken after the stream was stopped."""


def process_status() -> tuple[float, int]:
    """(resident memory in MiB, OS thread count) of this process, from ``/proc/self/status``."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"])


def write_clip(path: Path, frames: int = 50, fps: float = 25.0) -> Path:
    """An mp4 (mp4v) of the astronaut's face, 320 x 320, shifted one pixel right per frame."""
    photo = load_image(sample_image_path("astronaut"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (320, 320))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    for i in range(frames):
        writer.write(np.ascontiguousarray(photo[0:320, 40 + i : 360 + i, ::-1]))
    writer.release()
    return path


def soak(window: MainWindow, video: Path, *, duration_s: float, interval_s: float) -> list[Sample]:
    """Stream ``video`` in a loop through ``window`` for ``duration_s`` seconds, sampling every
    ``interval_s``; then stop the stream and take one last sample (``running=False``).

    Runs Qt's event loop meanwhile (an application must exist).
    """
    webcam = window.webcam
    samples: list[Sample] = []
    started = time.monotonic()

    def sample() -> None:
        rss_mb, os_threads = process_status()
        samples.append(Sample(
            seconds=round(time.monotonic() - started, 3), rss_mb=round(rss_mb, 2),
            python_threads=threading.active_count(), os_threads=os_threads, none_refs=sys.getrefcount(None),
            frames_captured=webcam.frames_captured, frames_reconstructed=webcam.frames_reconstructed,
            running=webcam.state == "running",
        ))

    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(round(interval_s * 1000))
    timer.timeout.connect(sample)
    webcam.failed.connect(loop.quit)
    webcam.start(video, loop=True)
    timer.start()
    QTimer.singleShot(round(duration_s * 1000), loop.quit)
    loop.exec()
    timer.stop()
    webcam.failed.disconnect(loop.quit)
    window.stop_webcam()
    sample()
    return samples


def summary(samples: list[Sample], warm_up_s: float) -> dict[str, float]:
    """Growth figures over the steady part of a soak (samples after ``warm_up_s``).

    RSS swings by tens of MiB with each reconstruction in flight (its volume alone is
    28 MiB), so growth is measured peak to peak: the highest RSS of the last third of the
    steady samples minus the highest of the first third (``rss_peak_growth_mb``). The
    references on ``None`` swing by about +-10 with the objects in flight, so their loss rate
    is the least-squares slope over all steady samples (``none_refs_lost_per_s``), not the
    difference of two samples.
    """
    steady = [s for s in samples if s.running and s.seconds >= warm_up_s]
    if len(steady) < 3:
        raise ValueError(f"Fewer than 3 running samples after the {warm_up_s} s warm-up")
    first, last = steady[0], steady[-1]
    third = len(steady) // 3
    seconds = np.array([s.seconds for s in steady])
    none_slope = np.polyfit(seconds, np.array([s.none_refs for s in steady], dtype=float), 1)[0]
    return {
        "warm_up_s": warm_up_s,
        "seconds": last.seconds,
        "rss_start_mb": first.rss_mb,
        "rss_end_mb": last.rss_mb,
        "rss_max_mb": max(s.rss_mb for s in steady),
        "rss_growth_mb": round(last.rss_mb - first.rss_mb, 2),
        "rss_peak_growth_mb": round(max(s.rss_mb for s in steady[-third:]) - max(s.rss_mb for s in steady[:third]), 2),
        "none_refs_lost_per_s": round(-float(none_slope), 2),
        "none_refs_end": last.none_refs,
        "python_threads_min": min(s.python_threads for s in steady),
        "python_threads_max": max(s.python_threads for s in steady),
        "os_threads_min": min(s.os_threads for s in steady),
        "os_threads_max": max(s.os_threads for s in steady),
        "python_threads_after_stop": samples[-1].python_threads,
        "frames_captured": last.frames_captured,
        "frames_reconstructed": last.frames_reconstructed,
    }


def synthetic_reconstructor() -> Reconstructor:
    """The test suite's EllipsoidNet behind the dlib landmarker, on the CPU."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fakes import EllipsoidNet

    return Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to stream (default: 10)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples (default: 5)")
    parser.add_argument("--warm-up", type=float, default=30.0, help="seconds left out of the growth figures")
    parser.add_argument("--video", type=Path, help="video file to loop (default: a generated clip)")
    parser.add_argument("--model", default="synthetic", help="'synthetic' (EllipsoidNet) or an installed model")
    parser.add_argument("--out", type=Path, default=Path("soak.json"), help="JSON samples and summary")
    parser.add_argument("--csv", type=Path, help="also write the samples as CSV")
    args = parser.parse_args()

    def factory(settings: object) -> Reconstructor:
        if args.model == "synthetic":
            return synthetic_reconstructor()
        return Reconstructor(args.model, landmarker="dlib", device="cpu")

    app = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as folder:
        video = args.video or write_clip(Path(folder) / "face.mp4")
        window = MainWindow(SettingsStore(Path(folder) / "settings.ini"), reconstructor_factory=factory)
        window.resize(1200, 760)
        window.show()
        samples = soak(window, video, duration_s=args.minutes * 60, interval_s=args.interval)
        window.close()
    app.processEvents()
    report = {"summary": summary(samples, args.warm_up), "samples": [asdict(s) for s in samples]}
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(asdict(samples[0])))
            writer.writeheader()
            writer.writerows(asdict(s) for s in samples)
    print(json.dumps(report["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
