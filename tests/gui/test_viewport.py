"""Viewport: real VTK renders under Xvfb, checked on their pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from vrn_studio.errors import ExportError
from vrn_studio.gui.viewport import BACKGROUND, CLAY_COLOUR, Viewport
from vrn_studio.mesh import Mesh

BLOB_CROP = (20.0, 20.0, 75.0)
"""Centre of EllipsoidNet's detached blob in crop space: x, y (down), z = depth 150 * 0.5."""


def show(viewport: Viewport, result) -> np.ndarray:
    viewport.show_result(result.mesh_raw, result.mesh, result.removed)
    return viewport.screenshot()


def screen_position(viewport: Viewport, crop_point: tuple[float, float, float]) -> tuple[int, int]:
    """(row, column) in a screenshot of a crop-space point, through the live camera."""
    x, y, z = crop_point
    renderer = viewport.plotter.renderer
    renderer.SetWorldPoint(x, 191.0 - y, z, 1.0)
    renderer.WorldToDisplay()
    column, row_from_bottom, _ = renderer.GetDisplayPoint()
    height = viewport.plotter.window_size[1]
    return round(height - 1 - row_from_bottom), round(column)


def blob_window(viewport: Viewport, image: np.ndarray, half: int = 5) -> np.ndarray:
    row, column = screen_position(viewport, BLOB_CROP)
    return image[row - half : row + half + 1, column - half : column + half + 1]


def magenta(image: np.ndarray) -> np.ndarray:
    r, g, b = (image[..., i].astype(int) for i in range(3))
    return (r > 100) & (b > 100) & (g < 0.4 * np.minimum(r, b))


