"""Take the README's screenshots of the real app on the bundled sample photo.

Run under a display, e.g. ``xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/screenshots.py``.
It uses the default model (the published weights when installed, else the built-in
vrn-studio-guided) and a throw-away settings file, and writes PNGs into docs/screenshots/
(the before/after bump-removal shot only when the run removed something). With
``--synthetic`` the network is the test suite's ``EllipsoidNet`` (a fixed ellipsoid and one
detached blob, not a face reconstruction), to show the 3D panel and bump removal.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from vrn_studio.gui.main_window import MainWindow, build_reconstructor
from vrn_studio.gui.settings import SettingsStore
from vrn_studio.image import sample_image_path
from vrn_studio.pipeline import Reconstructor

ROOT = Path(__file__).resolve().parents[1]


def wait(signal, timeout_ms: int = 120_000) -> None:
    """Run the event loop until ``signal`` fires (or the timeout passes)."""
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()


def settle(ms: int = 300) -> None:
    """Let Qt and VTK finish drawing."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--synthetic", action="store_true", help="use the tests' EllipsoidNet as the network")
    args = parser.parse_args()
    factory = build_reconstructor
    prefix = ""
    if args.synthetic:
        sys.path.insert(0, str(ROOT / "tests"))
        from fakes import EllipsoidNet

        factory = lambda settings: Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu")  # noqa: E731
        prefix = "synthetic-"
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as folder:
        window = MainWindow(SettingsStore(Path(folder) / "settings.ini"), reconstructor_factory=factory)
        window.resize(1400, 860)
        window.show()
        window.open_path(sample_image_path())
        wait(window.runner.resultReady)  # queued from the worker, so connecting after the start is safe
        settle()
        shots = {f"{prefix}main-window.png": window.grab()}
        if window.result is not None and window.result.bumps is not None and window.result.bumps.removed_sizes:
            window.before_action.setChecked(True)
            window.removed_action.setChecked(True)
            settle()
            shots[f"{prefix}bumps-before.png"] = window.grab()
        for name, pixmap in shots.items():
            pixmap.save(str(args.out / name))
            print(args.out / name)
        window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
