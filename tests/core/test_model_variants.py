"""VRN-Guided, VRN-Multitask and the landmark heatmaps they use."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vrn_studio.model import (
    VRN,
    MultitaskOutput,
    VRNGuided,
    VRNMultitask,
    heatmap_argmax,
    landmark_heatmaps,
)

SMALL = {"features": 16, "depth_bins": 8, "hourglass_depth": 2}
STEM_CONV = 64 * 7 * 7  # weights per input channel of the 7x7 stem convolution


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _landmarks(batch: int, size: tuple[int, int], margin: float, seed: int = 0) -> torch.Tensor:
    """Random sub-pixel landmarks (B, 68, 2) at least ``margin`` px inside a (H, W) crop."""
    height, width = size
    u = torch.rand(batch, 68, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    extent = torch.tensor([width - 1 - 2 * margin, height - 1 - 2 * margin], dtype=torch.float64)
    return margin + u * extent


# --- heatmaps ---------------------------------------------------------------------------


def test_heatmaps_peak_at_the_landmarks() -> None:
    points = torch.tensor([[[10.0, 20.0], [0.0, 0.0], [47.0, 31.0]], [[5.0, 6.0], [30.0, 2.0], [12.0, 12.0]]])
    maps = landmark_heatmaps(points, (32, 48))
    assert maps.shape == (2, 3, 32, 48) and maps.dtype == torch.float32
    for b in range(2):
        for k in range(3):
            x, y = (int(c) for c in points[b, k])
            assert float(maps[b, k, y, x]) == 1.0
            assert int(maps[b, k].argmax()) == y * 48 + x
    assert float(maps.min()) >= 0.0 and float(maps.max()) <= 1.0


def test_heatmaps_are_gaussians_of_sigma_one_pixel_at_192_scaled_with_size() -> None:
    point = torch.tensor([[50.3, 60.7]])
    for height, width in ((192, 192), (96, 96), (384, 192)):
        sy, sx = height / 192, width / 192
        ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
        expected = torch.exp(-((xs - 50.3) ** 2) / (2 * sx**2) - (ys - 60.7) ** 2 / (2 * sy**2))
        torch.testing.assert_close(landmark_heatmaps(point, (height, width))[0, 0], expected.float())
    # About 6 px across at 192 px: the value 3 px from the centre is exp(-4.5).
    assert math.isclose(
        float(landmark_heatmaps(torch.tensor([[20.0, 20.0]]), (192, 192))[0, 0, 20, 23]),
        math.exp(-4.5),
        rel_tol=1e-5,
    )


def test_heatmaps_of_68_points_and_dtype() -> None:
    points = _landmarks(1, (64, 64), margin=0.0)[0]  # (68, 2): a batch of one
    maps = landmark_heatmaps(points, (64, 64), dtype=torch.bfloat16)
    assert maps.shape == (1, 68, 64, 64) and maps.dtype == torch.bfloat16
    torch.testing.assert_close(maps.float(), landmark_heatmaps(points, (64, 64)), atol=1e-2, rtol=0)


def test_points_outside_the_image_or_missing_give_empty_channels() -> None:
    nan = float("nan")
    points = torch.tensor([[-0.6, 10.0], [10.0, 96.6], [160.0, 5.0], [nan, 3.0], [-0.5, 95.5], [159.5, 0.0]])
    maps = landmark_heatmaps(points, (96, 160))
    assert maps[0, :4].abs().sum() == 0
    assert float(maps[0, 4].max()) > 0.5 and float(maps[0, 5].max()) > 0.5  # on the image's edge: kept


def test_heatmap_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match=r"\(68, 3\)"):
        landmark_heatmaps(torch.zeros(68, 3), (32, 32))
    with pytest.raises(ValueError, match="sigma must be positive; got 0"):
        landmark_heatmaps(torch.zeros(68, 2), (32, 32), sigma=0)
    with pytest.raises(ValueError, match=r"\(0, 32\)"):
        landmark_heatmaps(torch.zeros(68, 2), (0, 32))
    with pytest.raises(ValueError, match=r"\(68, 32, 32\)"):
        heatmap_argmax(torch.zeros(68, 32, 32))


@pytest.mark.parametrize(("size", "tolerance"), [((192, 192), 0.01), ((96, 96), 0.05), ((64, 80), 0.25)])
def test_argmax_inverts_heatmaps_to_sub_pixel(size: tuple[int, int], tolerance: float) -> None:
    """Away from the border (3 sigma): a few hundredths of a pixel, a quarter below 96 px."""
    points = _landmarks(3, size, margin=3 * size[0] / 192 + 1)
    found = heatmap_argmax(landmark_heatmaps(points, size, dtype=torch.float64))
    assert found.shape == (3, 68, 2) and found.dtype == torch.float64
    assert float((found - points).abs().max()) < tolerance


def test_argmax_near_the_border_stays_within_half_a_pixel() -> None:
    points = _landmarks(2, (192, 192), margin=-0.5)  # anywhere on the image, edges included
    points[0, :4] = torch.tensor(
        [[-0.5, -0.5], [191.5, 0.3], [0.7, 191.2], [2.6, 100.0]], dtype=torch.float64
    )
    found = heatmap_argmax(landmark_heatmaps(points, (192, 192)))
    assert float((found - points).abs().max()) <= 0.5 + 1e-6


def test_argmax_of_an_empty_channel_is_nan_and_negative_values_are_ignored() -> None:
    maps = landmark_heatmaps(torch.tensor([[20.25, 10.5], [-5.0, 3.0]]), (192, 192))
    noisy = maps.clone()
    noisy[0, 0, 10, 23] = -1.0  # in the peak's window: a negative value must not push the centroid away
    found = heatmap_argmax(noisy)
    torch.testing.assert_close(found[0, 0], torch.tensor([20.25, 10.5]), atol=0.05, rtol=0)
    assert found[0, 1].isnan().all()


# --- VRN-Guided -------------------------------------------------------------------------


def test_guided_takes_rgb_plus_68_heatmaps() -> None:
    torch.manual_seed(0)
    net = VRNGuided(stacks=1, **SMALL).eval()
    assert net.in_channels == 71 and net.stem[0].in_channels == 71
    rgb, points = torch.rand(2, 3, 32, 40), _landmarks(2, (32, 40), margin=0.0).float()
    stacked = net.stack_input(rgb, points)
    assert stacked.shape == (2, 71, 32, 40)
    torch.testing.assert_close(stacked[:, :3], rgb)
    torch.testing.assert_close(stacked[:, 3:], landmark_heatmaps(points, (32, 40)))
    with torch.inference_mode():
        out = net.forward_with_landmarks(rgb, points)
        torch.testing.assert_close(out, net(stacked))
        torch.testing.assert_close(net.forward_logits(stacked).sigmoid(), out)
    assert out.shape == (2, 8, 32, 40) and float(out.min()) >= 0 and float(out.max()) <= 1


def test_guided_output_depends_on_the_landmarks() -> None:
    torch.manual_seed(0)
    net = VRNGuided(stacks=1, **SMALL).eval()
    rgb = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        a = net.forward_with_landmarks(rgb, _landmarks(1, (32, 32), 2.0, seed=1).float())
        b = net.forward_with_landmarks(rgb, _landmarks(1, (32, 32), 2.0, seed=2).float())
    assert not torch.allclose(a, b, atol=1e-4)


def test_guided_inputs_are_checked() -> None:
    net = VRNGuided(stacks=1, **SMALL)
    with pytest.raises(ValueError, match=r"\(1, 3, 32, 32\).*\(B, 71, H, W\)"):
        net(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"RGB shape is \(1, 4, 32, 32\)"):
        net.forward_with_landmarks(torch.rand(1, 4, 32, 32), torch.zeros(1, 68, 2))
    with pytest.raises(ValueError, match=r"\(1, 5, 2\) and should be \(1, 68, 2\)"):
        net.forward_with_landmarks(torch.rand(1, 3, 32, 32), torch.zeros(1, 5, 2))
    with pytest.raises(ValueError, match="landmarks must be at least 1; got 0"):
        VRNGuided(landmarks=0)


def test_guided_shares_the_unguided_layout() -> None:
    """Same state names and shapes as VRN but for the stem's 71-channel first convolution."""
    guided, plain = VRNGuided(stacks=2, **SMALL).state_dict(), VRN(stacks=2, **SMALL).state_dict()
    assert list(guided) == list(plain)
    differing = [name for name in guided if guided[name].shape != plain[name].shape]
    assert differing == ["stem.0.weight"] and guided["stem.0.weight"].shape == (64, 71, 7, 7)


