"""Property-based tests (hypothesis) of the crop transform, meshing and bump removal on random
inputs: no crash, and the invariants hold.

Already in tests/core: photo -> crop -> photo round trip (test_crop.py) and bump removal on
random unions of strips, fast against reference, largest body kept, indices valid
(test_bumps.py). Added here: the other direction of the transform and its matrix, crops of
random transforms, meshing of random volumes, and bump removal on those meshes.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from vrn_studio.crop import CropTransform, crop_image
from vrn_studio.mesh import Mesh, remove_bumps, volume_to_mesh

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
transforms = st.builds(CropTransform, scale=st.floats(1e-3, 1e3), tx=finite, ty=finite)
points = arrays(np.float64, st.tuples(st.integers(1, 20), st.just(2)), elements=finite)


@settings(max_examples=200, deadline=None)
@given(transforms, points)
def test_crop_to_photo_to_crop_is_the_identity(t: CropTransform, crop_points: np.ndarray) -> None:
    back = t.to_crop(t.to_photo(crop_points))
    np.testing.assert_allclose(back, crop_points, rtol=1e-9, atol=1e-9 * (1 + np.abs(t.tx) + np.abs(t.ty)))


@settings(max_examples=200, deadline=None)
@given(transforms, points)
def test_matrix_maps_like_to_crop(t: CropTransform, photo_points: np.ndarray) -> None:
    homogeneous = np.column_stack([photo_points, np.ones(len(photo_points))])
    np.testing.assert_allclose(homogeneous @ t.matrix.T, t.to_crop(photo_points), rtol=1e-12, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    st.tuples(st.integers(1, 64), st.integers(1, 64)),
    st.floats(1e-2, 50.0),
    st.floats(-500, 500),
    st.floats(-500, 500),
    st.integers(0, 2**32 - 1),
)
def test_crop_of_any_transform_is_a_192_crop(shape, scale, tx, ty, seed) -> None:
    photo = np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)
    crop = crop_image(photo, CropTransform(scale=scale, tx=tx, ty=ty))
    assert crop.shape == (192, 192, 3) and crop.dtype == np.uint8


@st.composite
def volumes(draw: st.DrawFn) -> np.ndarray:
    """Small random probability volumes: noise, sometimes thresholded into blocky bodies."""
    shape = draw(st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    volume = rng.random(shape, dtype=np.float32)
    if draw(st.booleans()):
        volume = (volume > draw(st.floats(0.05, 0.95))).astype(np.float32)
    return volume


levels = st.floats(0.01, 0.99)


def _assert_valid(mesh: Mesh, shape: tuple[int, int, int], z_scale: float) -> None:
    """Indices in range, finite vertices inside the (padded) grid, unit or zero normals."""
    assert mesh.faces.ndim == 2 and mesh.faces.shape[1] == 3
    if mesh.is_empty:
        return
    assert mesh.faces.min() >= 0 and mesh.faces.max() < mesh.n_vertices
    assert np.isfinite(mesh.vertices).all()
    depth, height, width = shape
    upper = np.array([width, height, depth * z_scale])
    assert (mesh.vertices >= -1.0 * np.array([1, 1, z_scale])).all() and (mesh.vertices <= upper).all()
    if mesh.normals is not None:
        lengths = np.linalg.norm(mesh.normals, axis=1)
        assert np.all((np.abs(lengths - 1) < 1e-3) | (lengths < 1e-6))


@settings(max_examples=150, deadline=None)
@given(volumes(), levels, st.floats(0.1, 2.0))
def test_meshing_random_volumes_never_crashes_and_gives_valid_meshes(volume, level, z_scale) -> None:
    mesh = volume_to_mesh(volume, level=level, z_scale=z_scale)
    _assert_valid(mesh, volume.shape, z_scale)
    assert mesh.is_empty == (not (volume > level).any())


@settings(max_examples=80, deadline=None)
@given(volumes(), levels)
def test_occupied_box_meshing_equals_the_full_grid(volume, level) -> None:
    boxed = volume_to_mesh(volume, level=level)
    full = volume_to_mesh(volume, level=level, occupied_only=False)
    np.testing.assert_array_equal(boxed.faces, full.faces)
    np.testing.assert_allclose(boxed.vertices, full.vertices, atol=1e-4)


@settings(max_examples=80, deadline=None)
@given(volumes(), levels)
def test_meshing_with_colours_gives_one_colour_per_vertex(volume, level) -> None:
    image = np.random.default_rng(0).integers(0, 256, (*volume.shape[1:], 3), dtype=np.uint8)
    mesh = volume_to_mesh(volume, level=level, image=image)
    if not mesh.is_empty:
        assert mesh.colors.shape == (mesh.n_vertices, 3) and mesh.colors.dtype == np.uint8


def _body_sizes(mesh: Mesh) -> np.ndarray:
    """Vertex counts of the connected bodies of ``mesh`` (vertices used by a triangle), by scipy."""
    used = np.unique(mesh.faces)
    edges = np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]]])
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(mesh.n_vertices,) * 2)
    _, labels = connected_components(graph, directed=False)
    return np.bincount(labels[used])[np.unique(labels[used])]


@settings(max_examples=120, deadline=None)
@given(volumes(), levels, st.sampled_from(["largest", "fraction"]), st.floats(0, 1))
def test_bump_removal_on_meshed_volumes_keeps_the_largest_body(volume, level, mode, fraction) -> None:
    mesh = volume_to_mesh(volume, level=level)
    bumps = remove_bumps(mesh, mode=mode, min_fraction=fraction)
    if mesh.is_empty:
        assert bumps.kept.is_empty and bumps.removed_sizes == ()
        return
    sizes = _body_sizes(mesh)
    assert bumps.kept_size >= sizes.max()  # the largest body is never removed
    assert bumps.kept_size + sum(bumps.removed_sizes) == sizes.sum()
    if mode == "largest":
        assert bumps.kept_size == sizes.max() and sorted(bumps.removed_sizes) == sorted(sizes.tolist())[:-1]
    else:
        assert all(size < fraction * sizes.max() for size in bumps.removed_sizes)
    for part in (bumps.kept, bumps.removed):
        assert part.faces.size == 0 or (part.faces.min() >= 0 and part.faces.max() < part.n_vertices)
    assert bumps.kept.n_faces + bumps.removed.n_faces == mesh.n_faces
