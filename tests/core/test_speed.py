"""Network speed options keep the volume: channels_last, compile, batches, reconstruct_many in batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fakes import EllipsoidNet

from vrn_studio.image import sample_image_path
from vrn_studio.model import VRN, release_volume
from vrn_studio.pipeline import Reconstructor


@pytest.fixture(scope="module")
def small_net() -> VRN:
    torch.manual_seed(0)
    return VRN(features=16, stacks=1, depth_bins=8, hourglass_depth=2).eval()


def _crops(n: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (n, 192, 192, 3), dtype=np.uint8)


def test_channels_last_gives_the_same_volume(small_net: VRN) -> None:
    crop = _crops(1)[0]
    plain = Reconstructor(small_net, device="cpu").predict_volume(crop)
    nhwc = Reconstructor(small_net, device="cpu", channels_last=True)
    assert nhwc.net.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_allclose(nhwc.predict_volume(crop), plain, rtol=0, atol=1e-5)


def test_a_batch_gives_each_crop_its_own_volume(small_net: VRN) -> None:
    crops = _crops(3)
    rec = Reconstructor(small_net, device="cpu")
    batch = rec.predict_volumes(crops)
    assert batch.shape == (3, 8, 192, 192) and batch.dtype == np.float32
    for crop, volume in zip(crops, batch):
        np.testing.assert_allclose(volume, rec.predict_volume(crop), rtol=0, atol=1e-5)


@pytest.mark.slow
def test_compiled_network_gives_the_same_volume(small_net: VRN) -> None:
    crop = _crops(1)[0]
    plain = Reconstructor(small_net, device="cpu").predict_volume(crop)
    compiled = Reconstructor(small_net, device="cpu", channels_last=True, compile=True)
    np.testing.assert_allclose(compiled.predict_volume(crop), plain, rtol=0, atol=1e-4)


def test_reconstruct_many_in_batches_matches_one_by_one(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    photos = [sample_image_path("astronaut"), bad, sample_image_path("astronaut")]
    rec = Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu")
    one = list(rec.reconstruct_many(photos, remove_bumps=False))
    batched = list(rec.reconstruct_many(photos, batch_size=2, remove_bumps=False))
    assert [image for image, _ in batched] == photos
    assert isinstance(batched[1][1], Exception) and type(batched[1][1]) is type(one[1][1])
    for (_, a), (_, b) in zip(one[::2], batched[::2]):
        assert list(b.timings) == ["load", "detect", "crop", "network", "isosurface", "bumps", "clean", "fit", "photo"]
        np.testing.assert_array_equal(a.volume, b.volume)
        np.testing.assert_array_equal(a.mesh.faces, b.mesh.faces)
        assert b.bumps.n_removed == 0


def test_reconstruct_many_checks_its_arguments() -> None:
    rec = Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu")
    with pytest.raises(ValueError, match="batch_size"):
        list(rec.reconstruct_many([], batch_size=0))
    with pytest.raises(TypeError, match="colour"):
        list(rec.reconstruct_many([sample_image_path("astronaut")], batch_size=2, colour=True))


def test_release_volume_calls_a_forward_that_has_no_truth_value() -> None:
    """torch.compile's module raises on len(), so `forward or net` broke compiled networks."""

    class Compiled:
        def __len__(self) -> int:
            raise TypeError("OptimizedModule does not support len()")

        def __call__(self, x: torch.Tensor) -> torch.Tensor:
            return torch.full((x.shape[0], 8, 16, 16), 0.25)

    net = VRN(features=16, stacks=1, depth_bins=8, hourglass_depth=2, input_size=16).eval()
    volume = release_volume(net, torch.rand(1, 3, 16, 16), forward=Compiled())
    assert torch.equal(volume, torch.full((1, 8, 16, 16), 0.25))
