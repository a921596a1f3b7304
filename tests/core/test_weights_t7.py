"""Torch7 import: parsing, the interpreter, canonical mapping, the probe check, failures."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file
from t7_writer import SMALL_CONFIG, Obj, Storage, Tensor, VrnTreeBuilder, random_vrn, save_t7, vrn_tree

from vrn_studio.errors import ExportError, WeightsError
from vrn_studio.weights import Manifest, load_model, sha256_file
from vrn_studio.weights.t7 import (
    T7Module,
    import_t7,
    infer_architecture,
    load_t7,
    run_t7,
    t7_forward,
)

SMALL = SMALL_CONFIG


@pytest.fixture(scope="module")
def small_model():
    return random_vrn(seed=1, **SMALL)


def _write(tmp_path: Path, model, name: str = "model.t7", **options) -> Path:
    return save_t7(vrn_tree(model, **options), tmp_path / name)


def _assert_same_state(model, loaded) -> None:
    expected, found = model.state_dict(), loaded.state_dict()
    assert expected.keys() == found.keys()
    for key in expected:
        assert torch.equal(expected[key], found[key]), key


# ---------------------------------------------------------------- the writer and torchfile


def test_round_trip_through_torchfile(tmp_path):
    flat = Storage(np.arange(10, dtype=np.float32))
    view = Tensor(flat, (2, 3), (3, 1), offset=4)
    obj = Obj(
        "nn.Thing",
        {
            "n": 3,
            "x": 0.5,
            "flag": True,
            "name": "abc",
            "t": view,
            "again": view,
            "list": [1, 2],
            "nothing": None,
        },
        version=2,
    )
    path = save_t7(obj, tmp_path / "x.t7")
    loaded = torchfile.load(str(path), use_list_heuristic=False)
    assert loaded.torch_typename() == b"nn.Thing"
    assert loaded._version_number == 2
    assert loaded.n == 3 and loaded.x == 0.5 and loaded.flag is True and loaded.name == b"abc"
    np.testing.assert_array_equal(loaded.t, np.arange(4, 10, dtype=np.float32).reshape(2, 3))
    assert loaded.again is loaded.t
    assert dict(loaded.list) == {1: 1, 2: 2}
    assert loaded.nothing is None


def test_shared_storage_views_are_read_at_their_offsets(tmp_path, small_model):
    root = load_t7(_write(tmp_path, small_model, shared=True, cudnn=True))
    first_conv = root.children[0]
    assert first_conv.typename == "cudnn.SpatialConvolution"
    torch.testing.assert_close(
        first_conv.tensor("weight"), small_model.stem[0].weight.detach(), rtol=0, atol=0
    )
    torch.testing.assert_close(first_conv.tensor("bias"), small_model.stem[0].bias.detach(), rtol=0, atol=0)


# ---------------------------------------------------------------- the interpreter


def _leaf(kind: str, **fields) -> T7Module:
    return T7Module(kind, f"nn.{kind}", "model", fields)


def test_interpreter_upsampling_and_pooling_follow_torch7():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    by_size = run_t7(_leaf("SpatialUpSamplingBilinear", oheight=7, owidth=7), x)
    assert by_size.shape == (1, 1, 7, 7)
    # align_corners=True keeps the corner values and interpolates linearly between them
    assert by_size[0, 0, 0, 0] == 0 and by_size[0, 0, -1, -1] == 15 and by_size[0, 0, 0, 1] == 0.5
    assert run_t7(_leaf("SpatialUpSamplingBilinear", scale_factor=4), x).shape == (1, 1, 16, 16)
    nearest = run_t7(_leaf("SpatialUpSamplingNearest", scale_factor=2), x)
    assert torch.equal(nearest[0, 0, :2, :2], torch.zeros(2, 2))
    pooled = run_t7(_leaf("SpatialMaxPooling", kW=3, kH=3, dW=2, dH=2, padW=0, padH=0, ceil_mode=True), x)
    assert pooled.shape == (1, 1, 2, 2) and pooled[0, 0, 1, 1] == 15


def test_interpreter_batch_norm_modes():
    x = torch.randn(1, 2, 5, 5, generator=torch.Generator().manual_seed(0))
    bn = _leaf(
        "SpatialBatchNormalization",
        eps=1e-5,
        weight=torch.ones(2),
        bias=torch.zeros(2),
        running_mean=torch.full((2,), 3.0),
        running_var=torch.full((2,), 4.0),
    )
    image = run_t7(bn, x, norm="image")
    torch.testing.assert_close(image.mean(dim=(0, 2, 3)), torch.zeros(2), atol=1e-5, rtol=0)
    running = run_t7(bn, x, norm="running")
    torch.testing.assert_close(running, (x - 3) / torch.sqrt(torch.tensor(4 + 1e-5)))


def test_interpreter_tables():
    x = torch.ones(1, 1, 2, 2)
    conv = _leaf(
        "SpatialConvolution",
        nInputPlane=1,
        nOutputPlane=1,
        kW=1,
        kH=1,
        dW=1,
        dH=1,
        padW=0,
        padH=0,
        weight=torch.full((1, 1, 1, 1), 2.0),
        bias=torch.ones(1),
    )
    table = T7Module("ConcatTable", "nn.ConcatTable", "m", {}, (conv, _leaf("Identity")))
    out = run_t7(T7Module("Sequential", "nn.Sequential", "m", {}, (table, _leaf("CAddTable"))), x)
    assert torch.equal(out, torch.full((1, 1, 2, 2), 4.0))
    assert torch.equal(F.sigmoid(x), run_t7(_leaf("Sigmoid"), x))


# ---------------------------------------------------------------- import end to end


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"cudnn": True},
        {"shared": True},
        {"swap": True},
        {"cudnn": True, "shared": True, "swap": True},
        {"size": 32},
    ],
    ids=["nn", "cudnn", "shared-storage", "swapped-branches", "all", "fixed-size"],
)
def test_small_import_end_to_end(tmp_path, small_model, options):
    t7 = _write(tmp_path, small_model, **options)
    manifest_path = import_t7(
        t7, out_dir=tmp_path / "out", name="small", source="http://example/x.t7", licence="MIT"
    )
    manifest = Manifest.read(manifest_path)
    weights = manifest_path.parent / manifest.file
    assert manifest.architecture == {"in_channels": 3, **SMALL}
    assert manifest.sha256 == sha256_file(weights) and manifest.size == weights.stat().st_size
    assert manifest.imported_from == {"file": "model.t7", "sha256": sha256_file(t7)}
    assert (manifest.source, manifest.licence, manifest.variant) == ("http://example/x.t7", "MIT", "unguided")
    assert load_file(weights).keys() == small_model.state_dict().keys()

    loaded = load_model(manifest_path)
    _assert_same_state(small_model, loaded.model)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    root = load_t7(t7)
    for norm in ("image", "running"):
        expected = torch.cat([t7_forward(root, x[i : i + 1], norm=norm) for i in range(2)])
        with torch.no_grad():
            found = load_model(manifest_path, norm=norm).model(x)
        torch.testing.assert_close(found, expected, atol=1e-5, rtol=0)


def test_full_size_unguided_import(tmp_path):
    model = random_vrn(seed=2)
    t7 = _write(tmp_path, model, shared=True)
    assert infer_architecture(load_t7(t7)) == {
        "in_channels": 3,
        "features": 256,
        "depth_bins": 200,
        "stacks": 2,
        "hourglass_depth": 4,
    }
    manifest_path = import_t7(t7, out_dir=tmp_path)
    tensors = load_file(manifest_path.with_suffix(".safetensors"))
    assert len(tensors) == 1644
    assert sum(t.numel() for name, t in tensors.items() if "running" not in name) == 19_184_968
    loaded = load_model(manifest_path)
    assert sum(p.numel() for p in loaded.model.parameters()) == 19_184_968
    _assert_same_state(model, loaded.model)


def test_full_size_import_probed_at_192(tmp_path):
    t7 = _write(tmp_path, random_vrn(seed=3), size=192, cudnn=True, swap=True)
    assert import_t7(t7, out_dir=tmp_path).is_file()


def test_existing_model_is_not_replaced_without_overwrite(tmp_path, small_model):
    t7 = _write(tmp_path, small_model)
    first = import_t7(t7, out_dir=tmp_path, name="small")
    before = first.read_bytes()
    with pytest.raises(ExportError, match="already exists"):
        import_t7(t7, out_dir=tmp_path, name="small")
    assert first.read_bytes() == before
    assert import_t7(t7, out_dir=tmp_path, name="small", overwrite=True) == first


# ---------------------------------------------------------------- refusals


def _outputs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix != ".t7")


def test_shape_mismatch_names_the_layer_and_writes_nothing(tmp_path, small_model):
    tree = vrn_tree(small_model)
    stem_bn = tree.fields["modules"][1]
    stem_bn.fields["running_var"] = Tensor.of(np.ones(65))
    t7 = save_t7(tree, tmp_path / "bad.t7")
    with pytest.raises(WeightsError) as info:
        import_t7(t7, out_dir=tmp_path)
    message = str(info.value)
    assert "Layer 1 (nn.SpatialBatchNormalization at model.modules[2])" in message
    assert "running_var shape should be (64,) but the file holds (65,)" in message
    assert _outputs(tmp_path) == []


def test_probe_disagreement_refuses_to_save(tmp_path, small_model):
    tree = vrn_tree(small_model)
    stem_pool = tree.fields["modules"][4]
    assert stem_pool.typename == "nn.SpatialMaxPooling"
    stem_pool.fields.update(kW=3, kH=3, padW=1, padH=1)  # same output size, other values
    t7 = save_t7(tree, tmp_path / "bad.t7")
    with pytest.raises(WeightsError, match="Conversion check failed .* nothing was saved"):
        import_t7(t7, out_dir=tmp_path)
    assert _outputs(tmp_path) == []


def test_other_network_is_refused(tmp_path):
    mlp = Obj(
        "nn.Sequential",
        {
            "modules": [
                Obj("nn.Linear", {"weight": Tensor.of(np.ones((2, 3))), "bias": Tensor.of(np.ones(2))}),
                Obj("nn.Tanh"),
            ]
        },
    )
    path = save_t7(mlp, tmp_path / "mlp.t7")
    with pytest.raises(
        WeightsError, match=r"contains nn.Linear at model.modules\[1\].*Is this the VRN model"
    ):
        import_t7(path, out_dir=tmp_path)
    assert _outputs(tmp_path) == []


def test_vrn_like_tree_of_known_classes_but_wrong_shape_is_refused(tmp_path):
    conv = VrnTreeBuilder(random_vrn(**SMALL)).conv()
    path = save_t7(Obj("nn.Sequential", {"modules": [conv, Obj("nn.ReLU")]}), tmp_path / "tiny.t7")
    with pytest.raises(WeightsError, match="it is not a VRN"):
        import_t7(path, out_dir=tmp_path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.999])
def test_truncated_file_is_refused(tmp_path, small_model, keep):
    data = _write(tmp_path, small_model).read_bytes()
    cut = tmp_path / "cut.t7"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(WeightsError, match=f"{cut}.*(truncated|corrupt)"):
        import_t7(cut, out_dir=tmp_path)
    assert _outputs(tmp_path) == []


def test_garbage_and_huge_sizes_are_refused(tmp_path):
    garbage = tmp_path / "garbage.t7"
    garbage.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(WeightsError, match="garbage.t7"):
        load_t7(garbage)
    huge = tmp_path / "huge.t7"  # a FloatStorage claiming 2**40 elements
    huge.write_bytes(
        struct.pack("<ii", 4, 1)
        + struct.pack("<i", 3)
        + b"V 1"
        + struct.pack("<i", 18)
        + b"torch.FloatStorage"
        + struct.pack("<q", 2**40)
    )
    with pytest.raises(WeightsError, match="huge.t7"):
        load_t7(huge)
    with pytest.raises(WeightsError, match="does not exist"):
        load_t7(tmp_path / "missing.t7")


def test_tensor_view_past_its_storage_is_refused(tmp_path, small_model):
    tree = vrn_tree(small_model)
    conv = tree.fields["modules"][0]
    weight = conv.fields["weight"]
    weight.storage = Storage(weight.storage.data[:10])
    with pytest.raises(WeightsError, match="beyond the end of its storage"):
        load_t7(save_t7(tree, tmp_path / "short.t7"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_bytes_never_escape_as_other_errors(tmp_path, data):
    conv = VrnTreeBuilder(random_vrn(**SMALL)).conv()
    original = bytearray(save_t7(Obj("nn.Sequential", {"modules": [conv]}), tmp_path / "ok.t7").read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        original[data.draw(st.integers(0, len(original) - 1))] = data.draw(st.integers(0, 255))
    bad = tmp_path / "bad.t7"
    bad.write_bytes(bytes(original))
    try:
        load_t7(bad)
    except WeightsError as exc:
        assert "bad.t7" in str(exc)
