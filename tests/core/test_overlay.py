"""The mesh overlay: the same picture as drawing over the whole photo, bounded cost on huge photos."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from fakes import ASTRONAUT_LANDMARKS, EllipsoidNet

from vrn_studio.image import sample_image_path
from vrn_studio.mesh import Mesh, depth_map
from vrn_studio.pipeline import Reconstructor, Result
from vrn_studio.pipeline.overlay import CLAY, mesh_overlay, shade_depth


@pytest.fixture(scope="module")
def result() -> Result:
    """The astronaut photo (512 x 512) through :class:`EllipsoidNet`: a head-sized mesh over the face."""
    return Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu").reconstruct(
        sample_image_path("astronaut"), face=ASTRONAUT_LANDMARKS
    )


def whole_photo_overlay(image: np.ndarray, mesh: Mesh, alpha: float = 0.7) -> np.ndarray:
    """The overlay as drawn before its cost was bounded: depth and shading over the whole photo."""
    shade, mask = shade_depth(depth_map(mesh, shape=image.shape[:2]))
    clay = (shade[..., None] * np.array(CLAY)).astype(np.float32)
    out = image.astype(np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * clay[mask]
    return np.clip(out, 0, 255).astype(np.uint8)


def moved(mesh: Mesh, scale: float = 1.0, shift: tuple[float, float] = (0.0, 0.0)) -> Mesh:
    """``mesh`` scaled about the origin (z too, so its shading is unchanged) and shifted in x, y."""
    return Mesh(mesh.vertices * scale + [*shift, 0.0], mesh.faces)


def test_overlay_of_a_normal_photo_is_the_whole_photo_picture(result: Result) -> None:
    picture = mesh_overlay(result.image, result.mesh_photo)
    assert np.array_equal(picture, whole_photo_overlay(result.image, result.mesh_photo))
    assert (picture != result.image).any(axis=2).sum() > 5000  # the head is drawn


def test_overlay_of_a_face_cut_by_the_photo_border_is_the_whole_photo_picture(result: Result) -> None:
    mesh = moved(result.mesh_photo, shift=(-200.0, 150.0))  # off the left edge
    assert np.array_equal(mesh_overlay(result.image, mesh), whole_photo_overlay(result.image, mesh))


def test_a_face_larger_than_the_render_size_is_drawn_smaller_then_scaled(result: Result) -> None:
    image = np.full((1024, 1024, 3), 40, np.uint8)
    mesh = moved(result.mesh_photo, scale=2.0)
    reference = whole_photo_overlay(image, mesh)
    picture = mesh_overlay(image, mesh, max_side=160)  # the region is ~600 px: drawn at a quarter
    drawn, expected = (picture != image).any(axis=2), (reference != image).any(axis=2)
    assert (drawn & expected).sum() / (drawn | expected).sum() > 0.97
    both = drawn & expected
    assert np.abs(picture[both].astype(int) - reference[both]).mean() < 6


def test_overlay_outside_the_photo_or_empty_leaves_the_photo(result: Result) -> None:
    assert np.array_equal(mesh_overlay(result.image, moved(result.mesh_photo, shift=(5000.0, 0.0))), result.image)
    empty = Mesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64))
    assert np.array_equal(mesh_overlay(result.image, empty), result.image)


def test_overlay_memory_is_bounded_on_a_36_megapixel_photo(result: Result) -> None:
    """Drawing over the whole 6000 x 6000 photo took 3.6 GB; now the photo's copy plus the
    face region drawn at most ``MAX_RENDER_SIDE`` pixels."""
    image = np.zeros((6000, 6000, 3), np.uint8)
    mesh = moved(result.mesh_photo, scale=12.0, shift=(-1000.0, -1000.0))  # a face ~1500 px across
    tracemalloc.start()
    try:
        picture = mesh_overlay(image, mesh)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (picture != 0).any(axis=2).sum() > 1_000_000  # the face is drawn, at full size
    assert peak < image.nbytes + 300 * 2**20
