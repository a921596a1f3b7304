"""Compute devices chosen by name: ``auto``, ``cpu``, ``cuda[:N]``, ``mps``."""

from __future__ import annotations

import torch

from vrn_studio.errors import DeviceError

DEVICES = ("auto", "cpu", "cuda", "mps")


def available_devices() -> dict[str, str | None]:
    """Each device name mapped to None when usable, else the reason it is not."""
    mps = getattr(torch.backends, "mps", None)
    return {
        "cpu": None,
        "cuda": None if torch.cuda.is_available() else "no CUDA GPU visible to this PyTorch build",
        "mps": None if mps is not None and mps.is_available() else "Apple Metal (MPS) is not available",
    }


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """Turn a device name into a ``torch.device``.

    ``"auto"`` picks CUDA, then MPS, then CPU. An explicit device that is not available
    raises :class:`DeviceError` suggesting ``--device cpu``; there is no silent fallback.
    """
    if isinstance(name, torch.device):
        name = str(name)
    base = name.split(":", 1)[0]
    if base not in DEVICES:
        raise DeviceError(f"Unknown device {name!r}. Available: {', '.join(DEVICES)}")
    reasons = available_devices()
    if base == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if reasons[d] is None))
    if reasons[base] is not None:
        raise DeviceError(f"Device {name!r} is not available ({reasons[base]}). Use --device cpu.")
    device = torch.device(name)
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceError(f"Device {name!r} does not exist: {torch.cuda.device_count()} CUDA device(s) found")
    return device


def supported_dtypes(device: torch.device) -> tuple[torch.dtype, ...]:
    """Floating dtypes worth running the network in on ``device`` (fp32 always first)."""
    if device.type == "cuda":
        return (torch.float32, torch.float16, *((torch.bfloat16,) if torch.cuda.is_bf16_supported() else ()))
    if device.type == "mps":
        return (torch.float32, torch.float16)
    return (torch.float32, torch.bfloat16)
