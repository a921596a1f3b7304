"""Timing statistics, peak memory, FLOP counts and the machine a benchmark ran on."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

PACKAGES = (
    "torch", "numpy", "scipy", "scikit-image", "PyMCubes", "opencv-python-headless", "dlib-bin", "dlib",
    "onnxruntime",
)
"""Distributions whose versions a benchmark result records (absent ones are skipped)."""


@dataclass(frozen=True)
class Stats:
    """Summary of repeated timings, in milliseconds.

    Attributes
    ----------
    median, p10, p90, min, max : float
        Median, 10th and 90th percentiles, extremes.
    n : int
        Number of timed repetitions (warm-up runs excluded).
    """

    median: float
    p10: float
    p90: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, seconds: list[float]) -> Stats:
        """Summarise timings given in seconds."""
        ms = np.asarray(seconds, np.float64) * 1e3
        p10, median, p90 = np.percentile(ms, [10, 50, 90])
        return cls(float(median), float(p10), float(p90), float(ms.min()), float(ms.max()), len(ms))

    def scaled(self, factor: float) -> Stats:
        """The same statistics multiplied by ``factor`` (per item of a batch, say)."""
        return Stats(*(factor * v for v in (self.median, self.p10, self.p90, self.min, self.max)), self.n)

    def as_dict(self) -> dict[str, float]:
        """The fields, rounded to 0.01 ms, for JSON."""
        return {key: round(value, 2) if isinstance(value, float) else value for key, value in asdict(self).items()}


def synchronizer(device: torch.device | str) -> Callable[[], None]:
    """A function that waits for the device's queued work (a no-op on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def time_call(fn: Callable[[], object], *, repeat: int, warmup: int, sync: Callable[[], None] = lambda: None) -> Stats:
    """Run ``fn`` ``warmup`` times untimed, then ``repeat`` times timed; ``sync`` after each call."""
    for _ in range(warmup):
        fn()
    sync()
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        seconds.append(time.perf_counter() - start)
    return Stats.of(seconds)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux and macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if platform.system() == "Darwin" else peak / 2**10


def network_flops(net: torch.nn.Module, x: torch.Tensor) -> int:
    """Floating-point operations of one forward pass (a multiply-add counts 2), by PyTorch's counter."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(x)
    return int(counter.get_total_flops())


def matmul_tflops(device: torch.device | str, dtype: torch.dtype = torch.float32, *, size: int = 2048) -> float:
    """Measured dense matrix-multiply throughput, TFLOP/s (TOP/s for ``torch.int8``): the
    practical peak of the device for that type.

    Raises
    ------
    RuntimeError
        The type has no matrix multiply on this device (``torch._int_mm`` on older builds).
    """
    device = torch.device(device)
    size = size if device.type == "cpu" else 8192
    if dtype == torch.int8:  # int8 x int8 -> int32 (VNNI on x86 CPUs, tensor cores on NVIDIA)
        a, b = (torch.randint(-128, 128, (size, size), device=device, dtype=dtype) for _ in range(2))
        stats = time_call(lambda: torch._int_mm(a, b), repeat=5, warmup=2, sync=synchronizer(device))
    else:
        a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
        stats = time_call(lambda: a @ b, repeat=5, warmup=2, sync=synchronizer(device))
    return 2 * size**3 / (stats.min * 1e-3) / 1e12


def cpu_model() -> str:
    """The processor's model name, from /proc/cpuinfo where there is one."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def environment(device: torch.device | str) -> dict[str, object]:
    """Machine, device, thread count, load and library versions, for a result file."""
    device = torch.device(device)
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    env: dict[str, object] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "device": str(device),
        "packages": versions,
        "git_commit": _git_commit(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda)
    return env


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).parent, check=False,
        )
    except OSError:
        return None
    return out.stdout.strip() or None