# --- VRN-Multitask ----------------------------------------------------------------------


def test_multitask_outputs_volume_and_heatmaps() -> None:
    torch.manual_seed(0)
    net = VRNMultitask(**SMALL).eval()
    x = torch.rand(2, 3, 32, 40)
    with torch.inference_mode():
        logits = net.forward_logits(x)
        out = net(x)
    assert isinstance(out, MultitaskOutput)
    assert out.volume.shape == (2, 8, 32, 40) and out.heatmaps.shape == (2, 68, 32, 40)
    torch.testing.assert_close(out.volume, logits.volume.sigmoid())
    torch.testing.assert_close(out.heatmaps, logits.heatmaps)
    with pytest.raises(ValueError, match="multiples of 8"):
        net(torch.rand(1, 3, 36, 40))
    with pytest.raises(ValueError, match="fork_stacks must be at least 1; got 0"):
        VRNMultitask(fork_stacks=0)


def test_multitask_is_three_hourglasses_a_trunk_and_two_forks() -> None:
    from vrn_studio.model.blocks import Stack

    net = VRNMultitask(**SMALL)
    parts = (net.trunk, net.landmark_fork, net.volume_fork)
    assert [sum(isinstance(m, Stack) for m in part.modules()) for part in parts] == [1, 1, 1]
    assert sum(isinstance(m, Stack) for m in net.modules()) == 3
    assert net.landmark_head[-1].out_channels == 68 and net.volume_head[-1].out_channels == 8


