"""The ICT head fit: recovers a known head, follows the volume, closed outward mesh, bad input, pipeline and CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from gltf_validator import validate

from vrn_studio import Reconstructor
from vrn_studio.cli.main import main as cli_main
from vrn_studio.export import read_glb
from vrn_studio.headfit import HEAD_FITS, HeadFit, expression_rig, fit_head, load_ict
from vrn_studio.headfit.fit import FIRST_POSE_LANDMARKS
from vrn_studio.headfit.ict import NARROW_FACE
from vrn_studio.image import sample_image_path
from vrn_studio.mesh import signed_volume
from vrn_studio.pipeline import save_result
from vrn_studio.train.synthetic import SyntheticFaces
from vrn_studio.train.voxelise import is_closed

ASTRONAUT = sample_image_path()


@pytest.fixture(scope="module")
def faces() -> SyntheticFaces:
    return SyntheticFaces(seed=31)


def _face_error(head: HeadFit, vertices: np.ndarray) -> float:
    """RMS distance over the narrow face between the fitted and the true head (same topology),
    in the fitted head's interocular distances."""
    model = load_ict()
    interocular = head.scale * np.linalg.norm(model.neutral[model.landmarks[36]] - model.neutral[model.landmarks[45]])
    gap = head.mesh.vertices[:NARROW_FACE] - vertices[:NARROW_FACE]
    return float(np.sqrt((gap**2).sum(axis=1).mean()) / interocular)


@pytest.mark.parametrize(("index", "yaw"), [(0, 0.0), (1, 30.0), (3, 90.0)])
def test_fit_recovers_a_synthetic_head_from_its_volume_and_landmarks(faces: SyntheticFaces, index: int, yaw: float) -> None:
    face = faces.sample(index, yaw=yaw)
    volume = face.target().astype(np.float32)
    start = fit_head(volume, face.landmarks, iterations=0)  # the neutral head at the first pose
    head = fit_head(volume, face.landmarks)
    assert _face_error(head, face.vertices) < 0.6 * _face_error(start, face.vertices)
    assert _face_error(head, face.vertices) < 0.045
    assert head.landmark_error < 0.025 and head.surface_error < 0.045 and head.surface_points > 300
    assert head.identity.shape == (100,) and head.expression.shape == (53,)
    assert ((head.expression >= 0) & (head.expression <= 1)).all()
    assert np.allclose(head.rotation @ head.rotation.T, np.eye(3)) and np.linalg.det(head.rotation) > 0


def test_fitted_head_is_a_closed_outward_coloured_mesh_in_crop_space(faces: SyntheticFaces) -> None:
    face = faces.sample(0, yaw=0.0)
    head = fit_head(face.target().astype(np.float32), face.landmarks, image=face.image)
    mesh = head.mesh
    assert mesh.n_vertices == 11252 and is_closed(mesh.faces) and signed_volume(mesh) > 0
    nose = load_ict().landmarks[30]
    assert mesh.normals[nose, 2] > 0.8  # the nose tip of a frontal face looks at the camera (+z)
    x, y = np.round(mesh.vertices[nose, :2]).astype(int)
    assert np.abs(mesh.colors[nose].astype(int) - face.image[y, x].astype(int)).max() <= 40


def test_fit_follows_the_volume_surface(faces: SyntheticFaces) -> None:
    face = faces.sample(1, yaw=30.0)
    volume = face.target().astype(np.float32)
    nearer = np.zeros_like(volume)
    nearer[10:] = volume[:-10]  # the same head 10 depth bins (5 crop pixels) nearer the camera
    moved = fit_head(nearer, face.landmarks).translation[2] - fit_head(volume, face.landmarks).translation[2]
    assert moved == pytest.approx(5.0, abs=0.5)


def test_fit_without_a_surface_places_the_landmarks_mid_volume(faces: SyntheticFaces) -> None:
    face = faces.sample(0, yaw=0.0)
    head = fit_head(np.zeros((200, 192, 192), np.float32), face.landmarks)
    assert head.surface_points == 0 and np.isnan(head.surface_error) and head.landmark_error < 0.03
    marks = head.mesh.vertices[load_ict().landmarks[FIRST_POSE_LANDMARKS]]
    assert marks[:, 2].mean() == pytest.approx(50.0, abs=1.0)  # 200 bins x 0.5 px / 2


def test_fit_rejects_bad_input(faces: SyntheticFaces) -> None:
    face = faces.sample(0, yaw=0.0)
    volume = np.zeros((200, 192, 192), np.float32)
    with pytest.raises(ValueError, match="68 finite"):
        fit_head(volume, face.landmarks[:60])
    with pytest.raises(ValueError, match="68 finite"):
        fit_head(volume, np.where(np.arange(68)[:, None] == 5, np.nan, face.landmarks))
    with pytest.raises(ValueError, match="no face"):
        fit_head(volume, np.full((68, 2), 96.0))
    with pytest.raises(ValueError, match="depth, height, width"):
        fit_head(volume[0], face.landmarks)


