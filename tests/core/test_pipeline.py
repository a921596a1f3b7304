"""End to end: real photos through the Reconstructor, save_result and the CLI.

The released weights cannot be used here, so the network is either a small VRN with random
weights (proves the real tensor path) or ``EllipsoidNet``, a VRN whose volume is a solid
ellipsoid filling the crop's face region (proves meshing, axes and the photo overlay).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import EllipsoidNet

from vrn_studio.cli.main import main
from vrn_studio.errors import ImageError, NoFaceError, WeightsError
from vrn_studio.image import sample_image_path
from vrn_studio.mesh import Mesh
from vrn_studio.model import VRN
from vrn_studio.pipeline import Reconstructor, Result, StageDone, save_result

ASTRONAUT = sample_image_path("astronaut")


@pytest.fixture(scope="module")
def ellipsoid_result() -> Result:
    return Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu").reconstruct(ASTRONAUT)


def test_result_holds_every_stage(ellipsoid_result: Result) -> None:
    r = ellipsoid_result
    assert r.source == ASTRONAUT and r.image.shape == (512, 512, 3)
    assert r.face.landmarks.shape == (68, 2) and r.landmarker == "dlib"
    assert r.crop.shape == (192, 192, 3) and r.volume.shape == (200, 192, 192)
    assert list(r.timings) == ["load", "detect", "crop", "network", "isosurface", "bumps", "clean", "fit", "photo"]
    assert all(seconds >= 0 for seconds in r.timings.values())
    assert r.model == "EllipsoidNet" and r.device == "cpu"


def test_bump_removal_drops_the_blob(ellipsoid_result: Result) -> None:
    r = ellipsoid_result
    assert r.bumps.n_removed == 1
    assert r.mesh.n_vertices + r.removed.n_vertices == r.mesh_raw.n_vertices
    assert r.removed.vertices[:, 0].max() < 40  # the blob sits at x ~ 20
    assert r.mesh.vertices[:, 0].min() > 30


def test_mesh_axes_and_photo_overlay(ellipsoid_result: Result) -> None:
    r = ellipsoid_result
    x, y, z = r.mesh.vertices.T
    assert x.min() == pytest.approx(95.5 - 60, abs=1.5) and x.max() == pytest.approx(95.5 + 60, abs=1.5)
    assert y.min() == pytest.approx(95.5 - 75, abs=1.5) and y.max() == pytest.approx(95.5 + 75, abs=1.5)
    assert z.max() == pytest.approx((100 + 80) * 0.5, abs=1.0)  # depth indices scaled by 0.5
    # The crop centre is the landmark mean; in photo space the mesh centre lands there.
    centre = r.mesh_photo.vertices[:, :2].mean(axis=0)
    np.testing.assert_allclose(centre, r.face.landmarks.mean(axis=0), atol=2.0)
    scale = r.transform.scale
    np.testing.assert_allclose(np.ptp(r.mesh_photo.vertices, axis=0), np.ptp(r.mesh.vertices, axis=0) / scale, rtol=1e-4)


def test_colours_come_from_the_crop(ellipsoid_result: Result) -> None:
    r = ellipsoid_result
    front = r.mesh.vertices[:, 2] > r.mesh.vertices[:, 2].max() - 1
    u, v = np.round(r.mesh.vertices[front, :2]).astype(int).T
    diff = np.abs(r.mesh.colors[front].astype(int) - r.crop[v, u].astype(int))
    assert np.median(diff) < 20


def test_iter_stages_yields_then_returns() -> None:
    rec = Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu")
    stages = rec.iter_stages(ASTRONAUT, remove_bumps=False)
    names = []
    with pytest.raises(StopIteration) as done:
        while True:
            stage = next(stages)
            assert isinstance(stage, StageDone)
            names.append(stage.name)
    result = done.value.value
    assert names == list(result.timings)
    assert result.bumps.n_removed == 0 and result.mesh is result.mesh_raw


def test_random_weight_vrn_runs_the_real_tensor_path() -> None:
    torch.manual_seed(0)
    net = VRN(features=16, stacks=1, hourglass_depth=2)
    r = Reconstructor(net, landmarker="dlib", device="cpu").reconstruct(ASTRONAUT)
    assert r.volume.shape == (200, 192, 192) and r.volume.dtype == np.float32
    assert 0.0 <= r.volume.min() and r.volume.max() <= 1.0
    assert isinstance(r.mesh, Mesh)


def test_face_given_by_hand_skips_detection(ellipsoid_result: Result) -> None:
    rec = Reconstructor(None, device="cpu")
    by_points = rec.reconstruct(ASTRONAUT, face=ellipsoid_result.face.landmarks)
    assert by_points.landmarker == "manual" and by_points.volume is None
    np.testing.assert_allclose(by_points.transform.matrix, ellipsoid_result.transform.matrix)
    by_box = Reconstructor(None, landmarker="dlib", device="cpu").reconstruct(ASTRONAUT, face=ellipsoid_result.face.box)
    assert np.abs(by_box.face.landmarks - ellipsoid_result.face.landmarks).max() < 3
    with pytest.raises(ValueError, match=r"\(3,\)"):
        rec.reconstruct(ASTRONAUT, face=np.zeros(3))


def test_no_face_names_the_file(tmp_path: Path) -> None:
    from PIL import Image

    grey = tmp_path / "wall.png"
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(grey)
    with pytest.raises(NoFaceError, match="wall.png"):
        Reconstructor(None, landmarker="dlib", device="cpu").reconstruct(grey)


def test_missing_weights_error_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VRN_STUDIO_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsError, match="vrn-studio weights"):
        Reconstructor("no-such-model", device="cpu")


def test_reconstruct_many_reports_failures_and_goes_on(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    rec = Reconstructor(None, landmarker="dlib", device="cpu")
    out = list(rec.reconstruct_many([bad, ASTRONAUT]))
    assert isinstance(out[0][1], ImageError) and isinstance(out[1][1], Result)


def test_save_result_writes_every_output(ellipsoid_result: Result, tmp_path: Path) -> None:
    from vrn_studio.pipeline import output_names

    written = save_result(ellipsoid_result, tmp_path, outputs=output_names())
    names = sorted(p.name for p in written)
    assert names == sorted(
        ["astronaut.obj", "astronaut.ply", "astronaut.stl", "astronaut.glb", "astronaut_removed.ply",
         "astronaut_volume.npz", "astronaut_depth.png", "astronaut_landmarks.json", "astronaut_crop.png",
         "astronaut_overlay.png", "astronaut_textured.glb", "astronaut_textured.obj", "astronaut_textured.mtl",
         "astronaut_textured.png", "astronaut_print.stl", "astronaut_print.3mf"]
    )
    landmarks = json.loads((tmp_path / "astronaut_landmarks.json").read_text())
    assert len(json.dumps(landmarks)) > 100
    from vrn_studio.errors import ExportError

    with pytest.raises(ExportError, match="already exists"):
        save_result(ellipsoid_result, tmp_path, outputs=["glb"])
    assert save_result(ellipsoid_result, tmp_path, outputs=["glb"], overwrite=True)


def test_overlay_covers_the_face(ellipsoid_result: Result, tmp_path: Path) -> None:
    import cv2

    (path,) = save_result(ellipsoid_result, tmp_path, outputs=["overlay"])
    overlay = cv2.imread(str(path))[..., ::-1]
    changed = np.abs(overlay.astype(int) - ellipsoid_result.image.astype(int)).sum(axis=2) > 30
    x, y = np.round(ellipsoid_result.face.landmarks[30]).astype(int)  # nose tip
    assert changed[y, x]
    assert not changed[5, 5]


def test_cli_without_weights_still_detects_and_crops(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("VRN_STUDIO_WEIGHTS", str(tmp_path / "none"))
    code = main(["reconstruct", "-o", str(tmp_path / "out"), "--device", "cpu", "--landmarker", "dlib"])
    err = capsys.readouterr().err
    assert code == 0
    assert "detection and crop only" in err and "vrn-studio weights" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "astronaut_crop.png", "astronaut_landmarks.json", "astronaut_overlay.png"
    ]


def test_cli_batch_skips_bad_files_and_exits_1(tmp_path: Path, capsys) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (photos / "astronaut.png").write_bytes(ASTRONAUT.read_bytes())
    code = main(["reconstruct", str(photos), "-o", str(tmp_path / "out"), "--model", "none-such",
                 "--device", "cpu"])
    assert code == 2  # an explicitly named missing model is an error, not a silent fallback
    code = main(["reconstruct", str(photos), "-o", str(tmp_path / "out"), "-f", "landmarks",
                 "--device", "cpu", "--landmarker", "dlib"])
    captured = capsys.readouterr()
    assert code == 1
    assert "failed: " in captured.err and "broken.png" in captured.err
    assert (tmp_path / "out" / "astronaut_landmarks.json").exists()


def test_cli_rejects_unknown_format(capsys) -> None:
    assert main(["reconstruct", "-f", "fbx"]) == 2
    assert "Unknown format(s) fbx" in capsys.readouterr().err


def test_cli_info_lists_backends(capsys) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for word in ("torch", "Devices", "cpu", "Landmarkers", "dlib", "Weights search path"):
        assert word in out


def test_imported_t7_reconstructs_from_the_cli(tmp_path: Path, capsys) -> None:
    """A .t7 goes through `weights import`, then `reconstruct` finds it by name and meshes."""
    from t7_writer import random_vrn, save_t7, vrn_tree

    net = random_vrn(0, features=16, stacks=1, depth_bins=200, hourglass_depth=2)
    head = net.head[-1]
    with torch.no_grad():  # a slab: occupied below depth 100, empty above
        head.weight.zero_()
        head.bias.copy_(torch.where(torch.arange(200) < 100, 5.0, -5.0))
    t7 = save_t7(vrn_tree(net), tmp_path / "slab.t7")
    assert main(["weights", "import", str(t7), "--name", "slab"]) == 0
    out = tmp_path / "out"
    code = main(["reconstruct", "--model", "slab", "-o", str(out), "-f", "glb,volume", "--device", "cpu",
                 "--landmarker", "dlib"])
    assert code == 0, capsys.readouterr().err
    assert "model slab" in capsys.readouterr().out
    from vrn_studio.export import load_volume

    volume, _ = load_volume(out / "astronaut_volume.npz")
    assert volume[:100].min() > 0.99 and volume[100:].max() < 0.01
    assert (out / "astronaut.glb").read_bytes()[:4] == b"glTF"
