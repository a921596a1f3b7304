"""CUDA correctness: the same volumes on the GPU as on the CPU. Skipped without a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vrn_studio.image import sample_image_path
from vrn_studio.mesh import DEFAULT_LEVEL
from vrn_studio.model import VRN
from vrn_studio.pipeline import Reconstructor

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def net_and_input() -> tuple[VRN, torch.Tensor]:
    torch.manual_seed(0)
    net = VRN().eval()
    for module in net.modules():  # spread the outputs so iso levels cut through them
        if isinstance(module, torch.nn.Conv2d) and module.out_channels == 200:
            module.bias.data.uniform_(-4, 4)
    return net, torch.rand(1, 3, 192, 192)


def test_cuda_fp32_matches_cpu(net_and_input) -> None:
    """Through the Reconstructor, float32 means float32: TensorFloat-32 stays off."""
    net, x = net_and_input
    crop = (x[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    cpu = Reconstructor(net, device="cpu").predict_volume(crop)
    gpu = Reconstructor(net, device="cuda").predict_volume(crop)
    net.cpu()
    assert float(np.abs(gpu - cpu).max()) < 1e-3
    assert torch.backends.cudnn.allow_tf32  # the global setting is restored afterwards


@pytest.mark.parametrize(
    ("dtype", "min_agreement"),
    # Measured on an H100 with this random network: fp16 0.997, bf16 0.986 (8 mantissa bits).
    [(torch.float16, 0.995), (torch.bfloat16, 0.98)],
)
def test_half_precision_keeps_the_surface(net_and_input, dtype: torch.dtype, min_agreement: float) -> None:
    net, x = net_and_input
    with torch.inference_mode():
        ref = net.cuda()(x.cuda())
        low = net.to(dtype)(x.cuda().to(dtype)).float()
    net.float().cpu()
    for level in (DEFAULT_LEVEL, 0.5):
        agreement = float(((low > level) == (ref > level)).float().mean())
        assert agreement > min_agreement, (dtype, level, agreement)


def test_reconstructor_on_cuda_gives_the_cpu_volume() -> None:
    torch.manual_seed(0)
    net = VRN(features=32, stacks=1, hourglass_depth=2)
    angles = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    face = np.column_stack([220 + 45 * np.cos(angles), 130 + 55 * np.sin(angles)])  # around the face
    image = sample_image_path("astronaut")
    ref = Reconstructor(net, device="cpu").reconstruct(image, face=face)
    gpu = Reconstructor(net, device="cuda").reconstruct(image, face=face)
    assert gpu.device.startswith("cuda") and ref.device == "cpu"
    np.testing.assert_allclose(gpu.volume, ref.volume, atol=2e-3)
    assert gpu.mesh.n_vertices == pytest.approx(ref.mesh.n_vertices, rel=0.01)
