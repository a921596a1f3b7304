"""The dataset folder format, its OBJ/PLY/landmark readers, the AFLW2000-3D and Florence
adapters (on fabricated files) and the training dataset built on it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import ASTRONAUT_LANDMARKS
from scipy.io import savemat

from vrn_studio.eval.dataset import (
    DatasetError,
    iter_aflw2000_3d,
    iter_florence,
    iter_samples,
    lift_landmarks,
    read_mesh,
)
from vrn_studio.export.obj import export_obj
from vrn_studio.export.ply import export_ply
from vrn_studio.image import sample_image_path
from vrn_studio.mesh import Mesh
from vrn_studio.train.dataset import FolderDataset

LANDMARKS = ASTRONAUT_LANDMARKS
"""The astronaut's 68 landmarks in photo pixels (face over x 179-272, y 87-178)."""
CENTRE = LANDMARKS.mean(axis=0)
RADIUS = 60.0
"""Radius of the fabricated hemisphere face, in photo pixels."""
Z_OFFSET = 40.0
"""Depth of the hemisphere's base plane: the format's depth origin is free."""


def hemisphere(n: int = 41) -> Mesh:
    """A height field over the face: a hemisphere of RADIUS over CENTRE, flat (z = Z_OFFSET) around it.

    Photo pixels, y down, z toward the camera; an open surface of (n-1)^2 * 2 triangles.
    """
    s = np.linspace(-RADIUS * 1.2, RADIUS * 1.2, n)
    x, y = np.meshgrid(s, s)
    z = np.sqrt(np.clip(RADIUS**2 - x**2 - y**2, 0, None)) + Z_OFFSET
    vertices = np.column_stack([x.ravel() + CENTRE[0], y.ravel() + CENTRE[1], z.ravel()])
    i = np.arange(n - 1)[:, None] * n + np.arange(n - 1)[None, :]
    i = i.ravel()
    faces = np.concatenate([np.column_stack([i, i + 1, i + n]), np.column_stack([i + 1, i + n + 1, i + n])])
    return Mesh(vertices.astype(np.float32), faces.astype(np.int64))


def write_sample(folder: Path, name: str, *, mesh_format: str = "obj", with_3d: bool = False) -> Mesh:
    """Write NAME.png, NAME.obj|ply and NAME.landmarks.json into folder; return the mesh."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(sample_image_path(), folder / f"{name}.png")
    mesh = hemisphere()
    data = export_obj(mesh) if mesh_format == "obj" else export_ply(mesh)
    (folder / f"{name}.{mesh_format}").write_bytes(data)
    record: dict[str, object] = {"landmarks": LANDMARKS.tolist()}
    if with_3d:
        record["landmarks_3d"] = lift_landmarks(mesh.vertices, LANDMARKS).tolist()
    (folder / f"{name}.landmarks.json").write_text(json.dumps(record))
    return mesh


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A two-sample folder: one OBJ with 2D landmarks, one binary PLY with 3D landmarks too."""
    folder = tmp_path / "data"
    write_sample(folder, "a", mesh_format="obj")
    write_sample(folder, "b", mesh_format="ply", with_3d=True)
    return folder


def test_iter_samples_reads_obj_and_ply(dataset: Path) -> None:
    samples = list(iter_samples(dataset))
    expected = hemisphere()
    assert [s.name for s in samples] == ["a", "b"]
    for sample in samples:
        np.testing.assert_allclose(sample.mesh.vertices, expected.vertices, atol=1e-4)
        np.testing.assert_array_equal(sample.mesh.faces, expected.faces)
        np.testing.assert_array_equal(sample.landmarks, LANDMARKS)
        assert sample.image_path.name == f"{sample.name}.png"
    assert samples[0].landmarks_3d is None and samples[1].landmarks_3d.shape == (68, 3)
    np.testing.assert_allclose(samples[0].landmarks_3d_or_lifted(), samples[1].landmarks_3d, atol=1e-3)


