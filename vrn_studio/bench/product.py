"""The product path: what ``vrn-studio reconstruct`` and the app do by default, landmarker by
landmarker, with the model users get (``"default"``: the built-in model unless the published
weights are installed), its stages profiled.

Every landmarker runs the same photo through one :class:`~vrn_studio.pipeline.Reconstructor`
each, alternating repetition by repetition (a change in the machine's load hits all alike),
so ``mediapipe`` against ``dlib`` is a ratio measured in one run. Stage times are
:attr:`Result.timings <vrn_studio.pipeline.Result.timings>`; ``to_mesh`` is the photo to the
result's mesh in photo pixels (every stage but ``clean``: the fitted head with the default
:data:`~vrn_studio.headfit.DEFAULT_HEAD_FIT`, the bump-free network mesh without it), ``total``
adds ``clean`` (the default smoothing, :data:`~vrn_studio.mesh.DEFAULT_SMOOTH` iterations, of
the network's mesh when no head is fitted).
"""

from __future__ import annotations

import cProfile
import pstats
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vrn_studio.bench.live import run_live, write_test_video
from vrn_studio.bench.measure import Stats
from vrn_studio.face import available_landmarkers
from vrn_studio.headfit import DEFAULT_HEAD_FIT
from vrn_studio.mesh import DEFAULT_SMOOTH
from vrn_studio.pipeline import Reconstructor
from vrn_studio.pipeline.runtime import live_runtime

LANDMARKERS: tuple[str, ...] = ("dlib", "mediapipe")
"""Landmarkers compared: the previous default and the fast one (issue 16)."""


def run_product(
    photo: Path,
    device: torch.device | str = "cpu",
    *,
    model: str = "default",
    landmarkers: Sequence[str] = LANDMARKERS,
    smooth: int = DEFAULT_SMOOTH,
    head_fit: str = DEFAULT_HEAD_FIT,
    repeat: int = 10,
    warmup: int = 2,
    profile_top: int = 15,
) -> dict[str, Any]:
    """Time photo to mesh as the product does it, for each installed landmarker, and profile it.

    Parameters
    ----------
    photo : Path
        The photo (one face is reconstructed: the largest).
    device : torch.device or str, default: "cpu"
        Where the network runs.
    model : str, default: "default"
        Model name, as ``vrn-studio reconstruct --model``.
    landmarkers : sequence of str
        Landmarker names; those not installed here are listed under ``unavailable``.
    smooth : int, default: DEFAULT_SMOOTH
        Taubin iterations, as the command line and the app apply by default.
    head_fit : str, default: DEFAULT_HEAD_FIT
        The head fit, as the command line and the app apply by default.
    repeat, warmup : int
        Timed and untimed repetitions.
    profile_top : int, default: 15
        Functions listed from :mod:`cProfile` (by own time) for the first landmarker's path.

    Returns
    -------
    dict
        ``model``, ``smooth``, ``head_fit``, ``paths`` (per landmarker: ``stages`` :class:`Stats` of each
        stage in milliseconds, ``to_mesh`` and ``total`` :class:`Stats`, ``mesh_vertices``),
        ``unavailable`` (name -> why) and ``profile`` (the listed functions with calls and
        milliseconds of own and cumulative time per photo).

    Raises
    ------
    ValueError
        When none of ``landmarkers`` is installed.
    """
    problems = available_landmarkers()
    names = [name for name in landmarkers if problems.get(name, f"unknown landmarker {name!r}") is None]
    unavailable = {name: problems.get(name) or f"unknown landmarker {name!r}" for name in landmarkers
                   if name not in names}
    if not names:
        raise ValueError(f"None of the landmarkers {list(landmarkers)} is installed: {unavailable}")
    recs = {name: Reconstructor(model=model, landmarker=name, device=device, smooth=smooth, head_fit=head_fit)
            for name in names}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    vertices = {}
    for index in range(warmup + repeat):
        for name, rec in recs.items():
            result = rec.reconstruct(photo)
            vertices[name] = result.mesh_photo.n_vertices
            if index >= warmup:
                runs[name].append(dict(result.timings))
    paths = {}
    for name in names:
        stages = {stage: Stats.of([run[stage] for run in runs[name]]).as_dict() for stage in runs[name][0]}
        paths[name] = {
            "stages": stages,
            "to_mesh": Stats.of([sum(t for s, t in run.items() if s != "clean") for run in runs[name]]).as_dict(),
            "total": Stats.of([sum(run.values()) for run in runs[name]]).as_dict(),
            "mesh_vertices": vertices[name],
        }
    first = recs[names[0]]
    return {
        "model": first.model_name,
        "smooth": smooth,
        "head_fit": head_fit,
        "photo": photo.name,
        "paths": paths,
        "unavailable": unavailable,
        "profile": {"landmarker": names[0], "functions": profile_reconstruct(first, photo, repeat, profile_top)},
    }


