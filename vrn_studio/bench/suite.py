"""The photo-to-mesh benchmark: every stage, the naive baseline and the optimised path in one run.

Both paths run the same photo through the same stages, alternating repetition by
repetition so that a change in the machine's load hits both alike; every gain is then a
ratio measured on one machine in one run. The *baseline* is the naive port: eager float32
network in NCHW, scikit-image marching cubes on the full volume, the review's pure-Python
dynamic labelling for bump removal. The *optimised* path is what :class:`Reconstructor`
does with the options chosen for the device.
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.spatial import cKDTree

from vrn_studio.bench.measure import Stats, network_flops, synchronizer, time_call
from vrn_studio.crop import crop_face
from vrn_studio.export import export_mesh
from vrn_studio.face import Landmarker, face_from_points
from vrn_studio.image import load_image
from vrn_studio.mesh import DEFAULT_LEVEL, Mesh, mesh_to_photo, remove_bumps, volume_to_mesh
from vrn_studio.model import VRN
from vrn_studio.pipeline import Reconstructor
from vrn_studio.pipeline.runtime import available_runtimes

STAGES: tuple[str, ...] = (
    "decode", "detection", "landmarks", "crop", "network", "isosurface", "bumps", "photo", "export",
)
"""Stages timed separately, in pipeline order; ``total`` is their sum within each run."""


@dataclass
class PathConfig:
    """One way through the pipeline.

    Parameters
    ----------
    name : str
        ``"baseline"``, ``"optimised"``...
    reconstructor : Reconstructor
        Runs the network (its options: dtype, channels_last, compile...).
    occupied_only : bool
        Passed to :func:`volume_to_mesh` (False = the full volume).
    mesh_method : str
        Marching-cubes backend, passed to :func:`volume_to_mesh` as ``method``.
    bump_method : {"fast", "reference"}
        Passed to :func:`remove_bumps`.
    description : str
        One line for the report.
    """

    name: str
    reconstructor: Reconstructor
    occupied_only: bool
    mesh_method: str
    bump_method: str
    description: str
    runs: list[dict[str, float]] = field(default_factory=list)


def photo_to_mesh(
    config: PathConfig, landmarker: Landmarker | np.ndarray, photo: Path, out_file: Path,
    sync: Callable[[], None],
) -> tuple[dict[str, float], Mesh, np.ndarray]:
    """Run ``photo`` through every stage of ``config`` once.

    ``landmarker`` is dlib's, or 68 given points (photo pixels): then detection is skipped
    and the landmarks stage only wraps the points (machines without dlib's model file).

    Returns
    -------
    seconds : dict of str to float
        Per stage of :data:`STAGES`.
    mesh : Mesh
        The cleaned crop-space mesh.
    volume : np.ndarray
        The network's volume.
    """
    seconds: dict[str, float] = {}
    last = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal last
        now = time.perf_counter()
        seconds[stage], last = now - last, now

    rgb = load_image(photo)
    lap("decode")
    if isinstance(landmarker, np.ndarray):
        lap("detection")
        face = face_from_points(landmarker)
    else:
        boxes = landmarker.detector(rgb)  # type: ignore[attr-defined]  # DlibLandmarker
        box = max(boxes, key=lambda found: (found[0][2] - found[0][0]) * (found[0][3] - found[0][1]))[0]
        lap("detection")
        face = landmarker.landmarks_in_box(rgb, box)
    lap("landmarks")
    crop, transform = crop_face(rgb, face.landmarks)
    lap("crop")
    volume = config.reconstructor.predict_volume(crop)
    sync()
    lap("network")
    mesh = volume_to_mesh(volume, level=DEFAULT_LEVEL, image=crop, occupied_only=config.occupied_only,
                          method=config.mesh_method)  # type: ignore[arg-type]
    lap("isosurface")
    kept = remove_bumps(mesh, method=config.bump_method).kept  # type: ignore[arg-type]
    lap("bumps")
    in_photo = mesh_to_photo(kept, transform)
    lap("photo")
    export_mesh(in_photo, out_file, overwrite=True)
    lap("export")
    return seconds, kept, volume


def run_paths(
    configs: list[PathConfig], photo: Path, *, repeat: int, warmup: int, sync: Callable[[], None],
    landmarks: np.ndarray | None = None,
) -> dict[str, Any]:
    """Time every config's path ``repeat`` times, interleaved; compare each mesh with the first's.

    ``landmarks`` (68, 2), when given, replace dlib's detection and landmarks (see :func:`photo_to_mesh`).

    Returns
    -------
    dict
        Per config: description, per-stage :class:`Stats`, the total, the mesh size and its
        faithfulness to the first config's volume and mesh.
    """
    if landmarks is None:
        from vrn_studio.face.dlib import DlibLandmarker  # needs dlib's model file

        landmarker: Landmarker | np.ndarray = DlibLandmarker()
    else:
        landmarker = landmarks
    outputs: dict[str, tuple[Mesh, np.ndarray]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for run in range(warmup + repeat):
            for config in configs:
                seconds, mesh, volume = photo_to_mesh(config, landmarker, photo, Path(folder) / "face.ply", sync)
                if run >= warmup:
                    config.runs.append(seconds)
                outputs[config.name] = mesh, volume
    reference_mesh, reference_volume = outputs[configs[0].name]
    report = {}
    for config in configs:
        mesh, volume = outputs[config.name]
        report[config.name] = {
            "description": config.description,
            "stages": {stage: Stats.of([run[stage] for run in config.runs]).as_dict() for stage in STAGES},
            "total": Stats.of([sum(run.values()) for run in config.runs]).as_dict(),
            "mesh_vertices": mesh.n_vertices,
            "faithfulness": faithfulness(reference_volume, volume, reference_mesh, mesh),
        }
    return report


def faithfulness(
    reference: np.ndarray, volume: np.ndarray, reference_mesh: Mesh | None = None, mesh: Mesh | None = None
) -> dict[str, float]:
    """How far ``volume`` (and its mesh) lies from ``reference`` (and its mesh).

    Returns
    -------
    dict
        ``max_abs_probability``: largest difference of a voxel's probability;
        ``voxel_agreement``: fraction of voxels on the same side of the release's level;
        ``occupied_iou``: intersection over union of the voxels above the level;
        ``mesh_mean_px``, ``mesh_max_px``: mean and largest distance from a vertex of either
        mesh to the nearest vertex of the other, in crop pixels.
    """
    inside_ref, inside = reference > DEFAULT_LEVEL, volume > DEFAULT_LEVEL
    union = np.count_nonzero(inside_ref | inside)
    out = {
        "max_abs_probability": float(np.abs(reference.astype(np.float64) - volume).max()),
        "voxel_agreement": float(np.mean(inside_ref == inside)),
        "occupied_iou": float(np.count_nonzero(inside_ref & inside) / union) if union else 1.0,
    }
    if reference_mesh is None:
        reference_mesh = remove_bumps(volume_to_mesh(reference)).kept
    if mesh is None:
        mesh = remove_bumps(volume_to_mesh(volume)).kept
    if reference_mesh.is_empty or mesh.is_empty:
        return out
    there, _ = cKDTree(reference_mesh.vertices).query(mesh.vertices)
    back, _ = cKDTree(mesh.vertices).query(reference_mesh.vertices)
    distances = np.concatenate([there, back])
    out.update(mesh_mean_px=float(distances.mean()), mesh_max_px=float(distances.max()))
    return out


@dataclass(frozen=True)
class Variant:
    """A way to run the network: :class:`Reconstructor` options and a batch size.

    Parameters
    ----------
    name : str
        Short label for the report.
    options : dict
        Keyword arguments of :class:`Reconstructor` (``dtype``, ``channels_last``, ``compile``, ``tf32``).
    batch : int, default: 1
        Crops per forward pass; the time reported is per crop.
    """

    name: str
    options: dict[str, Any]
    batch: int = 1


def cpu_variants(compile: bool) -> list[Variant]:
    """The network variants tried on a CPU (compiled ones only when ``compile``; ONNX Runtime's
    float32 and int8 when onnx and onnxruntime are installed)."""
    variants = [
        Variant("eager fp32", {}),
        Variant("channels_last", {"channels_last": True}),
        Variant("bf16", {"dtype": torch.bfloat16}),
        Variant("eager fp32, batch 2", {}, batch=2),
    ]
    if compile:
        variants += [
            Variant("compile", {"compile": True}),
            Variant("channels_last + compile", {"channels_last": True, "compile": True}),
        ]
    if available_runtimes()["onnxruntime"] is None:
        variants += [
            Variant(f"ONNX Runtime {_version('onnxruntime')} fp32", {"runtime": "onnxruntime"}),
            Variant(f"ONNX Runtime {_version('onnxruntime')} int8", {"runtime": "onnxruntime-int8"}),
        ]
    return variants


def _version(package: str) -> str:
    return metadata.version(package)


def cuda_variants(compile: bool) -> list[Variant]:
    """The network variants tried on an NVIDIA GPU (compiled ones only when ``compile``)."""
    cl = {"channels_last": True}
    variants = [
        Variant("eager fp32", {}),
        Variant("channels_last", cl),
        Variant("channels_last + tf32", {**cl, "tf32": True}),
        Variant("channels_last + fp16", {**cl, "dtype": torch.float16}),
        Variant("channels_last + bf16", {**cl, "dtype": torch.bfloat16}),
        Variant("channels_last + fp16, batch 8", {**cl, "dtype": torch.float16}, batch=8),
    ]
    if compile:
        graphs = {**cl, "compile": "reduce-overhead"}
        variants += [
            Variant("channels_last + compile (CUDA graphs)", graphs),
            Variant("channels_last + compile (CUDA graphs) + fp16", {**graphs, "dtype": torch.float16}),
        ]
    return variants


def build(net: VRN, device: torch.device | str, variant: Variant) -> Reconstructor:
    """A :class:`Reconstructor` over a private copy of ``net`` with the variant's options."""
    return Reconstructor(copy.deepcopy(net), device=device, landmarker="dlib", **variant.options)


def run_variants(
    net: VRN, device: torch.device, variants: list[Variant], crop: np.ndarray, *, repeat: int, warmup: int
) -> tuple[list[dict[str, Any]], dict[str, Reconstructor]]:
    """Time the network alone in each variant and compare its volume with the first variant's.

    Returns
    -------
    report : list of dict
        Per variant: options, per-crop :class:`Stats`, first-call (compile) seconds, GPU
        peak memory, faithfulness to the first variant.
    reconstructors : dict of str to Reconstructor
        The built reconstructors, by variant name, for reuse by the paths.
    """
    sync = synchronizer(device)
    reference: np.ndarray | None = None
    report, built = [], {}
    for variant in variants:
        crops = np.repeat(crop[None], variant.batch, axis=0)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        try:
            rec = build(net, device, variant)
            volume = rec.predict_volumes(crops)[0]
        except Exception as exc:  # noqa: BLE001 - recorded: a compiler missing, a dtype unsupported
            report.append({"name": variant.name, "error": f"{type(exc).__name__}: {exc}"[:500]})
            continue
        sync()
        first = time.perf_counter() - start
        built[variant.name] = rec
        # Slow variants (bf16 on a CPU) get fewer repetitions; the median still holds.
        reps = repeat if first < 2 else max(3, repeat // 3)
        stats = time_call(lambda r=rec, c=crops: r.predict_volumes(c), repeat=reps, warmup=warmup, sync=sync)
        per_crop = stats.scaled(1 / variant.batch)
        entry: dict[str, Any] = {
            "name": variant.name,
            "options": {key: str(value) for key, value in variant.options.items()},
            "batch": variant.batch,
            "per_crop_ms": per_crop.as_dict(),
            "first_call_s": round(first, 2),
        }
        if device.type == "cuda":
            entry["gpu_peak_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        if reference is None:
            reference = volume
        entry["faithfulness"] = faithfulness(reference, volume)
        report.append(entry)
    return report, built


def flop_bound(net: VRN, device: torch.device, peak_tflops: float) -> dict[str, float]:
    """FLOPs of one forward pass and the time they need at ``peak_tflops``."""
    x = torch.rand(1, net.in_channels, 192, 192)
    flops = network_flops(copy.deepcopy(net).eval(), x)
    return {
        "gflop_per_face": round(flops / 1e9, 2),
        "gmac_per_face": round(flops / 2e9, 2),
        "measured_matmul_tflops": round(peak_tflops, 3),
        "bound_ms": round(flops / (peak_tflops * 1e12) * 1e3, 2),
        "device": str(device),
    }
