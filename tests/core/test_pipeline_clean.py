"""Smoothing and decimation in the pipeline: the cleaned mesh, its photo copy, the CLI options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from fakes import ASTRONAUT_LANDMARKS, EllipsoidNet

from vrn_studio.cli.main import main
from vrn_studio.eval.surface import terracing
from vrn_studio.image import sample_image_path
from vrn_studio.mesh import mesh_to_photo
from vrn_studio.pipeline import Reconstructor, Result

ASTRONAUT = sample_image_path("astronaut")


def run(**options: object) -> Result:
    return Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu", **options).reconstruct(
        ASTRONAUT, face=ASTRONAUT_LANDMARKS
    )


@pytest.fixture(scope="module")
def plain() -> Result:
    return run()


def test_without_options_the_cleaned_mesh_is_bump_removals(plain: Result) -> None:
    assert plain.mesh_clean is None and plain.mesh is plain.bumps.kept
    assert "clean" in plain.timings


def test_smoothing_takes_out_the_terraces_and_the_photo_mesh_follows(plain: Result) -> None:
    smooth = run(smooth=60)
    assert smooth.mesh is smooth.mesh_clean and np.array_equal(smooth.mesh.faces, plain.mesh.faces)
    assert terracing(smooth.mesh)[1] < 0.6 * terracing(plain.mesh)[1]
    assert np.linalg.norm(smooth.mesh.vertices - plain.mesh.vertices, axis=1).max() < 1.5
    assert np.allclose(smooth.mesh_photo.vertices, mesh_to_photo(smooth.mesh, smooth.transform).vertices)
    assert np.array_equal(smooth.mesh_raw.vertices, plain.mesh_raw.vertices)  # the raw surface stays for "before"


def test_decimation_gives_about_the_triangles_asked_for(plain: Result) -> None:
    light = run(smooth=20, target_faces=5000)
    assert 4500 <= light.mesh.n_faces <= 5000 < plain.mesh.n_faces
    assert light.mesh_photo.n_faces == light.mesh.n_faces
    assert light.mesh.colors is not None and len(light.mesh.colors) == light.mesh.n_vertices


@pytest.mark.parametrize("options", [{"smooth": -1}, {"target_faces": 2}])
def test_bad_clean_up_settings_are_refused(options: dict) -> None:
    with pytest.raises(ValueError):
        Reconstructor(None, **options)


def test_cli_smooths_and_decimates(tmp_path: Path, shipped_weights: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconstruct", str(ASTRONAUT), "-o", str(tmp_path), "-f", "ply", "--landmarker", "dlib",
                 "--smooth", "30", "--triangles", "8000"]) == 0
    mesh = trimesh.load(tmp_path / "astronaut.ply", process=False)
    assert 7000 <= len(mesh.faces) <= 8000
    for bad in (["--smooth", "-3"], ["--triangles", "1"], ["--smooth", "x"]):
        with pytest.raises(SystemExit):
            main(["reconstruct", str(ASTRONAUT), "-o", str(tmp_path), *bad])
    assert "must be at least" in capsys.readouterr().err
