"""VRN Studio's built-in model (weights/): found offline, used by default, plausible on real photos.

The two photos in resources/ are real faces; there is no ground truth, so the checks are
the plausibility figures of :mod:`vrn_studio.eval.face_checks`: the mesh covers the face
(IoU with the landmarks' convex hull at least 0.7) and the nose stands out in front of the
eyes (by at least 0.15 of the outer interocular distance, as on a real face).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trimesh

from vrn_studio import Reconstructor
from vrn_studio.cli.main import main as cli_main
from vrn_studio.eval.face_checks import nose_protrusion, silhouette_iou
from vrn_studio.image import sample_image_path
from vrn_studio.model import VRN
from vrn_studio.weights import store
from vrn_studio.weights.store import DEFAULT_MODELS, find_model, load_model

BUILT_IN = "vrn-studio-guided"
PHOTOS = ["astronaut.png", "grace_hopper.jpg"]


@pytest.fixture(scope="module")
def reconstructor() -> Reconstructor:
    with pytest.MonkeyPatch.context() as mp:
        from tests.conftest import PROJECT_WEIGHTS

        mp.setattr("vrn_studio.weights.store.project_dir", lambda: PROJECT_WEIGHTS)
        return Reconstructor("default", landmarker="dlib", device="cpu")


def test_the_built_in_model_ships_in_the_project_folder(shipped_weights: Path) -> None:
    entry = find_model(BUILT_IN)
    assert entry.path.parent == shipped_weights
    assert entry.manifest.variant == "guided" and entry.manifest.norm == "running"
    assert entry.manifest.size < 50_000_000
    assert (shipped_weights / f"{BUILT_IN}.md").is_file()
    assert BUILT_IN in DEFAULT_MODELS


def test_default_uses_it_when_the_published_weights_are_absent(reconstructor: Reconstructor) -> None:
    assert reconstructor.model_name == BUILT_IN


def test_published_weights_are_preferred_when_installed(shipped_weights: Path) -> None:
    store.save_model(VRN(features=8, stacks=1, depth_bins=8, hourglass_depth=1), store.user_dir(), "vrn-unguided",
                     source="test", licence="MIT",
                     architecture={"features": 8, "stacks": 1, "depth_bins": 8, "hourglass_depth": 1})
    assert load_model("default").manifest.name == "vrn-unguided"


@pytest.mark.parametrize("photo", PHOTOS)
def test_mesh_covers_the_face_and_the_nose_stands_out(reconstructor: Reconstructor, photo: str) -> None:
    result = reconstructor.reconstruct(sample_image_path().parent / photo)
    assert result.model == BUILT_IN
    landmarks = result.face.landmarks
    iou = silhouette_iou(result.mesh_photo, landmarks, result.image.shape[:2])
    assert iou >= 0.7, f"silhouette IoU {iou:.3f} with the landmarks' hull"
    protrusion = nose_protrusion(result.mesh_photo, landmarks)
    assert protrusion >= 0.15, f"nose tip only {protrusion:.3f} interocular in front of the eyes"


def test_readme_first_command_writes_a_mesh(shipped_weights: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["reconstruct", "-o", str(tmp_path), "--landmarker", "dlib"]) == 0
    meshes = sorted(p.name for p in tmp_path.iterdir() if p.suffix in {".obj", ".ply", ".glb", ".stl"})
    assert meshes, f"no mesh written: {sorted(p.name for p in tmp_path.iterdir())}"
    textured = trimesh.load(tmp_path / "astronaut_textured.glb", force="mesh")
    assert textured.visual.kind == "texture" and textured.visual.material.baseColorTexture.size[0] > 64
    out = capsys.readouterr().out
    assert BUILT_IN in out
    assert ", no bumps\n" in out or ", removed 1 bump(s) of " in out
