"""The NME of paper eq. 2 and ICP alignment, on shapes whose error is known analytically."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from vrn_studio.eval import (
    LEFT_EYE_OUTER,
    NOSE_TIP,
    RIGHT_EYE_OUTER,
    apply_transform,
    face_region_mask,
    icp_align,
    nme,
    outer_interocular,
    similarity_transform,
    surface_distance,
)


def grid_plane(n: int = 30, spacing: float = 1.0) -> np.ndarray:
    """An n x n grid of points on the plane z = 0, shape (n * n, 3)."""
    xs, ys = np.meshgrid(np.arange(n) * spacing, np.arange(n) * spacing)
    return np.column_stack([xs.ravel(), ys.ravel(), np.zeros(n * n)])


def grid_triangles(n: int = 30) -> np.ndarray:
    """Two triangles per cell of :func:`grid_plane`'s n x n grid, shape (2 (n-1)^2, 3)."""
    i, j = np.meshgrid(np.arange(n - 1), np.arange(n - 1))
    a = (j * n + i).ravel()
    return np.concatenate([np.column_stack([a, a + 1, a + n + 1]), np.column_stack([a, a + n + 1, a + n])])


def fibonacci_sphere(n: int, radius: float) -> np.ndarray:
    """n nearly uniform points on a sphere about the origin, shape (n, 3)."""
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    phi = np.pi * (1 + 5**0.5) * k
    r = np.sqrt(1 - z**2)
    return radius * np.column_stack([r * np.cos(phi), r * np.sin(phi), z])


def landmarks_with_eyes(left: np.ndarray, right: np.ndarray, nose: np.ndarray | None = None) -> np.ndarray:
    """68 3D landmarks spread on a line, with the outer eye corners and nose tip placed."""
    points = np.column_stack([np.linspace(0, 1, 68), np.zeros(68), np.zeros(68)])
    points[LEFT_EYE_OUTER], points[RIGHT_EYE_OUTER] = left, right
    if nose is not None:
        points[NOSE_TIP] = nose
    return points


def cloud(seed: int, n: int = 300) -> np.ndarray:
    """An anisotropic random point cloud (no symmetry for ICP to confuse)."""
    return np.random.default_rng(seed).uniform(-1, 1, (n, 3)) * [1.0, 0.6, 0.3]


def test_identical_meshes_have_zero_error() -> None:
    gt = cloud(0)
    assert nme(gt, gt, interocular=1.0) == 0.0
    assert nme(gt, gt, interocular=1.0, correspondence="index") == 0.0
    assert nme(gt, gt, interocular=1.0, symmetric=True) == 0.0


@pytest.mark.parametrize("offset", [0.1, 0.3, 0.45])
def test_plane_offset_along_its_normal_gives_offset_over_interocular(offset: float) -> None:
    # Grid spacing 1 > offset: the nearest predicted vertex to each ground-truth vertex is the
    # one straight above it, at distance exactly `offset`.
    gt = grid_plane()
    pred = gt + offset * np.array([0.0, 0.0, 1.0])
    landmarks = landmarks_with_eyes(np.array([0.0, 0, 0]), np.array([3.0, 4.0, 0]))  # d = 5
    assert outer_interocular(landmarks) == 5.0
    expected = offset / 5.0
    assert nme(pred, gt, gt_landmarks_3d=landmarks) == pytest.approx(expected, rel=1e-12)
    assert nme(pred, gt, interocular=5.0, correspondence="index") == pytest.approx(expected, rel=1e-12)
    assert nme(pred, gt, interocular=5.0, symmetric=True) == pytest.approx(expected, rel=1e-12)


def test_surface_correspondence_measures_to_the_triangles_not_the_vertices() -> None:
    # Ground-truth points sit between the vertices of a coarse predicted plane offset by t:
    # their distance to the predicted surface is exactly t, to its nearest vertex more.
    t = 0.25
    pred = grid_plane(10) + [0, 0, t]
    gt = grid_plane(9) + [0.5, 0.3, 0.0]
    assert nme(pred, gt, interocular=2.0, correspondence="surface", pred_faces=grid_triangles(10)) == (
        pytest.approx(t / 2.0, rel=1e-12)
    )
    assert nme(pred, gt, interocular=2.0) == pytest.approx(np.hypot(t, np.hypot(0.5, 0.3)) / 2.0)


def test_surface_distance_to_a_triangle_from_each_voronoi_region() -> None:
    triangle = np.array([[0.0, 0, 0], [4, 0, 0], [0, 4, 0]])
    points = [[1.0, 1, -2], [2, -3, 0], [7, -4, 0], [3, 3, 1], [-1, -1, -1]]
    expected = [2.0, 3.0, 5.0, np.sqrt(2 + 1), np.sqrt(3)]  # face, edge, vertex, hypotenuse, vertex
    np.testing.assert_allclose(surface_distance(points, triangle, [[0, 1, 2]]), expected, rtol=1e-12)
    # A degenerate (zero-area) triangle counts as its longest edge.
    np.testing.assert_allclose(surface_distance([[2.0, 1, 0]], triangle, [[0, 1, 1]]), [1.0])


