"""volume_to_mesh, mesh_to_photo, to_viewer_frame, depth_map on analytic volumes."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy.spatial import cKDTree
from volumes import HEAD_AXES, HEAD_CENTRE, WIDTH, ellipsoid, head, level_radius, small_head

from vrn_studio.crop import CropTransform
from vrn_studio.errors import MissingDependencyError
from vrn_studio.mesh import (
    DEFAULT_LEVEL,
    Mesh,
    depth_map,
    face_normals,
    mesh_to_photo,
    remove_bumps,
    signed_volume,
    to_viewer_frame,
    volume_to_mesh,
)

D, Y, X = HEAD_CENTRE
AD, AY, AX = HEAD_AXES


@pytest.fixture(scope="module")
def head_mesh() -> Mesh:
    return volume_to_mesh(head())


def radial(mesh: Mesh, centre=(D, Y, X), axes=(AD, AY, AX), z_scale=0.5) -> np.ndarray:
    """Normalised ellipsoid radius of each vertex of a crop-space mesh."""
    x, y, z = mesh.vertices.astype(np.float64).T
    d = z / z_scale
    return np.sqrt(
        ((d - centre[0]) / axes[0]) ** 2 + ((y - centre[1]) / axes[1]) ** 2 + ((x - centre[2]) / axes[2]) ** 2
    )


def test_axes_match_the_analytic_ellipsoid(head_mesh: Mesh) -> None:
    r = level_radius(DEFAULT_LEVEL)
    lo, hi = head_mesh.vertices.min(0), head_mesh.vertices.max(0)
    np.testing.assert_allclose(lo[:2], [X - AX * r, Y - AY * r], atol=1.0)
    np.testing.assert_allclose(hi[:2], [X + AX * r, Y + AY * r], atol=1.0)
    np.testing.assert_allclose([lo[2], hi[2]], [(D - AD * r) * 0.5, (D + AD * r) * 0.5], atol=0.5)
    np.testing.assert_allclose(radial(head_mesh), r, atol=0.03)


def test_mesh_is_closed_with_outward_normals(head_mesh: Mesh) -> None:
    assert head_mesh.vertices.dtype == np.float32 and head_mesh.faces.dtype == np.int64
    edges = np.sort(head_mesh.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts == 2).all()
    outward = head_mesh.vertices - np.array([X, Y, D * 0.5], np.float32)
    dots = np.einsum("ij,ij->i", head_mesh.normals, outward)
    assert (dots > 0).mean() > 0.99
    np.testing.assert_allclose(np.linalg.norm(head_mesh.normals, axis=1), 1, atol=1e-5)
    assert signed_volume(head_mesh) > 0
    fn = face_normals(head_mesh)
    centroids = head_mesh.vertices[head_mesh.faces].mean(axis=1) - np.array([X, Y, D * 0.5])
    assert (np.einsum("ij,ij->i", fn, centroids) > 0).mean() > 0.99


def test_volume_touching_the_border_gives_a_closed_surface() -> None:
    volume = np.zeros((10, 8, 8), np.float32)
    volume[:, 2:6, 2:6] = 1.0  # a bar through the whole depth
    mesh = volume_to_mesh(volume, level=0.5)
    assert signed_volume(mesh) > 0
    assert mesh.vertices[:, 2].min() == pytest.approx(-0.25)
    assert mesh.vertices[:, 2].max() == pytest.approx(9.5 * 0.5)


@pytest.mark.parametrize("method", ["flying-edges", "mcubes"])
def test_methods_agree_and_wind_the_same_way(method: str) -> None:
    pytest.importorskip("mcubes" if method == "mcubes" else "vtkmodules")
    volume = small_head()
    a = volume_to_mesh(volume, method="skimage")
    b = volume_to_mesh(volume, method=method)
    assert abs(a.n_vertices - b.n_vertices) <= 0.01 * a.n_vertices
    d_ab, _ = cKDTree(b.vertices).query(a.vertices)
    d_ba, _ = cKDTree(a.vertices).query(b.vertices)
    assert max(d_ab.max(), d_ba.max()) < 0.5
    assert signed_volume(a) == pytest.approx(signed_volume(b), rel=1e-3)
    assert signed_volume(b) > 0
    _, nearest = cKDTree(b.vertices).query(a.vertices)
    assert (np.einsum("ij,ij->i", a.normals, b.normals[nearest]) > 0.9).all()


def test_auto_is_flying_edges_when_vtk_is_installed() -> None:
    pytest.importorskip("vtkmodules")
    volume = small_head()
    auto, fe = volume_to_mesh(volume), volume_to_mesh(volume, method="flying-edges")
    np.testing.assert_array_equal(auto.faces, fe.faces)
    np.testing.assert_array_equal(auto.vertices, fe.vertices)


def test_normals_are_the_field_gradient_through_z_scale() -> None:
    """A plane tilted in (x, depth) has one normal; z_scale changes it as a normal transforms."""
    d, _, x = np.mgrid[:20, :10, :12].astype(np.float32)
    ramp = 0.5 + 0.02 * (10 - d - 0.5 * x)  # linear: falls along +d and +x, 0.5 on a tilted plane
    for method in ("flying-edges", "skimage", "mcubes"):
        pytest.importorskip({"flying-edges": "vtkmodules", "mcubes": "mcubes"}.get(method, "skimage"))
        for z_scale in (0.5, 1.0):
            mesh = volume_to_mesh(ramp, level=0.5, z_scale=z_scale, method=method)
            x, y, depth = mesh.vertices[:, 0], mesh.vertices[:, 1], mesh.vertices[:, 2] / z_scale
            inner = (np.abs(x - 5) < 3) & (np.abs(y - 5) < 3) & (np.abs(depth - (10 - 0.5 * x)) < 1)
            assert inner.sum() > 20
            expected = np.array([0.5, 0.0, 1 / z_scale])
            np.testing.assert_allclose(
                mesh.normals[inner], np.tile(expected / np.linalg.norm(expected), (inner.sum(), 1)), atol=2e-3
            )


def test_iso_levels_give_nested_surfaces() -> None:
    volume = small_head()
    shape = volume.shape
    centre = tuple((s - 1) / 2 for s in shape)
    axes = tuple(s * 0.3 for s in shape)
    radii = []
    for level in (0.02, DEFAULT_LEVEL, 0.5, 0.9):
        r = radial(volume_to_mesh(volume, level=level), centre, axes)
        np.testing.assert_allclose(r, level_radius(level), atol=0.05)
        radii.append(r)
    for outer, inner in zip(radii, radii[1:], strict=False):
        assert inner.max() < outer.min()


def test_uint8_volume_reads_as_probability() -> None:
    volume = small_head()
    a = volume_to_mesh(volume, level=0.5)
    b = volume_to_mesh(np.rint(volume * 255).astype(np.uint8), level=0.5)
    d, _ = cKDTree(a.vertices).query(b.vertices)
    assert d.max() < 0.5


def test_int8_compat_adds_an_inner_surface() -> None:
    volume = small_head()
    normal = volume_to_mesh(volume)
    compat = volume_to_mesh(volume, int8_compat=True)
    split = remove_bumps(compat)
    assert remove_bumps(normal).n_removed == 0
    assert split.n_removed == 1  # the inner surface, where p crosses 0.5
    shape = volume.shape
    r = radial(split.removed, tuple((s - 1) / 2 for s in shape), tuple(s * 0.3 for s in shape))
    np.testing.assert_allclose(r, level_radius(0.5), atol=0.1)  # 127 -> -128 jumps: within a voxel
    distance, _ = cKDTree(normal.vertices).query(split.kept.vertices)
    assert distance.max() < 0.5  # same outer surface, up to the byte quantisation
    same = volume_to_mesh(np.clip(volume, 0, 0.49), int8_compat=True)
    assert remove_bumps(same).n_removed == 0


def test_colours_follow_the_image() -> None:
    volume = small_head()
    h, w = volume.shape[1:]
    image = np.zeros((h, w, 3), np.uint8)
    image[:, : w // 2] = (255, 0, 0)
    image[:, w // 2 :] = (0, 0, 255)
    mesh = volume_to_mesh(volume, image=image)
    x = mesh.vertices[:, 0]
    left, right = x <= w // 2 - 1, x >= w // 2
    assert left.any() and right.any()
    assert (mesh.colors[left] == (255, 0, 0)).all()
    assert (mesh.colors[right] == (0, 0, 255)).all()
    between = ~(left | right)
    np.testing.assert_allclose(mesh.colors[between, 0].astype(float) + mesh.colors[between, 2], 255, atol=1)
    assert volume_to_mesh(volume).colors is None


def test_colours_are_bilinear() -> None:
    volume = np.zeros((6, 4, 4), np.float32)
    volume[2:4, 1:3, 1:3] = 1.0
    image = np.zeros((4, 4, 3), np.uint8)
    image[..., 1] = np.arange(4) * 60  # green grows with x
    mesh = volume_to_mesh(volume, level=0.5, image=image)
    np.testing.assert_allclose(mesh.colors[:, 1], np.rint(np.clip(mesh.vertices[:, 0], 0, 3) * 60), atol=1)


def test_empty_volume_gives_empty_mesh() -> None:
    mesh = volume_to_mesh(np.zeros((20, 16, 16), np.float32))
    assert mesh.is_empty and mesh.n_vertices == 0
    assert volume_to_mesh(np.full((4, 4, 4), 0.03, np.float32)).is_empty


@pytest.mark.parametrize(
    ("volume", "match"),
    [
        (np.zeros((16, 16)), r"\(16, 16\)"),
        (np.zeros((2, 8, 8, 8)), r"\(2, 8, 8, 8\)"),
        (np.zeros((8, 8, 8), np.int32), "int32"),
    ],
)
def test_bad_volume_is_named(volume: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        volume_to_mesh(volume)


def test_bad_arguments_are_named() -> None:
    volume = small_head()
    with pytest.raises(ValueError, match="Level is a probability"):
        volume_to_mesh(volume, level=10)
    with pytest.raises(ValueError, match="z_scale"):
        volume_to_mesh(volume, z_scale=0)
    with pytest.raises(ValueError, match="Available: auto, flying-edges, skimage, mcubes"):
        volume_to_mesh(volume, method="vtk")
    with pytest.raises(ValueError, match=r"\(40, 40, 3\)"):
        volume_to_mesh(volume, image=np.zeros((192, 192, 3), np.uint8))


@pytest.mark.parametrize(
    ("method", "module", "extra"), [("mcubes", "mcubes", "mcubes"), ("flying-edges", "vtkmodules", "fast")]
)
def test_missing_backend_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, method: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match=rf"vrn-studio\[{extra}\]"):
        volume_to_mesh(small_head(), method=method)


def test_auto_falls_back_to_scikit_image_without_vtk(monkeypatch: pytest.MonkeyPatch) -> None:
    volume = small_head()
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    a = volume_to_mesh(volume, method="skimage")
    auto = volume_to_mesh(volume)
    np.testing.assert_array_equal(auto.faces, a.faces)
    np.testing.assert_array_equal(auto.vertices, a.vertices)


def test_mesh_to_photo_round_trip() -> None:
    volume = small_head()
    mesh = volume_to_mesh(volume, image=np.full(volume.shape[1:] + (3,), 7, np.uint8))
    transform = CropTransform(scale=0.5, tx=10.0, ty=-4.0, size=40)
    photo = mesh_to_photo(mesh, transform)
    np.testing.assert_allclose(transform.to_crop(photo.vertices[:, :2]), mesh.vertices[:, :2], atol=1e-4)
    np.testing.assert_allclose(photo.vertices[:, 2] * transform.scale, mesh.vertices[:, 2], atol=1e-4)
    np.testing.assert_array_equal(photo.faces, mesh.faces)
    np.testing.assert_array_equal(photo.colors, mesh.colors)
    np.testing.assert_array_equal(photo.normals, mesh.normals)
    extent_crop = np.ptp(mesh.vertices, axis=0)
    np.testing.assert_allclose(np.ptp(photo.vertices, axis=0), extent_crop / 0.5, rtol=1e-5)
    assert signed_volume(photo) > 0


def test_viewer_frame_is_upright_and_outward(head_mesh: Mesh) -> None:
    viewer = to_viewer_frame(head_mesh, 192)
    np.testing.assert_allclose(viewer.vertices[:, 1], 191 - head_mesh.vertices[:, 1])
    assert signed_volume(viewer) > 0
    fn = face_normals(viewer)
    front = np.argmax(viewer.vertices[viewer.faces][:, :, 2].mean(axis=1))
    assert fn[front, 2] > 0.9
    top = np.argmax(viewer.vertices[viewer.faces][:, :, 1].mean(axis=1))
    assert fn[top, 1] > 0.9  # the top of the head (small crop y) is up (+y) in viewer frame
    vn = viewer.normals
    np.testing.assert_array_equal(vn[:, 1], -head_mesh.normals[:, 1])
    centre = np.array([X, 191 - Y, D * 0.5], np.float32)
    assert (np.einsum("ij,ij->i", vn, viewer.vertices - centre) > 0).mean() > 0.99


def test_depth_map_from_volume() -> None:
    volume = small_head()
    depth = depth_map(volume)
    assert depth.shape == volume.shape[1:] and depth.dtype == np.float32
    above = volume > DEFAULT_LEVEL
    has = above.any(axis=0)
    np.testing.assert_array_equal(np.isfinite(depth), has)
    y, x = np.nonzero(has)
    d = (depth[y, x] / 0.5).astype(int)
    assert above[d, y, x].all()
    assert not any(above[d + k, y, x].any() for k in (1,) if (d + k < volume.shape[0]).all())
    np.testing.assert_array_equal(depth_map(volume, z_scale=1.0)[has], depth[has] * 2)


def test_depth_map_of_mesh_matches_volume(head_mesh: Mesh) -> None:
    from_volume = depth_map(head())
    from_mesh = depth_map(head_mesh, shape=(192, 192))
    finite = np.isfinite(from_volume)
    assert (np.isfinite(from_mesh) == finite).mean() > 0.9  # they may differ on the rim
    padded = np.pad(from_volume, 1, constant_values=np.nan)
    neighbours = np.stack([padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]])
    flat = finite & (neighbours == from_volume).all(axis=0)  # same depth index around
    assert flat.sum() > 1000
    diff = from_mesh[flat] - from_volume[flat]
    assert diff.min() >= -1e-4 and diff.max() <= 0.5 + 1e-4  # the crossing lies within one voxel
    assert np.isnan(depth_map(Mesh.empty(), shape=(3, 4))).all()
    with pytest.raises(ValueError, match="shape"):
        depth_map(head_mesh)


def test_ellipsoid_helper_level_radius() -> None:
    volume = ellipsoid((21, 21, 21), (10.0, 10.0, 10.0), (8.0, 8.0, 8.0), width=WIDTH)
    assert volume[10, 10, 10] > 0.99 and volume[10, 10, 18] == pytest.approx(0.5, abs=1e-6)
