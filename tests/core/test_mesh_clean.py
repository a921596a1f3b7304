"""Mesh clean-up: Taubin smoothing removes terraces without shrinking; decimation stays manifold and close."""

from __future__ import annotations

import numpy as np
import pytest

from vrn_studio.eval.surface import terracing
from vrn_studio.mesh import Mesh, volume_to_mesh
from vrn_studio.mesh.clean import decimate_mesh, smooth_mesh


@pytest.fixture(scope="module")
def ball() -> tuple[Mesh, float]:
    """A binary ball of radius 30 voxels meshed (terraced like a volume's depth bins), and its radius."""
    d, y, x = np.mgrid[0:80, 0:80, 0:80].astype(np.float32)
    radius = 30.0
    volume = (np.sqrt((d - 40) ** 2 + (y - 40) ** 2 + (x - 40) ** 2) < radius).astype(np.float32)
    return volume_to_mesh(volume, level=0.5, z_scale=1.0, method="skimage"), radius


def radii(mesh: Mesh) -> np.ndarray:
    return np.linalg.norm(mesh.vertices - [40.0, 40.0, 40.0], axis=1)


def test_smoothing_removes_terraces_without_shrinking(ball: tuple[Mesh, float]) -> None:
    mesh, radius = ball
    smooth = smooth_mesh(mesh, iterations=60, pass_band=0.1)
    assert terracing(smooth)[1] < 0.6 * terracing(mesh)[1]  # p90 angle between adjacent front triangles
    assert abs(radii(smooth).mean() - radii(mesh).mean()) < 0.1  # Laplacian alone would shrink it
    assert abs(radii(smooth).mean() - radius) < 0.5
    assert radii(smooth).std() < radii(mesh).std()  # closer to the true sphere
    assert np.linalg.norm(smooth.vertices - mesh.vertices, axis=1).max() < 1.0
    assert np.array_equal(smooth.faces, mesh.faces)
    outward = np.sum(smooth.normals * (smooth.vertices - 40.0), axis=1)
    assert (outward > 0).mean() > 0.99


def test_open_boundary_and_colours_stay(ball: tuple[Mesh, float]) -> None:
    mesh, _ = ball
    upper = np.flatnonzero(mesh.vertices[:, 1] < 40)
    keep = np.isin(mesh.faces, upper).all(axis=1)
    index = -np.ones(mesh.n_vertices, np.int64)
    index[upper] = np.arange(len(upper))
    cap = Mesh(mesh.vertices[upper], index[mesh.faces[keep]],
               np.random.default_rng(0).integers(0, 255, (len(upper), 3), dtype=np.uint8))
    smooth = smooth_mesh(cap, iterations=20)
    edges = np.sort(np.concatenate([cap.faces[:, [0, 1]], cap.faces[:, [1, 2]], cap.faces[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    rim = np.unique(unique[counts == 1])
    assert len(rim) > 50
    assert np.array_equal(smooth.vertices[rim], cap.vertices[rim].astype(np.float32))
    assert np.array_equal(smooth.colors, cap.colors)


def test_no_iterations_or_an_empty_mesh_is_returned_as_is(ball: tuple[Mesh, float]) -> None:
    assert smooth_mesh(ball[0], iterations=0) is ball[0]
    empty = Mesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64))
    assert smooth_mesh(empty) is empty


@pytest.mark.parametrize("options", [{"iterations": -1}, {"pass_band": 0.0}, {"pass_band": 1.5}])
def test_bad_settings_are_refused(ball: tuple[Mesh, float], options: dict) -> None:
    with pytest.raises(ValueError):
        smooth_mesh(ball[0], **options)


def edge_use(mesh: Mesh) -> np.ndarray:
    """How many triangles use each distinct edge."""
    edges = np.sort(np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]]), axis=1)
    return np.unique(edges, axis=0, return_counts=True)[1]


def test_decimation_keeps_a_closed_manifold_close_to_the_surface(ball: tuple[Mesh, float]) -> None:
    mesh, radius = ball
    small = decimate_mesh(mesh, 2000)
    assert 1800 <= small.n_faces <= 2000 < mesh.n_faces
    assert set(edge_use(small)) == {2}  # closed and manifold, like the ball
    corners = small.vertices[small.faces].astype(np.float64)
    areas = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    assert (areas > 0).all() and (np.diff(np.sort(small.faces, axis=1), axis=1) > 0).all()
    assert np.abs(radii(small) - radius).max() < 1.0
    outward = np.sum(small.normals * (small.vertices - 40.0), axis=1)
    assert (outward > 0).all()


def test_decimation_keeps_the_colours_where_they_were(ball: tuple[Mesh, float]) -> None:
    mesh, _ = ball
    colors = np.where(mesh.vertices[:, [0]] < 40, [200, 30, 30], [30, 30, 200]).astype(np.uint8)
    small = decimate_mesh(Mesh(mesh.vertices, mesh.faces, colors), 3000)
    left = small.vertices[:, 0] < 37
    right = small.vertices[:, 0] > 43
    assert (small.colors[left] == [200, 30, 30]).all() and (small.colors[right] == [30, 30, 200]).all()


def test_decimation_to_more_faces_than_there_are_returns_the_mesh(ball: tuple[Mesh, float]) -> None:
    assert decimate_mesh(ball[0], ball[0].n_faces) is ball[0]
    with pytest.raises(ValueError):
        decimate_mesh(ball[0], 3)


@pytest.fixture(scope="module")
def staircase() -> Mesh:
    """An unsmoothed voxel head cut open at the back (VRN-like: binary volume, open boundary)."""
    from fakes import EllipsoidNet

    mesh = volume_to_mesh(EllipsoidNet(blob=False).volume.numpy())
    front = (mesh.vertices[mesh.faces][:, :, 2] > 40).all(axis=1)
    return Mesh(mesh.vertices, mesh.faces[front], mesh.colors)


def test_decimation_of_a_cut_open_staircase_reaches_the_target_and_stays_manifold(staircase: Mesh) -> None:
    small = decimate_mesh(staircase, 12_000)
    assert 10_800 <= small.n_faces <= 12_000 < staircase.n_faces  # one pass alone stops far above
    assert edge_use(small).max() <= 2  # open (uses of 1) and manifold
    assert len(np.unique(np.sort(small.faces, axis=1), axis=0)) == small.n_faces


def test_decimation_says_when_it_stops_short(staircase: Mesh, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="vrn_studio.mesh.clean"):
        small = decimate_mesh(staircase, 500)
    if small.n_faces > 550:
        assert "Decimation stopped at" in caplog.text and "smooth it first" in caplog.text
    else:
        assert not caplog.text


def test_an_edge_of_three_triangles_keeps_its_two_largest() -> None:
    from vrn_studio.mesh.clean import _manifold_edges

    fins = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4], [2, 1, 5]])  # edge 0-1 in the first three
    area = np.array([3.0, 1.0, 2.0, 5.0])
    kept, kept_area = _manifold_edges(fins, area)
    assert kept.tolist() == [[0, 1, 2], [0, 1, 4], [2, 1, 5]] and kept_area.tolist() == [3.0, 2.0, 5.0]
