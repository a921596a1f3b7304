"""Hard faces end to end: tiny, cut by the border, turned away (profile), several at once.

The network is ``EllipsoidNet`` (tests/fakes.py), so detection, landmarks and the crop are
real. "No face at all" is covered by tests/core/test_pipeline.py (library and file name) and
tests/gui/test_main_window.py (the window).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes import EllipsoidNet

from vrn_studio.errors import NoFaceError
from vrn_studio.image import load_image, sample_image_path
from vrn_studio.pipeline import Reconstructor, Result

ASTRONAUT_BOX = np.array([175, 76, 265, 166])  # the astronaut's face, photo pixels (90 px wide)
ADVICE = r"Try a larger or more frontal photo, or give the face by hand"


@pytest.fixture(scope="module")
def rec() -> Reconstructor:
    return Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu")


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return load_image(sample_image_path("astronaut"))


def _on_canvas(photo: np.ndarray, side: int) -> np.ndarray:
    """``photo`` shrunk to ``side`` pixels, pasted at (300, 200) on a grey 800 x 600 canvas."""
    canvas = np.full((600, 800, 3), 120, np.uint8)
    canvas[200 : 200 + side, 300 : 300 + side] = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    return canvas


def _assert_complete(result: Result) -> None:
    assert result.crop.shape == (192, 192, 3) and result.mesh is not None and not result.mesh.is_empty
    assert result.mesh.faces.max() < result.mesh.n_vertices


def test_tiny_face_is_found_and_upscaled_into_the_crop(rec, astronaut) -> None:
    result = rec.reconstruct(_on_canvas(astronaut, 192))  # the face is now about 34 px wide
    _assert_complete(result)
    x1, y1, x2, _ = result.face.box
    assert 25 < x2 - x1 < 50 and 350 < x1 < 380 and 220 < y1 < 250
    assert result.transform.scale > 2  # the crop enlarges it to the release's face size


def test_face_too_small_to_detect_says_what_to_do(rec, astronaut, tmp_path: Path) -> None:
    path = tmp_path / "far away.png"
    cv2.imwrite(str(path), _on_canvas(astronaut, 128)[..., ::-1])  # a 22 px face
    with pytest.raises(NoFaceError, match=rf"No face found in .*far away\.png.*{ADVICE}"):
        rec.reconstruct(path)


@pytest.mark.parametrize("cut", ["left", "top"])
def test_face_cut_by_the_border_is_reconstructed_with_black_outside(rec, astronaut, cut: str) -> None:
    photo = np.ascontiguousarray(astronaut[:, 190:] if cut == "left" else astronaut[85:])
    result = rec.reconstruct(photo)
    _assert_complete(result)
    x1, y1 = result.face.box[:2]
    assert (x1 < 0) if cut == "left" else (y1 < 0)  # the face box reaches past the photo
    u, v = np.floor(result.transform.to_crop(np.array([[-1.0, -1.0]]))[0]).astype(int)  # outside the photo
    outside = result.crop[:, : u - 1] if cut == "left" else result.crop[: v - 1]
    assert outside.size > 10 * 192 * 3 and not outside.any()  # black where the photo ends


def test_profile_face_asks_for_a_box_by_hand_and_the_box_works(rec, astronaut) -> None:
    """No profile photo is bundled; the stand-in is the astronaut squeezed to 35 % of her
    width, the foreshortening of a head turned about 70 degrees, which the frontal detector
    misses as it misses a profile."""
    turned = cv2.resize(astronaut, (179, 512), interpolation=cv2.INTER_AREA)
    with pytest.raises(NoFaceError, match=ADVICE):
        rec.reconstruct(turned)
    box = ASTRONAUT_BOX * np.array([0.35, 1, 0.35, 1])
    result = rec.reconstruct(turned, face=box)
    _assert_complete(result)
    np.testing.assert_allclose(result.face.box, box)


@pytest.mark.slow
def test_fifty_megapixel_photo_is_reconstructed(rec, astronaut, tmp_path: Path) -> None:
    """Loading (tests/core/test_image.py) and detection on a reduced copy (test_face.py) of
    big photos are in the default run; this is the whole pipeline on a 50-megapixel file."""
    from PIL import Image

    path = tmp_path / "big.png"
    side = 7072  # 50.0 megapixels
    Image.fromarray(cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_CUBIC)).save(path, compress_level=1)
    result = rec.reconstruct(path)
    _assert_complete(result)
    np.testing.assert_allclose(result.face.box, ASTRONAUT_BOX * side / 512, rtol=0.1)


def test_many_faces_largest_first_and_each_selectable(rec, astronaut) -> None:
    hopper = load_image(sample_image_path("grace_hopper"))
    left = np.zeros_like(hopper)
    left[:512, :512] = astronaut
    group = np.concatenate([left, hopper], axis=1)
    result = rec.reconstruct(group)
    assert len(result.faces) == 2
    assert result.face is result.faces[0] and result.face.box[0] > 512  # Grace Hopper's is larger
    other = rec.reconstruct(group, face=result.faces[1])
    _assert_complete(other)
    assert other.face.box[2] < 512
