"""The fast landmarker ('mediapipe'): every face dlib finds, large yaw, thumbnails, its 68
points against dlib's, its tiles and its bundled models."""

from __future__ import annotations

import shutil
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

from vrn_studio.errors import MissingDependencyError, VrnStudioError
from vrn_studio.face import get_landmarker
from vrn_studio.face import mediapipe as mp_backend
from vrn_studio.face.mediapipe import (
    MIN_FACE_FRACTION,
    MediaPipeLandmarker,
    Region,
    tile_regions,
    warp,
)
from vrn_studio.face.registry import available_landmarkers
from vrn_studio.image import load_image, sample_image_path
from vrn_studio.train.synthetic import SyntheticFaces

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
FRONTAL_NME_VS_DLIB = 0.07
"""Bound on the mean distance between this backend's and dlib's 68 points on the two frontal
portraits, over the outer interocular distance (measured 0.044 and 0.061; see docs/landmarkers.md)."""


@pytest.fixture(scope="module")
def landmarker() -> MediaPipeLandmarker:
    return MediaPipeLandmarker()


@pytest.fixture(scope="module")
def dlib_landmarker():
    pytest.importorskip("dlib")
    return get_landmarker("dlib")


def test_auto_prefers_it_and_it_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    assert available_landmarkers()["mediapipe"] is None
    assert get_landmarker().name == "mediapipe"
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # as if not installed
    problem = available_landmarkers()["mediapipe"]
    assert problem is not None and "pip install 'vrn-studio[mediapipe]'" in problem
    with pytest.raises(MissingDependencyError, match="ai-edge-litert"):
        get_landmarker("mediapipe")


def test_group_photo_every_face_dlib_finds(landmarker, dlib_landmarker) -> None:
    photo = load_image(RESOURCES / "group.jpg")
    ours, theirs = landmarker.detect(photo), dlib_landmarker.detect(photo)
    assert len(theirs) == 6 and len(ours) == 6
    for face in theirs:  # each of dlib's faces is one of ours: its landmarks' centre in one of our boxes
        centre = face.landmarks.mean(axis=0)
        assert sum(mine.contains(centre) for mine in ours) == 1
    widths = sorted(float(np.ptp(f.landmarks[:, 0])) for f in ours)
    assert widths[0] < 50  # the smallest face is small


def test_face_at_60_degrees_of_yaw(landmarker, dlib_landmarker) -> None:
    photo = load_image(RESOURCES / "yaw60.png")
    sample = SyntheticFaces(seed=2024, source="ict").sample(1, yaw=60.0)  # what yaw60.png was drawn from
    exact = sample.landmarks * 2 + 0.5  # the 192 px crop drawn at 384 px
    faces = landmarker.detect(photo)
    assert len(faces) == 1
    inner = slice(17, 68)  # brows, nose, eyes, mouth: the jaw's far side is hidden
    error = np.linalg.norm(faces[0].landmarks[inner] - exact[inner], axis=1).mean() / np.ptp(exact[:, 0])
    assert error < 0.06
    assert dlib_landmarker.detect(photo) == []  # the frontal detector gives up here


def test_thumbnail(landmarker, dlib_landmarker) -> None:
    photo = load_image(sample_image_path())
    thumbnail = cv2.resize(photo, (96, 96), interpolation=cv2.INTER_AREA)
    faces = landmarker.detect(thumbnail)
    assert len(faces) == 1
    full = landmarker.detect(photo)[0].landmarks
    assert np.abs(faces[0].landmarks * 512 / 96 - full).mean() < 6  # the same points, at 1/5.3 the size
    assert dlib_landmarker.detect(thumbnail) == []


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_frontal_points_agree_with_dlib(landmarker, dlib_landmarker, name: str) -> None:
    photo = load_image(sample_image_path(name))
    (ours,), (theirs,) = landmarker.detect(photo), dlib_landmarker.detect(photo)
    interocular = np.linalg.norm(theirs.landmarks[36] - theirs.landmarks[45])
    nme = np.linalg.norm(ours.landmarks - theirs.landmarks, axis=1).mean() / interocular
    assert nme < FRONTAL_NME_VS_DLIB
    # a box given from outside (here dlib's) gives the same points as detection
    given = landmarker.landmarks_in_box(photo, theirs.box)
    assert np.linalg.norm(given.landmarks - ours.landmarks, axis=1).mean() / interocular < 0.02