def test_an_empty_view_says_so(viewport, count_non_background):
    image = viewport.screenshot()
    assert viewport.is_empty and viewport.removed_summary() == ""
    height, width, _ = image.shape
    middle = image[height // 2 - 20 : height // 2 + 20, width // 4 : 3 * width // 4]
    assert count_non_background(middle, BACKGROUND) > 50, "the placeholder text is drawn"


def test_a_result_is_rendered_in_its_photo_colours(viewport, ellipsoid_result, count_non_background):
    empty = viewport.screenshot()

    image = show(viewport, ellipsoid_result)

    assert not viewport.is_empty
    assert image.shape == empty.shape and image.dtype == np.uint8
    assert count_non_background(image, BACKGROUND) > 0.2 * image.shape[0] * image.shape[1]
    centre = image[150:250, 150:250].reshape(-1, 3).astype(int)
    assert (centre[:, 0] > centre[:, 2] + 10).mean() > 0.5, "skin tones: more red than blue"
    viewport.set_colors(False)
    clay = viewport.screenshot()[150:250, 150:250].reshape(-1, 3).astype(int)
    assert (clay[:, 2] > clay[:, 0] + 10).mean() > 0.9, "clay is a light blue"
    assert tuple(CLAY_COLOUR) == (150, 190, 255)


def test_the_camera_looks_at_the_face_from_the_front_and_stays_put(viewport, ellipsoid_result):
    show(viewport, ellipsoid_result)
    camera = viewport.plotter.camera
    position, focus = np.array(camera.position), np.array(camera.focal_point)
    assert position[2] > focus[2] and np.allclose(position[:2], focus[:2], atol=1e-6)
    assert camera.up == pytest.approx((0.0, 1.0, 0.0))
    row, column = screen_position(viewport, (30.0, 40.0, 50.0))
    assert row < 200 and column < 200, "upright: the crop's top-left shows top-left"

    camera.azimuth = 40
    moved = camera.position
    show(viewport, ellipsoid_result)
    viewport.update_mesh(ellipsoid_result.mesh)
    assert camera.position == pytest.approx(moved)

    viewport.show_result(
        ellipsoid_result.mesh_raw, ellipsoid_result.mesh, ellipsoid_result.removed, reset_camera=True
    )
    assert camera.position == pytest.approx(tuple(position))
    camera.azimuth = 40
    viewport.reset_camera()
    assert camera.position == pytest.approx(tuple(position))


def test_the_blob_shows_only_before_bump_removal(viewport, ellipsoid_result, count_non_background):
    after = show(viewport, ellipsoid_result)
    viewport.set_show_before(True)
    before = viewport.screenshot()

    window = blob_window(viewport, before)
    assert count_non_background(window, BACKGROUND) == window.shape[0] * window.shape[1]
    assert count_non_background(blob_window(viewport, after), BACKGROUND) == 0
    assert count_non_background(before, after) < 1000, "nothing else changed"

    viewport.set_show_before(False)
    assert count_non_background(blob_window(viewport, viewport.screenshot()), BACKGROUND) == 0


def test_highlighting_draws_the_removed_bodies_in_magenta(viewport, ellipsoid_result):
    plain = show(viewport, ellipsoid_result)
    assert not magenta(plain).any()

    viewport.set_highlight_removed(True)
    highlighted = viewport.screenshot()

    assert magenta(blob_window(viewport, highlighted)).all()
    assert magenta(highlighted).sum() < 2000, "only the blob"
    viewport.set_show_before(True)
    assert magenta(blob_window(viewport, viewport.screenshot())).all(), "the highlight wins over 'before'"
    viewport.set_highlight_removed(False)
    assert not magenta(viewport.screenshot()).any()


def test_wireframe_changes_the_image(viewport, ellipsoid_result, count_non_background):
    surface = show(viewport, ellipsoid_result)
    viewport.set_wireframe(True)
    wire = viewport.screenshot()
    assert all(actor.prop.style == "Wireframe" for actor in viewport.actors.values())
    assert count_non_background(wire, surface) > 2000
    viewport.set_wireframe(False)
    assert count_non_background(viewport.screenshot(), surface) == 0


def test_vtk_letter_keys_do_not_change_the_view_behind_its_back(viewport, ellipsoid_result, qtbot):
    show(viewport, ellipsoid_result)
    for key in (Qt.Key.Key_W, Qt.Key.Key_3, Qt.Key.Key_E):
        qtbot.keyClick(viewport.plotter.interactor, key)
    assert viewport.is_closed is False and not viewport.plotter._closed
    assert all(actor.prop.style == "Surface" for actor in viewport.actors.values())


def test_update_mesh_refills_the_existing_actor(viewport, ellipsoid_result, count_non_background):
    show(viewport, ellipsoid_result)
    actor = viewport.actors["kept"]
    dataset = actor.mapper.dataset

    viewport.update_mesh(ellipsoid_result.mesh_raw)
    image = viewport.screenshot()

    assert viewport.actors["kept"] is actor and actor.mapper.dataset is dataset
    assert dataset.n_points == ellipsoid_result.mesh_raw.n_vertices
    assert dataset.n_cells == ellipsoid_result.mesh_raw.n_faces
    window = blob_window(viewport, image)
    assert count_non_background(window, BACKGROUND) == window.shape[0] * window.shape[1], (
        "the new geometry shows"
    )
    assert viewport.removed_summary() == ""
    viewport.set_show_before(True)
    assert count_non_background(viewport.screenshot(), image) == 0, "no raw mesh: the kept one stays"


def test_update_mesh_on_an_empty_view_places_the_camera(viewport, ellipsoid_result, count_non_background):
    viewport.update_mesh(ellipsoid_result.mesh)
    image = viewport.screenshot()
    assert count_non_background(image, BACKGROUND) > 0.2 * image.shape[0] * image.shape[1]


def test_clear_brings_back_the_placeholder(viewport, ellipsoid_result, count_non_background):
    empty = viewport.screenshot()
    show(viewport, ellipsoid_result)
    viewport.clear()
    assert viewport.is_empty and viewport.removed_summary() == ""
    assert count_non_background(viewport.screenshot(), empty) == 0


def test_removed_summary(viewport, ellipsoid_result):
    (size,) = ellipsoid_result.bumps.removed_sizes
    show(viewport, ellipsoid_result)
    assert viewport.removed_summary() == f"1 body removed ({size:,} vertices)"

    def fans(*sizes: int) -> Mesh:
        """Disjoint triangle fans with these vertex counts."""
        faces, start = [], 0
        for n in sizes:
            faces += [[start, start + i, start + i + 1] for i in range(1, n - 1)]
            start += n
        return Mesh(np.random.default_rng(0).random((start, 3)), faces)

    mesh = ellipsoid_result.mesh
    viewport.show_result(mesh, mesh, fans(56, 1234))
    assert viewport.removed_summary() == "2 bodies removed (1,234 and 56 vertices)"
    viewport.show_result(mesh, mesh, fans(3, 5, 4))
    assert viewport.removed_summary() == "3 bodies removed (5, 4 and 3 vertices)"
    viewport.show_result(mesh, mesh, Mesh.empty())
    assert viewport.removed_summary() == "nothing removed"


def test_save_screenshot_writes_a_png_atomically(viewport, ellipsoid_result, tmp_path, count_non_background):
    show(viewport, ellipsoid_result)
    path = tmp_path / "view.png"

    assert viewport.save_screenshot(path) == path

    saved = cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]
    assert count_non_background(saved, viewport.screenshot(), tolerance=0) == 0
    with pytest.raises(ExportError, match="already exists"):
        viewport.save_screenshot(path)
    viewport.save_screenshot(path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["view.png"]


def test_close_is_safe_twice_and_later_verbs_do_nothing(qtbot, ellipsoid_result):
    view = Viewport()
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    show(view, ellipsoid_result)

    view.close()
    view.close()

    assert view.is_closed and view.plotter._closed
    view.show_result(ellipsoid_result.mesh_raw, ellipsoid_result.mesh, ellipsoid_result.removed)
    view.update_mesh(ellipsoid_result.mesh)
    view.set_wireframe(True)
    view.clear()
    with pytest.raises(RuntimeError, match="closed"):
        view.screenshot()


def test_a_close_event_closes_the_plotter(qtbot):
    view = Viewport()
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    QWidget.close(view)  # what the user's window close does: Qt sends closeEvent
    assert view.is_closed and view.plotter._closed


def test_changes_reach_the_screen_at_the_next_paint(viewport, ellipsoid_result, count_non_background):
    coloured = show(viewport, ellipsoid_result)
    viewport.set_highlight_removed(True)
    viewport.set_colors(False)
    assert count_non_background(viewport.plotter.screenshot(return_img=True), coloured) == 0, "not drawn yet"

    QApplication.processEvents()

    assert count_non_background(viewport.plotter.screenshot(return_img=True), coloured) > 5000
