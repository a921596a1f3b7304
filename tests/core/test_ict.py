"""The ICT Face Model source: shipped subset, closed head, expressions, exact landmarks, jaw marching, ears."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt

from vrn_studio.cli.main import main as cli_main
from vrn_studio.eval.nme import face_region_mask
from vrn_studio.headfit.ict import ICT_PATH, load_ict
from vrn_studio.mesh import Mesh, signed_volume
from vrn_studio.mesh.raster import front_surface
from vrn_studio.train.ict import sample_expression
from vrn_studio.train.synthetic import MEDIAPIPE_TO_IBUG68, IctSource, SyntheticFaces
from vrn_studio.train.voxelise import is_closed


@pytest.fixture(scope="module")
def faces() -> SyntheticFaces:
    return SyntheticFaces(seed=31)


def test_shipped_subset_is_small_and_capped_into_a_closed_outward_head() -> None:
    assert ICT_PATH.stat().st_size < 10e6
    model = load_ict()
    assert model.neutral.shape == (11248, 3) and model.identity.shape == (100, 3 * 11248)
    assert model.expression.shape == (53, 3 * 11248) and len(model.expression_names) == 53
    assert sorted(map(len, model.loops)) == [42, 42, 54, 74]  # eyelids, neck, inner lips
    head = model.close(model.neutral)
    assert is_closed(model.faces) and signed_volume(Mesh(head, model.faces)) > 0  # normals outward
    # The outer interocular distance of the neutral head (README: 8.92 cm).
    assert np.linalg.norm(head[model.landmarks[36]] - head[model.landmarks[45]]) == pytest.approx(8.92, abs=0.01)


def test_expressions_are_sparse_weights_in_the_unit_interval_and_often_neutral() -> None:
    model = load_ict()
    draws = np.array([sample_expression(model, np.random.default_rng(i)) for i in range(300)])
    assert draws.min() >= 0 and draws.max() <= 1
    active = (draws > 0).sum(axis=1)
    assert 0.2 < (active == 0).mean() < 0.4
    assert active.max() <= 6  # at most three groups, a pair being two shapes
    names = model.expression_names
    assert (draws[:, names.index("jawOpen")] > 0).mean() > (draws[:, names.index("cheekPuff_L")] > 0).mean()
    assert not draws[:, [i for i, n in enumerate(names) if n.startswith("eyeLook")]].any()


def test_same_seed_and_index_give_the_same_head(faces: SyntheticFaces) -> None:
    a, b = faces.sample(2), SyntheticFaces(seed=31).sample(2)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.vertices, b.vertices)
    assert np.array_equal(a.landmark_vertices, b.landmark_vertices)
    assert not np.array_equal(a.vertices, faces.sample(3).vertices)


@pytest.mark.parametrize("yaw", [0.0, 60.0, -90.0])
def test_landmarks_are_the_projected_landmark_vertices(faces: SyntheticFaces, yaw: float) -> None:
    face = faces.sample(4, yaw=yaw)
    assert np.array_equal(face.landmarks, face.vertices[face.landmark_vertices, :2])
    assert np.array_equal(face.landmarks_3d, face.vertices[face.landmark_vertices])


def test_hidden_jaw_contour_lies_on_the_silhouette_at_profile(faces: SyntheticFaces) -> None:
    model = load_ict()
    for index, yaw in enumerate([90.0, -90.0, 90.0, -90.0]):
        face = faces.sample(10 + index, yaw=yaw)
        hidden = list(range(9, 17)) if yaw > 0 else list(range(8))
        visible = list(range(8)) if yaw > 0 else list(range(9, 17))
        # The hidden side's landmarks moved; the visible side's are the model's own vertices.
        assert (face.landmark_vertices[hidden] != model.landmarks[hidden]).all()
        assert np.array_equal(face.landmark_vertices[visible], model.landmarks[visible])
        # Each moved landmark is on the head's outline: within a pixel of the background.
        to_background = distance_transform_edt(np.isfinite(face.front))
        pixels = np.clip(np.rint(face.landmarks[hidden]).astype(int), 0, 191)
        assert to_background[pixels[:, 1], pixels[:, 0]].max() <= 1.5
        # The model's own vertices are hidden: the visible surface over them is far in front.
        own = face.vertices[model.landmarks[hidden]]
        over = np.clip(np.rint(own[:, :2]).astype(int), 0, 191)
        assert (face.front[over[:, 1], over[:, 0]] * 0.5 - own[:, 2] > 5).all()


def test_frontal_jaw_contour_is_the_model_landmarks(faces: SyntheticFaces) -> None:
    model = load_ict()
    for index in range(4):
        face = faces.sample(20 + index, yaw=0.0)
        # Only a contour point by the ear whose normal happens to face away moves, and hardly.
        shift = np.linalg.norm(face.landmarks - face.vertices[model.landmarks, :2], axis=1)
        assert np.array_equal(face.landmark_vertices[17:], model.landmarks[17:]) and shift.max() < 4


def _frontal_front(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Front-surface depth (z, cm * 10) of a neutral-frame head at 10 px per cm on a 240 px grid."""
    image = np.column_stack([vertices[:, 0] * 10 + 120, -vertices[:, 1] * 10 + 100, vertices[:, 2] * 10])
    return front_surface(image, faces, 240, 240)[0]


