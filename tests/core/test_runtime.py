"""ONNX Runtime runtimes of the Reconstructor: float32 equals PyTorch, int8 stays close, cache, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vrn_studio.crop import crop_face
from vrn_studio.errors import DeviceError, MissingDependencyError
from vrn_studio.image import RESOURCES_DIR, load_image
from vrn_studio.model import VRN, VRNGuided
from vrn_studio.pipeline import Reconstructor
from vrn_studio.pipeline import runtime as rt

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def tiny(cls: type[VRN] = VRN, seed: int = 0) -> VRN:
    torch.manual_seed(seed)
    return cls(features=16, stacks=1, depth_bins=8, hourglass_depth=2, input_size=32).eval()


@pytest.fixture
def cache(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VRN_STUDIO_CACHE", str(tmp_path))
    return tmp_path / "onnx"


@pytest.fixture(scope="module")
def crops() -> tuple[np.ndarray, np.ndarray]:
    """Two crops of the sample photos (B, 192, 192, 3) and their landmarks (B, 68, 2)."""
    marks = json.loads((RESOURCES_DIR / "face_landmarks.json").read_text())
    out, points = [], []
    for name in rt.CALIBRATION_PHOTOS:
        crop, transform = crop_face(load_image(RESOURCES_DIR / name), np.asarray(marks[name], float))
        out.append(crop)
        points.append(transform.to_crop(np.asarray(marks[name], float)))
    return np.stack(out), np.stack(points)


def test_float32_runtime_equals_pytorch_for_a_batch(cache, crops) -> None:
    net = tiny()
    reference = Reconstructor(net, device="cpu").predict_volumes(crops[0])
    onnx = Reconstructor(net, device="cpu", runtime="onnxruntime")
    volumes = onnx.predict_volumes(crops[0])
    assert volumes.shape == reference.shape == (2, 48, 192, 192)
    np.testing.assert_allclose(volumes, reference, atol=1e-4)
    assert len(list(cache.glob("onnxruntime-*.onnx"))) == 1


def test_int8_runtime_runs_the_quantised_network(cache, crops) -> None:
    net = tiny(VRNGuided)
    reference = Reconstructor(net, device="cpu").predict_volumes(*crops)
    volumes = Reconstructor(net, device="cpu", runtime="onnxruntime-int8").predict_volumes(*crops)
    assert volumes.shape == reference.shape
    assert np.abs(volumes - reference).max() > 1e-3  # quantised, not the float32 graph
    # The same function: a tiny random network is far more sensitive to int8 than a trained
    # one (next test), yet its volume still follows the float32 one.
    assert np.corrcoef(volumes.ravel(), reference.ravel())[0, 1] > 0.8
    assert len(list(cache.glob("onnxruntime-int8-*.onnx"))) == 1


def test_int8_runtime_keeps_the_built_in_models_mesh(cache, crops, shipped_weights) -> None:
    from vrn_studio.bench.suite import faithfulness

    reference = Reconstructor("vrn-studio-guided", device="cpu").predict_volumes(*crops)
    volumes = Reconstructor("vrn-studio-guided", device="cpu", runtime="onnxruntime-int8").predict_volumes(*crops)
    for ref, vol in zip(reference, volumes, strict=True):
        found = faithfulness(ref, vol)
        assert found["occupied_iou"] > 0.98
        assert found["mesh_mean_px"] < 0.3


def test_exported_model_is_cached_by_weights(cache, monkeypatch: pytest.MonkeyPatch) -> None:
    net = tiny()
    Reconstructor(net, device="cpu", runtime="onnxruntime")
    calls = []
    original = rt.export_onnx
    monkeypatch.setattr(rt, "export_onnx", lambda n: calls.append(n) or original(n))
    Reconstructor(tiny(), device="cpu", runtime="onnxruntime")  # same weights: cached
    assert calls == []
    Reconstructor(tiny(seed=1), device="cpu", runtime="onnxruntime")  # other weights: exported
    assert len(calls) == 1
    assert len(list(cache.glob("*.onnx"))) == 2


def test_an_unreadable_cached_model_is_exported_again(cache, crops) -> None:
    net = tiny()
    Reconstructor(net, device="cpu", runtime="onnxruntime")
    (cached,) = cache.glob("*.onnx")
    cached.write_bytes(b"not an onnx model")  # a damaged disk, or a file from another tool
    volumes = Reconstructor(net, device="cpu", runtime="onnxruntime").predict_volumes(crops[0])
    np.testing.assert_allclose(volumes, Reconstructor(net, device="cpu").predict_volumes(crops[0]), atol=1e-4)
    assert cached.stat().st_size > 1000


def test_calibration_inputs_are_what_the_network_sees() -> None:
    guided = rt.calibration_inputs(tiny(VRNGuided))
    plain = rt.calibration_inputs(tiny())
    assert len(plain) == len(rt.CALIBRATION_PHOTOS) * len(rt.CALIBRATION_GAINS)
    assert guided[0].shape == (1, 71, 32, 32) and plain[0].shape == (1, 3, 32, 32)
    dark, normal, light = (x[0, :3].mean() for x in plain[:3])
    assert dark < normal < light
    np.testing.assert_array_equal(guided[1][:, :3], plain[1])  # same crop, plus heatmaps


def test_refusals_name_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    with pytest.raises(ValueError, match="Available: torch, onnxruntime, onnxruntime-int8"):
        rt.check_runtime("tensorrt", cpu, torch.float32, compiled=False, channels_last=False)
    with pytest.raises(DeviceError, match="runs on the CPU"):
        rt.check_runtime("onnxruntime", torch.device("cuda"), torch.float32, compiled=False, channels_last=False)
    with pytest.raises(ValueError, match="options of runtime='torch'"):
        Reconstructor(tiny(), device="cpu", runtime="onnxruntime", compile=True)
    with pytest.raises(ValueError, match="options of runtime='torch'"):
        Reconstructor(tiny(), device="cpu", runtime="onnxruntime-int8", dtype=torch.bfloat16)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match=r"vrn-studio\[onnx\]"):
        Reconstructor(tiny(), device="cpu", runtime="onnxruntime")


def test_cli_runs_the_int8_runtime(cache, shipped_weights, tmp_path) -> None:
    from vrn_studio.cli.main import main

    out = tmp_path / "out"
    assert main(["reconstruct", "-o", str(out), "--landmarker", "dlib", "--device", "cpu",
                 "--runtime", "onnxruntime-int8", "-f", "ply"]) == 0
    assert (out / "astronaut.ply").stat().st_size > 100_000
    assert len(list(cache.glob("onnxruntime-int8-*.onnx"))) == 1