def test_lifted_landmarks_lie_on_the_front_surface() -> None:
    mesh = hemisphere(81)
    lifted = lift_landmarks(mesh.vertices, LANDMARKS)
    d = np.hypot(*(LANDMARKS - CENTRE).T)
    expected = np.sqrt(np.clip(RADIUS**2 - d**2, 0, None)) + Z_OFFSET
    np.testing.assert_allclose(lifted[:, 2], expected, atol=6.0)  # grid spacing 1.8 px, slope up to ~3


def test_obj_polygons_negative_indices_and_ascii_ply(tmp_path: Path) -> None:
    obj = tmp_path / "quad.obj"
    obj.write_text("# quad\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 1.5\nvn 0 0 1\nf 1//1 2//1 3//1 -1//1\n")
    np.testing.assert_array_equal(read_mesh(obj).faces, [[0, 1, 2], [0, 2, 3]])
    ply = tmp_path / "quad.ply"
    ply.write_text(
        "ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
        "property uchar red\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n"
        "0 0 0 9\n1 0 0 9\n1 1 0 9\n0 1 1.5 9\n4 0 1 2 3\n"
    )
    mesh = read_mesh(ply)
    np.testing.assert_array_equal(mesh.faces, [[0, 1, 2], [0, 2, 3]])
    assert mesh.vertices[3, 2] == 1.5


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.obj", "v 0 0\n", r"bad\.obj.*line 1 'v 0 0'.*3 coordinates"),
        ("bad.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", r"bad\.obj has triangles indexing vertex 3 but 3"),
        ("bad.obj", "v 0 0 0\n", r"bad\.obj has no triangles"),
        ("bad.ply", "not a ply", r"Malformed mesh file .*bad\.ply: not a PLY file"),
        ("bad.stl", "solid", r"bad\.stl.*unknown mesh extension"),
    ],
)
def test_bad_meshes_name_the_file(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(DatasetError, match=message):
        read_mesh(tmp_path / name)


def test_missing_or_bad_files_name_the_file(dataset: Path) -> None:
    (dataset / "a.obj").unlink()
    with pytest.raises(DatasetError, match=r"a\.png has no .*a\.obj or .*a\.ply"):
        list(iter_samples(dataset))
    write_sample(dataset, "a")
    (dataset / "b.landmarks.json").write_text(json.dumps({"landmarks": [[0, 0]] * 67}))
    with pytest.raises(DatasetError, match=r"'landmarks' in .*b\.landmarks\.json has shape \(67, 2\)"):
        list(iter_samples(dataset))
    (dataset / "b.landmarks.json").write_text("{")
    with pytest.raises(DatasetError, match=r"Cannot read landmark file .*b\.landmarks\.json"):
        list(iter_samples(dataset))
    with pytest.raises(DatasetError, match="does not exist"):
        list(iter_samples(dataset / "nope"))
    (dataset.parent / "empty").mkdir()
    with pytest.raises(DatasetError, match="No photos"):
        list(iter_samples(dataset.parent / "empty"))


def test_aflw2000_adapter_reads_pt3d_68_one_based(tmp_path: Path) -> None:
    folder = tmp_path / "AFLW2000"
    folder.mkdir()
    shutil.copy(sample_image_path(), folder / "image00002.jpg")
    pt3d = np.vstack([LANDMARKS.T + 1.0, np.linspace(0, 30, 68)[None]])  # MATLAB 1-based pixels
    savemat(folder / "image00002.mat", {"pt3d_68": pt3d, "Shape_Para": np.zeros((199, 1)),
                                        "Pose_Para": np.zeros((1, 7))})
    with pytest.raises(DatasetError, match=r"image00002\.jpg has no .*image00002\.obj"):
        list(iter_aflw2000_3d(folder))
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    (meshes / "image00002.obj").write_bytes(export_obj(hemisphere()))
    (sample,) = iter_aflw2000_3d(folder, meshes=meshes)
    assert sample.name == "image00002"
    np.testing.assert_allclose(sample.landmarks, LANDMARKS)
    np.testing.assert_allclose(sample.landmarks_3d[:, 2], np.linspace(0, 30, 68))
    savemat(folder / "image00002.mat", {"pt2d": np.zeros((2, 21))})
    with pytest.raises(DatasetError, match=r"image00002\.mat has no pt3d_68"):
        list(iter_aflw2000_3d(folder, meshes=meshes))


def test_florence_adapter_names_samples_by_subject(tmp_path: Path) -> None:
    write_sample(tmp_path / "subject_01", "yaw00")
    write_sample(tmp_path / "subject_02", "yaw45")
    (tmp_path / "notes").mkdir()
    assert [s.name for s in iter_florence(tmp_path)] == ["subject_01/yaw00", "subject_02/yaw45"]
    with pytest.raises(DatasetError, match="No subject folders"):
        list(iter_florence(tmp_path / "notes"))


def front_depth(volume: np.ndarray) -> np.ndarray:
    """Per column (y, x), the highest occupied depth index, -1 where the column is empty."""
    occupied = volume > 0.5
    top = volume.shape[0] - 1 - np.argmax(occupied[::-1], axis=0)
    return np.where(occupied.any(axis=0), top, -1)


def test_folder_dataset_puts_the_volume_under_the_face(dataset: Path) -> None:
    data = FolderDataset(dataset, size=96, depth_bins=100, augment=False)
    assert len(data) == 2
    item = data[1]
    assert item["image"].shape == (3, 96, 96) and item["image"].dtype == torch.float32
    assert 0 <= float(item["image"].min()) and float(item["image"].max()) <= 1
    assert item["volume"].shape == (100, 96, 96) and item["landmarks"].shape == (68, 2)
    transform = data.crop_transform(LANDMARKS)
    np.testing.assert_allclose(item["landmarks"].numpy(), transform.to_crop(LANDMARKS), atol=1e-4)
    np.testing.assert_allclose(transform.to_crop(LANDMARKS).mean(axis=0), [47.5, 47.5], atol=1e-9)

    top = front_depth(item["volume"].numpy())
    ys, xs = np.nonzero(top >= 0)
    lo, hi = transform.to_crop(CENTRE - RADIUS * 1.2), transform.to_crop(CENTRE + RADIUS * 1.2)
    assert xs.min() >= np.floor(lo[0]) and xs.max() <= np.ceil(hi[0])  # the mesh's square, no more
    assert ys.min() >= np.floor(lo[1]) and ys.max() <= np.ceil(hi[1])
    peak = np.unravel_index(np.argmax(top), top.shape)
    np.testing.assert_allclose(peak, transform.to_crop(CENTRE)[::-1], atol=2)  # the dome over the face
    z_ref = lift_landmarks(hemisphere().vertices, LANDMARKS)[:, 2].mean()
    expected = ((RADIUS + Z_OFFSET - z_ref) * transform.scale + 25) / 0.5  # landmarks at mid-depth
    assert abs(top.max() - expected) <= 1.5
    # Both samples hold the same face: OBJ with lifted landmarks equals PLY with given ones.
    np.testing.assert_array_equal(data[0]["volume"].numpy(), item["volume"].numpy())


def test_folder_dataset_augments_jointly_and_reproducibly(dataset: Path) -> None:
    data = FolderDataset(dataset, size=96, depth_bins=100, seed=3)
    first = data[0]
    assert all(torch.equal(first[k], data[0][k]) for k in first)
    data.set_epoch(1)
    assert not torch.equal(first["image"], data[0]["image"])
    for epoch in range(4):
        data.set_epoch(epoch)
        item = data[0]
        top = front_depth(item["volume"].numpy())
        points = np.rint(item["landmarks"].numpy()).astype(int)
        inside = ((points >= 0) & (points < 96)).all(axis=1)
        assert inside.sum() > 50
        assert (top[points[inside, 1], points[inside, 0]] >= 0).all()  # every landmark over the volume


def test_folder_dataset_rejects_bad_sizes(dataset: Path) -> None:
    with pytest.raises(ValueError, match="positive integers; got 0 and 200"):
        FolderDataset(dataset, size=0)