def test_eyes_and_mouth_are_closed_so_no_column_looks_into_the_head() -> None:
    model = load_ict()
    names = model.expression_names
    weights = np.zeros(len(names))
    weights[[names.index("jawOpen"), names.index("eyeWide_L"), names.index("eyeWide_R")]] = 1.0
    head = model.close(model.neutral + (weights.astype(np.float32) @ model.expression).reshape(-1, 3))
    marks = head[model.landmarks]
    # Columns inside the eyelid and inner-lip openings (landmarks 36-47, 60-67).
    inner = np.zeros((240, 240), bool)
    for ring in (range(36, 42), range(42, 48), range(60, 68)):
        points = np.column_stack([marks[list(ring), 0] * 10 + 120, -marks[list(ring), 1] * 10 + 100])
        cv2.fillPoly(inner.view(np.uint8), [np.rint(points).astype(np.int32)], 1)
    assert inner.sum() > 300  # the mouth is open
    capped = _frontal_front(head, model.faces)[inner]
    assert capped.min() > marks[:, 2].min() * 10 - 15  # membranes across the openings
    skin_only = _frontal_front(head, model.faces[: -sum(map(len, model.loops))])[inner]
    assert np.nanmin(np.where(np.isfinite(skin_only), skin_only, np.nan)) < marks[:, 2].min() * 10 - 50


def test_the_near_ear_is_seen_and_cut_flat_at_the_grids_front_at_profile(faces: SyntheticFaces) -> None:
    model = load_ict()
    for index, yaw in enumerate([90.0, -90.0]):
        face = faces.sample(30 + index, yaw=yaw)
        # Yaw +90 turns the subject's right side (x < 0) to the camera.
        ear_height = (model.neutral[:, 1] > 0) & (model.neutral[:, 1] < 6)  # cm; the neck is wider below
        side = np.where(ear_height, model.neutral[:, 0], np.nan)
        tip = int(np.nanargmin(side)) if yaw > 0 else int(np.nanargmax(side))
        x, y, z = face.vertices[tip]
        assert 0 <= x < 191 and 0 <= y < 191
        column = face.front[round(y), round(x)]
        assert abs(column * 0.5 - z) < 3  # the ear tip is the visible surface there (crop pixels)
        # The face is centred in depth, so the near side of the head leaves the grid's front (version 5):
        # its columns are filled up to the last depth bin.
        assert column > 199.5 and face.target()[-1, round(y), round(x)]
        covered = np.isfinite(face.front)
        cut = covered & (face.front > 199.5)
        assert 0.05 < cut.sum() / covered.sum() < 0.5 and face.target()[-1][cut].all()  # 23 % on average


@pytest.mark.parametrize("yaw", [90.0, -90.0])
def test_at_profile_the_face_is_in_the_grid_and_its_hidden_half_closed_by_the_back_surface(
    faces: SyntheticFaces, yaw: float
) -> None:
    face = faces.sample(40, yaw=yaw)
    depth = face.landmarks_3d[:, 2] / 0.5  # depth indices of the 200-bin grid, [-0.5, 199.5]
    assert depth.mean() == pytest.approx(100.0)  # the landmarks' mean depth at the middle, as frontal
    assert ((depth[27:] > -0.5) & (depth[27:] < 199.5)).all()  # nose, eyes and mouth
    region = face.vertices[face_region_mask(face.vertices, face.landmarks_3d), 2] / 0.5  # the NME's region
    assert ((region > -0.5) & (region < 199.5)).mean() > 0.95
    # The hidden eye (yaw +90 shows the subject's right side, iBUG 36-41): the target's columns over it
    # end at the head's back surface inside the grid, not at the back of the grid.
    hidden = list(range(42, 48)) if yaw > 0 else list(range(36, 42))
    pixels = np.rint(face.landmarks[hidden]).astype(int)
    back = face.back[pixels[:, 1], pixels[:, 0]]
    assert (back > 0.5).all()
    assert not face.target()[0, pixels[:, 1], pixels[:, 0]].any()


def test_mediapipe_source_by_name_and_unknown_names_refused(tmp_path: Path) -> None:
    face = SyntheticFaces(seed=1, source="mediapipe").sample(0)
    assert np.array_equal(face.landmark_vertices, MEDIAPIPE_TO_IBUG68)
    assert len(face.vertices) == 7257
    with pytest.raises(ValueError, match="unknown synthetic source"):
        SyntheticFaces(source="bfm")
    assert cli_main(["synthesize", str(tmp_path), "-n", "1", "--source", "mediapipe"]) == 0
    with pytest.raises(SystemExit, match="--source"):
        cli_main(["synthesize", str(tmp_path), "-n", "1", "--source", "bfm"])


def test_source_pickles_by_path_for_worker_processes() -> None:
    source = IctSource()
    data = pickle.dumps(source)
    assert len(data) < 1000
    assert pickle.loads(data).model is source.model  # the cached model of this process
