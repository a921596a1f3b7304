"""A training checkpoint -> an installed model (safetensors + manifest) the pipeline loads."""

from __future__ import annotations

import json
import os
from pathlib import Path

from vrn_studio.errors import WeightsError
from vrn_studio.mesh import DEFAULT_LEVEL
from vrn_studio.model import NormMode
from vrn_studio.train.config import TrainConfig
from vrn_studio.train.loop import CheckpointError, build_model, calibrate, latest_checkpoint, load_checkpoint
from vrn_studio.weights import store

SOURCE = "trained with VRN Studio (vrn-studio train)"
"""Default ``source`` of an exported model's manifest."""


def export_checkpoint(
    checkpoint: str | os.PathLike[str],
    name: str,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    source: str = SOURCE,
    licence: str = "unspecified",
    norm: NormMode = "running",
    iso_level: float | None = DEFAULT_LEVEL,
    overwrite: bool = False,
) -> Path:
    """Write a checkpoint's network as model ``name``; return the manifest's path.

    The network is rebuilt from the checkpoint's own config (so its architecture is
    recorded exactly) and its weights loaded; the manifest gets the variant, the
    architecture (with ``input_size``, which :func:`~vrn_studio.model.release_volume`
    uses to run it on the pipeline's 192 px crops) and ``norm``.

    Calibration: a network trained with the per-voxel cross-entropy puts its surface where
    the probability crosses 0.5, while the pipeline meshes at the release's iso level
    (10/255, where the released network puts its surface). With ``iso_level`` the output
    layer's bias is shifted by ``logit(iso_level)``, so the exported probability equals
    ``iso_level`` exactly where the trained one equals 0.5: the model's own surface is what
    every consumer (CLI, app, volume export) meshes at the default level, and the
    low-confidence voxels around it fall well below it. ``None`` exports unchanged.

    Parameters
    ----------
    checkpoint : path
        A checkpoint ``epoch-NNNN.json`` (or a run folder: its latest).
    name : str
        Model name (file names and ``load_model(name)``).
    out_dir : path, optional
        Folder to write to (default: the per-user weights folder).
    source, licence : str
        Recorded in the manifest.
    norm : {"running", "image"}, default: "running"
        Batch-norm statistics to run it with: a network trained with batch statistics is
        meant to use its running statistics.
    iso_level : float or None, default: DEFAULT_LEVEL
        The iso level in (0, 1) to calibrate the 0.5 decision boundary to (see above).
    overwrite : bool, default: False
        Replace a model of the same name.

    Raises
    ------
    WeightsError
        The checkpoint is unreadable, or its variant cannot run in the pipeline (multitask).
    ExportError
        The model exists already (without ``overwrite``) or cannot be written.
    """
    path = Path(checkpoint)
    try:
        if path.is_dir():
            path = latest_checkpoint(path)
        config = TrainConfig.from_dict(json.loads(path.read_text(encoding="utf-8"))["config"])
        if config.variant == "multitask":
            raise WeightsError("multitask checkpoints cannot be exported yet: the pipeline runs unguided and guided")
        model = build_model(config)
        load_checkpoint(path, model)
        if iso_level is not None:
            calibrate(model, iso_level)
    except (OSError, ValueError, KeyError, CheckpointError) as exc:
        raise WeightsError(f"cannot export {checkpoint}: {exc}") from exc
    architecture = {
        "features": config.features,
        "stacks": config.stacks,
        "depth_bins": config.depth_bins,
        "hourglass_depth": config.hourglass_depth,
        "input_size": config.input_size,
    }
    folder = Path(out_dir) if out_dir is not None else store.user_dir()
    return store.save_model(
        model, folder, name, source=source, licence=licence, architecture=architecture,
        variant=config.variant, norm=norm, overwrite=overwrite,
    )
