"""What runs the network: PyTorch, or ONNX Runtime on the CPU in float32 or int8.

``"torch"`` is the default and the reference. ``"onnxruntime"`` runs the same float32
network under ONNX Runtime (as fast as ``torch.compile`` on a CPU, without its minute of
compiling). ``"onnxruntime-int8"`` quantises the convolutions to int8 (about twice as fast
on a CPU with VNNI), at a cost in faithfulness that docs/benchmarks.md measures: it is meant
for live previews, not for the mesh a user keeps.

The exported (and quantised) model is cached under the user's cache folder, keyed by the
weights, the norm mode, the runtime and the library versions, so only the first use of a
model waits for the export (seconds) or the quantisation (tens of seconds).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Literal

import numpy as np
import platformdirs
import torch

from vrn_studio._io import atomic_write
from vrn_studio.crop import crop_face
from vrn_studio.errors import DeviceError, MissingDependencyError
from vrn_studio.image import RESOURCES_DIR, load_image
from vrn_studio.model import VRN, release_volume
from vrn_studio.model.onnx import OnnxNetwork, export_onnx, quantize_int8, require_onnxruntime
from vrn_studio.pipeline.device import resolve_device

log = logging.getLogger(__name__)

Runtime = Literal["torch", "onnxruntime", "onnxruntime-int8"]
RUNTIMES: tuple[str, ...] = ("torch", "onnxruntime", "onnxruntime-int8")
"""The runtimes :class:`~vrn_studio.pipeline.Reconstructor` accepts."""

RECIPE = 2
"""Version of the export and quantisation recipe; part of the cache key (2: 7-bit weights,
``reduce_range``, so that int8 convolutions do not saturate on CPUs without VNNI)."""

CALIBRATION_PHOTOS: tuple[str, ...] = ("astronaut.png", "grace_hopper.jpg")
"""Sample photos of ``resources/`` (landmarks in ``face_landmarks.json``) that calibrate int8."""
CALIBRATION_GAINS: tuple[float, ...] = (0.7, 1.0, 1.3)
"""Brightness factors applied to each calibration crop (darker and lighter photos)."""


def available_runtimes() -> dict[str, str | None]:
    """Each runtime with None when it can run here, else why not (and what to install)."""
    try:
        require_onnxruntime()
        problem = None
    except MissingDependencyError as exc:
        problem = str(exc)
    return {"torch": None, "onnxruntime": problem, "onnxruntime-int8": problem}


def live_runtime(choice: str, device: str | torch.device) -> str:
    """The runtime of the live (webcam) view: ``choice``, or for ``"auto"`` int8 ONNX Runtime
    when ``device`` resolves to the CPU and ONNX Runtime is installed, else PyTorch.

    A live preview trades a little faithfulness for frame rate (the live loop: about 4
    against 2.6 meshes a second on a 2-core CPU, docs/benchmarks.md); a frozen frame is
    reconstructed again with the photos' runtime.
    """
    if choice != "auto":
        return choice
    try:
        on_cpu = resolve_device(device).type == "cpu"
    except DeviceError:
        return "torch"  # the Reconstructor will report the device itself
    return "onnxruntime-int8" if on_cpu and available_runtimes()["onnxruntime-int8"] is None else "torch"


def cache_dir() -> Path:
    """Folder of exported models: ``$VRN_STUDIO_CACHE/onnx`` or the per-user cache folder's."""
    root = os.environ.get("VRN_STUDIO_CACHE") or platformdirs.user_cache_dir("vrn-studio", appauthor=False)
    return Path(root) / "onnx"


