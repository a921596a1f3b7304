"""The release crop rule as a transform, and crop_image's resampling, checked to sub-pixel accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vrn_studio.crop import (
    CROP_SIZE,
    FACE_SIZE,
    CropTransform,
    crop_face,
    crop_image,
    release_transform,
    validate_landmarks,
)


def _face_points(seed: int = 0, centre=(300.0, 220.0), spread=(60.0, 80.0)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.asarray(centre) + rng.uniform(-1, 1, (68, 2)) * np.asarray(spread)


def _blob_photo(height: int, width: int, centre: tuple[float, float], sigma: float) -> np.ndarray:
    """Black photo with a white Gaussian dot of ``sigma`` photo pixels at ``centre`` (x, y)."""
    ys, xs = np.mgrid[0:height, 0:width]
    r2 = (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2
    grey = np.rint(255 * np.exp(-r2 / (2 * sigma**2))).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def _centroid(crop: np.ndarray) -> np.ndarray:
    weights = crop[:, :, 0].astype(np.float64)
    vs, us = np.mgrid[0 : crop.shape[0], 0 : crop.shape[1]]
    return np.array([(weights * us).sum(), (weights * vs).sum()]) / weights.sum()


def test_release_transform_centres_the_mean_and_sets_the_face_size():
    points = _face_points()
    t = release_transform(points)
    assert t.size == CROP_SIZE
    assert np.allclose(t.to_crop(points).mean(axis=0), [95.5, 95.5], atol=1e-9)
    width, height = np.ptp(t.to_crop(points), axis=0)
    assert np.sqrt(width * height) == pytest.approx(FACE_SIZE, abs=1e-9)
    assert t.scale == pytest.approx(90 / np.sqrt(np.prod(np.ptp(points, axis=0))), rel=1e-12)
    big = release_transform(points, size=256)
    assert np.allclose(big.to_crop(points).mean(axis=0), [127.5, 127.5], atol=1e-9)
    assert big.scale == t.scale


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    spread=st.floats(1.0, 5000.0),
    point=st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)),
)
def test_round_trip_photo_crop_photo(seed, spread, point):
    t = release_transform(_face_points(seed, spread=(spread, spread * 1.3)))
    p = np.array([point])
    assert np.allclose(t.to_photo(t.to_crop(p)), p, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("shape", "point", "sigma", "scale"),
    [
        ((150, 200), (71.3, 64.7), 2.0, 2.5),  # upscale
        ((400, 500), (231.8, 190.25), 8.0, 0.37),  # downscale
        ((1500, 2000), (1234.56, 789.01), 40.0, 0.1),  # big photo, strong downscale
    ],
)
def test_a_dot_lands_where_to_crop_says(shape, point, sigma, scale):
    photo = _blob_photo(*shape, point, sigma)
    target = np.array([90.3, 101.6])
    t = CropTransform(scale=scale, tx=target[0] - scale * point[0], ty=target[1] - scale * point[1])
    crop = crop_image(photo, t)
    assert crop.shape == (192, 192, 3) and crop.dtype == np.uint8
    assert np.allclose(t.to_crop([point])[0], target)
    assert np.linalg.norm(_centroid(crop) - target) < 0.5


@pytest.mark.parametrize("scale", [1.5, 0.3])
def test_outside_the_photo_is_zero(scale):
    height, width = 400, 300
    photo = np.full((height, width, 3), 255, np.uint8)
    t = CropTransform(scale=scale, tx=120.0 - scale * (width - 1), ty=30.0)  # right, top edges in view
    crop = crop_image(photo, t)
    vs, us = np.mgrid[0:192, 0:192]
    xy = t.to_photo(np.stack([us.ravel(), vs.ravel()], axis=1)).reshape(192, 192, 2)
    margin = 1.0 / min(scale, 1.0) + 1.0  # one source pixel blends with the zero border
    x, y = xy[..., 0], xy[..., 1]
    outside = (x < -margin) | (x > width - 1 + margin) | (y < -margin) | (y > height - 1 + margin)
    inside = (x > margin) & (x < width - 1 - margin) & (y > margin) & (y < height - 1 - margin)
    assert outside.any() and inside.any()
    assert np.all(crop[outside] == 0)
    assert np.all(crop[inside] == 255)


def test_crop_wholly_outside_the_photo_is_black():
    photo = np.full((300, 300, 3), 255, np.uint8)
    for scale in (2.0, 0.2):
        assert not crop_image(photo, CropTransform(scale=scale, tx=5000.0, ty=0.0)).any()


def test_downscaling_does_not_alias():
    stripes = np.zeros((1000, 1000, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: bilinear point sampling would see 0 or 255
    t = CropTransform(scale=0.1, tx=0.0, ty=0.0, size=64)
    crop = crop_image(stripes, t)
    assert np.abs(crop[5:60, 5:60].astype(int) - 127.5).max() <= 3


def test_crop_face_uses_the_release_transform():
    points = _face_points()
    photo = _blob_photo(480, 640, tuple(points.mean(axis=0)), 6.0)
    crop, t = crop_face(photo, points)
    assert t == release_transform(points)
    assert np.linalg.norm(_centroid(crop) - 95.5) < 0.5


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (np.zeros((67, 2)), r"Shape of landmarks is \(67, 2\) and should be \(68, 2\)"),
        (np.zeros((68, 3)), r"\(68, 3\)"),
        (np.where(np.arange(68)[:, None] == 5, np.nan, _face_points()), r"NaN or infinite values \(points \[5\]\)"),
        (np.stack([np.full(68, 3.0), np.arange(68.0)], axis=1), "degenerate: their bounding box is 0 x 67"),
        (np.zeros((68, 2)), "degenerate"),
    ],
)
def test_invalid_landmarks(points, message):
    with pytest.raises(ValueError, match=message):
        validate_landmarks(points)
    with pytest.raises(ValueError, match=message):
        release_transform(points)


def test_invalid_crop_inputs():
    with pytest.raises(ValueError, match="at least 1 pixel; got 0"):
        release_transform(_face_points(), size=0)
    t = CropTransform(scale=1.0, tx=0.0, ty=0.0)
    with pytest.raises(ValueError, match=r"got shape \(50, 50\) dtype uint8.*load_image"):
        crop_image(np.zeros((50, 50), np.uint8), t)
    with pytest.raises(ValueError, match="dtype float64"):
        crop_image(np.zeros((50, 50, 3)), t)
