"""Shared fixtures of the GUI tests (real widgets and real VTK renders under Xvfb).

pytest-xvfb starts the X server for the session; do not run these tests with
``QT_QPA_PLATFORM=offscreen``, where VTK draws nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
from fakes import EllipsoidNet
from window_fixture import make_window  # noqa: F401  (the shared fixture)
from PySide6.QtWidgets import QApplication, QWidget

from vrn_studio.gui.main_window import qimage_to_rgb
from vrn_studio.gui.viewport import Viewport
from vrn_studio.image import sample_image_path
from vrn_studio.pipeline import Reconstructor, Result


@pytest.fixture(scope="session")
def ellipsoid_result() -> Result:
    """A real :class:`Result` of the astronaut photo through :class:`EllipsoidNet` (dlib, CPU).

    Its raw mesh is a head-sized ellipsoid with the crop as colours plus one detached blob
    (crop pixels x = y = 20, near the top-left corner) that bump removal drops. Shared by the
    whole session: treat it as read-only.
    """
    return Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu").reconstruct(
        sample_image_path("astronaut")
    )


@pytest.fixture
def grab_rgb(qtbot) -> Callable[[QWidget], np.ndarray]:
    """``grab_rgb(widget)``: process pending events, then the widget as painted, (H, W, 3) uint8 RGB.

    Coordinates are widget pixels (the tests run at a device pixel ratio of 1, checked here).
    """

    def grab(widget: QWidget) -> np.ndarray:
        QApplication.processEvents()
        image = widget.grab().toImage()
        assert image.devicePixelRatio() == 1.0
        return qimage_to_rgb(image)

    return grab


def count_differing(image: np.ndarray, colour: tuple[int, int, int] | np.ndarray, tolerance: int = 30) -> int:
    """Number of pixels of an (H, W, 3) image whose colour differs from ``colour`` by more than
    ``tolerance`` (sum of absolute channel differences). ``colour`` may also be an image of the
    same shape, to count pixels that changed."""
    difference = np.abs(image.astype(np.int32) - np.asarray(colour, np.int32)).sum(axis=-1)
    return int((difference > tolerance).sum())


@pytest.fixture
def count_non_background() -> Callable[..., int]:
    """``count_non_background(image, colour, tolerance=30)``: see :func:`count_differing`."""
    return count_differing


@pytest.fixture(autouse=True)
def close_viewports() -> Iterator[None]:
    """After each test, close every 3D viewport still open (a plotter left open makes the next
    test's renders white)."""
    yield
    if QApplication.instance() is None:
        return
    for widget in QApplication.allWidgets():
        if isinstance(widget, Viewport) and not widget.is_closed:
            widget.close()


@pytest.fixture
def viewport(qtbot) -> Viewport:
    """A shown, exposed 400 x 400 :class:`Viewport` with no mesh yet."""
    view = Viewport()
    qtbot.addWidget(view)
    view.resize(400, 400)
    view.show()
    qtbot.waitExposed(view)
    return view
