"""The synthetic face generator: determinism, pose, exact landmarks and volumes, dataset, folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from vrn_studio.cli.main import main as cli_main
from vrn_studio.crop import release_transform
from vrn_studio.eval.dataset import iter_samples, read_mesh
from vrn_studio.mesh import volume_to_mesh
from vrn_studio.model import VRN, release_volume
from vrn_studio.train.augment import FLIP_PERMUTATION
from vrn_studio.train.config import ConfigError, TrainConfig
from vrn_studio.train.loop import build_dataset
from vrn_studio.train.synthetic import (
    MEDIAPIPE_TO_IBUG68,
    TEMPLATE_PATH,
    SyntheticDataset,
    SyntheticFaces,
    load_template,
    rotation_matrix,
    volume_from_front,
    write_folder,
)
from vrn_studio.train.voxelise import voxelise


@pytest.fixture(scope="module")
def faces() -> SyntheticFaces:
    return SyntheticFaces(seed=5)


def test_same_seed_and_index_give_the_same_sample_and_others_differ(faces: SyntheticFaces) -> None:
    a, b = faces.sample(3), SyntheticFaces(seed=5).sample(3)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.vertices, b.vertices)
    assert np.array_equal(a.front, b.front, equal_nan=True)
    assert not np.array_equal(a.image, faces.sample(4).image)
    assert not np.array_equal(a.image, SyntheticFaces(seed=6).sample(3).image)


def test_template_is_the_mediapipe_mesh_subdivided_with_landmarks_mirrored() -> None:
    raw = read_mesh(TEMPLATE_PATH)
    assert raw.vertices.shape == (468, 3) and raw.faces.shape == (898, 3)
    t = load_template()
    assert len(t.vertices) > 7000 and len(t.faces) == 898 * 16
    marks = t.vertices[t.landmarks]
    # Mirror partners (iBUG permutation) are mirror images in the template (x -> -x).
    mirrored = marks[FLIP_PERMUTATION] * [-1, 1, 1]
    assert np.abs(mirrored - marks).max() < 0.35  # cm, on a face 15 cm wide
    # The nose tip (30) is the front-most landmark; the outer eye corners (36, 45) are far apart.
    assert marks[:, 2].argmax() == 30
    assert 8 < np.linalg.norm(marks[36] - marks[45]) < 10
    assert len(set(MEDIAPIPE_TO_IBUG68)) == 68


def test_landmarks_are_the_projected_landmark_vertices_framed_by_the_release_rule(faces: SyntheticFaces) -> None:
    face = faces.sample(0, yaw=0.0)
    assert np.array_equal(face.landmarks, face.vertices[face.landmark_vertices, :2])
    assert np.array_equal(face.landmarks_3d, face.vertices[face.landmark_vertices])
    # The framing is the release's: re-framing the crop's own landmarks is the identity.
    again = release_transform(face.landmarks)
    assert again.scale == pytest.approx(1.0) and abs(again.tx) < 1e-6 and abs(again.ty) < 1e-6
    # The mean landmark depth sits at the middle of the 200-bin volume (index 100 = 50 px), at any
    # pose (profile: tests/core/test_ict.py); frontal, the whole head lies behind the grid's front.
    assert face.vertices[:, 2].max() < 99.5
    assert face.landmarks_3d[:, 2].mean() == pytest.approx(50.0)


@pytest.mark.parametrize("yaw", [0.0, 45.0, 90.0])
def test_yaw_override_turns_the_head(faces: SyntheticFaces, yaw: float) -> None:
    face = faces.sample(1, yaw=yaw)
    assert face.yaw == yaw
    marks = face.landmarks_3d
    # Rotation about the vertical axis: the eye corners' depth difference grows with yaw
    # (roll and pitch are drawn too, so compare with the frontal sample, not with zero).
    frontal = faces.sample(1, yaw=0.0).landmarks_3d
    gap = abs(marks[36, 2] - marks[45, 2]) / np.linalg.norm(marks[36] - marks[45])
    gap0 = abs(frontal[36, 2] - frontal[45, 2]) / np.linalg.norm(frontal[36] - frontal[45])
    if yaw == 0:
        assert gap < 0.45
    else:
        assert gap > gap0 + 0.3


def test_rotation_matrix_yaw_turns_the_face_towards_plus_x() -> None:
    forward = rotation_matrix(90, 0, 0) @ [0, 0, 1]
    np.testing.assert_allclose(forward, [1, 0, 0], atol=1e-12)
    r = rotation_matrix(20, -10, 30)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)


def test_front_map_is_the_voxelised_mesh(faces: SyntheticFaces) -> None:
    face = faces.sample(2)
    expected = voxelise(face.vertices, face.faces, fill="behind")
    assert np.array_equal(volume_from_front(face.front, 200), expected)
    assert expected.any() and not expected.all()


@pytest.mark.parametrize("yaw", [0.0, 60.0, -90.0])
def test_solid_target_is_the_closed_heads_interior_filled_between_its_surfaces(yaw: float) -> None:
    face = SyntheticFaces(seed=5, size=48).sample(4, yaw=yaw)
    assert face.back is not None and face.back.dtype == np.float32
    covered = np.isfinite(face.front)
    assert np.array_equal(np.isfinite(face.back), covered)  # a closed head: each column enters and leaves
    assert (face.back[covered] <= face.front[covered]).all()
    solid = face.target()
    # Parity inside the closed mesh: the same as the span except where a column crosses four times or
    # more (an ear, the nose over the lips): the span fills those gaps, parity leaves them empty.
    inside = voxelise(face.vertices, face.faces, shape=(50, 48, 48), fill="inside")
    assert not (inside & ~solid).any()
    assert (solid & ~inside).sum() < 0.02 * solid.sum()
    behind = volume_from_front(face.front, 50)
    assert not (solid & ~behind).any()
    # The solid stops at the back surface where that lies in the grid (the turned head's far side at
    # yaw 60, the hidden half of the face at profile); the framing puts the back of the head behind the
    # grid at yaw 0, and at profile the back of the head and the near ear leave the grid.
    in_grid = covered & (face.back > 0)
    assert np.array_equal(solid[:, ~in_grid], behind[:, ~in_grid])
    if abs(yaw) >= 60:
        assert in_grid.sum() > 50 and (behind & ~solid).sum() > 0.02 * behind.sum()


def test_back_surface_below_the_grid_gives_the_behind_volume_exactly() -> None:
    face = SyntheticFaces(seed=5, size=48).sample(1)
    for back in (np.minimum(face.back, -0.51), np.full_like(face.back, -np.inf)):
        assert np.array_equal(volume_from_front(face.front, 50, back=back), volume_from_front(face.front, 50))
        assert np.array_equal(volume_from_front(face.front, 50, back=back, soft=True),
                              volume_from_front(face.front, 50, soft=True))


def test_soft_solid_columns_sum_to_the_clipped_span_and_threshold_to_the_binary_volume() -> None:
    rng = np.random.default_rng(0)
    depth = 20
    back = rng.uniform(-8, 24, (40, 40)).astype(np.float32)
    front = (back + rng.uniform(1, 20, back.shape)).astype(np.float32)  # spans of a voxel or more
    front[:4], back[:4] = -np.inf, np.inf  # empty columns
    front[4:8, :20], back[4:8, :20] = rng.integers(-3, 22, (2, 4, 20)).astype(np.float32)  # on voxel centres
    front[4:8, :20] += 1
    soft = volume_from_front(front, depth, back=back, soft=True)
    binary = volume_from_front(front, depth, back=back)
    assert soft.dtype == np.float32 and soft.min() >= 0 and soft.max() <= 1 and binary.dtype == bool
    span = np.clip(np.minimum(front, depth - 0.5) - np.maximum(back, -0.5), 0, None)
    np.testing.assert_allclose(soft.sum(axis=0), span, rtol=0, atol=2e-5)
    assert (span[:4] == 0).all() and (span > 0).mean() > 0.5 and (span < front - back).any()  # clipped
    centre = np.arange(depth)[:, None, None]
    assert np.array_equal(binary, (back <= centre) & (centre <= front))
    assert np.array_equal(soft >= 0.5, binary)
    # A span thinner than a voxel: the binary volume holds the centre it contains, the soft one its
    # fraction (below 0.5), so the threshold no longer agrees.
    thin = volume_from_front(np.array([[5.2]]), 10, back=np.array([[4.8]]), soft=True)[:, 0, 0]
    assert thin[5] == pytest.approx(0.4) and thin.sum() == pytest.approx(0.4)
    assert volume_from_front(np.array([[5.2]]), 10, back=np.array([[4.8]]))[:, 0, 0].sum() == 1


def test_behind_volumes_keep_the_formula_of_model_v1s_data() -> None:
    # Model v1's targets, as the generator made them before the solid fill: d <= front, and
    # clip(front + 0.5 - d, 0, 1) in float32 arithmetic (bit for bit).
    face = SyntheticFaces(seed=1, size=48, source="mediapipe").sample(0)
    assert face.back is None and SyntheticFaces(size=48, source="mediapipe").fill == "behind"
    centre = np.arange(50)[:, None, None]
    assert np.array_equal(face.target(), centre <= face.front[None])
    assert np.array_equal(face.target(soft=True), np.clip(face.front[None] + 0.5 - centre, 0, 1).astype(np.float32))


def test_fill_defaults_by_source_and_solid_needs_a_closed_head() -> None:
    assert SyntheticFaces(size=24).fill == "solid"
    assert SyntheticFaces(size=24, fill="behind").sample(0).back is None
    with pytest.raises(ValueError, match="closed head"):
        SyntheticFaces(size=24, source="mediapipe", fill="solid")
    with pytest.raises(ValueError, match="unknown fill"):
        SyntheticFaces(size=24, fill="parity")


def test_face_pixels_show_the_mesh_and_the_background_elsewhere(faces: SyntheticFaces) -> None:
    face = faces.sample(7)
    covered = np.isfinite(face.front)
    assert 0.05 < covered.mean() < 0.7
    assert face.image.dtype == np.uint8 and face.image.shape == (192, 192, 3)
    # The landmarks lie on covered pixels (up to blur at the silhouette).
    inside = [covered[round(y), round(x)] for x, y in face.landmarks if 0 <= x < 192 and 0 <= y < 192]
    assert np.mean(inside) > 0.8


def test_smaller_sizes_are_the_area_average_with_aligned_volumes() -> None:
    big, small = SyntheticFaces(seed=2).sample(0), SyntheticFaces(seed=2, size=96).sample(0)
    assert small.image.shape == (96, 96, 3) and small.front.shape == (96, 96)
    averaged = big.image.reshape(96, 2, 96, 2, 3).mean(axis=(1, 3))
    assert np.abs(small.image - averaged).max() <= 0.5 + 1e-9
    np.testing.assert_allclose(small.landmarks, (big.landmarks + 0.5) / 2 - 0.5)
    # Depth indices follow the same centre convention: d' = (d + 0.5) / 2 - 0.5.
    both = np.isfinite(small.front)
    coarse = np.where(np.isfinite(big.front), big.front, np.nan).reshape(96, 2, 96, 2)
    full = both & np.isfinite(coarse).all(axis=(1, 3))
    mean = coarse.mean(axis=(1, 3))[full]
    assert np.median(np.abs((mean + 0.5) / 2 - 0.5 - small.front[full])) < 0.05


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="size"):
        SyntheticFaces(size=100)
    with pytest.raises(ValueError, match="max_yaw"):
        SyntheticFaces(max_yaw=120)


def test_dataset_items_and_cache(tmp_path: Path) -> None:
    data = SyntheticDataset(3, size=48, seed=1, cache=tmp_path)
    item = data[1]
    assert item["image"].shape == (3, 48, 48) and item["image"].dtype == torch.float32
    assert item["volume"].shape == (50, 48, 48) and set(item["volume"].unique().tolist()) <= {0.0, 1.0}
    assert item["landmarks"].shape == (68, 2)
    face = SyntheticFaces(seed=1, size=48).sample(1)
    assert torch.equal(item["volume"].bool(), torch.from_numpy(face.target()))  # solid for ICT
    cached = list(tmp_path.glob("synthetic-*.npz"))
    assert len(cached) == 1
    # A second dataset with the same parameters reads the cache (proved by altering it).
    with np.load(cached[0]) as stored:
        arrays = dict(stored)
    arrays["landmarks"][:] = 7.0
    np.savez(cached[0], **arrays)
    assert torch.equal(SyntheticDataset(3, size=48, seed=1, cache=tmp_path)[0]["landmarks"], torch.full((68, 2), 7.0))


def test_config_selects_synthetic_data_and_checks_sizes(tmp_path: Path) -> None:
    config = TrainConfig(data="synthetic", input_size=48, depth_bins=50, synthetic_samples=2, out_dir=tmp_path)
    assert len(build_dataset(config)) == 2
    with pytest.raises(ConfigError, match="depth_bins"):
        build_dataset(TrainConfig(data="synthetic", input_size=48, depth_bins=40, out_dir=tmp_path))
    with pytest.raises(ConfigError, match="synthetic_max_yaw"):
        TrainConfig(data="synthetic", synthetic_max_yaw=100.0)


def test_written_folder_reads_back_as_a_dataset(tmp_path: Path) -> None:
    faces = SyntheticFaces(seed=4)
    write_folder(faces, tmp_path, 2, yaw=45)
    samples = list(iter_samples(tmp_path))
    assert [s.name for s in samples] == ["synthetic-4-00000", "synthetic-4-00001"]
    face = faces.sample(1, yaw=-45)
    np.testing.assert_allclose(samples[1].mesh.vertices, face.vertices, atol=1e-5)
    np.testing.assert_allclose(samples[1].landmarks_3d, face.landmarks_3d, atol=1e-4)
    pose = json.loads(tmp_path.joinpath("synthetic-4-00001.landmarks.json").read_text())["pose_degrees"]
    assert pose["yaw"] == -45


def test_synthesize_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["synthesize", str(tmp_path / "out"), "-n", "2", "--seed", "3", "--yaw", "90"]) == 0
    assert "wrote 2 face(s)" in capsys.readouterr().out
    assert len(list((tmp_path / "out").glob("*.png"))) == 2


class _TargetNet(VRN):
    """A 96 px / 100-bin 'network' that outputs a given low-resolution volume."""

    def __init__(self, volume: np.ndarray) -> None:
        super().__init__(features=8, stacks=1, depth_bins=100, hourglass_depth=1, input_size=96)
        self.volume = torch.from_numpy(volume).float()[None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-1] == 96
        return self.volume.expand(x.shape[0], -1, -1, -1)


def test_release_volume_brings_a_low_resolution_volume_back_into_register() -> None:
    big, small = SyntheticFaces(seed=9).sample(0), SyntheticFaces(seed=9, size=96).sample(0)
    net = _TargetNet(volume_from_front(small.front, 100))
    volume = release_volume(net, torch.rand(1, 3, 192, 192))[0].numpy()
    assert volume.shape == (200, 192, 192)
    # The resampled volume's surface lies on the full-resolution ground truth (a one-pixel
    # shift gives 0.53 px), and the solids' centroids agree on every axis to a quarter voxel
    # (a half-voxel convention error in any axis shows as 0.5).
    truth = volume_from_front(big.front, 200)
    mesh = volume_to_mesh(volume, level=0.5)
    distance, _ = cKDTree(volume_to_mesh(truth.astype(np.float32), level=0.5).vertices).query(mesh.vertices)
    assert np.median(distance) < 0.42
    centroid = np.array(np.nonzero(volume > 0.5)).mean(axis=1) - np.array(np.nonzero(truth)).mean(axis=1)
    assert np.abs(centroid).max() < 0.25


def test_soft_volume_columns_sum_to_the_exact_depth_and_threshold_to_the_binary_volume() -> None:
    face = SyntheticFaces(seed=3, size=48).sample(0)
    soft = volume_from_front(face.front, 50, soft=True)
    binary = volume_from_front(face.front, 50)
    assert soft.dtype == np.float32 and soft.min() >= 0 and soft.max() <= 1
    inside = np.isfinite(face.front) & (face.front >= -0.5) & (face.front <= 49.5)
    assert inside.sum() > 100
    # Each column holds the solid from the back face of voxel 0 (index -0.5) to the surface.
    np.testing.assert_allclose(soft.sum(axis=0)[inside], face.front[inside] + 0.5, rtol=0, atol=2e-5)
    assert (soft.sum(axis=0)[~np.isfinite(face.front)] == 0).all()
    fractional = (soft > 0) & (soft < 1)
    assert fractional.any(axis=0)[inside].mean() > 0.99  # one boundary voxel per column
    assert fractional.sum(axis=0).max() == 1
    assert np.array_equal(soft >= 0.5, binary)


def test_dataset_and_config_give_soft_targets_and_name_the_source(tmp_path: Path) -> None:
    config = TrainConfig(
        data="synthetic", input_size=24, depth_bins=25, synthetic_samples=2, out_dir=tmp_path,
        synthetic_source="mediapipe", soft_targets=True,
    )
    data = build_dataset(config)
    assert data.faces.source.name == "mediapipe" and data.soft
    volume = data[0]["volume"].numpy()
    face = SyntheticFaces(seed=0, size=24, source="mediapipe").sample(0)
    assert np.array_equal(volume, volume_from_front(face.front, 25, soft=True))
    assert ((volume > 0) & (volume < 1)).any()
    assert [p.name.split("-")[2] for p in tmp_path.glob("synthetic-*.npz")] == ["mediapipe"]
    with pytest.raises(ConfigError, match="soft_targets"):
        TrainConfig(data="synthetic-smoke", soft_targets=True)
    with pytest.raises(ConfigError, match="synthetic_source"):
        TrainConfig(data="synthetic", synthetic_source="bfm")


def test_binary_and_soft_runs_share_one_cache_of_depth_maps(tmp_path: Path) -> None:
    common = {"data": "synthetic", "input_size": 24, "depth_bins": 25, "synthetic_samples": 2,
              "synthetic_cache": str(tmp_path / "cache")}
    binary = build_dataset(TrainConfig(**common, out_dir=tmp_path / "binary"))
    files = list((tmp_path / "cache").glob("*.npz"))
    assert [p.name for p in files] == ["synthetic-v5-ict-solid-seed0-n2-size24-yaw90.npz"]
    with np.load(files[0]) as stored:
        assert sorted(stored.files) == ["backs", "fronts", "images", "landmarks"]
        arrays = dict(stored)
    arrays["backs"][:] = -np.inf  # proves that the soft run reads the file instead of rendering
    np.savez(files[0], **arrays)
    soft = build_dataset(TrainConfig(**common, out_dir=tmp_path / "soft", soft_targets=True))
    assert soft.cache_path == binary.cache_path and list((tmp_path / "cache").glob("*")) == files
    assert np.array_equal(soft[1]["volume"].numpy(), volume_from_front(binary.fronts[1], 25, soft=True))
    face = SyntheticFaces(seed=0, size=24).sample(1)
    assert np.array_equal(binary[1]["volume"].numpy(), face.target())
    # Another fill is another file; no cache folder: the run's out_dir.
    behind = build_dataset(TrainConfig(**common, out_dir=tmp_path / "b", synthetic_fill="behind"))
    assert behind.backs is None and "-ict-behind-" in behind.cache_path.name
    assert build_dataset(TrainConfig(**(common | {"synthetic_cache": ""}), out_dir=tmp_path / "o")).cache_path.parent \
        == tmp_path / "o"


def test_config_fill_and_cache_keys(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('data = "synthetic"\nsynthetic_fill = "solid"\nsynthetic_cache = "shared/faces"\n')
    loaded = TrainConfig.load(config)
    assert loaded.synthetic_fill == "solid" and loaded.synthetic_cache == str(tmp_path / "shared/faces")
    assert TrainConfig().synthetic_fill == "auto" and TrainConfig().synthetic_cache == ""
    with pytest.raises(ConfigError, match="synthetic_fill"):
        TrainConfig(data="synthetic", synthetic_fill="inside")
    with pytest.raises(ConfigError, match="synthetic_fill"):
        TrainConfig(data="synthetic", synthetic_source="mediapipe", synthetic_fill="solid")
    with pytest.raises(ConfigError, match="synthetic_cache"):
        TrainConfig(data="synthetic", synthetic_cache=3)
    assert TrainConfig().synthetic_source == "ict" and not TrainConfig().soft_targets
    assert TrainConfig.load(Path(__file__).parents[2] / "training" / "default-model.toml").synthetic_source == (
        "mediapipe"
    )
