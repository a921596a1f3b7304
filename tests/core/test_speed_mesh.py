"""Meshing only the occupied sub-volume gives the full volume's mesh; fast bump removal the reference's."""

from __future__ import annotations

import numpy as np
import pytest
from volumes import ellipsoid, small_head, with_blobs

from vrn_studio.mesh import Mesh, remove_bumps, volume_to_mesh


def assert_same_mesh(full: Mesh, sub: Mesh, *, exact: bool = False) -> None:
    """Same triangles in the same order; vertices equal (or to float32 rounding of the shift)."""
    np.testing.assert_array_equal(full.faces, sub.faces)
    if exact:
        np.testing.assert_array_equal(full.vertices, sub.vertices)
        np.testing.assert_array_equal(full.colors, sub.colors)
    else:
        np.testing.assert_allclose(full.vertices, sub.vertices, rtol=0, atol=1e-4)
        assert np.abs(full.colors.astype(int) - sub.colors).max() <= 1
    np.testing.assert_allclose(full.normals, sub.normals, rtol=0, atol=1e-3)


def _crop(shape: tuple[int, int, int]) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (*shape[1:], 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "volume",
    [
        pytest.param(with_blobs(small_head((48, 40, 44)), [(40, 6, 6)], [3.0]), id="head+blob"),
        pytest.param(ellipsoid((30, 32, 28), (29.0, 0.0, 14.0), (10.0, 12.0, 9.0)), id="touching-border"),
        pytest.param((small_head((30, 24, 26)) * 255).astype(np.uint8), id="uint8"),
    ],
)
@pytest.mark.parametrize("method", ["flying-edges", "skimage", "mcubes"])
def test_occupied_sub_volume_meshes_like_the_full_volume(volume: np.ndarray, method: str) -> None:
    pytest.importorskip({"flying-edges": "vtkmodules", "mcubes": "mcubes"}.get(method, "skimage"))
    crop = _crop(volume.shape)
    full = volume_to_mesh(volume, image=crop, method=method, occupied_only=False)
    sub = volume_to_mesh(volume, image=crop, method=method)
    assert full.n_faces > 0
    assert_same_mesh(full, sub, exact=method == "mcubes")


def test_occupied_sub_volume_in_int8_compat_mode() -> None:
    volume = small_head((40, 36, 36))
    full = volume_to_mesh(volume, image=_crop(volume.shape), int8_compat=True, occupied_only=False)
    sub = volume_to_mesh(volume, image=_crop(volume.shape), int8_compat=True)
    assert_same_mesh(full, sub)


def test_occupied_sub_volume_of_an_empty_volume() -> None:
    volume = np.full((10, 12, 14), 0.01, np.float32)
    assert volume_to_mesh(volume).is_empty and volume_to_mesh(volume, occupied_only=False).is_empty


def test_fast_bump_removal_matches_reference_on_a_meshed_volume() -> None:
    mesh = volume_to_mesh(with_blobs(small_head((48, 40, 44)), [(40, 6, 6), (8, 34, 36)], [3.0, 2.5]))
    fast, reference = remove_bumps(mesh), remove_bumps(mesh, method="reference")
    assert fast.removed_sizes == reference.removed_sizes and len(fast.removed_sizes) == 2
    np.testing.assert_array_equal(fast.kept.faces, reference.kept.faces)
    np.testing.assert_array_equal(fast.kept.vertices, reference.kept.vertices)
