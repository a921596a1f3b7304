"""remove_bumps: analytic blobs, modes, and the fast method against the review's reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from volumes import small_head, with_blobs

from vrn_studio.mesh import BumpRemoval, Mesh, remove_bumps, volume_to_mesh

SHAPE = (48, 40, 40)
BLOBS = [(8.0, 6.0, 6.0), (40.0, 33.0, 33.0), (8.0, 33.0, 6.0)]
RADII = [2.5, 3.5, 1.5]


@pytest.fixture(scope="module")
def blob_sizes() -> list[int]:
    """Vertex count of each blob meshed on its own."""
    empty = np.zeros(SHAPE, np.float32)
    return [volume_to_mesh(with_blobs(empty, [c], [r])).n_vertices for c, r in zip(BLOBS, RADII, strict=True)]


@pytest.fixture(scope="module")
def bumpy() -> Mesh:
    volume = with_blobs(small_head(SHAPE), BLOBS, RADII)
    image = np.random.default_rng(1).integers(0, 256, SHAPE[1:] + (3,), dtype=np.uint8)
    return volume_to_mesh(volume, image=image)


@pytest.mark.parametrize("method", ["fast", "reference"])
def test_removes_exactly_the_blobs(bumpy: Mesh, blob_sizes: list[int], method: str) -> None:
    head = volume_to_mesh(small_head(SHAPE))
    result = remove_bumps(bumpy, method=method)
    assert result.n_removed == 3
    assert result.removed_sizes == tuple(sorted(blob_sizes, reverse=True))
    assert result.kept_size == head.n_vertices
    np.testing.assert_allclose(result.kept.vertices, head.vertices, atol=1e-4)
    assert result.kept.n_vertices + result.removed.n_vertices == bumpy.n_vertices
    assert result.kept.n_faces + result.removed.n_faces == bumpy.n_faces


def test_colours_and_normals_follow_their_vertices(bumpy: Mesh) -> None:
    result = remove_bumps(bumpy)
    for part in (result.kept, result.removed):
        rows = {tuple(v): i for i, v in enumerate(bumpy.vertices.tolist())}
        index = np.array([rows[tuple(v)] for v in part.vertices.tolist()])
        np.testing.assert_array_equal(part.colors, bumpy.colors[index])
        np.testing.assert_array_equal(part.normals, bumpy.normals[index])
        np.testing.assert_array_equal(part.vertices[part.faces], bumpy.vertices[index][part.faces])


def test_fraction_mode_keeps_big_blobs(bumpy: Mesh, blob_sizes: list[int]) -> None:
    head_size = remove_bumps(bumpy).kept_size
    threshold = sorted(blob_sizes)[1] / head_size  # the middle blob is exactly at the threshold
    result = remove_bumps(bumpy, mode="fraction", min_fraction=threshold)
    assert result.removed_sizes == (min(blob_sizes),)
    assert result.kept_size == bumpy.n_vertices - min(blob_sizes)
    assert remove_bumps(bumpy, mode="fraction", min_fraction=0).n_removed == 0
    everything_but_head = remove_bumps(bumpy, mode="fraction", min_fraction=1)
    assert everything_but_head.removed_sizes == remove_bumps(bumpy).removed_sizes


def test_tie_goes_to_the_body_of_the_first_triangle() -> None:
    vertices = np.arange(18, dtype=np.float32).reshape(6, 3)
    mesh = Mesh(vertices, [[3, 4, 5], [0, 1, 2]])
    for method in ("fast", "reference"):
        result = remove_bumps(mesh, method=method)
        np.testing.assert_array_equal(result.kept.vertices, vertices[3:])
        np.testing.assert_array_equal(result.kept.faces, [[0, 1, 2]])


def test_empty_mesh_and_unused_vertices() -> None:
    result = remove_bumps(Mesh.empty())
    assert isinstance(result, BumpRemoval)
    assert result.kept.is_empty and result.removed.is_empty and result.n_removed == 0
    lonely = Mesh(np.zeros((5, 3)), [[1, 2, 4]])
    result = remove_bumps(lonely)
    assert result.kept_size == 3 and result.removed.n_vertices == 0 and result.n_removed == 0
    np.testing.assert_array_equal(result.kept.faces, [[0, 1, 2]])


def test_bad_arguments_are_named() -> None:
    mesh = Mesh(np.zeros((3, 3)), [[0, 1, 2]])
    with pytest.raises(ValueError, match="Available: largest, fraction"):
        remove_bumps(mesh, mode="biggest")
    with pytest.raises(ValueError, match="Available: fast, reference"):
        remove_bumps(mesh, method="slow")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        remove_bumps(mesh, mode="fraction", min_fraction=1.5)


@st.composite
def piecewise_meshes(draw: st.DrawFn) -> tuple[Mesh, list[int]]:
    """A disjoint union of connected pieces (strips with random extra triangles), its vertices
    permuted and mixed with isolated vertices; returns the mesh and each piece's vertex count."""
    sizes = draw(st.lists(st.integers(3, 12), min_size=1, max_size=8))
    n_isolated = draw(st.integers(0, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    faces, start = [], 0
    for size in sizes:
        strip = [[start + i, start + i + 1, start + i + 2] for i in range(size - 2)]
        extra = rng.integers(start, start + size, (int(rng.integers(0, 4)), 3)).tolist()
        faces += strip + extra
        start += size
    n = start + n_isolated
    permutation = rng.permutation(n)
    faces = permutation[np.array(faces)]
    faces = faces[rng.permutation(len(faces))]
    vertices = rng.random((n, 3)).astype(np.float32)
    colors = rng.integers(0, 256, (n, 3), dtype=np.uint8)
    return Mesh(vertices, faces, colors), sizes


@settings(max_examples=150, deadline=None)
@given(piecewise_meshes(), st.sampled_from(["largest", "fraction"]), st.floats(0, 1))
def test_fast_agrees_with_reference(case: tuple[Mesh, list[int]], mode: str, fraction: float) -> None:
    mesh, sizes = case
    fast = remove_bumps(mesh, mode=mode, min_fraction=fraction, method="fast")
    reference = remove_bumps(mesh, mode=mode, min_fraction=fraction, method="reference")
    for a, b in ((fast.kept, reference.kept), (fast.removed, reference.removed)):
        np.testing.assert_array_equal(a.vertices, b.vertices)
        np.testing.assert_array_equal(a.faces, b.faces)
        np.testing.assert_array_equal(a.colors, b.colors)
    assert fast.removed_sizes == reference.removed_sizes
    assert fast.kept_size >= max(sizes)  # the largest body is never removed
    assert sum(fast.removed_sizes) + fast.kept_size == sum(sizes)
    assert list(fast.removed_sizes) == sorted(fast.removed_sizes, reverse=True)
    if mode == "largest":
        assert fast.kept_size == max(sizes)
        assert sorted(fast.removed_sizes) == sorted(sizes)[:-1]
    else:
        assert all(s < fraction * max(sizes) for s in fast.removed_sizes)
    for part in (fast.kept, fast.removed):
        assert part.faces.size == 0 or part.faces.max() < part.n_vertices
        assert np.isin(np.arange(part.n_vertices), part.faces).all()  # compact: no unused vertex