def profile_reconstruct(rec: Reconstructor, photo: Path, repeat: int, top: int) -> list[dict[str, Any]]:
    """The ``top`` functions by own time while ``rec`` reconstructs ``photo`` ``repeat`` times.

    Returns
    -------
    list of dict
        ``function`` (file:line(name), or the built-in's name), ``calls`` per photo,
        ``own_ms`` and ``cumulative_ms`` per photo.
    """
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        rec.reconstruct(photo)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]  # the documented raw table
    rows = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    return [
        {
            "function": _function_name(key),
            "calls": round(calls / repeat, 1),
            "own_ms": round(own / repeat * 1000, 2),
            "cumulative_ms": round(cumulative / repeat * 1000, 2),
        }
        for key, (_, calls, own, cumulative, _) in rows
    ]


def _function_name(key: tuple[str, int, str]) -> str:
    """``path:line(name)`` with the path from ``site-packages``/``vrn_studio`` on; a built-in's name."""
    path, line, name = key
    if path == "~":
        return name
    for anchor in ("site-packages/", "vrn_studio/"):
        if anchor in path:
            path = (anchor if anchor == "vrn_studio/" else "") + path.split(anchor, 1)[1]
            break
    return f"{path}:{line}({name})"


def run_product_live(
    photo: Path,
    device: torch.device | str = "cpu",
    *,
    model: str = "default",
    landmarker: str = "auto",
    seconds: float = 15.0,
    smooths: Sequence[int] = (DEFAULT_SMOOTH, 0),
    runtime: str | None = None,
    head_fit: str = "none",
) -> list[dict[str, Any]]:
    """The live loop with the product's model, landmarker and live runtime (the app's live view).

    Tracking as the app does (detection every
    :data:`~vrn_studio.pipeline.tracking.REDETECT_EVERY` frames), one and two workers, for each
    smoothing setting in ``smooths``; ``runtime`` None is the app's live runtime
    (:func:`~vrn_studio.pipeline.runtime.live_runtime` of ``"auto"``).

    Returns
    -------
    list of dict
        One :func:`~vrn_studio.bench.live.run_live` report per run, with ``name``,
        ``runtime``, ``landmarker`` and ``smooth``.
    """
    runtime = runtime or live_runtime("auto", device)
    out = []
    with tempfile.TemporaryDirectory() as folder:
        video = write_test_video(Path(folder) / "pan.avi", photo)
        for smooth in smooths:
            rec = Reconstructor(model=model, landmarker=landmarker, device=device, runtime=runtime, smooth=smooth,
                                head_fit=head_fit)
            rec.reconstruct(photo)  # warm: an ONNX model is exported on its first call
            for workers in (1, 2):
                report = run_live(rec, video.path, seconds=seconds, workers=workers)
                out.append({"name": f"{rec.model_name}, {rec.landmarker.name}, {runtime}, smooth {smooth}, "
                                    f"head fit {head_fit}, {workers} worker{'s' if workers > 1 else ''}",
                            "runtime": runtime, "landmarker": rec.landmarker.name, "smooth": smooth,
                            "head_fit": head_fit, **report})
    return out


def speedup(product: dict[str, Any], slow: str = "dlib", fast: str = "mediapipe") -> float | None:
    """Median ``to_mesh`` of ``slow`` over ``fast``'s in one :func:`run_product` result, or None."""
    paths = product["paths"]
    if slow not in paths or fast not in paths:
        return None
    return float(np.round(paths[slow]["to_mesh"]["median"] / paths[fast]["to_mesh"]["median"], 2))
