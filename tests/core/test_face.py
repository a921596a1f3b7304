"""Face, selection helpers, and the dlib landmarker on real public-domain photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vrn_studio.errors import NoFaceError
from vrn_studio.face import Face, face_from_points, get_landmarker, no_face_error, select_face
from vrn_studio.image import load_image, sample_image_path

pytest.importorskip("dlib", reason="the dlib landmarker needs dlib-bin: pip install 'vrn-studio[dlib]'")

ASTRONAUT_BOX = (175, 76, 265, 166)
HOPPER_BOX = (180, 139, 366, 325)


@pytest.fixture(scope="module")
def dlib_landmarker():
    return get_landmarker("dlib")


def _points_in(box) -> np.ndarray:
    x1, y1, x2, y2 = box
    t = np.linspace(0.0, 1.0, 68)
    return np.stack([x1 + (x2 - x1) * t, y1 + (y2 - y1) * t**2], axis=1)


def _face(box, score=1.0) -> Face:
    return Face(box=box, score=score, landmarks=_points_in(box))


def _iou(a, b) -> float:
    (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = a, b
    w, h = max(0.0, min(ax2, bx2) - max(ax1, bx1)), max(0.0, min(ay2, by2) - max(ay1, by1))
    return w * h / ((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - w * h)


def _assert_plausible(face: Face, box, min_iou: float = 0.6) -> None:
    """Box overlapping ``box`` (dlib's box size depends on its pyramid level) and a sane face."""
    assert _iou(face.box, box) >= min_iou
    lm = face.landmarks
    assert lm.shape == (68, 2) and lm.dtype == np.float32
    eyes_y, nose_y, mouth_y = lm[36:48, 1].mean(), lm[30, 1], lm[48:68, 1].mean()
    assert eyes_y < nose_y < mouth_y
    assert lm[36, 0] < lm[30, 0] < lm[45, 0]  # outer eye corners either side of the nose tip
    assert lm[8, 1] > mouth_y  # chin below the mouth
    x1, y1, x2, y2 = face.box
    pad = 0.3 * (x2 - x1)
    assert np.all((lm[:, 0] > x1 - pad) & (lm[:, 0] < x2 + pad) & (lm[:, 1] > y1 - pad) & (lm[:, 1] < y2 + pad))


def test_face_validates_and_freezes_its_arrays():
    face = _face((10, 20, 110, 140), score=2)
    assert face.box.dtype == np.float64 and face.landmarks.dtype == np.float32
    assert face.score == 2.0 and isinstance(face.score, float)
    assert face.area == 100 * 120
    assert face.contains((10, 140)) and not face.contains((9.9, 50))
    with pytest.raises(ValueError, match="read-only"):
        face.landmarks[0, 0] = 5
    with pytest.raises(ValueError, match=r"4 finite numbers .*got \(1, 2, 3\)"):
        Face(box=(1, 2, 3), score=1.0, landmarks=_points_in((0, 0, 5, 5)))
    with pytest.raises(ValueError, match=r"x1 <= x2 and y1 <= y2; got \[5.0, 0.0, 1.0, 9.0\]"):
        Face(box=(5, 0, 1, 9), score=1.0, landmarks=_points_in((0, 0, 5, 5)))
    with pytest.raises(ValueError, match=r"Shape of landmarks is \(5, 2\)"):
        Face(box=(0, 0, 5, 5), score=1.0, landmarks=np.zeros((5, 2)))


def test_select_face_largest_or_clicked():
    small, large, tie_low, tie_high = (
        _face((0, 0, 50, 50)), _face((100, 0, 300, 200)), _face((400, 0, 500, 100), 0.5), _face((600, 0, 700, 100), 0.9)
    )
    assert select_face([small, large, tie_low]) is large
    assert select_face([tie_low, tie_high]) is tie_high
    assert select_face([small, large], point=(20, 30)) is small
    inner = _face((120, 20, 180, 80))
    assert select_face([large, inner], point=(150, 50)) is inner  # nearest box centre wins
    with pytest.raises(NoFaceError, match=r"No face box contains the point \(900, 5\); click inside one of: \(0, 0\)-\(50, 50\)"):
        select_face([small], point=(900, 5))
    with pytest.raises(NoFaceError, match="no face"):
        select_face([])


def test_face_from_points():
    points = _points_in((30, 40, 90, 130))
    face = face_from_points(points)
    assert np.allclose(face.box, [30, 40, 90, 130]) and face.score == 1.0
    assert np.allclose(face.landmarks, points)
    with pytest.raises(ValueError, match="degenerate"):
        face_from_points(np.ones((68, 2)))


def test_no_face_error_names_the_file():
    error = no_face_error("holiday pic.jpg")
    assert isinstance(error, NoFaceError)
    assert "No face found in holiday pic.jpg" in str(error) and "by hand" in str(error)


def test_astronaut_has_one_face(dlib_landmarker):
    assert dlib_landmarker.name == "dlib"
    faces = dlib_landmarker.detect(sample_image_path("astronaut"))
    assert len(faces) == 1
    _assert_plausible(faces[0], ASTRONAUT_BOX)
    assert faces[0].score > 0.5


def test_grace_hopper_has_one_face(dlib_landmarker):
    faces = dlib_landmarker.detect(sample_image_path("grace_hopper"))
    assert len(faces) == 1
    _assert_plausible(faces[0], HOPPER_BOX)


def test_dlib_default_threshold_also_returns_the_mission_patch():
    faces = get_landmarker("dlib", min_score=0.0).detect(sample_image_path("astronaut"))
    assert len(faces) == 2
    _assert_plausible(faces[0], ASTRONAUT_BOX)
    assert faces[1].score < 0.25 and faces[1].box[1] > 300  # the patch, on the lower left


def test_no_face_in_noise(dlib_landmarker):
    rng = np.random.default_rng(1)
    grass = rng.integers(0, 256, (320, 400, 3), dtype=np.uint8)
    grass[..., 1] = np.maximum(grass[..., 1], 120)
    assert dlib_landmarker.detect(grass) == []
    assert dlib_landmarker.detect(np.full((200, 200, 3), 90, np.uint8)) == []


def test_two_faces_sorted_largest_first(dlib_landmarker):
    astronaut = load_image(sample_image_path("astronaut"))
    hopper = load_image(sample_image_path("grace_hopper"))
    left = np.zeros_like(hopper)
    left[: astronaut.shape[0], : astronaut.shape[1]] = astronaut
    tiled = np.concatenate([left, hopper], axis=1)
    faces = dlib_landmarker.detect(tiled)
    assert len(faces) == 2
    _assert_plausible(faces[0], np.add(HOPPER_BOX, [512, 0, 512, 0]))
    _assert_plausible(faces[1], ASTRONAUT_BOX)
    assert faces[0].area > faces[1].area


def test_inputs_in_every_form(dlib_landmarker):
    path = sample_image_path("astronaut")
    rgb = load_image(path)
    for source in (str(path), rgb, Image.fromarray(rgb), rgb.mean(axis=2).astype(np.uint8)):
        faces = dlib_landmarker.detect(source)
        assert len(faces) == 1 and _iou(faces[0].box, ASTRONAUT_BOX) > 0.8


def test_large_photo_is_detected_on_a_reduced_copy():
    big = np.asarray(Image.open(sample_image_path("astronaut")).resize((2048, 2048), Image.BICUBIC))
    faces = get_landmarker("dlib", upsample=0, max_side=1024).detect(big)
    assert len(faces) == 1
    _assert_plausible(faces[0], np.multiply(ASTRONAUT_BOX, 4))


def test_landmarks_in_a_hand_drawn_box(dlib_landmarker):
    detected = dlib_landmarker.detect(sample_image_path("astronaut"))[0]
    hand_box = (172.5, 80.0, 268.0, 170.2)
    face = dlib_landmarker.landmarks_in_box(sample_image_path("astronaut"), hand_box)
    assert np.allclose(face.box, hand_box) and face.score == 1.0
    _assert_plausible(face, hand_box)
    assert np.abs(face.landmarks - detected.landmarks).mean() < 4.0
    with pytest.raises(ValueError, match="at least 1 pixel wide"):
        dlib_landmarker.landmarks_in_box(sample_image_path("astronaut"), (10, 10, 10, 50))
    with pytest.raises(ValueError, match="4 finite numbers"):
        dlib_landmarker.landmarks_in_box(sample_image_path("astronaut"), (10, np.nan, 20, 50))


def test_dlib_options_are_checked(caplog):
    with caplog.at_level("INFO", logger="vrn_studio.face.dlib"):
        get_landmarker("dlib", device="cuda", upsample=0)
    assert "runs on the CPU; device 'cuda' is ignored" in caplog.text
    with pytest.raises(ValueError, match="upsample must be 0, 1, 2 or 3; got 7"):
        get_landmarker("dlib", upsample=7)
    with pytest.raises(TypeError):
        get_landmarker("dlib", flip_input=False)
