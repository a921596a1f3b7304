"""Measure the app's own live view: meshes per second shown in the window, VTK rendering included.

Run under a display, e.g. ``xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/live_app_rate.py``.
The window plays the benchmark's panning video of the sample photo (real time, newest frame
wins) through its live view with the settings' live runtime (default "auto": int8 ONNX
Runtime on a CPU) and the full VRN architecture with random weights on a synthetic head
(``vrn_studio.bench.SyntheticHeadVRN``, as ``vrn-studio benchmark`` uses). It prints the
rate of results the window received after a warm-up, and the runtime used.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from vrn_studio.bench import SyntheticHeadVRN, write_test_video
from vrn_studio.gui.main_window import MainWindow
from vrn_studio.gui.settings import LIVE_RUNTIMES, AppSettings, SettingsStore
from vrn_studio.image import sample_image_path
from vrn_studio.pipeline import Reconstructor


def pump(ms: int) -> None:
    """Run the Qt event loop for ``ms`` milliseconds."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live-runtime", choices=LIVE_RUNTIMES, default="auto")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time after the warm-up")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds left out (model build, first frames)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    net = SyntheticHeadVRN()
    used: list[str] = []

    def factory(settings: AppSettings) -> Reconstructor:
        used.append(settings.runtime)
        return Reconstructor(net, landmarker="dlib", device="cpu", runtime=settings.runtime)  # type: ignore[arg-type]

    with tempfile.TemporaryDirectory() as folder:
        store = SettingsStore(Path(folder) / "settings.ini")
        store.save(AppSettings(device="cpu", live_runtime=args.live_runtime))
        video = write_test_video(Path(folder) / "pan.avi", sample_image_path("astronaut"),
                                 seconds=args.seconds + args.warmup + 30)
        window = MainWindow(store, reconstructor_factory=factory)
        window.resize(1400, 900)
        window.show()
        arrivals: list[float] = []
        window.webcam.resultReady.connect(lambda _result: arrivals.append(time.perf_counter()))
        window.start_webcam(str(video.path))
        start = time.perf_counter()
        while time.perf_counter() - start < args.warmup + args.seconds:
            pump(100)
        window.stop_webcam()
        window.close()
    measured = [t for t in arrivals if t >= start + args.warmup]
    rate = (len(measured) - 1) / (measured[-1] - measured[0]) if len(measured) > 1 else 0.0
    print(f"live runtime {used[-1] if used else '?'}: {rate:.2f} meshes/s shown in the window "
          f"({len(measured)} results in the last {args.seconds:.0f} s)")
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
