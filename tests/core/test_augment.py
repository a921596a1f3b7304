"""The joint augmentation keeps image, landmarks and volume aligned."""

from __future__ import annotations

import numpy as np
import pytest
from test_voxelise import uv_sphere

from vrn_studio.train import FLIP_PERMUTATION, AugmentParams, augment, sample_params, voxelise, warp_vertices

SIZE = 192
EXTREMES = [
    AugmentParams(45.0, (15.0, -15.0), 1.15, True, (0.6, 1.4, 1.0)),
    AugmentParams(-45.0, (-15.0, 15.0), 0.85, False, (1.4, 0.6, 0.8)),
    AugmentParams(20.0, (3.0, 7.0), 1.0, True),
]


def arc(centre: tuple[float, float], radii: tuple[float, float], angles: np.ndarray) -> np.ndarray:
    """Points on an ellipse, angle 0 to the right and pi / 2 up (towards smaller y)."""
    return np.column_stack([centre[0] + radii[0] * np.cos(angles), centre[1] - radii[1] * np.sin(angles)])


def schematic_face(cx: float = (SIZE - 1) / 2, cy: float = 100.0) -> np.ndarray:
    """A mirror-symmetric iBUG-68 face (subject's right eye on the image's left), built geometrically."""
    eye = np.array(
        [[-10, 0], [-4, -4], [4, -4], [10, 0], [4, 4], [-4, 4]], float
    )  # outer, top, inner, bottom
    return np.vstack(
        [
            arc(
                (cx, cy + 10), (50, 55), np.linspace(np.pi, 2 * np.pi, 17)
            ),  # jaw, left ear -> chin -> right ear
            np.column_stack([np.linspace(cx - 45, cx - 10, 5), np.full(5, cy - 35)]),  # brows
            np.column_stack([np.linspace(cx + 10, cx + 45, 5), np.full(5, cy - 35)]),
            np.column_stack([np.full(4, cx), np.linspace(cy - 28, cy - 5, 4)]),  # nose bridge
            np.column_stack([np.linspace(cx - 10, cx + 10, 5), np.full(5, cy + 2)]),  # nostrils
            [cx - 25, cy - 22] + eye,  # right eye: outer corner 36 on the image's left
            [cx + 25, cy - 22] + eye[[3, 2, 1, 0, 5, 4]] * [-1, 1],  # left eye: inner corner 42 first
            arc((cx, cy + 25), (20, 8), np.linspace(np.pi, 0, 7)),  # outer lips 48-54 over the top
            arc((cx, cy + 25), (20, 8), np.linspace(-np.pi / 6, -5 * np.pi / 6, 5)),  # 55-59
            arc((cx, cy + 25), (12, 4), np.linspace(np.pi, 0, 5)),  # inner lips 60-64
            arc((cx, cy + 25), (12, 4), np.linspace(-np.pi / 4, -3 * np.pi / 4, 3)),  # 65-67
        ]
    )


def spread_landmarks(seed: int = 0, spacing: float = 13.0, centre: float = 96.0) -> np.ndarray:
    """68 points on a jittered grid, at least spacing - 3 pixels apart."""
    y, x = np.mgrid[:8, :9]
    grid = np.column_stack([x.ravel() - 4, y.ravel() - 3.5])[:68] * spacing + centre
    return grid + np.random.default_rng(seed).uniform(-1.5, 1.5, grid.shape)


def dot_image(points: np.ndarray, sigma: float = 1.2) -> np.ndarray:
    y, x = np.mgrid[:SIZE, :SIZE]
    blobs = np.exp(
        -((x[..., None] - points[:, 0]) ** 2 + (y[..., None] - points[:, 1]) ** 2) / (2 * sigma**2)
    )
    gray = 40 + 200 * blobs.sum(axis=-1)
    return np.repeat(np.clip(gray, 0, 255)[..., None], 3, axis=2).astype(np.uint8)


