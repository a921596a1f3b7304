"""The VRN network: released architecture, batch-norm modes, dtypes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vrn_studio.model import VRN, BatchNorm, parametric_layers, set_norm_mode

SMALL = dict(features=16, stacks=1, depth_bins=8, hourglass_depth=2)


def test_released_architecture_size() -> None:
    net = VRN()
    assert sum(p.numel() for p in net.parameters()) == 19_184_968
    assert len(net.state_dict()) == 1_644
    layers = parametric_layers(net)
    assert sum(isinstance(m, nn.Conv2d) for m in layers) == 276
    assert sum(isinstance(m, BatchNorm) for m in layers) == 273
    first, last = layers[0], layers[-1]
    assert (first.in_channels, first.out_channels, first.kernel_size, first.stride) == (3, 64, (7, 7), (2, 2))
    assert (last.in_channels, last.out_channels, last.kernel_size) == (256, 200, (1, 1))


def test_hourglass_has_43_residuals() -> None:
    from vrn_studio.model.blocks import Hourglass, Residual

    hourglass = Hourglass(4, 8)
    assert sum(isinstance(m, Residual) for m in hourglass.modules()) == 43


def test_output_shape_and_range() -> None:
    torch.manual_seed(0)
    net = VRN(**SMALL).eval()
    with torch.inference_mode():
        out = net(torch.rand(2, 3, 32, 48))
    assert out.shape == (2, 8, 32, 48)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_input_shape_is_checked() -> None:
    net = VRN(**SMALL).eval()
    with pytest.raises(ValueError, match=r"\(1, 4, 32, 32\).*\(B, 3, H, W\)"):
        net(torch.rand(1, 4, 32, 32))
    with pytest.raises(ValueError, match="multiples of 8"):
        net(torch.rand(1, 3, 30, 32))


def _with_running_stats(net: VRN) -> VRN:
    torch.manual_seed(1)
    for m in net.modules():
        if isinstance(m, BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return net


def test_image_norm_is_per_image_and_independent_of_batch() -> None:
    torch.manual_seed(0)
    net = _with_running_stats(VRN(**SMALL)).eval()
    a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32) * 0.3
    with torch.inference_mode():
        alone = net(a)
        batched = net(torch.cat([a, b]))
    torch.testing.assert_close(batched[:1], alone, atol=1e-5, rtol=1e-4)


def test_image_norm_matches_training_mode_batch_norm_on_one_image() -> None:
    """The release runs Torch7 batch norm in training mode on a batch of one."""
    torch.manual_seed(0)
    net = _with_running_stats(VRN(**SMALL))
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        net.train()
        reference = net(x)
        net.eval()
        ours = net(x)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-4)


def test_running_norm_differs_and_can_be_switched() -> None:
    torch.manual_seed(0)
    net = _with_running_stats(VRN(**SMALL)).eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        per_image = net(x)
        set_norm_mode(net, "running")
        running = net(x)
    assert not torch.allclose(per_image, running, atol=1e-3)
    with pytest.raises(ValueError, match="Unknown norm mode 'batch'"):
        set_norm_mode(net, "batch")  # type: ignore[arg-type]


def test_training_mode_updates_running_stats_only_in_training() -> None:
    net = VRN(**SMALL)
    bn = next(m for m in net.modules() if isinstance(m, BatchNorm))
    before = bn.running_mean.clone()
    net.eval()
    with torch.no_grad():
        net(torch.rand(1, 3, 32, 32))
    assert torch.equal(bn.running_mean, before)
    net.train()
    with torch.no_grad():
        net(torch.rand(2, 3, 32, 32))
    assert not torch.equal(bn.running_mean, before)


def test_logits_are_pre_sigmoid() -> None:
    net = VRN(**SMALL).eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(torch.sigmoid(net.forward_logits(x)), net(x))


def test_head_upsampling_is_bilinear_align_corners() -> None:
    """Corner pixels of the output equal the corner cells of the 1/4-resolution head."""
    net = VRN(**SMALL).eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        low = net.head(net.stacks(net.stem(x)))
        full = net.forward_logits(x)
    torch.testing.assert_close(full[..., 0, 0], low[..., 0, 0])
    torch.testing.assert_close(full[..., -1, -1], low[..., -1, -1])


def test_bfloat16_on_cpu_stays_close_to_float32() -> None:
    torch.manual_seed(0)
    net = VRN(**SMALL).eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        ref = net(x)
        low = net.to(torch.bfloat16)(x.to(torch.bfloat16)).float()
    diff = (low - ref).abs()
    assert low.dtype == torch.float32 and diff.isfinite().all()
    assert float(diff.mean()) < 0.03 and float(diff.max()) < 0.15


def test_state_round_trips_through_a_plain_dict() -> None:
    """safetensors gives back a plain dict without PyTorch's version metadata."""
    source = VRN(**SMALL)
    plain = {name: tensor.clone() for name, tensor in source.state_dict().items()}
    target = VRN(**SMALL)
    target.load_state_dict(plain, strict=True)
    for name, tensor in target.state_dict().items():
        assert torch.equal(tensor, plain[name]), name