def test_explicit_interocular_wins_over_landmarks() -> None:
    gt = grid_plane(5)
    landmarks = landmarks_with_eyes(np.zeros(3), np.array([10.0, 0, 0]))
    assert nme(gt + [0, 0, 0.5], gt, interocular=2.0, gt_landmarks_3d=landmarks) == pytest.approx(0.25)


def test_concentric_spheres_give_gap_over_interocular() -> None:
    # Nearest-vertex distance from a sphere of radius r to an independently sampled sphere of
    # radius r + e is at least e (the surface distance) and exceeds it only by sampling.
    r, e, d = 10.0, 0.5, 4.0
    gt = fibonacci_sphere(2000, r)
    pred = Rotation.from_rotvec([0.3, 0.2, 0.1]).apply(fibonacci_sphere(20000, r + e))
    value = nme(pred, gt, interocular=d)
    assert e / d <= value <= 1.05 * e / d


def test_region_mask_restricts_the_average() -> None:
    gt = grid_plane(10)
    pred = gt.copy()
    pred[gt[:, 0] >= 5, 2] = 0.4  # only the half x >= 5 is wrong
    wrong = gt[:, 0] >= 5
    assert nme(pred, gt, interocular=1.0, region_mask=~wrong) == 0.0
    assert nme(pred, gt, interocular=1.0, region_mask=wrong) == pytest.approx(0.4)
    assert nme(pred, gt, interocular=1.0) == pytest.approx(0.2)


def test_face_region_is_a_ball_around_the_nose_tip_scaled_by_interocular() -> None:
    gt = grid_plane(21) - [10.0, 10.0, 0]
    landmarks = landmarks_with_eyes(
        np.array([-2.0, 0, 0]), np.array([2.0, 0, 0]), nose=np.array([1.0, 0, 3.0])
    )
    mask = face_region_mask(gt, landmarks, radius_factor=1.25)  # radius 5 around (1, 0, 3)
    expected = np.linalg.norm(gt - [1.0, 0, 3.0], axis=1) <= 5.0
    np.testing.assert_array_equal(mask, expected)
    assert mask.sum() == 49  # lattice points with (x-1)^2 + y^2 <= 5^2 - 3^2
    assert face_region_mask(gt, landmarks).sum() < face_region_mask(gt, landmarks, 2.0).sum()


def test_icp_recovers_a_known_rigid_motion() -> None:
    source = cloud(1)
    rotation = Rotation.from_euler("xyz", [4, -6, 8], degrees=True).as_matrix()
    translation = np.array([0.03, -0.02, 0.05])
    aligned, transform, rmse = icp_align(source, source @ rotation.T + translation)
    np.testing.assert_allclose(transform[:3, :3], rotation, atol=1e-6)
    np.testing.assert_allclose(transform[:3, 3], translation, atol=1e-6)
    np.testing.assert_allclose(transform[3], [0, 0, 0, 1])
    np.testing.assert_allclose(aligned, apply_transform(transform, source))
    assert rmse < 1e-9


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 10_000),
    axis=st.tuples(*[st.floats(-1, 1)] * 3).filter(lambda v: np.linalg.norm(v) > 0.1),
    degrees=st.floats(0, 10),
    translation=st.tuples(*[st.floats(-0.05, 0.05)] * 3),
)
def test_icp_recovers_small_random_rigid_motions(
    seed: int, axis: tuple[float, float, float], degrees: float, translation: tuple[float, float, float]
) -> None:
    source = cloud(seed)
    rotation = Rotation.from_rotvec(np.deg2rad(degrees) * np.array(axis) / np.linalg.norm(axis)).as_matrix()
    _, transform, _ = icp_align(source, source @ rotation.T + np.array(translation))
    np.testing.assert_allclose(transform[:3, :3], rotation, atol=1e-6)
    np.testing.assert_allclose(transform[:3, 3], translation, atol=1e-6)


def test_icp_with_scale_recovers_a_known_scale() -> None:
    source = cloud(2)
    rotation = Rotation.from_euler("z", 5, degrees=True).as_matrix()
    target = 1.1 * source @ rotation.T + [0.02, 0.0, -0.01]
    _, transform, rmse = icp_align(source, target, scale=True)
    np.testing.assert_allclose(transform[:3, :3], 1.1 * rotation, atol=1e-6)
    assert rmse < 1e-9
    _, rigid, _ = icp_align(source, target)
    assert np.linalg.det(rigid[:3, :3]) == pytest.approx(1.0)


def test_similarity_transform_never_returns_a_reflection() -> None:
    source = cloud(3, n=50)
    mirrored = source * [-1.0, 1, 1]
    transform = similarity_transform(source, mirrored)
    assert np.linalg.det(transform[:3, :3]) == pytest.approx(1.0)


