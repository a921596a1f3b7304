"""Surface-quality figures (normal error, terracing) and the fixed-test-set evaluation script."""

from __future__ import annotations

import itertools
import json
import runpy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import trimesh

from vrn_studio.eval import align_onto_region, face_region_mask, nme
from vrn_studio.eval.dataset import Sample
from vrn_studio.eval.surface import (
    FACE_PARTS,
    measure_prediction,
    normal_angle_error,
    normal_angles,
    outward,
    part_masks,
    terracing,
)
from vrn_studio.mesh import Mesh, euler_rotation
from vrn_studio.pipeline import Reconstructor
from vrn_studio.train.synthetic import GENERATOR_VERSION, SyntheticFaces

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "evaluate_ict_testset.py"
WEIGHTS = Path(__file__).resolve().parents[2] / "weights" / "vrn-studio-guided.safetensors"
"""The built-in model v1 (the tests' data folders hide the installed models, not this file)."""


def sphere(radius: float = 10.0) -> Mesh:
    ico = trimesh.creation.icosphere(subdivisions=4, radius=radius)
    return Mesh(np.asarray(ico.vertices), np.asarray(ico.faces))


def dome(x: np.ndarray, y: np.ndarray, curvature: float) -> np.ndarray:
    """Height of a cap bulging towards +z (so its outward side is well defined), centre (20, 20)."""
    return 30 - curvature * ((x - 20) ** 2 + (y - 20) ** 2)


