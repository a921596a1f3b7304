"""Every face of a photo: the library's reconstruct_faces, `reconstruct --faces`, a face at the border."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from fakes import EllipsoidNet
from PIL import Image

from vrn_studio.cli.main import main
from vrn_studio.errors import VrnStudioError
from vrn_studio.image import load_image, sample_image_path
from vrn_studio.pipeline import Reconstructor, save_result


@pytest.fixture(scope="module")
def rec() -> Reconstructor:
    return Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu")


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two people side by side: the astronaut (left, smaller face) and Grace Hopper (right)."""
    astronaut, hopper = load_image(sample_image_path("astronaut")), load_image(sample_image_path("grace_hopper"))
    left = np.zeros_like(hopper)
    left[:512, :512] = astronaut
    path = tmp_path_factory.mktemp("group") / "group.png"
    Image.fromarray(np.concatenate([left, hopper], axis=1)).save(path)
    return path


def test_reconstruct_faces_gives_one_result_per_face_over_its_own_face(rec, group) -> None:
    results = rec.reconstruct_faces(group)
    assert [r.face_index for r in results] == [0, 1]
    assert all(r.faces == results[0].faces and r.face is r.faces[r.face_index] for r in results)
    for r in results:
        x1, y1, x2, y2 = r.face.box
        cx, cy = r.mesh_photo.vertices[:, :2].mean(axis=0)
        assert x1 < cx < x2 and y1 < cy < y2
        assert set(r.timings) >= {"load", "detect", "crop", "network", "isosurface", "bumps", "photo"}
    assert results[0].face.box[0] > 512 and results[1].face.box[2] < 512  # largest first: Grace Hopper
    # One network call for both crops gives each face what a call of its own gives.
    alone = rec.reconstruct(group, face=results[1].face)
    np.testing.assert_allclose(results[1].volume, alone.volume, atol=1e-6)
    assert results[1].mesh.n_vertices == alone.mesh.n_vertices


def test_reconstruct_faces_by_index_and_a_clear_error_for_a_missing_face(rec, group) -> None:
    (second,) = rec.reconstruct_faces(group, faces=[1])
    assert second.face_index == 1 and second.face.box[2] < 512
    with pytest.raises(VrnStudioError, match=r"No face number 3 in .*group.png: 2 face\(s\) found, numbered 1 to 2"):
        rec.reconstruct_faces(group, faces=[2])
    crop_only = Reconstructor(None, landmarker="dlib", device="cpu").reconstruct_faces(group)
    assert [r.volume for r in crop_only] == [None, None] and crop_only[1].crop.shape == (192, 192, 3)


def test_cli_faces_all_writes_one_set_per_face(group, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("vrn_studio.cli.reconstruct_cmd.Reconstructor", lambda *a, **k: Reconstructor(
        EllipsoidNet(), landmarker="dlib", device="cpu"))
    out = tmp_path / "out"
    assert main(["reconstruct", str(group), "-o", str(out), "-f", "glb,landmarks", "--faces", "all"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "group_face1.glb", "group_face1_landmarks.json", "group_face2.glb", "group_face2_landmarks.json"]
    report = capsys.readouterr().out
    assert "face 1 of 2" in report and "face 2 of 2" in report
    one = tmp_path / "one"
    assert main(["reconstruct", str(group), "-o", str(one), "-f", "glb", "--faces", "2"]) == 0
    assert [p.name for p in one.iterdir()] == ["group_face2.glb"]
    face2 = trimesh.load(one / "group_face2.glb", force="mesh")
    assert len(face2.vertices) == trimesh.load(out / "group_face2.glb", force="mesh").vertices.shape[0]


def test_cli_faces_rejects_a_face_that_is_not_there(group, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("vrn_studio.cli.reconstruct_cmd.Reconstructor", lambda *a, **k: Reconstructor(
        EllipsoidNet(), landmarker="dlib", device="cpu"))
    assert main(["reconstruct", str(group), "-o", str(tmp_path / "x"), "--faces", "3"]) == 1
    assert "No face number 3" in capsys.readouterr().err
    for bad in ("0", "two"):
        with pytest.raises(SystemExit) as stop:
            main(["reconstruct", str(group), "--faces", bad])
        assert stop.value.code == 2


def test_a_face_cut_by_the_photo_border_exports_textured_meshes(rec, tmp_path) -> None:
    astronaut = load_image(sample_image_path("astronaut"))
    cut = np.ascontiguousarray(astronaut[:, 195:])  # the face (x 175-265) loses its left fifth
    result = rec.reconstruct(cut)
    assert result.face.box[0] < 0 and (result.mesh_photo.vertices[:, 0] < 0).any()
    written = save_result(result, tmp_path, outputs=["textured-glb", "textured-obj"], stem="cut")
    assert [p.name for p in written] == ["cut_textured.glb", "cut_textured.obj", "cut_textured.mtl", "cut_textured.png"]
    for path in written[:2]:
        loaded = trimesh.load(path, force="mesh")
        assert loaded.visual.kind == "texture" and len(loaded.faces) > 1000
        assert (loaded.visual.uv >= 0).all() and (loaded.visual.uv <= 1).all()
    texture = np.asarray(Image.open(written[3]))
    assert texture.shape[1] <= cut.shape[1] and texture.shape[0] <= cut.shape[0] + 8
