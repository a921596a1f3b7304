"""300W-LP adapter: meshes from the user's morphable model and each photo's fitting parameters.

The Basel Face Model cannot be bundled, so these tests write a tiny stand-in model (a 6 x 6
grid of vertices with one shape and one expression component) in the same .mat layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from vrn_studio.cli.main import main as cli_main
from vrn_studio.eval.bfm import ModelFileError, load_morphable_model, pose_vertices, rotation_3ddfa
from vrn_studio.eval.dataset import DatasetError, iter_300w_lp, iter_dataset
from vrn_studio.train.config import ConfigError, TrainConfig
from vrn_studio.train.dataset import FolderDataset
from vrn_studio.train.loop import build_dataset

GRID = 6


def write_model(path: Path, *, struct: bool = False) -> dict[str, np.ndarray]:
    """A 36-vertex planar 'face' (x, y in [-50, 50], z = 10) in the BFM .mat layout."""
    xs, ys = np.meshgrid(np.linspace(-50, 50, GRID), np.linspace(-50, 50, GRID))
    mean = np.column_stack([xs.ravel(), ys.ravel(), np.full(GRID * GRID, 10.0)])
    shape_pc = np.zeros((3 * GRID * GRID, 2))
    shape_pc[2::3, 0] = 1.0  # component 0 moves every vertex along z
    exp_pc = np.zeros((3 * GRID * GRID, 1))
    exp_pc[0::3, 0] = 1.0  # the expression moves every vertex along x
    tri = []
    for r in range(GRID - 1):
        for c in range(GRID - 1):
            a = r * GRID + c
            tri += [[a, a + 1, a + GRID], [a + 1, a + GRID + 1, a + GRID]]
    fields = {
        "shapeMU": mean.reshape(-1, 1), "shapePC": shape_pc, "expPC": exp_pc,
        "tri": np.asarray(tri) + 1, "kpt_ind": (np.arange(68) % (GRID * GRID)) + 1,
    }
    savemat(path, {"model": fields} if struct else fields)
    return fields


def write_photo(folder: Path, name: str, pose: list[float], *, shape: float = 0.0, exp: float = 0.0,
                pt2d: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    photo = folder / f"{name}.jpg"
    Image.new("RGB", (200, 160), (120, 100, 90)).save(photo)
    fields = {"Pose_Para": np.array([pose]), "Shape_Para": np.array([[shape], [0.0]]), "Exp_Para": np.array([[exp]])}
    if pt2d:
        fields["pt2d"] = np.vstack([np.linspace(60, 140, 68), np.linspace(40, 120, 68)]) + 1.0
    savemat(photo.with_suffix(".mat"), fields)
    return photo


def test_identity_pose_maps_model_units_to_photo_pixels(tmp_path: Path) -> None:
    write_model(tmp_path / "bfm.mat")
    write_photo(tmp_path / "AFW", "a", [0, 0, 0, 100, 80, 0, 0.5], shape=4.0, exp=2.0)
    (sample,) = iter_300w_lp(tmp_path, tmp_path / "bfm.mat")
    assert sample.name == "AFW/a"
    model = load_morphable_model(tmp_path / "bfm.mat")
    v = model.mean.reshape(-1, 3) + [2.0, 0.0, 4.0]  # expression on x, shape on z
    # 3DDFA: x' = s x + tx, row = height + 1 - (s y + ty), 1-based -> 0-based.
    expected = np.column_stack([0.5 * v[:, 0] + 100 - 1, 160 - (0.5 * v[:, 1] + 80), 0.5 * v[:, 2]])
    np.testing.assert_allclose(sample.mesh.vertices, expected)
    assert sample.mesh.faces.min() == 0 and sample.mesh.faces.max() == GRID * GRID - 1
    np.testing.assert_allclose(sample.landmarks, np.column_stack([np.linspace(60, 140, 68), np.linspace(40, 120, 68)]))
    np.testing.assert_allclose(sample.landmarks_3d, expected[np.arange(68) % 36])


def test_yaw_turns_the_model_and_missing_pt2d_uses_the_keypoints(tmp_path: Path) -> None:
    write_model(tmp_path / "bfm.mat", struct=True)
    write_photo(tmp_path / "HELEN", "b", [0, np.pi / 2, 0, 100, 80, 0, 1.0], pt2d=False)
    (sample,) = iter_dataset(tmp_path, "300w-lp", bfm=tmp_path / "bfm.mat")
    # A quarter turn about y: the plane z = 10 seen edge on, every vertex at one x.
    assert np.ptp(sample.mesh.vertices[:, 0]) < 1e-9
    np.testing.assert_allclose(sample.landmarks, sample.landmarks_3d[:, :2])
    r = rotation_3ddfa(0.3, -0.2, 0.1)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)


def test_pose_needs_seven_values() -> None:
    with pytest.raises(ValueError, match="7 values"):
        pose_vertices(np.zeros((2, 3)), [0, 0, 0], 10)


def test_bad_model_and_bad_mat_are_named(tmp_path: Path) -> None:
    savemat(tmp_path / "bad.mat", {"shapeMU": np.zeros((3, 1))})
    with pytest.raises(ModelFileError, match="shapePC"):
        load_morphable_model(tmp_path / "bad.mat")
    write_model(tmp_path / "bfm.mat")
    photo = write_photo(tmp_path / "IBUG", "c", [0, 0, 0, 0, 0, 0, 1])
    savemat(photo.with_suffix(".mat"), {"Pose_Para": np.zeros((1, 7))})
    with pytest.raises(DatasetError, match="Shape_Para"):
        list(iter_300w_lp(tmp_path, tmp_path / "bfm.mat"))
    with pytest.raises(DatasetError, match="Basel Face Model"):
        list(iter_dataset(tmp_path, "300w-lp"))


def test_training_dataset_reads_300w_lp(tmp_path: Path) -> None:
    write_model(tmp_path / "bfm.mat")
    photo = write_photo(tmp_path / "LFPW", "d", [0, 0, 0, 100, 80, 0, 0.8])
    data = FolderDataset(tmp_path, size=48, depth_bins=50, augment=False, layout="300w-lp", bfm=tmp_path / "bfm.mat")
    assert data.photos == [photo]
    item = data[0]
    assert item["image"].shape == (3, 48, 48) and item["volume"].shape == (50, 48, 48)
    assert item["volume"].sum() > 0
    # The config names the layout and the model, relative to the config file.
    (tmp_path / "run.toml").write_text('data = "."\ndata_format = "300w-lp"\nbfm = "bfm.mat"\n'
                                       "input_size = 48\ndepth_bins = 50\n")
    config = TrainConfig.load(tmp_path / "run.toml")
    assert Path(config.bfm) == tmp_path / "bfm.mat"
    assert len(build_dataset(config)) == 1
    with pytest.raises(ConfigError, match="bfm"):
        TrainConfig(data=str(tmp_path), data_format="300w-lp")


def test_evaluate_cli_on_300w_lp_needs_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_model(tmp_path / "bfm.mat")
    write_photo(tmp_path / "AFW", "e", [0, 0, 0, 100, 80, 0, 0.8])
    out = tmp_path / "report.json"
    code = cli_main(["evaluate", str(tmp_path), "--format", "300w-lp", "--model", "no-such-model", "-o", str(out)])
    assert code != 0
    assert "Basel Face Model" in capsys.readouterr().err
    code = cli_main(["evaluate", str(tmp_path), "--format", "300w-lp", "--bfm", str(tmp_path / "bfm.mat"),
                     "--model", "no-such-model", "-o", str(out)])
    assert code != 0 and "no-such-model" in capsys.readouterr().err
    assert not out.exists()
