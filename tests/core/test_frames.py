"""Frames and units (docs/frames.md), each pinned by one point that makes the round trip.

photo pixels <-> crop pixels (CropTransform), volume index (d, y, x) -> crop-space mesh
(x, y, d / 2), crop-space mesh -> photo-space mesh (mesh_to_photo), either -> export/viewer
frame (to_viewer_frame: y up, face towards +z), and what the exported files hold.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from vrn_studio.crop import CropTransform
from vrn_studio.mesh import DEFAULT_LEVEL, Mesh, mesh_to_photo, printable_mesh, to_viewer_frame, volume_to_mesh
from vrn_studio.pipeline import Result, save_result

T = CropTransform(scale=0.75, tx=-40.0, ty=-12.5)


def test_photo_and_crop_pixels() -> None:
    photo = np.array([[200.0, 100.0]])
    crop = T.to_crop(photo)
    np.testing.assert_allclose(crop, [[0.75 * 200 - 40, 0.75 * 100 - 12.5]])
    np.testing.assert_allclose(T.to_photo(crop), photo)


def blob_volume(d: int, y: int, x: int, r: int = 3) -> np.ndarray:
    """A (200, 192, 192) volume with a solid cube of side 2r + 1 voxels centred on (d, y, x)."""
    volume = np.zeros((200, 192, 192), np.float32)
    volume[d - r:d + r + 1, y - r:y + r + 1, x - r:x + r + 1] = 1.0
    return volume


def test_volume_index_to_crop_space_mesh() -> None:
    d, y, x = 150, 60, 130
    mesh = volume_to_mesh(blob_volume(d, y, x))
    centre = (mesh.vertices.min(axis=0) + mesh.vertices.max(axis=0)) / 2
    np.testing.assert_allclose(centre, [x, y, d * 0.5], atol=1e-4)
    # Larger z = nearer the camera: the cube's front face, where the probability (1 at d + 3,
    # 0 at d + 4, linear between) crosses the iso level.
    top = mesh.vertices[:, 2].max()
    assert top == pytest.approx((d + 3 + (1 - DEFAULT_LEVEL)) * 0.5, abs=1e-4)
    # And back: crop (x, y, z) -> volume index (z / 0.5, y, x) lands in the cube's voxel.
    cx, cy, cz = centre
    assert blob_volume(d, y, x)[round(cz / 0.5), round(cy), round(cx)] == 1.0
    assert (round(cz / 0.5), round(cy), round(cx)) == (d, y, x)


def test_crop_space_mesh_to_photo_space_mesh() -> None:
    crop_point = Mesh(np.array([[50.0, 80.0, 30.0]]), np.zeros((0, 3)))
    photo = mesh_to_photo(crop_point, T).vertices[0]
    np.testing.assert_allclose(photo, [(50 + 40) / 0.75, (80 + 12.5) / 0.75, 30 / 0.75], rtol=1e-6)
    np.testing.assert_allclose(T.to_crop(photo[None, :2].astype(np.float64))[0], [50, 80], atol=1e-4)
    np.testing.assert_allclose(photo[2] * T.scale, 30, rtol=1e-6)  # depth scales with x and y: back by the same factor


def test_viewer_frame_flips_y_and_keeps_the_face_towards_plus_z() -> None:
    mesh = volume_to_mesh(blob_volume(150, 60, 130))
    up = to_viewer_frame(mesh, 192)
    np.testing.assert_allclose(up.vertices[:, 1], 191 - mesh.vertices[:, 1])
    np.testing.assert_array_equal(up.vertices[:, [0, 2]], mesh.vertices[:, [0, 2]])
    # Outward normals stay outward: the enclosed volume keeps its sign (positive).
    closed = trimesh.Trimesh(up.vertices, up.faces, process=False)
    assert closed.is_watertight and closed.volume > 0
    back = to_viewer_frame(up, 192)
    np.testing.assert_array_equal(back.vertices, mesh.vertices)


@pytest.fixture(scope="module")
def result() -> Result:
    from fakes import EllipsoidNet

    from vrn_studio.image import sample_image_path
    from vrn_studio.pipeline import Reconstructor

    return Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu").reconstruct(sample_image_path("astronaut"))


@pytest.mark.parametrize("frame", ["crop", "photo"])
def test_exported_files_hold_the_viewer_frame_of_the_asked_frame(result: Result, frame: str, tmp_path: Path) -> None:
    (path,) = save_result(result, tmp_path, outputs=["ply"], frame=frame)
    loaded = trimesh.load(path, process=False)
    tip = int(np.argmax(result.mesh.vertices[:, 2]))  # the nose tip: the nearest vertex
    x, y, z = result.mesh.vertices[tip]
    if frame == "crop":
        expected = [x, 191 - y, z]
    else:
        px, py = result.transform.to_photo(np.array([[x, y]], np.float64))[0]
        expected = [px, result.image.shape[0] - 1 - py, z / result.transform.scale]
    np.testing.assert_allclose(loaded.vertices[tip], expected, rtol=1e-5, atol=1e-3)


def test_landmarks_file_holds_both_pixel_frames_and_the_transform(result: Result, tmp_path: Path) -> None:
    (path,) = save_result(result, tmp_path, outputs=["landmarks"])
    data = json.loads(path.read_text())
    transform = CropTransform(**{k: data["transform"][k] for k in ("scale", "tx", "ty")})
    assert transform == result.transform
    photo = np.array(data["landmarks_photo"], np.float64)
    crop = np.array(data["landmarks_crop"], np.float64)
    np.testing.assert_allclose(transform.to_crop(photo), crop, atol=1e-3)


def test_crop_space_to_millimetres(result: Result) -> None:
    solid = printable_mesh(result.mesh, result.landmarks_crop, interocular_mm=90.0)
    ox, oy, oz = solid.origin_crop
    tip = result.mesh.vertices[int(np.argmax(result.mesh.vertices[:, 2]))].astype(np.float64)
    mm = solid.from_crop(tip[None])[0]
    np.testing.assert_allclose(mm, np.array([tip[0] - ox, oy - tip[1], tip[2] - oz]) * solid.mm_per_pixel)
    assert mm[2] == pytest.approx(solid.size_mm[2], abs=1e-3)  # the nose tip is the print's highest point
    right = np.array([tip[0] + 10 / solid.mm_per_pixel, tip[1], tip[2]])  # 10 mm further along x
    np.testing.assert_allclose(solid.from_crop(right[None])[0] - mm, [10.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(solid.to_crop(mm[None])[0], tip, atol=1e-9)  # and back to crop pixels