def test_trunk_learns_from_each_head_separately() -> None:
    torch.manual_seed(0)
    net = VRNMultitask(**SMALL).train()
    x = torch.rand(2, 3, 32, 32)
    volume_target = (torch.rand(2, 8, 32, 32) > 0.5).float()
    heatmap_target = landmark_heatmaps(_landmarks(2, (32, 32), 1.0).float(), (32, 32))
    losses = {
        "volume": lambda out: F.binary_cross_entropy_with_logits(out.volume, volume_target),
        "landmarks": lambda out: F.mse_loss(out.heatmaps, heatmap_target),
    }
    other_fork = {"volume": net.landmark_fork, "landmarks": net.volume_fork}
    for name, loss in losses.items():
        net.zero_grad(set_to_none=True)
        loss(net.forward_logits(x)).backward()
        for part in (net.stem, net.trunk):
            grads = [p.grad for p in part.parameters()]
            assert all(g is not None for g in grads), name
            assert sum(float(g.abs().sum()) for g in grads) > 0, name
        assert all(p.grad is None for p in other_fork[name].parameters()), name


# --- sizes ------------------------------------------------------------------------------


def test_parameter_counts_of_small_variants() -> None:
    unguided = _params(VRN(stacks=1, **SMALL))
    assert unguided == 148_232  # recorded: features 16, 1 stack, 8 depth bins, hourglass depth 2
    # Guided: 68 more input channels of the 7x7 stem convolution, nothing else.
    assert _params(VRNGuided(stacks=1, **SMALL)) == unguided + 68 * STEM_CONV == 361_480
    # Multitask: the blocks of a 3-stack VRN plus a landmark head (1x1 f->f conv, BN, 1x1 f->68 conv).
    f = SMALL["features"]
    landmark_head = (f * f + f) + 2 * f + (f * 68 + 68)
    assert _params(VRNMultitask(**SMALL)) == _params(VRN(stacks=3, **SMALL)) + landmark_head == 193_596


def test_full_size_variants_and_the_untouched_unguided_network() -> None:
    released = _params(VRN())
    assert released == 19_184_968
    assert _params(VRNGuided()) == released + 68 * STEM_CONV == 19_398_216
    assert _params(VRNMultitask()) == 28_626_060  # recorded: 3 hourglasses of 256 features
