"""The Ray engine of :func:`~vrn_studio.pipeline.batch.run_batch`: a Ray Data stream of three stages.

1. **crop** (CPU tasks): read and decode the photo, find the face and its landmarks, crop it
   (a :class:`~vrn_studio.pipeline.Reconstructor` without a model).
2. **network** (actors that keep the model loaded and run it on batches of
   :data:`BATCH_SIZE` crops): one per GPU where the cluster has GPUs; without GPUs, up to one
   per :data:`CPU_THREADS` cores, and Ray Data fuses the crop stage into them (a task stage
   and an actor stage asking for the same resources are fused), which saves moving the photo.
3. **mesh** (CPU tasks): marching cubes, bump removal, clean-up, exports and the photo's
   record (:meth:`~vrn_studio.pipeline.Reconstructor.mesh_from_volume`,
   :func:`~vrn_studio.pipeline.batch.save_photo`).

Ray Data streams the photos through the stages with backpressure, so memory stays bounded
however large the collection; tasks of a worker that dies are retried, actors restarted (Ray
Data's defaults). Rows carry the stage's state pickled (the crop's
:class:`~vrn_studio.pipeline.Result` with its photo, then the volume: 200 x 192 x 192
float32, 29.5 MB a photo in the object store).
"""

from __future__ import annotations

import functools
import json
import pickle
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vrn_studio.errors import MissingDependencyError
from vrn_studio.pipeline.batch import BatchOptions, Photo, crop_or_reconstruct, error_row, save_photo
from vrn_studio.pipeline.reconstructor import Reconstructor

BATCH_SIZE = 4
"""Crops per network call in an actor."""
CPU_THREADS = 4
"""Torch threads of a network actor on a machine without GPUs."""
VOLUME_SHAPE = (200, 192, 192)


@functools.lru_cache(maxsize=4)
def _reconstructor(options: bytes, network: bool) -> Reconstructor:
    """The worker process's Reconstructor of these options (a pickled :class:`BatchOptions`), built once."""
    return _options(options).build(network=network)


@functools.lru_cache(maxsize=4)
def _options(options: bytes) -> BatchOptions:
    return pickle.loads(options)


def _crop(row: dict[str, Any], options: bytes) -> dict[str, Any]:
    """Stage 1: the photo's crop-only Result, or its error row, pickled."""
    photo = Photo(row["path"], row["key"])
    start = time.perf_counter()
    try:
        result = crop_or_reconstruct(_reconstructor(options, False), photo)
        state = {"result": result, "start": start}
    except Exception as exc:  # noqa: BLE001 - a bad photo is a row, never a stopped job
        state = {"row": error_row(photo, exc, time.perf_counter() - start)}
    return {"path": photo.path, "key": photo.key, "state": pickle.dumps(state), "volume": b"", "network_s": 0.0}


class _Network:
    """Stage 2: an actor holding the model; runs it on a batch of crops."""

    def __init__(self, options: bytes, threads: int) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.rec = _reconstructor(options, True)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        states = [pickle.loads(state) for state in batch["state"]]
        ready = [i for i, state in enumerate(states) if "result" in state]
        volumes = list(batch["volume"])
        seconds = list(batch["network_s"])
        if ready:
            results = [states[i]["result"] for i in ready]
            start = time.perf_counter()
            out = self.rec.predict_volumes(np.stack([r.crop for r in results]),
                                           np.stack([r.landmarks_crop for r in results]))
            share = (time.perf_counter() - start) / len(ready)
            for i, volume in zip(ready, out):
                volumes[i], seconds[i] = np.ascontiguousarray(volume, np.float32).tobytes(), share
            for state in (states[i] for i in ready):
                state["model"] = self.rec.model_name
        return {"path": batch["path"], "key": batch["key"], "state": [pickle.dumps(s) for s in states],
                "volume": volumes, "network_s": seconds}


def _mesh(row: dict[str, Any], options: bytes, out_dir: str) -> dict[str, Any]:
    """Stage 3: mesh, export and record; the photo's table row as JSON."""
    photo = Photo(row["path"], row["key"])
    state = pickle.loads(row["state"])
    if "row" in state:
        return {"row": json.dumps(state["row"])}
    settings = _options(options)
    try:
        volume = np.frombuffer(row["volume"], np.float32).reshape(VOLUME_SHAPE)
        result = _reconstructor(options, False).mesh_from_volume(
            state["result"], volume, remove_bumps=settings.remove_bumps, network_seconds=row["network_s"],
            model_name=state["model"])
        done = save_photo(Path(out_dir), photo, result, settings, time.perf_counter() - state["start"])
    except Exception as exc:  # noqa: BLE001 - a bad photo is a row, never a stopped job
        done = error_row(photo, exc)
    return {"row": json.dumps(done)}


def run_ray(photos: Sequence[Photo], out_dir: Path, options: BatchOptions, *,
            address: str | None = None) -> Iterator[dict[str, Any]]:
    """Reconstruct ``photos`` on Ray (see the module's notes); yield their table rows as they finish.

    Joins the cluster at ``address`` (or a running instance; else starts a local one) unless
    Ray is already initialised in this process.

    Raises
    ------
    MissingDependencyError
        Ray is not installed (the ``cluster`` extra).
    """
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingDependencyError("--engine ray needs Ray: pip install 'vrn-studio[cluster]' "
                                     "(or pip install 'ray[data]')") from exc
    if not photos:
        return
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, include_dashboard=False, configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    settings = pickle.dumps(options)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    cpus = int(ray.cluster_resources().get("CPU", 1))
    dataset = ray.data.from_items([{"path": p.path, "key": p.key} for p in photos],
                                  override_num_blocks=min(len(photos), 4 * max(cpus, 1)))
    # Ray retries the tasks of a worker that dies and restarts actors (Ray Data's defaults).
    dataset = dataset.map(_crop, fn_kwargs={"options": settings}, num_cpus=1)
    # With GPUs: one actor per GPU. Without: actors of CPU_THREADS torch threads each, up to one
    # per CPU_THREADS cores (one here on 2 cores), whose crop stage Ray fuses into the actor
    # (same resources asked for).
    pool = ray.data.ActorPoolStrategy(size=gpus) if gpus else ray.data.ActorPoolStrategy(
        min_size=1, max_size=max(1, cpus // CPU_THREADS))
    dataset = dataset.map_batches(
        _Network, fn_constructor_kwargs={"options": settings, "threads": 0 if gpus else min(CPU_THREADS, cpus)},
        batch_size=BATCH_SIZE, batch_format="numpy", compute=pool, num_gpus=1 if gpus else 0, num_cpus=1)
    dataset = dataset.map(_mesh, fn_kwargs={"options": settings, "out_dir": str(out_dir)}, num_cpus=1)
    for row in dataset.iter_rows():
        yield json.loads(row["row"])

