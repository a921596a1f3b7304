"""Device selection by name, with clear errors and no silent fallback."""

from __future__ import annotations

import pytest
import torch

from vrn_studio.errors import DeviceError
from vrn_studio.pipeline.device import available_devices, resolve_device, supported_dtypes


def test_cpu_is_always_available() -> None:
    assert available_devices()["cpu"] is None
    assert resolve_device("cpu") == torch.device("cpu")
    assert torch.float32 in supported_dtypes(torch.device("cpu"))


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto").type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"


def test_unavailable_device_is_an_error_not_a_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match=r"'cuda' is not available .*--device cpu"):
        resolve_device("cuda")
    with pytest.raises(DeviceError, match=r"'cuda:1' is not available"):
        resolve_device("cuda:1")


def test_missing_cuda_index_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(DeviceError, match=r"'cuda:3' does not exist: 1 CUDA device"):
        resolve_device("cuda:3")


def test_unknown_device_lists_choices() -> None:
    with pytest.raises(DeviceError, match="Unknown device 'tpu'. Available: auto, cpu, cuda, mps"):
        resolve_device("tpu")
