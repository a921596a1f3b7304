"""A trained checkpoint becomes an installed model the pipeline runs (guided, smaller crop)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fakes import ASTRONAUT_LANDMARKS
from vrn_studio import Reconstructor
from vrn_studio.cli.main import main as cli_main
from vrn_studio.errors import VrnStudioError, WeightsError
from vrn_studio.image import sample_image_path
from vrn_studio.mesh import DEFAULT_LEVEL
from vrn_studio.model import VRNGuided, set_norm_mode
from vrn_studio.train.config import TrainConfig
from vrn_studio.train.export import export_checkpoint
from vrn_studio.train.loop import (
    CheckpointError,
    build_dataset,
    build_model,
    load_checkpoint,
    load_initial_weights,
    train,
)
from vrn_studio.weights import load_model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One epoch of a tiny guided network on four synthetic faces at 48 px."""
    folder = tmp_path_factory.mktemp("run")
    config = TrainConfig(
        variant="guided", features=8, stacks=1, hourglass_depth=2, input_size=48, depth_bins=50,
        batch_size=2, epochs=1, data="synthetic", synthetic_samples=4, out_dir=folder,
    )
    return train(config, build_dataset(config), device="cpu", progress=False)


def test_cli_exports_a_checkpoint_as_a_guided_model(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli_main(["weights", "import", str(checkpoint), "--name", "tiny-guided", "--out", str(tmp_path),
                     "--licence", "MIT"])
    assert code == 0 and "Exported the trained network" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "tiny-guided.json").read_text())
    assert manifest["variant"] == "guided" and manifest["norm"] == "running" and manifest["licence"] == "MIT"
    assert manifest["architecture"] == {
        "features": 8, "stacks": 1, "depth_bins": 50, "hourglass_depth": 2, "input_size": 48,
    }
    loaded = load_model(tmp_path / "tiny-guided.json")
    assert isinstance(loaded.model, VRNGuided) and loaded.model.input_size == 48
    assert all(m.norm == "running" for m in loaded.model.modules() if hasattr(m, "norm"))


def test_cli_exports_uncalibrated_on_request(checkpoint: Path, tmp_path: Path) -> None:
    for name, extra in (("calibrated", []), ("plain", ["--uncalibrated"])):
        assert cli_main(["weights", "import", str(checkpoint), "--name", name, "--out", str(tmp_path), *extra]) == 0
    plain = load_model(tmp_path / "plain.json").model
    reference = load_model(export_checkpoint(checkpoint, "reference", out_dir=tmp_path, iso_level=None)).model
    calibrated = load_model(tmp_path / "calibrated.json").model
    assert torch.equal(plain.head[-1].bias, reference.head[-1].bias)
    assert not torch.equal(calibrated.head[-1].bias, reference.head[-1].bias)


def test_export_calibrates_the_decision_boundary_to_the_release_iso_level(checkpoint: Path, tmp_path: Path) -> None:
    config = TrainConfig.from_dict(json.loads(checkpoint.read_text())["config"])
    trained = build_model(config)
    load_checkpoint(checkpoint, trained)
    trained.eval()
    exported = load_model(export_checkpoint(checkpoint, "calibrated", out_dir=tmp_path)).model
    plain = load_model(export_checkpoint(checkpoint, "plain", out_dir=tmp_path, iso_level=None)).model
    torch.manual_seed(0)
    rgb, marks = torch.rand(2, 3, 48, 48), torch.rand(2, 68, 2) * 47
    with torch.no_grad():
        for net in (trained, exported, plain):
            set_norm_mode(net, "running")
        p_trained = trained.forward_with_landmarks(rgb, marks)
        p_exported = exported.forward_with_landmarks(rgb, marks)
        p_plain = plain.forward_with_landmarks(rgb, marks)
    torch.testing.assert_close(p_plain, p_trained)
    logit = torch.logit(p_trained.double()) + math.log(DEFAULT_LEVEL / (1 - DEFAULT_LEVEL))
    torch.testing.assert_close(p_exported.double(), torch.sigmoid(logit), atol=1e-5, rtol=1e-4)
    assert torch.equal(p_trained > 0.5 + 1e-4, (p_exported > DEFAULT_LEVEL) & (p_trained > 0.5 + 1e-4))


def test_the_pipeline_runs_the_exported_model_at_the_release_resolution(checkpoint: Path, tmp_path: Path) -> None:
    manifest = export_checkpoint(checkpoint, "tiny", out_dir=tmp_path)
    rec = Reconstructor(manifest, landmarker="dlib", device="cpu")
    assert rec.model_name == "tiny"
    result = rec.reconstruct(sample_image_path(), face=ASTRONAUT_LANDMARKS)
    assert result.volume is not None and result.volume.shape == (200, 192, 192)
    assert result.model == "tiny"
    # The landmarks drive it: moving them changes the volume.
    moved = rec.predict_volume(result.crop, result.landmarks_crop + [20.0, 0.0])
    assert np.abs(moved - result.volume).max() > 1e-6  # float32 rounding is about 1e-8 here
    with pytest.raises(VrnStudioError, match="landmarks"):
        rec.predict_volume(result.crop)


def test_export_refuses_what_cannot_run_or_exists(checkpoint: Path, tmp_path: Path) -> None:
    export_checkpoint(checkpoint, "twice", out_dir=tmp_path)
    with pytest.raises(VrnStudioError, match="already exists"):
        export_checkpoint(checkpoint, "twice", out_dir=tmp_path)
    with pytest.raises(WeightsError, match="cannot export"):
        export_checkpoint(tmp_path / "missing.json", "none", out_dir=tmp_path)
    meta = json.loads(checkpoint.read_text())
    meta["config"]["variant"] = "multitask"
    fake = tmp_path / "multitask.json"
    fake.write_text(json.dumps(meta))
    with pytest.raises(WeightsError, match="multitask"):
        export_checkpoint(fake, "multi", out_dir=tmp_path)


def test_a_later_stage_starts_from_an_exported_model(checkpoint: Path, tmp_path: Path) -> None:
    manifest = export_checkpoint(checkpoint, "stage1", out_dir=tmp_path)  # calibrated to 10/255
    weights = tmp_path / "stage1.safetensors"
    digest = json.loads(manifest.read_text())["sha256"]
    recipe = tmp_path / "recipes" / "stage2.toml"
    recipe.parent.mkdir()
    recipe.write_text(
        'variant = "guided"\nfeatures = 8\nstacks = 1\nhourglass_depth = 2\ninput_size = 48\ndepth_bins = 50\n'
        f'data = "synthetic-smoke"\ninit_weights = "../stage1.safetensors"\ninit_sha256 = "{digest}"\n'
    )
    config = TrainConfig.load(recipe)
    assert Path(config.init_weights) == recipe.parent / ".." / "stage1.safetensors"
    trained = build_model(config)
    load_checkpoint(checkpoint, trained)
    started = build_model(config)
    load_initial_weights(config, started)
    for (key, a), b in zip(trained.state_dict().items(), started.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), key  # the calibration undone exactly
    wrong = TrainConfig.from_dict({**config.as_dict(), "init_sha256": "0" * 64, "out_dir": str(tmp_path / "run")})
    with pytest.raises(CheckpointError, match="not the file this recipe starts from"):
        train(wrong, build_dataset(wrong), device="cpu", progress=False)
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="cannot read init_weights"):
        load_initial_weights(TrainConfig.from_dict({**config.as_dict(), "init_sha256": ""}), started)
