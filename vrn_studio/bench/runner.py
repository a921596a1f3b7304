"""One benchmark run: network variants, baseline vs optimised path, live path (the released
architecture), then the product path and its live loop (the model users get)."""

from __future__ import annotations

import datetime
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vrn_studio.bench.live import run_live, write_test_video
from vrn_studio.bench.measure import environment, matmul_tflops, peak_rss_mib, synchronizer, time_call
from vrn_studio.bench.product import run_product, run_product_live, speedup
from vrn_studio.bench.suite import (
    PathConfig,
    cpu_variants,
    cuda_variants,
    flop_bound,
    run_paths,
    run_variants,
)
from vrn_studio.bench.synthetic import SyntheticHeadVRN
from vrn_studio.crop import crop_face
from vrn_studio.face import select_face
from vrn_studio.image import load_image, sample_image_path
from vrn_studio.mesh import resolve_method
from vrn_studio.pipeline import Reconstructor, resolve_device

log = logging.getLogger(__name__)

MARCHER_NAMES = {"flying-edges": "VTK flying edges", "skimage": "skimage marching cubes", "mcubes": "PyMCubes"}
"""How the report names each marching-cubes backend."""
FAITHFUL_IOU = 0.999
"""A network variant counts as faithful when its occupied voxels overlap fp32's this much..."""
FAITHFUL_MESH_PX = 0.05
"""...and its cleaned mesh lies this close to fp32's on average (crop pixels)."""


def choose_fastest(variants: list[dict[str, Any]], *, faithful: bool = True) -> str:
    """Name of the fastest batch-1 variant; with ``faithful``, of those whose volume stays
    faithful to the first (fp32) one (:data:`FAITHFUL_IOU`, :data:`FAITHFUL_MESH_PX`)."""
    candidates = [
        v for v in variants
        if "error" not in v and v["batch"] == 1 and (
            not faithful
            or v["faithfulness"]["occupied_iou"] >= FAITHFUL_IOU
            and v["faithfulness"].get("mesh_mean_px", 0.0) <= FAITHFUL_MESH_PX
        )
    ]
    return min(candidates, key=lambda v: v["per_crop_ms"]["median"])["name"]


def run_benchmark(
    *,
    device: str = "auto",
    photo: Path | None = None,
    repeat: int = 10,
    warmup: int = 2,
    compile: bool = True,
    webcam_seconds: float = 15.0,
    landmarks: np.ndarray | None = None,
    model: str = "default",
    product_only: bool = False,
) -> dict[str, Any]:
    """Run the whole benchmark and return its result (see docs/benchmarks.md for the fields).

    Parameters
    ----------
    device : str, default: "auto"
        Torch device of the network.
    photo : Path or None
        The photo (default: the astronaut sample).
    repeat, warmup : int
        Timed and untimed repetitions of every measurement.
    compile : bool, default: True
        Include :func:`torch.compile` variants (a minute or more each on a CPU).
    webcam_seconds : float, default: 15.0
        Length of each live run (0 skips the live benchmark).
    landmarks : np.ndarray or None, shape (68, 2)
        The photo's landmarks, for machines without dlib's model: detection is then not
        timed and the live path follows the test video's known motion.
    model : str, default: "default"
        The model of the product path (:func:`~vrn_studio.bench.product.run_product`): what
        ``vrn-studio reconstruct`` uses, the built-in model unless the published one is installed.
    product_only : bool, default: False
        Measure only the product path and its live loop, not the released architecture's
        network variants, baseline and optimised paths.
    """
    dev = resolve_device(device)
    photo = photo or sample_image_path("astronaut")
    result: dict[str, Any] = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment(dev),
        "settings": {"repeat": repeat, "warmup": warmup, "compile": compile, "photo": photo.name,
                     "webcam_seconds": webcam_seconds, "landmarks_given": landmarks is not None,
                     "model": model, "product_only": product_only},
    }
    if not product_only:
        result.update(_released_architecture(dev, photo, repeat, warmup, compile, webcam_seconds, landmarks))
    try:
        result["product"] = run_product(photo, dev, model=model, repeat=repeat, warmup=warmup)
        result["product"]["speedup_mediapipe_over_dlib"] = speedup(result["product"])
        if webcam_seconds > 0:
            result["product_live"] = run_product_live(photo, dev, model=model, seconds=webcam_seconds)
    except ValueError as exc:  # no landmarker installed: the rest of the run still counts
        result["product"] = {"error": str(exc)}
    result["peak_rss_mib"] = round(peak_rss_mib(), 1)
    if dev.type == "cuda":
        result["gpu_peak_mib"] = round(torch.cuda.max_memory_allocated(dev) / 2**20, 1)
    return result