def onnx_network(net: VRN, runtime: Runtime, *, threads: int, folder: Path | None = None) -> OnnxNetwork:
    """The network under ONNX Runtime, exported (and quantised) on first use, then cached.

    Parameters
    ----------
    net : VRN
        The network in evaluation mode with its norm mode set (float32, any device).
    runtime : {"onnxruntime", "onnxruntime-int8"}
        float32, or int8 convolutions calibrated on the sample photos.
    threads : int
        Operator threads of the session.
    folder : Path, optional
        Cache folder; default :func:`cache_dir`.

    Returns
    -------
    OnnxNetwork
        Callable as the network: (B, C, S, S) tensor -> (B, D, S, S) probabilities.

    Raises
    ------
    MissingDependencyError
        onnx or onnxruntime is not installed.
    ValueError
        An unknown runtime.
    """
    if runtime not in ("onnxruntime", "onnxruntime-int8"):
        raise ValueError(f"Unknown ONNX runtime {runtime!r}. Available: onnxruntime, onnxruntime-int8.")
    require_onnxruntime()
    path = (folder or cache_dir()) / f"{_cache_key(net, runtime)}.onnx"
    if path.is_file():
        log.info("runtime %s: cached model %s", runtime, path)
        try:
            return OnnxNetwork(path, threads=threads)
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types; the file is rebuilt
            log.warning("runtime %s: cached model %s is unreadable (%s); exporting it again", runtime, path, exc)
    _build(net, runtime, path)
    return OnnxNetwork(path, threads=threads)


def _build(net: VRN, runtime: str, path: Path) -> None:
    """Export (and for int8 quantise) ``net`` into ``path``, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("runtime %s: exporting the network (first use of this model)", runtime)
    model = export_onnx(net)
    if runtime == "onnxruntime-int8":
        log.info("runtime %s: quantising to int8 on %d calibration crops", runtime,
                 len(CALIBRATION_PHOTOS) * len(CALIBRATION_GAINS))
        model = quantize_int8(model, calibration_inputs(net))
    atomic_write(path, model, overwrite=True)


def check_runtime(runtime: str, device: torch.device, dtype: torch.dtype, *, compiled: bool, channels_last: bool) -> None:
    """Refuse combinations a runtime cannot honour, with the reason.

    Raises
    ------
    ValueError
        An unknown runtime, or torch-only options (``compile``, ``channels_last``, a dtype
        other than float32) with an ONNX Runtime runtime.
    DeviceError
        An ONNX Runtime runtime on a device other than the CPU.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"Unknown runtime {runtime!r}. Available: {', '.join(RUNTIMES)}.")
    if runtime == "torch":
        return
    if device.type != "cpu":
        raise DeviceError(f"Runtime {runtime!r} runs on the CPU; got device {device}. Use device='cpu'.")
    if compiled or channels_last or dtype != torch.float32:
        raise ValueError(
            f"Runtime {runtime!r} runs its own float32 (or int8) graph: compile, channels_last and "
            "dtype are options of runtime='torch'"
        )


def calibration_inputs(net: VRN) -> list[np.ndarray]:
    """The network's inputs for the sample photos' crops at a few brightnesses.

    Returns
    -------
    list of np.ndarray, each (1, C, S, S) float32
        What :func:`~vrn_studio.model.release_volume` feeds ``net`` (the crop resized to its
        input size, plus landmark heatmaps for guided networks).
    """
    marks = json.loads((RESOURCES_DIR / "face_landmarks.json").read_text(encoding="utf-8"))
    inputs: list[np.ndarray] = []
    for name in CALIBRATION_PHOTOS:
        crop, transform = crop_face(load_image(RESOURCES_DIR / name), np.asarray(marks[name], np.float64))
        landmarks = torch.from_numpy(transform.to_crop(np.asarray(marks[name], np.float64))).float()[None]
        for gain in CALIBRATION_GAINS:
            rgb = (torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255 * gain).clamp(0, 1)
            seen: list[torch.Tensor] = []

            def capture(x: torch.Tensor, seen: list[torch.Tensor] = seen) -> torch.Tensor:
                seen.append(x)
                return x[:, :1]  # release_volume's resampling needs a volume-shaped answer

            release_volume(net, rgb, landmarks, forward=capture)
            inputs.append(seen[0].numpy())
    return inputs


def _cache_key(net: VRN, runtime: str) -> str:
    """sha256 of the weights, the network's class, sizes and norm modes, the runtime and versions."""
    import onnxruntime

    digest = hashlib.sha256()
    norms = sorted({str(getattr(m, "norm", "")) for m in net.modules() if hasattr(m, "norm")})
    header = [type(net).__name__, net.in_channels, net.input_size, norms, runtime, RECIPE,
              torch.__version__, onnxruntime.__version__]
    digest.update(json.dumps(header).encode())
    for name, tensor in net.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return f"{runtime}-{digest.hexdigest()[:24]}"