def cap_sample(radius: float = 45.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A hemisphere 'face' (vertices, faces), its volume, and 68 landmarks over its front."""
    vertices, faces = uv_sphere((96.0, 96.0, 40.0), radius, cap=True)
    return vertices, faces, voxelise(vertices, faces), spread_landmarks(spacing=5.0)


def front_index(volume: np.ndarray) -> np.ndarray:
    """Highest filled depth index of each column, -1 where empty."""
    filled = volume.any(axis=0)
    return np.where(filled, volume.shape[0] - 1 - np.argmax(volume[::-1], axis=0), -1)


def test_flip_permutation_is_an_involution():
    assert sorted(FLIP_PERMUTATION) == list(range(68))
    np.testing.assert_array_equal(FLIP_PERMUTATION[FLIP_PERMUTATION], np.arange(68))
    assert set(np.flatnonzero(FLIP_PERMUTATION == np.arange(68))) == {8, 27, 28, 29, 30, 33, 51, 57, 62, 66}


def test_flip_permutation_swaps_left_and_right_parts():
    np.testing.assert_array_equal(FLIP_PERMUTATION[36:42], [45, 44, 43, 42, 47, 46])  # right eye -> left eye
    np.testing.assert_array_equal(FLIP_PERMUTATION[[0, 16, 17, 21, 31, 48, 60]], [16, 0, 26, 22, 35, 54, 64])


def test_flipping_a_symmetric_face_gives_it_back():
    face = schematic_face()
    _, flipped, _ = augment(
        np.zeros((SIZE, SIZE, 3), np.uint8), face, np.zeros((2, SIZE, SIZE), bool), AugmentParams(flip=True)
    )
    np.testing.assert_allclose(flipped, face, atol=1e-9)
    assert flipped[36:42, 0].mean() < flipped[42:48, 0].mean()  # subject's right eye stays on the left


@pytest.mark.parametrize("dtype", [bool, np.float32])
def test_identity_params_change_nothing(dtype):
    vertices, _, volume, landmarks = cap_sample()
    volume = volume.astype(dtype)
    image = dot_image(landmarks)
    out = augment(image, landmarks, volume, AugmentParams())
    np.testing.assert_array_equal(out[0], image)
    np.testing.assert_array_equal(out[1], landmarks)
    np.testing.assert_array_equal(out[2], volume)
    assert out[2].dtype == dtype
    np.testing.assert_array_equal(warp_vertices(vertices, AugmentParams()), vertices)


def test_flipping_twice_is_the_identity():
    _, _, volume, landmarks = cap_sample()
    image = np.random.default_rng(1).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    flip = AugmentParams(flip=True)
    once = augment(image, landmarks, volume, flip)
    assert not np.array_equal(once[0], image)
    twice = augment(*once, flip)
    np.testing.assert_array_equal(twice[0], image)
    np.testing.assert_allclose(twice[1], landmarks, atol=1e-9)
    np.testing.assert_array_equal(twice[2], volume)


@pytest.mark.parametrize(
    "params", EXTREMES + [sample_params(np.random.default_rng(seed)) for seed in range(3)]
)
def test_dots_follow_the_landmarks(params):
    landmarks = spread_landmarks()
    image, moved, _ = augment(dot_image(landmarks), landmarks, np.zeros((1, SIZE, SIZE), bool), params)
    gray = image.astype(np.float64).sum(axis=2)
    checked = 0
    for x, y in moved:
        cx, cy = round(x), round(y)
        if not (5 <= cx < SIZE - 5 and 5 <= cy < SIZE - 5):
            continue  # moved out of the crop
        window = gray[cy - 4 : cy + 5, cx - 4 : cx + 5]
        window = window - np.median(gray[cy - 5 : cy + 6, cx - 5 : cx + 6][[0, -1]])  # remove the background
        window = np.clip(window, 0, None)
        wy, wx = np.mgrid[-4:5, -4:5]
        centroid = np.array([(wx * window).sum(), (wy * window).sum()]) / window.sum() + [cx, cy]
        assert np.hypot(*(centroid - [x, y])) < 0.5
        checked += 1
    assert checked >= 40


def test_colour_scaling_per_channel():
    image = np.full((SIZE, SIZE, 3), 200, np.uint8)
    out, _, _ = augment(
        image, spread_landmarks(), np.zeros((1, SIZE, SIZE), bool), AugmentParams(color=(0.5, 1.0, 1.4))
    )
    np.testing.assert_array_equal(out[SIZE // 2, SIZE // 2], [100, 200, 255])


@pytest.mark.parametrize("params", EXTREMES)
def test_volume_matches_the_voxelised_warped_mesh(params):
    vertices, faces, volume, landmarks = cap_sample()
    _, _, warped = augment(np.zeros((SIZE, SIZE, 3), np.uint8), landmarks, volume, params)
    expected = voxelise(warp_vertices(vertices, params), faces)
    assert (warped ^ expected).sum() < 0.02 * expected.sum()
    both = warped.any(axis=0) & expected.any(axis=0)
    assert both.sum() > 0.98 * expected.any(axis=0).sum()
    # Front depths agree where the surface is not steep (off the silhouette, where a
    # sub-pixel shift changes the front depth by several voxels).
    centre = warp_vertices(np.array([[96.0, 96.0, 40.0]]), params)[0]
    y, x = np.mgrid[:SIZE, :SIZE]
    gentle = both & (np.hypot(x - centre[0], y - centre[1]) < 0.8 * 45.0 * params.scale)
    difference = np.abs(front_index(warped) - front_index(expected))[gentle]
    assert difference.max() <= 2 and np.mean(difference <= 1) > 0.98


@pytest.mark.parametrize("params", EXTREMES)
def test_volume_column_follows_its_landmark(params):
    _, _, volume, landmarks = cap_sample()
    _, moved, warped = augment(np.zeros((SIZE, SIZE, 3), np.uint8), landmarks, volume, params)
    original = landmarks[FLIP_PERMUTATION] if params.flip else landmarks  # moved[i] came from original[i]
    pivot = (volume.shape[0] - 1) / 2
    before = front_index(volume)[tuple(np.rint(original[:, ::-1]).astype(int).T)]
    after = front_index(warped)[tuple(np.rint(moved[:, ::-1]).astype(int).T)]
    np.testing.assert_allclose(after, (before - pivot) * params.scale + pivot, atol=2.5)


def test_warp_vertices_moves_xy_as_the_landmarks():
    landmarks = spread_landmarks()
    params = EXTREMES[0]
    _, moved, _ = augment(
        np.zeros((SIZE, SIZE, 3), np.uint8), landmarks, np.zeros((1, SIZE, SIZE), bool), params
    )
    points = np.column_stack([landmarks, np.full(68, 10.0)])
    np.testing.assert_allclose(warp_vertices(points, params)[FLIP_PERMUTATION, :2], moved, atol=1e-9)


def test_sampling_is_deterministic_and_within_the_ranges():
    rng = np.random.default_rng(7)
    samples = [sample_params(rng) for _ in range(2000)]
    assert samples[:5] == [sample_params(r) for r in [np.random.default_rng(7)] for _ in range(5)]
    rotation, scale = (np.array([getattr(p, k) for p in samples]) for k in ("rotation_deg", "scale"))
    translation = np.array([p.translation for p in samples])
    color = np.array([p.color for p in samples])
    assert np.abs(rotation).max() <= 45 and np.abs(rotation).max() > 44
    assert np.abs(translation).max() <= 15 and 0.85 <= scale.min() and scale.max() <= 1.15
    assert 0.6 <= color.min() and color.max() <= 1.4
    assert np.mean([p.flip for p in samples]) == pytest.approx(0.2, abs=0.03)
    never = sample_params(
        np.random.default_rng(0),
        max_rotation_deg=0,
        max_translation=0,
        scale_range=(1, 1),
        flip_probability=0,
        color_range=(1, 1),
    )
    assert never == AugmentParams()


def test_augment_is_deterministic_given_params():
    _, _, volume, landmarks = cap_sample()
    image = dot_image(landmarks)
    params = sample_params(np.random.default_rng(3))
    first, second = augment(image, landmarks, volume, params), augment(image, landmarks, volume, params)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("image", "landmarks", "volume", "message"),
    [
        (
            np.zeros((SIZE, SIZE), np.uint8),
            None,
            None,
            r"\(H, W, 3\) uint8 RGB array; got shape \(192, 192\)",
        ),
        (np.zeros((SIZE, SIZE, 3), np.float32), None, None, "dtype float32"),
        (
            None,
            None,
            np.zeros((4, SIZE, 100), bool),
            r"volume is \(4, 192, 100\) and should be \(D, 192, 192\)",
        ),
        (None, None, np.zeros((4, SIZE, SIZE), np.uint8), "bool or float; got dtype uint8"),
        (None, np.zeros((5, 2)), None, r"landmarks is \(5, 2\)"),
    ],
)
def test_bad_sample_raises(image, landmarks, volume, message):
    image = np.zeros((SIZE, SIZE, 3), np.uint8) if image is None else image
    landmarks = spread_landmarks() if landmarks is None else landmarks
    volume = np.zeros((2, SIZE, SIZE), bool) if volume is None else volume
    with pytest.raises(ValueError, match=message):
        augment(image, landmarks, volume, AugmentParams())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scale": 0.0}, "scale must be positive; got 0.0"),
        ({"color": (1.0, -0.1, 1.0)}, "color factors must be >= 0"),
        ({"rotation_deg": np.nan}, "must be finite"),
        ({"translation": (1.0,)}, "translation needs 2 values"),
    ],
)
def test_bad_params_raise(options, message):
    with pytest.raises(ValueError, match=message):
        AugmentParams(**options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_rotation_deg": -1}, "must be >= 0"),
        ({"scale_range": (1.2, 1.1)}, r"scale_range must satisfy 0 < low <= high; got \(1.2, 1.1\)"),
        ({"color_range": (-0.1, 1)}, "color_range must satisfy"),
        ({"flip_probability": 1.5}, r"flip_probability must lie in \[0, 1\]; got 1.5"),
    ],
)
def test_bad_ranges_raise(options, message):
    with pytest.raises(ValueError, match=message):
        sample_params(np.random.default_rng(0), **options)