def test_reconstructor_shows_the_fitted_head_and_keeps_the_network_mesh(shipped_weights: Path) -> None:
    plain = Reconstructor("vrn-studio-guided-v2", landmarker="dlib", device="cpu")
    fitted = Reconstructor("vrn-studio-guided-v2", landmarker="dlib", device="cpu", head_fit="ict", smooth=60)
    lighter = Reconstructor("vrn-studio-guided-v2", landmarker="dlib", device="cpu", head_fit="ict", target_faces=5000)
    marks = plain.reconstruct(ASTRONAUT).face.landmarks
    without, with_head = plain.reconstruct(ASTRONAUT, face=marks), fitted.reconstruct(ASTRONAUT, face=marks)
    assert without.head is None and without.mesh is without.bumps.kept
    assert isinstance(with_head.head, HeadFit) and with_head.mesh is with_head.head.mesh
    assert with_head.mesh_clean is None  # nothing shows the network's mesh smoothed, so it is not
    assert 4000 <= lighter.reconstruct(ASTRONAUT, face=marks).mesh.n_faces <= 5000  # decimation applies to the head
    assert np.array_equal(with_head.volume, without.volume) and "fit" in with_head.timings
    assert with_head.bumps.kept.n_vertices == without.bumps.kept.n_vertices  # the network's mesh is still there
    # The head lies over the face in the photo: its landmark vertices project onto the landmarks.
    photo_marks = with_head.mesh_photo.vertices[load_ict().landmarks[17:], :2]
    interocular = np.linalg.norm(marks[36] - marks[45])
    assert np.median(np.linalg.norm(photo_marks - marks[17:], axis=1)) < 0.1 * interocular
    with pytest.raises(ValueError, match="head_fit must be one of none, ict"):
        Reconstructor(None, head_fit="flame")
    assert HEAD_FITS == ("none", "ict")


def test_cli_writes_the_fitted_head_by_default_and_the_network_mesh_on_request(
    tmp_path: Path, shipped_weights: Path
) -> None:
    args = ["reconstruct", str(ASTRONAUT), "-f", "ply", "--landmarker", "dlib", "--model", "vrn-studio-guided-v2"]
    assert cli_main([*args, "-o", str(tmp_path / "head")]) == 0
    assert cli_main([*args, "-o", str(tmp_path / "net"), "--head-fit", "none"]) == 0
    head = trimesh.load(tmp_path / "head" / "astronaut.ply", process=False)
    net = trimesh.load(tmp_path / "net" / "astronaut.ply", process=False)
    assert len(head.vertices) == 11252 and len(net.vertices) != 11252
    assert head.visual.vertex_colors.shape[0] == 11252


def test_expression_rig_gives_the_fitted_head_back(faces: SyntheticFaces) -> None:
    face = faces.sample(2, yaw=30.0)
    head = fit_head(face.target().astype(np.float32), face.landmarks, image=face.image)
    base, targets, names = expression_rig(head, image=face.image)
    assert targets.shape == (53, 11252, 3) and len(names) == 53 and "jawOpen" in names
    assert np.allclose(base.vertices + np.tensordot(head.expression, targets, axes=1), head.mesh.vertices, atol=1e-3)
    assert signed_volume(base) > 0 and base.colors.shape == (11252, 3)
    with pytest.raises(ValueError, match="another model"):
        expression_rig(HeadFit(head.mesh, head.identity[:50], head.expression, head.scale, head.rotation,
                               head.translation, 0.0, 0.0, 0))


def test_rigged_glb_opens_as_the_fitted_head_and_names_its_blendshapes(tmp_path: Path, shipped_weights: Path) -> None:
    rec = Reconstructor("vrn-studio-guided", landmarker="dlib", device="cpu", head_fit="ict")
    result = rec.reconstruct(ASTRONAUT)
    written = save_result(result, tmp_path, outputs=["glb", "rigged-glb"])
    assert [p.name for p in written] == ["astronaut.glb", "astronaut_rigged.glb"]
    plain, plain_arrays = read_glb(written[0].read_bytes())
    rigged, arrays = read_glb(written[1].read_bytes())
    mesh = rigged["meshes"][0]
    targets = np.stack([arrays[t["POSITION"]] for t in mesh["primitives"][0]["targets"]])
    assert mesh["extras"]["targetNames"][:3] == list(load_ict().expression_names[:3]) and len(targets) == 53
    assert np.allclose(mesh["weights"], result.head.expression)
    # At its default weights the rig is the head the other exports hold.
    shown = arrays[mesh["primitives"][0]["attributes"]["POSITION"]] + np.tensordot(mesh["weights"], targets, axes=1)
    assert np.allclose(shown, plain_arrays[plain["meshes"][0]["primitives"][0]["attributes"]["POSITION"]], atol=1e-3)
    reports = validate(written)
    assert [r["numErrors"] for r in reports] == [0, 0] and [r["numWarnings"] for r in reports] == [0, 0], reports
    plain_result = Reconstructor("vrn-studio-guided", landmarker="dlib", device="cpu").reconstruct(
        ASTRONAUT, face=result.face.landmarks)
    assert save_result(plain_result, tmp_path / "none", outputs=["rigged-glb"]) == []  # no head, nothing to rig