def _released_architecture(
    dev: torch.device, photo: Path, repeat: int, warmup: int, compile: bool, webcam_seconds: float,
    landmarks: np.ndarray | None,
) -> dict[str, Any]:
    """The released architecture's sections: FLOP bound, network variants, baseline vs optimised
    path, ``Reconstructor.reconstruct`` and the live path (see :func:`run_benchmark`)."""
    result: dict[str, Any] = {
        "inputs": "released VRN architecture (19.2M parameters) with random weights whose rescaled logits "
                  "are added to a synthetic head with two detached blobs (vrn_studio.bench.synthetic); "
                  "timing does not depend on weight values",
    }
    net = SyntheticHeadVRN()
    peak = matmul_tflops(dev)
    result["flops"] = flop_bound(net, dev, peak)
    if dev.type == "cpu":
        try:
            int8 = matmul_tflops(dev, torch.int8)
            result["flops"].update(measured_int8_matmul_tops=round(int8, 3),
                                   int8_bound_ms=round(result["flops"]["gflop_per_face"] / int8, 2))
        except RuntimeError as exc:
            log.info("no int8 matrix multiply to measure: %s", exc)
    if dev.type == "cuda":
        half = matmul_tflops(dev, torch.float16)
        result["flops"].update(measured_fp16_matmul_tflops=round(half, 1),
                               fp16_bound_ms=round(result["flops"]["gflop_per_face"] / half, 3))
    log.info("flops: %s", result["flops"])

    rgb = load_image(photo)
    if landmarks is None:
        from vrn_studio.face.dlib import DlibLandmarker  # needs dlib's model file

        points = select_face(DlibLandmarker().detect(rgb)).landmarks
    else:
        points = landmarks
    crop, _ = crop_face(rgb, points)
    variants = cuda_variants(compile) if dev.type == "cuda" else cpu_variants(compile)
    result["network_variants"], built = run_variants(net, dev, variants, crop, repeat=repeat, warmup=warmup)
    timed = [v for v in result["network_variants"] if v["name"] in built]
    best, fastest = choose_fastest(timed), choose_fastest(timed, faithful=False)
    log.info("fastest faithful network variant: %s; fastest: %s", best, fastest)

    baseline = PathConfig("baseline", built[variants[0].name], occupied_only=False, mesh_method="skimage",
                          bump_method="reference",
                          description="eager fp32 NCHW; skimage marching cubes on the full volume; "
                                      "pure-Python dynamic labelling")
    marcher = MARCHER_NAMES[resolve_method()]
    optimised = PathConfig("optimised", built[best], occupied_only=True, mesh_method="auto", bump_method="fast",
                           description=f"{best}; {marcher} on the occupied sub-volume; "
                                       "scipy connected components")
    configs = [baseline, optimised]
    if fastest != best:  # e.g. int8: reported beside the faithful path, never chosen for it
        configs.append(PathConfig("fastest", built[fastest], occupied_only=True, mesh_method="auto",
                                  bump_method="fast", description=f"{fastest} (not faithful to fp32); {marcher} "
                                                                  "on the occupied sub-volume; scipy connected components"))
    sync = synchronizer(dev)
    result["paths"] = run_paths(configs, photo, repeat=repeat, warmup=warmup, sync=sync, landmarks=landmarks)
    rec = built[best]
    result["reconstruct"] = {
        "variant": best,
        "total": time_call(lambda: rec.reconstruct(photo, face=landmarks), repeat=repeat, warmup=warmup,
                           sync=sync).as_dict(),
    }
    if webcam_seconds > 0:
        fast = (fastest, built[fastest]) if fastest != best else None
        result["live"] = _live(built[variants[0].name], rec, best, photo, webcam_seconds, landmarks, fast)
    return result


def _live(
    naive: Reconstructor, rec: Reconstructor, best: str, photo: Path, seconds: float, landmarks: np.ndarray | None,
    fast: tuple[str, Reconstructor] | None = None,
) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as folder:
        video = write_test_video(Path(folder) / "pan.avi", photo)
        oracle = None if landmarks is None else video.landmarks(landmarks)
        how = "tracking" if oracle is None else "landmarks given"
        runs = [
            (f"naive: eager fp32, {'detect every frame' if oracle is None else how}", naive, 1, 1),
            (f"optimised: {best}, {how}", rec, 1, 30),
            (f"optimised: {best}, {how}, 2 workers", rec, 2, 30),
        ]
        if fast is not None:
            runs += [(f"fastest: {fast[0]}, {how}", fast[1], 1, 30),
                     (f"fastest: {fast[0]}, {how}, 2 workers", fast[1], 2, 30)]
        out = []
        for name, reconstructor, workers, redetect in runs:
            try:
                report = run_live(reconstructor, video.path, seconds=seconds, workers=workers,
                                  redetect_every=redetect, landmarks=oracle)
            except Exception as exc:  # noqa: BLE001 - recorded: e.g. CUDA graphs replayed from two threads
                report = {"workers": workers, "error": f"{type(exc).__name__}: {exc}"[:300]}
            out.append({"name": name, **report})
            log.info("live %s: %s fps", name, report.get("fps"))
        return out


def result_file_name(result: dict[str, Any]) -> str:
    """``<device>-<processor or GPU>-<date>.json``, e.g. ``cpu-amd-epyc-2026-11-25.json``
    (``...-product.json`` for a product-only run)."""
    env = result["environment"]
    machine = env.get("gpu") or env["cpu"]
    slug = re.sub(r"[^a-z0-9]+", "-", str(machine).lower()).strip("-")[:40]
    device = str(env["device"]).split(":")[0]
    part = "-product" if result["settings"].get("product_only") else ""
    return f"{device}-{slug}-{result['created'][:10]}{part}.json"


def as_json(value: Any) -> Any:
    """NumPy scalars and arrays made JSON-serialisable."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