def grid(height: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Mesh:
    """A 40 x 40 height field z = height(x, y), two triangles per cell, normals towards +z."""
    y, x = np.mgrid[0:40, 0:40].astype(np.float64)
    vertices = np.column_stack([x.ravel(), y.ravel(), height(x, y).ravel()])
    i = (np.arange(39)[:, None] * 40 + np.arange(39)[None]).ravel()
    faces = np.concatenate([np.column_stack([i, i + 1, i + 41]), np.column_stack([i, i + 41, i + 40])])
    mesh = Mesh(vertices, faces)
    assert outward(mesh) == 1.0
    return mesh


def test_outward_is_the_winding_sign_and_normal_error_ignores_the_convention() -> None:
    ball = sphere()
    flipped = Mesh(ball.vertices, ball.faces[:, ::-1].copy())
    assert outward(ball) == 1.0 and outward(flipped) == -1.0
    everywhere = np.ones(len(ball.vertices), bool)
    assert normal_angle_error(flipped, ball, everywhere) < 0.01  # float32 normals


def test_normal_error_measures_a_tilt() -> None:
    cap = grid(lambda x, y: dome(x, y, 1e-4))
    centre = [20.0, 20.0, 30.0]
    tilted = Mesh((cap.vertices - centre) @ euler_rotation(0.0, np.radians(10.0), 0.0).T + centre, cap.faces)
    inner = np.ones(len(cap.vertices), bool)
    assert normal_angle_error(tilted, cap, inner) == pytest.approx(10.0, abs=0.2)
    angles = normal_angles(tilted, cap, inner)
    assert angles.shape == (len(cap.vertices),) and np.median(angles) == pytest.approx(10.0, abs=0.2)


def test_terracing_is_zero_on_a_plane_and_large_on_stairs() -> None:
    median, p90 = terracing(grid(lambda x, y: dome(x, y, 1e-4)))  # nearly flat
    assert median < 0.1 and p90 < 0.1
    # A smooth dome bends a little between every pair of triangles.
    median, p90 = terracing(grid(lambda x, y: dome(x, y, 0.02)))
    assert 0.5 < median <= p90 < 5
    # The same dome in 2-unit terraces (contour rings, as a coarse volume meshes a nose).
    median, p90 = terracing(grid(lambda x, y: 2.0 * np.floor(dome(x, y, 0.02) / 2)))
    assert median < 0.5 and p90 > 30


def test_align_onto_region_is_what_nme_aligns_with() -> None:
    face = SyntheticFaces(seed=8, size=48).sample(0)
    region = face_region_mask(face.vertices, face.landmarks_3d)
    moved = face.vertices @ euler_rotation(0.05, -0.04, 0.03).T + [1.0, -2.0, 0.5]
    aligned = align_onto_region(moved, face.vertices[region])
    assert np.abs(aligned - face.vertices).max() < 1e-3
    assert nme(moved, face.vertices, gt_landmarks_3d=face.landmarks_3d, region_mask=region, align="icp") == (
        nme(aligned, face.vertices, gt_landmarks_3d=face.landmarks_3d, region_mask=region)
    )


def test_the_ground_truth_measures_perfect() -> None:
    face = SyntheticFaces(seed=8, size=48).sample(1)
    mesh = Mesh(face.vertices, face.faces)
    sample = Sample("x", Path("x.png"), mesh, face.landmarks, face.landmarks_3d)
    figures = measure_prediction(mesh, sample)
    assert figures["nme"] < 1e-6 and figures["normal_error_degrees"] < 0.01
    assert figures["normal_error_median_degrees"] < 0.01
    assert figures["region_vertices"] > 1000


def test_script_writes_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.json"
    argv = ["evaluate_ict_testset.py", "--set", "mediapipe", "--count", "1", "--no-oracle", "--model", str(WEIGHTS),
            "--out", str(out)]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert done.value.code == 0
    report = json.loads(out.read_text())
    assert report["test_set"]["seed"] == 1000 and report["test_set"]["source"] == "mediapipe"
    assert sorted(report["by_abs_yaw_degrees"]) == ["0", "45", "90"]
    frontal = report["by_abs_yaw_degrees"]["0"]
    assert 0 < frontal["mean_nme"] < 0.2 and 0 < frontal["mean_normal_error_degrees"] < 90
    assert "oracle" not in frontal and len(frontal["samples"]) == 1


def test_script_oracle_scores_the_targets_themselves(tmp_path: Path) -> None:
    script = runpy.run_path(str(SCRIPT))
    faces = SyntheticFaces(seed=2000)
    report = script["evaluate_yaw"](Reconstructor(str(WEIGHTS), device="cpu"), faces, 30.0, 1, tmp_path, True)
    assert report["oracle"]["fill"] == "solid" and report["oracle"]["generator_version"] == GENERATOR_VERSION
    for kind in ("binary_targets", "soft_targets"):
        oracle = report["oracle"][kind]
        assert oracle["mean_nme"] < 0.6 * report["mean_nme"]  # the targets beat model v1 by far
        assert oracle["mean_normal_error_degrees"] < report["mean_normal_error_degrees"]


def test_oracle_only_replaces_the_oracle_blocks_and_keeps_the_model_rows(tmp_path: Path) -> None:
    script = runpy.run_path(str(SCRIPT))
    faces = SyntheticFaces(seed=2000)
    solid = script["evaluate_oracle"](faces, 90.0, 1, tmp_path / "solid")
    behind = script["evaluate_oracle"](SyntheticFaces(seed=2000, fill="behind"), 90.0, 1, tmp_path / "behind")
    assert solid["fill"] == "solid" and behind["fill"] == "behind"
    assert solid["binary_targets"]["mean_nme"] <= behind["binary_targets"]["mean_nme"] + 1e-3
    old_oracle = {"binary_targets": {"mean_nme": 0.05}, "soft_targets": {"mean_nme": 0.05}}
    report = {"by_abs_yaw_degrees": {"90": {"mean_nme": 0.06, "samples": [], "oracle": old_oracle}}}
    merged = script["merge_oracle"](report, {"90": solid})["by_abs_yaw_degrees"]["90"]
    assert merged["mean_nme"] == 0.06 and merged["oracle"] is solid
    # The block written before fills were recorded was version 3's behind-fill targets: kept, labelled.
    assert merged["oracle_behind"] == {"fill": "behind", "generator_version": 3, **old_oracle}
    again = script["merge_oracle"](report, {"90": solid})["by_abs_yaw_degrees"]["90"]
    assert again["oracle"] is solid and again["oracle_behind"]["generator_version"] == 3


def test_oracle_references_the_network_resolution_and_another_face(tmp_path: Path) -> None:
    script = runpy.run_path(str(SCRIPT))
    block = script["evaluate_oracle"](SyntheticFaces(seed=2000), 0.0, 3, tmp_path)
    own, coarse, other = (block[k]["mean_nme"] for k in ("binary_targets", "binary_96px_targets",
                                                           "another_face_targets"))
    assert own < coarse < 1.5 * own  # the 96 px grid costs a little
    assert other > 1.5 * own  # another person's exact head is far from this one
    head = block["exact_head_targets"]  # a whole head covers the landmark hull and spreads beyond it
    assert head["min_silhouette_coverage"] > 0.9 and 2.0 < head["mean_silhouette_spread"] < 4.5
    assert "another_face_targets" not in script["evaluate_oracle"](SyntheticFaces(seed=2000), 0.0, 2, tmp_path)


def test_the_nme_by_part_finds_where_the_error_is() -> None:
    face = SyntheticFaces(seed=8, size=96).sample(1)
    mesh = Mesh(face.vertices, face.faces)
    sample = Sample("x", Path("x.png"), mesh, face.landmarks, face.landmarks_3d)
    region = face_region_mask(face.vertices, face.landmarks_3d)
    parts = part_masks(face.vertices, face.landmarks_3d, region)
    assert not any((a & b).any() for a, b in itertools.combinations(parts.values(), 2))
    assert np.array_equal(np.logical_or.reduce(list(parts.values())), region)
    perfect = measure_prediction(mesh, sample)
    assert {f"nme_{part}" for part in FACE_PARTS if parts[part].any()} <= perfect.keys()
    assert all(value < 1e-6 for key, value in perfect.items() if key.startswith("nme"))
    nose = np.zeros(len(face.vertices), bool)
    nose[parts["nose"]] = True
    moved = face.vertices.copy()
    moved[nose, 2] += 2.0  # a nose 2 px too prominent, the rest exact
    figures = measure_prediction(Mesh(moved, face.faces), sample)
    assert figures["nme_nose"] > 5 * max(figures["nme_eyes"], figures["nme_mouth"], figures["nme_brows"])
    assert figures["nme_nose"] > figures["nme"] > 0
