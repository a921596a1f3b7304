"""PhotoView and CropView: what they paint (grabbed pixels), their coordinate maps and signals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from vrn_studio.face import Face
from vrn_studio.gui.photo_view import CropView, PhotoView
from vrn_studio.pipeline.overlay import mesh_overlay


def bright_green(rgb: np.ndarray) -> np.ndarray:
    """Mask of the selected-face landmark colour."""
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    return (g > 200) & (r < 100) & (b < 100)


def pixel(point: QPointF) -> tuple[int, int]:
    """(row, column) of the grabbed pixel containing a widget point."""
    return math.floor(point.y()), math.floor(point.x())


def widget_points(view: PhotoView | CropView, points: np.ndarray) -> np.ndarray:
    """(N, 2) widget positions (x, y) of picture points."""
    return np.array([[(p := view.photo_to_widget(float(x), float(y))).x(), p.y()] for x, y in points])


def far_from(points: np.ndarray, shape: tuple[int, int], distance: int) -> np.ndarray:
    """Mask of the pixels outside every square of half-side ``distance`` around the points (x, y)."""
    far = np.ones(shape, bool)
    for x, y in np.floor(points).astype(int):
        far[max(0, y - distance) : y + distance + 1, max(0, x - distance) : x + distance + 1] = False
    return far


@pytest.fixture
def photo_view(qtbot) -> PhotoView:
    view = PhotoView()
    qtbot.addWidget(view)
    view.resize(600, 500)
    view.show()
    qtbot.waitExposed(view)
    return view


@pytest.fixture
def two_faces(ellipsoid_result) -> tuple[np.ndarray, tuple[Face, Face]]:
    """The astronaut photo twice side by side, and its face on each copy."""
    face = ellipsoid_result.face
    shift = np.array([512.0, 0.0])
    second = Face(face.box + np.tile(shift, 2), face.score, face.landmarks + shift)
    return np.concatenate([ellipsoid_result.image] * 2, axis=1), (face, second)


def test_landmarks_of_the_selected_face_are_drawn_bright_green(photo_view, grab_rgb, ellipsoid_result):
    photo_view.set_image(ellipsoid_result.image)
    assert not bright_green(grab_rgb(photo_view)).any()

    photo_view.set_faces(ellipsoid_result.faces, selected=0)
    rgb = grab_rgb(photo_view)

    green = bright_green(rgb)
    points = widget_points(photo_view, ellipsoid_result.face.landmarks)
    assert all(green[pixel(QPointF(x, y))] for x, y in points)
    assert green.sum() > 68 * 4
    assert not (green & far_from(points, green.shape, 6)).any()
    x1, y1, _, _ = ellipsoid_result.face.box
    corner = photo_view.photo_to_widget(x1, y1)
    r, g, b = rgb[pixel(corner)].astype(int)
    assert r > 200 and g > 150 and b < 100, "the selected box is yellow"


def test_only_the_selected_face_is_bright(photo_view, grab_rgb, two_faces):
    image, faces = two_faces
    photo_view.set_image(image)
    photo_view.set_faces(faces, selected=1)

    green = bright_green(grab_rgb(photo_view))

    first, second = (widget_points(photo_view, face.landmarks) for face in faces)
    assert all(green[pixel(QPointF(x, y))] for x, y in second)
    assert not any(green[pixel(QPointF(x, y))] for x, y in first)
    assert photo_view.selected == 1


def test_a_click_inside_a_box_picks_that_face(photo_view, qtbot, two_faces):
    image, faces = two_faces
    photo_view.set_image(image)
    photo_view.set_faces(faces)

    for index in (1, 0):
        x1, y1, x2, y2 = faces[index].box
        inside = photo_view.photo_to_widget((x1 + x2) / 2, (y1 + y2) / 2).toPoint()
        with qtbot.waitSignal(photo_view.facePicked, timeout=1000) as picked:
            qtbot.mouseClick(photo_view, Qt.MouseButton.LeftButton, pos=inside)
        assert picked.args == [index]

    outside = photo_view.photo_to_widget(450, 450).toPoint()
    with qtbot.assertNotEmitted(photo_view.facePicked, wait=50):
        qtbot.mouseClick(photo_view, Qt.MouseButton.LeftButton, pos=outside)
    assert photo_view.selected == 0, "the view leaves the selection to its owner"


def test_a_click_picks_nothing_when_there_is_one_face(photo_view, qtbot, ellipsoid_result):
    photo_view.set_image(ellipsoid_result.image)
    photo_view.set_faces(ellipsoid_result.faces)
    x1, y1, x2, y2 = ellipsoid_result.face.box
    inside = photo_view.photo_to_widget((x1 + x2) / 2, (y1 + y2) / 2).toPoint()
    with qtbot.assertNotEmitted(photo_view.facePicked, wait=50):
        qtbot.mouseClick(photo_view, Qt.MouseButton.LeftButton, pos=inside)


def drag(qtbot, view: PhotoView, start: QPoint, end: QPoint) -> None:
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, pos=end)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)


def test_a_drag_in_box_mode_draws_a_box_in_photo_pixels(photo_view, qtbot, grab_rgb, ellipsoid_result):
    photo_view.set_image(ellipsoid_result.image)
    photo_view.set_faces(ellipsoid_result.faces)
    photo_view.set_box_mode(True)
    start = photo_view.photo_to_widget(300, 330).toPoint()
    end = photo_view.photo_to_widget(100, 120).toPoint()

    qtbot.mousePress(photo_view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(photo_view, pos=end)
    r, g, b = grab_rgb(photo_view)[start.y(), (start.x() + end.x()) // 2].astype(int)
    assert b > 200 and g > 150 and r < 100, "a rubber band follows the drag"
    with qtbot.waitSignal(photo_view.boxDrawn, timeout=1000) as drawn:
        qtbot.mouseRelease(photo_view, Qt.MouseButton.LeftButton, pos=end)

    (box,) = drawn.args
    assert isinstance(box, np.ndarray) and box.shape == (4,) and box.dtype == np.float64
    np.testing.assert_allclose(box, [100, 120, 300, 330], atol=1.0)


def test_a_box_is_clipped_to_the_photo(photo_view, qtbot, ellipsoid_result):
    photo_view.set_image(ellipsoid_result.image)
    photo_view.set_box_mode(True)
    with qtbot.waitSignal(photo_view.boxDrawn, timeout=1000) as drawn:
        drag(qtbot, photo_view, photo_view.photo_to_widget(400, 400).toPoint(), QPoint(599, 499))
    np.testing.assert_allclose(drawn.args[0], [400, 400, 511, 511], atol=1.0)


def test_tiny_drags_cancelled_drags_and_plain_mode_draw_no_box(photo_view, qtbot, ellipsoid_result):
    photo_view.set_image(ellipsoid_result.image)
    start, end = QPoint(200, 200), QPoint(300, 300)
    with qtbot.assertNotEmitted(photo_view.boxDrawn, wait=50):
        drag(qtbot, photo_view, start, end)
        photo_view.set_box_mode(True)
        drag(qtbot, photo_view, start, start + QPoint(2, 30))
        qtbot.mousePress(photo_view, Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseMove(photo_view, pos=end)
        qtbot.keyClick(photo_view, Qt.Key.Key_Escape)
        qtbot.mouseRelease(photo_view, Qt.MouseButton.LeftButton, pos=end)
    assert photo_view.box_mode


def test_a_big_photo_is_filtered_down_without_aliasing(photo_view, grab_rgb):
    stripes = np.zeros((3000, 4000, 3), np.uint8)
    stripes[:, ::2] = 255
    photo_view.set_image(stripes)
    corner, far = photo_view.photo_to_widget(-0.5, -0.5), photo_view.photo_to_widget(3999.5, 2999.5)

    top, bottom = math.ceil(corner.y()) + 1, math.floor(far.y()) - 1
    left, right = math.ceil(corner.x()) + 1, math.floor(far.x()) - 1
    shown = grab_rgb(photo_view)[top:bottom, left:right]

    assert shown.size and np.abs(shown.astype(int) - 128).max() < 20, "one-pixel stripes average to grey"


@pytest.mark.parametrize("size", [(600, 500), (300, 700), (1000, 1000), (257, 123)])
def test_widget_and_photo_coordinates_map_exactly_both_ways(qtbot, size, ellipsoid_result):
    view = PhotoView()
    qtbot.addWidget(view)
    view.resize(*size)
    view.set_image(ellipsoid_result.image[:, :400])

    points = np.random.default_rng(0).uniform(-10, 520, (50, 2))
    for x, y in points:
        back = view.widget_to_photo(view.photo_to_widget(x, y))
        assert back == pytest.approx((x, y), abs=1e-9)
    scale = min(size[0] / 400, size[1] / 512)
    left, top = (size[0] - 400 * scale) / 2, (size[1] - 512 * scale) / 2
    corner = view.photo_to_widget(-0.5, -0.5)
    far = view.photo_to_widget(399.5, 511.5)
    assert (corner.x(), corner.y()) == pytest.approx((left, top))
    assert (far.x(), far.y()) == pytest.approx((size[0] - left, size[1] - top))
    assert view.widget_to_photo(QPointF(size[0] / 2, size[1] / 2)) == pytest.approx((199.5, 255.5))


def test_the_overlay_replaces_the_photo_while_switched_on(
    photo_view, grab_rgb, count_non_background, ellipsoid_result
):
    photo_view.set_image(ellipsoid_result.image)
    plain = grab_rgb(photo_view)
    photo_view.set_overlay(mesh_overlay(ellipsoid_result.image, ellipsoid_result.mesh_photo))
    assert count_non_background(grab_rgb(photo_view), plain) == 0, "an overlay is hidden until shown"

    photo_view.show_overlay(True)
    overlaid = grab_rgb(photo_view)
    assert count_non_background(overlaid, plain) > 3000
    photo_view.show_overlay(False)
    assert count_non_background(grab_rgb(photo_view), plain) == 0
    with pytest.raises(ValueError, match="overlay"):
        photo_view.set_overlay(np.zeros((10, 10, 3), np.uint8))


def test_an_empty_view_shows_a_placeholder(photo_view, grab_rgb, ellipsoid_result):
    def text_pixels() -> int:
        rgb = grab_rgb(photo_view)
        return int((np.abs(rgb.astype(int) - rgb[0, 0].astype(int)).sum(axis=-1) > 30).sum())

    assert photo_view.image is None and text_pixels() > 50
    photo_view.set_image(ellipsoid_result.image)
    photo_view.set_faces(ellipsoid_result.faces)
    photo_view.clear()
    assert photo_view.image is None and photo_view.faces == ()
    assert text_pixels() > 50


def test_the_view_keeps_its_own_copy_of_the_photo(photo_view, grab_rgb, ellipsoid_result):
    frame = ellipsoid_result.image.copy()
    photo_view.set_image(frame)
    before = grab_rgb(photo_view)
    frame[:] = 0
    photo_view.update()
    np.testing.assert_array_equal(grab_rgb(photo_view), before)
    assert not photo_view.image.flags.writeable


def test_bad_input_is_refused(photo_view, ellipsoid_result):
    with pytest.raises(ValueError, match="uint8"):
        photo_view.set_image(np.zeros((10, 10), np.uint8))
    photo_view.set_image(ellipsoid_result.image)
    with pytest.raises(IndexError, match="2 faces"):
        photo_view.set_faces([ellipsoid_result.face] * 2, selected=2)


def test_the_crop_view_scales_crisply_and_draws_landmarks(qtbot, grab_rgb, ellipsoid_result):
    view = CropView()
    qtbot.addWidget(view)
    view.resize(384, 384)
    view.show()
    qtbot.waitExposed(view)

    view.set_crop(ellipsoid_result.crop)
    rgb = grab_rgb(view)
    for dy, dx in ((0, 1), (1, 0), (1, 1)):
        np.testing.assert_array_equal(
            rgb[dy::2, dx::2], rgb[::2, ::2], "each crop pixel is a flat 2 x 2 block"
        )
    tolerance = 8  # Xvfb runs at 16-bit colour depth: channels are rounded to 5 or 6 bits
    np.testing.assert_allclose(rgb[::2, ::2], ellipsoid_result.crop, atol=tolerance)

    view.set_crop(ellipsoid_result.crop, ellipsoid_result.landmarks_crop)
    green = bright_green(grab_rgb(view))
    points = widget_points(view, ellipsoid_result.landmarks_crop)
    assert all(green[pixel(QPointF(x, y))] for x, y in points)
    assert not (green & far_from(points, green.shape, 6)).any()

    view.clear()
    assert view.landmarks is None and not bright_green(grab_rgb(view)).any()