def test_nme_after_icp_of_a_rigidly_moved_copy_is_zero() -> None:
    gt = cloud(4, n=500)
    moved = Rotation.from_euler("xyz", [5, 3, -7], degrees=True).apply(gt) + [0.05, 0.02, -0.03]
    assert nme(moved, gt, interocular=1.0) > 0.02
    assert nme(moved, gt, interocular=1.0, align="icp") < 1e-9


def test_icp_alignment_ignores_prediction_beyond_the_face_region() -> None:
    # The prediction is the ground truth plus an extra slab (a "neck"); ICP from the region
    # to the prediction must not be pulled towards the slab.
    gt = cloud(5, n=400)
    neck = cloud(6, n=400) * 0.5 + [0.0, -2.0, 0.0]
    pred = np.vstack([gt, neck]) + [0.03, 0.0, 0.0]
    assert nme(pred, gt, interocular=1.0, align="icp") < 1e-9


def test_symmetric_nme_counts_spurious_predicted_vertices_over_the_region() -> None:
    gt = grid_plane(10)
    blob = np.array([[4.5, 4.5, 1.0]])  # over the region, 1 above the plane
    pred = np.vstack([gt, blob])
    assert nme(pred, gt, interocular=1.0) == 0.0
    back = np.linalg.norm(gt - blob, axis=1).min()  # every predicted vertex lies over the region
    assert nme(pred, gt, interocular=1.0, symmetric=True) == pytest.approx(0.5 * back / len(pred))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pred_vertices": np.zeros((5, 2))}, r"Shape of pred_vertices is \(5, 2\)"),
        ({"gt_vertices": np.zeros((0, 3))}, "gt_vertices is empty"),
        ({"pred_vertices": np.full((3, 3), np.nan)}, "NaN or infinite"),
        ({"interocular": 0.0}, "interocular is 0.0"),
        ({"interocular": None}, "Give either interocular or gt_landmarks_3d"),
        ({"interocular": None, "gt_landmarks_3d": np.zeros((68, 3))}, "coincide"),
        ({"interocular": None, "gt_landmarks_3d": np.zeros((5, 3))}, r"should be \(68, 3\)"),
        ({"region_mask": np.ones(3)}, "should be a bool array"),
        ({"region_mask": np.zeros(4, bool)}, "face region is empty"),
        ({"correspondence": "mesh"}, "correspondence is 'mesh'"),
        ({"correspondence": "index", "pred_vertices": np.zeros((3, 3))}, "pairs vertices by index"),
        ({"correspondence": "index", "symmetric": True}, "symmetric=True needs"),
        ({"align": "procrustes"}, "align is 'procrustes'"),
        ({"correspondence": "surface"}, "needs pred_faces"),
        (
            {"correspondence": "surface", "pred_faces": np.array([[0, 1, 9]])},
            r"lie in \[0, 4\); got \[0, 9\]",
        ),
        (
            {"correspondence": "surface", "pred_faces": np.zeros((0, 3), int)},
            r"it should be \(K >= 1, 3\) integers",
        ),
    ],
)
def test_bad_nme_inputs_raise_clear_errors(kwargs: dict, message: str) -> None:
    args = {"pred_vertices": grid_plane(2), "gt_vertices": grid_plane(2), "interocular": 1.0} | kwargs
    with pytest.raises(ValueError, match=message):
        nme(**args)


def test_bad_icp_and_region_inputs_raise_clear_errors() -> None:
    points = cloud(7, n=10)
    with pytest.raises(ValueError, match="max_iterations is 0"):
        icp_align(points, points, max_iterations=0)
    with pytest.raises(ValueError, match="tolerance is -1"):
        icp_align(points, points, tolerance=-1)
    with pytest.raises(ValueError, match="all source points are the same point"):
        icp_align(np.ones((4, 3)), points, scale=True)
    with pytest.raises(ValueError, match=r"Shape of target is \(3,\)"):
        icp_align(points, np.zeros(3))
    landmarks = landmarks_with_eyes(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="radius_factor is 0"):
        face_region_mask(points, landmarks, radius_factor=0)


def test_weighted_similarity_transform_ignores_a_zero_weight_outlier() -> None:
    rng = np.random.default_rng(4)
    source = rng.normal(size=(20, 3))
    angle = np.radians(30.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    target = 1.7 * source @ rotation.T + [1.0, -2.0, 0.5]
    target[0] += 40.0  # an outlier
    weights = np.ones(20)
    weights[0] = 0.0
    transform = similarity_transform(source, target, scale=True, weights=weights)
    assert np.allclose(transform[:3, :3], 1.7 * rotation) and np.allclose(transform[:3, 3], [1.0, -2.0, 0.5])
    assert not np.allclose(similarity_transform(source, target, scale=True)[:3, :3], 1.7 * rotation, atol=1e-2)
    doubled = similarity_transform(source, target, scale=True, weights=2 * np.ones(20))
    assert np.allclose(doubled, similarity_transform(source, target, scale=True))  # only relative weights count