def test_no_face_in_a_face_free_photo(landmarker) -> None:
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), (0, 0), 3)
    assert landmarker.detect(noise) == []


def test_mesh_points_are_the_468_point_face_mesh(landmarker) -> None:
    photo = load_image(sample_image_path())
    face = landmarker.detect(photo)[0]
    points = landmarker.mesh_points(photo, face.box)
    assert points.shape == (468, 3)
    given = landmarker.landmarks_in_box(photo, face.box)
    assert np.allclose(points[list(mp_backend.MEDIAPIPE_TO_IBUG68), :2], given.landmarks, atol=1e-3)
    assert points[4, 2] < points[234, 2]  # the nose tip is nearer the camera than the cheek's edge


def test_region_warp_and_to_photo_agree() -> None:
    # A dot drawn at a photo point appears where the region maps it, rotated and scaled.
    photo = np.zeros((300, 400, 3), np.uint8)
    cv2.circle(photo, (250, 120), 3, (255, 255, 255), -1)
    region = Region((220.0, 140.0), 180.0, np.radians(30))
    view = warp(photo, region, 192)
    rows, cols = np.nonzero(view[:, :, 0] > 128)
    unit = np.array([[(cols.mean() + 0.5) / 192, (rows.mean() + 0.5) / 192]])
    assert np.allclose(region.to_photo(unit), [[250, 120]], atol=0.6)


@pytest.mark.parametrize("size", [(512, 512), (1280, 886), (640, 2000), (4000, 3000)])
def test_tiles_hold_every_face_whole_at_a_size_they_find(size: tuple[int, int]) -> None:
    width, height = size
    regions = tile_regions(width, height, 48)
    rng = np.random.default_rng(1)
    # photo pixels have their centres at integers: a region spans centre +- side / 2 from centre + 0.5
    for _ in range(300):
        face = rng.uniform(48, min(width, height))
        x, y = rng.uniform(0, width - face), rng.uniform(0, height - face)
        assert any(
            face >= MIN_FACE_FRACTION * r.side - 1e-9
            and r.centre[0] + 0.5 - r.side / 2 <= x and x + face <= r.centre[0] + 0.5 + r.side / 2
            and r.centre[1] + 0.5 - r.side / 2 <= y and y + face <= r.centre[1] + 0.5 + r.side / 2
            for r in regions
        ), (face, x, y)


def test_threads_share_one_landmarker(landmarker) -> None:
    photo = load_image(sample_image_path())
    expected = landmarker.detect(photo)[0].landmarks
    results: list[np.ndarray] = []

    def run() -> None:
        for _ in range(3):
            results.append(landmarker.detect(photo)[0].landmarks)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 9 and all(np.array_equal(r, expected) for r in results)


def test_corrupt_or_missing_model_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    shutil.copytree(mp_backend.MODELS, models)
    monkeypatch.setattr(mp_backend, "MODELS", models)
    mp_backend._checked_models.cache_clear()
    try:
        data = bytearray((models / mp_backend.MESH_FILE).read_bytes())
        data[1000] ^= 0xFF
        (models / mp_backend.MESH_FILE).write_bytes(bytes(data))
        assert "corrupt" in available_landmarkers()["mediapipe"]
        mp_backend._checked_models.cache_clear()
        with pytest.raises(VrnStudioError, match="corrupt; reinstall"):
            MediaPipeLandmarker()
        (models / mp_backend.MESH_FILE).unlink()
        mp_backend._checked_models.cache_clear()
        with pytest.raises(VrnStudioError, match="missing"):
            MediaPipeLandmarker()
    finally:
        mp_backend._checked_models.cache_clear()
