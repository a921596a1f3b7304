"""The training loop: the paper's loss and optimiser, checkpoints, resume, torchrun.

Loss
----
Per-voxel sigmoid cross-entropy between the volume logits and the target volume
(``BCEWithLogitsLoss``, mean over voxels), as in the paper. The target is binary, or with
``soft_targets`` each voxel's occupied fraction in [0, 1]: the same cross-entropy then has its
minimum where the predicted probability equals that fraction, so the network can place the
surface between depth bins. VRN-Multitask adds
``landmark_loss_weight`` times the mean squared error between its heatmaps and Gaussian
heatmaps of the ground-truth landmarks (:func:`~vrn_studio.model.heatmaps.landmark_heatmaps`,
peak 1). VRN-Guided takes the ground-truth landmarks' heatmaps as input.

Optimiser
---------
RMSProp (``torch.optim.RMSprop`` defaults: alpha 0.99, eps 1e-8, no momentum) at ``lr``
(1e-4), set to ``lr_dropped`` (1e-5) from epoch ``lr_drop_epoch`` on.

Checkpoints (no pickle)
-----------------------
After every epoch rank 0 writes, in ``<out_dir>/checkpoints/``:

- ``epoch-NNNN.safetensors``: the model's ``state_dict`` (loadable on its own);
- ``epoch-NNNN.optimizer.safetensors``: the optimiser's per-parameter tensors, keyed
  ``"<param index>.<name>"``;
- ``epoch-NNNN.json``: epoch, step, elapsed seconds, the optimiser's param groups, the
  gradient scaler's scalars and the config. It is written last, so its presence marks a
  complete checkpoint; it is the path :func:`train` returns and ``resume`` takes.

Each file is written to a temporary name and renamed (atomic on one file system), with the
permissions the user's umask gives a new file.

Determinism
-----------
The weights are initialised from ``torch.manual_seed(seed)``; each epoch reseeds torch with
``seed + epoch`` and shuffles with a :class:`~torch.utils.data.DistributedSampler` seeded by
``seed`` (one replica without torchrun). With deterministic kernels (the CPU), training two
epochs equals training one, then resuming for one, bit for bit.

Distributed
-----------
Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) the process group is initialised
(``nccl`` on CUDA, ``gloo`` on CPU; each process uses ``cuda:LOCAL_RANK``), the model is wrapped
in :class:`~torch.nn.parallel.DistributedDataParallel`, every process sees its
``DistributedSampler`` share of each epoch, and only rank 0 writes files. ``batch_size`` is
per process.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from vrn_studio._io import atomic_path
from vrn_studio.errors import VrnStudioError
from vrn_studio.model.guided import VRNGuided
from vrn_studio.model.heatmaps import landmark_heatmaps
from vrn_studio.model.multitask import VRNMultitask
from vrn_studio.model.vrn import VRN
from vrn_studio.pipeline.device import resolve_device
from vrn_studio.train.config import SYNTHETIC, SYNTHETIC_SMOKE, ConfigError, TrainConfig
from vrn_studio.train.dataset import FolderDataset
from vrn_studio.train.smoke import SyntheticSmokeDataset
from vrn_studio.train.synthetic import SIZES, SyntheticDataset
from vrn_studio.weights.manifest import sha256_file

METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoints"
SURFACE_BAND = 2
"""Half-width, in depth bins, of the band around a target's surfaces that ``surface_weight`` weighs."""


class CheckpointError(VrnStudioError):
    """A checkpoint is missing, incomplete or does not match the run."""


def build_model(config: TrainConfig) -> nn.Module:
    """The network ``config.variant`` names, with the config's sizes (fresh weights)."""
    if config.variant == "multitask":
        return VRNMultitask(
            features=config.features,
            depth_bins=config.depth_bins,
            hourglass_depth=config.hourglass_depth,
            trunk_stacks=config.trunk_stacks,
            fork_stacks=config.fork_stacks,
        )
    cls = VRNGuided if config.variant == "guided" else VRN
    return cls(
        features=config.features,
        stacks=config.stacks,
        depth_bins=config.depth_bins,
        hourglass_depth=config.hourglass_depth,
        input_size=config.input_size,
    )


def build_dataset(config: TrainConfig, *, progress: bool = False) -> Dataset:
    """The dataset ``config.data`` names, at ``config.input_size`` and ``config.depth_bins``.

    Raises
    ------
    ConfigError
        ``data = "synthetic"`` with ``depth_bins`` other than ``200 * input_size / 192``
        or an ``input_size`` the generator cannot make.
    DatasetError
        The dataset folder does not exist or holds no photo.
    """
    if config.data == SYNTHETIC_SMOKE:
        return SyntheticSmokeDataset(max(8, 2 * config.batch_size), config.input_size, config.depth_bins, config.seed)
    if config.data == SYNTHETIC:
        if config.input_size not in SIZES or config.depth_bins != 200 * config.input_size // 192:
            raise ConfigError(
                f"data = {SYNTHETIC!r} makes input_size {' / '.join(map(str, SIZES))} with depth_bins "
                f"200 * input_size / 192; got input_size {config.input_size}, depth_bins {config.depth_bins}"
            )
        return SyntheticDataset(
            config.synthetic_samples, size=config.input_size, seed=config.seed, max_yaw=config.synthetic_max_yaw,
            source=config.synthetic_source, fill=config.synthetic_fill, soft=config.soft_targets,
            cache=config.synthetic_cache or config.out_dir,
            workers=os.cpu_count() or 1, progress=progress,
        )
    return FolderDataset(
        config.data, size=config.input_size, depth_bins=config.depth_bins, seed=config.seed,
        layout=config.data_format, bfm=config.bfm or None,
    )


def learning_rate(config: TrainConfig, epoch: int) -> float:
    """Learning rate of 0-based ``epoch``: ``lr`` before ``lr_drop_epoch``, ``lr_dropped`` from it."""
    return config.lr if epoch < config.lr_drop_epoch else config.lr_dropped


def compute_loss(
    model: nn.Module, raw: nn.Module, batch: dict[str, torch.Tensor], config: TrainConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """The paper's loss on one batch, and its parts as floats.

    Parameters
    ----------
    model : nn.Module
        What to call (the network, or its DDP wrapper).
    raw : nn.Module
        The unwrapped network (for :meth:`VRNGuided.stack_input`).
    batch : dict
        ``image`` (B, 3, H, W) in [0, 1], ``volume`` (B, D, H, W) in [0, 1] (binary or
        soft targets), ``landmarks``
        (B, 68, 2) crop pixels, all on the model's device.
    config : TrainConfig
        For ``variant`` and ``landmark_loss_weight``.
    """
    image, volume = batch["image"], batch["volume"]
    if isinstance(raw, VRNGuided):
        image = raw.stack_input(image, batch["landmarks"])
    out = model.forward_logits(image) if model is raw else model(image)
    heatmaps = None
    if isinstance(raw, VRNMultitask):
        out, heatmaps = out
    if out.shape != volume.shape:
        raise ValueError(
            f"the network's volume is {tuple(out.shape)} and the dataset's is {tuple(volume.shape)}: "
            "check depth_bins and input_size against the data"
        )
    weight = surface_weights(volume, config.surface_weight) if config.surface_weight else None
    volume_loss = nn.functional.binary_cross_entropy_with_logits(out.float(), volume.float(), weight=weight)
    if weight is not None:
        volume_loss = volume_loss / weight.mean()
    parts = {"volume_loss": float(volume_loss.detach())}
    if heatmaps is None:
        return volume_loss, parts
    target = landmark_heatmaps(batch["landmarks"], tuple(heatmaps.shape[-2:]), dtype=torch.float32)
    landmark_loss = nn.functional.mse_loss(heatmaps.float(), target)
    parts["landmark_loss"] = float(landmark_loss.detach())
    return volume_loss + config.landmark_loss_weight * landmark_loss, parts


def surface_weights(volume: torch.Tensor, surface_weight: float, band: int = SURFACE_BAND) -> torch.Tensor:
    """Per-voxel loss weights (B, D, H, W): ``1 + surface_weight`` within ``band`` depth bins of a
    surface of ``volume`` (B, D, H, W) in [0, 1] (a change of ``volume >= 0.5`` between depth
    neighbours), 1 elsewhere.

    Examples
    --------
    >>> column = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1.0]).reshape(1, 8, 1, 1)
    >>> surface_weights(column, 4.0, band=1).flatten().tolist()
    [1.0, 1.0, 1.0, 5.0, 5.0, 1.0, 1.0, 1.0]
    """
    solid = (volume >= 0.5).float()
    change = (solid[:, 1:] != solid[:, :-1]).float()  # between depth d and d + 1
    near = nn.functional.max_pool3d(change[:, None], (2 * band, 1, 1), stride=1, padding=(band, 0, 0))[:, 0]
    return 1.0 + surface_weight * near[:, : volume.shape[1]]


class _Forward(nn.Module):
    """Makes ``forward`` mean ``forward_logits`` so DDP wraps the logits path."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> Any:
        return self.net.forward_logits(x)


def train(
    config: TrainConfig,
    dataset: Dataset,
    *,
    device: str | torch.device = "auto",
    resume: str | Path | None = None,
    progress: bool = True,
    model: nn.Module | None = None,
    until_epoch: int | None = None,
) -> Path:
    """Train ``config``'s network on ``dataset``; return the last checkpoint's JSON path.

    Parameters
    ----------
    config : TrainConfig
        The run (see :class:`~vrn_studio.train.config.TrainConfig`).
    dataset : torch.utils.data.Dataset
        Yields dicts of ``image`` (3, H, W) float in [0, 1], ``volume`` (D, H, W) float in
        [0, 1] (binary, or soft targets) and ``landmarks`` (68, 2) in crop pixels, with H = W = ``config.input_size``
        and D = ``config.depth_bins``.
    device : str or torch.device, default: "auto"
        ``auto``, ``cpu``, ``cuda``...; under torchrun on CUDA each process takes
        ``cuda:LOCAL_RANK``.
    resume : path, optional
        A checkpoint JSON (or its folder's latest, given ``<out_dir>``/``checkpoints``) to
        continue from; training goes on at the epoch after it.
    progress : bool, default: True
        Show a tqdm bar (rank 0 only).
    model : nn.Module, optional
        Train this network instead of a fresh :func:`build_model` (it is modified in place).
    until_epoch : int, optional
        Stop after this epoch's checkpoint (1-based) instead of ``config.epochs``; the
        schedule stays the config's, so resuming later goes on exactly as an uninterrupted
        run would (short ablations that the winner continues).

    Returns
    -------
    Path
        ``<out_dir>/checkpoints/epoch-NNNN.json`` of the last epoch.
    """
    with _distributed(device) as (rank, world, dev):
        return _train(config, dataset, dev, rank, world, resume, progress, model, until_epoch)


@contextmanager
def _distributed(device: str | torch.device) -> Iterator[tuple[int, int, torch.device]]:
    """(rank, world size, device); initialises (and tears down) torchrun's process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    dev = resolve_device(device)
    if world <= 1:
        yield 0, 1, dev
        return
    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    created = not dist.is_initialized()
    if created:
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    try:
        yield dist.get_rank(), dist.get_world_size(), dev
    finally:
        if created:
            dist.destroy_process_group()


def _train(
    config: TrainConfig,
    dataset: Dataset,
    dev: torch.device,
    rank: int,
    world: int,
    resume: str | Path | None,
    progress: bool,
    model: nn.Module | None,
    until_epoch: int | None = None,
) -> Path:
    torch.manual_seed(config.seed)
    raw = (model if model is not None else build_model(config)).to(dev)
    optimizer = torch.optim.RMSprop(raw.parameters(), lr=config.lr)
    amp = config.amp and dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    start_epoch, step, elapsed = 0, 0, 0.0
    out_dir = Path(config.out_dir)
    last = _checkpoint_path(out_dir, 0)
    if resume is not None:
        last = latest_checkpoint(resume) if Path(resume).is_dir() else Path(resume)
        start_epoch, step, elapsed = load_checkpoint(last, raw, optimizer, scaler)
    elif config.init_weights:
        load_initial_weights(config, raw)
    net: nn.Module = raw
    if world > 1:
        net = DistributedDataParallel(_Forward(raw), device_ids=[dev.index] if dev.type == "cuda" else None)
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=config.seed)
    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.num_workers,
        pin_memory=dev.type == "cuda",
        drop_last=False,
    )
    writer = rank == 0
    if writer:
        (out_dir / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        _drop_metrics_after(out_dir / METRICS_FILE, step)
    began = time.perf_counter() - elapsed
    raw.train()
    for epoch in range(start_epoch, min(config.epochs, until_epoch or config.epochs)):
        torch.manual_seed(config.seed + epoch)
        sampler.set_epoch(epoch)
        if hasattr(dataset, "set_epoch"):  # datasets that draw new augmentations each epoch
            dataset.set_epoch(epoch)
        lr = learning_rate(config, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        bar = tqdm(
            loader, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not (progress and writer), leave=False
        )
        for batch in bar:
            batch = {k: v.to(dev, non_blocking=True) for k, v in batch.items()}
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(dev.type, dtype=torch.float16, enabled=amp):
                loss, parts = compute_loss(net, raw, batch, config)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            step += 1
            value = float(loss.detach())
            bar.set_postfix(loss=f"{value:.4f}")
            if writer:
                record = {
                    "epoch": epoch + 1,
                    "step": step,
                    "loss": value,
                    **parts,
                    "lr": lr,
                    "seconds": round(time.perf_counter() - began, 3),
                }
                with open(out_dir / METRICS_FILE, "a", encoding="utf-8") as log:
                    log.write(json.dumps(record) + "\n")
        last = _checkpoint_path(out_dir, epoch + 1)
        if writer:
            save_checkpoint(
                last,
                raw,
                optimizer,
                scaler,
                config,
                epoch=epoch + 1,
                step=step,
                elapsed=time.perf_counter() - began,
            )
        if world > 1:
            dist.barrier()
    return last


def _drop_metrics_after(path: Path, step: int) -> None:
    """Rewrite the metrics log without the records after ``step`` (those of an interrupted epoch
    that a resumed run trains again), so each step is logged once."""
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if line.strip() and json.loads(line)["step"] <= step]
    if len(kept) < len(lines):
        _atomic(path, lambda tmp: tmp.write_text("".join(kept), encoding="utf-8"))


def _checkpoint_path(out_dir: Path, epoch: int) -> Path:
    return out_dir / CHECKPOINT_DIR / f"epoch-{epoch:04d}.json"


def _atomic(path: Path, write: Any) -> None:
    """Call ``write(tmp)`` on a temporary file that then replaces ``path`` (see :func:`atomic_path`)."""
    with atomic_path(path, overwrite=True) as tmp:
        write(tmp)


def save_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    config: TrainConfig,
    *,
    epoch: int,
    step: int,
    elapsed: float,
) -> None:
    """Write the model, optimiser and scalars next to ``path`` (a ``.json``); see the module docstring."""
    stem = path.with_suffix("")
    weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    _atomic(
        stem.with_suffix(".safetensors"), lambda p: save_file(weights, str(p), metadata={"epoch": str(epoch)})
    )
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(index), {})[name] = value
    _atomic(stem.with_suffix(".optimizer.safetensors"), lambda p: save_file(tensors, str(p)))
    meta = {
        "epoch": epoch,
        "step": step,
        "elapsed_seconds": elapsed,
        "optimizer": {"param_groups": state["param_groups"], "scalars": scalars},
        "scaler": {k: v for k, v in scaler.state_dict().items() if isinstance(v, int | float | bool)},
        "config": config.as_dict(),
    }
    _atomic(path, lambda p: p.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8"))


def latest_checkpoint(folder: str | Path) -> Path:
    """The highest-epoch complete checkpoint JSON in ``folder`` (or its ``checkpoints`` subfolder)."""
    folder = Path(folder)
    if (folder / CHECKPOINT_DIR).is_dir():
        folder = folder / CHECKPOINT_DIR
    found = sorted(folder.glob("epoch-*.json"))
    if not found:
        raise CheckpointError(f"no checkpoint (epoch-NNNN.json) in {folder}")
    return found[-1]


def load_initial_weights(config: TrainConfig, model: nn.Module) -> None:
    """Load ``config.init_weights`` into ``model`` (in place): checksum checked against
    ``config.init_sha256`` when given, every tensor matched by name and shape, and the output
    bias shifted back by ``logit(config.init_iso_level)`` (undoing the export's calibration).

    Raises
    ------
    CheckpointError
        The file is unreadable, its checksum differs, or it does not fit the network.
    """
    path = Path(config.init_weights)
    try:
        if config.init_sha256 and sha256_file(path) != config.init_sha256:
            raise CheckpointError(
                f"init_weights {path} is not the file this recipe starts from (sha256 {config.init_sha256}); "
                "check it out from the commit the recipe names"
            )
        weights = load_file(str(path))
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"cannot read init_weights {path}: {exc}") from exc
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"init_weights {path} does not fit the network: {exc}") from exc
    calibrate(model, 1 - config.init_iso_level)  # logit(1 - p) = -logit(p): the export's shift undone


def calibrate(model: nn.Module, iso_level: float) -> None:
    """Shift the output layer's bias by ``logit(iso_level)`` (in place): where the network's
    probability was 0.5 it becomes ``iso_level`` (``calibrate(model, 1 - iso_level)`` undoes it).

    Raises
    ------
    ValueError
        ``iso_level`` is not in (0, 1).
    """
    if not 0 < iso_level < 1:
        raise ValueError(f"iso_level must be in (0, 1); got {iso_level}")
    with torch.no_grad():
        model.head[-1].bias += math.log(iso_level / (1 - iso_level))


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> tuple[int, int, float]:
    """Restore a checkpoint into ``model`` (and optimiser, scaler); return (epoch, step, elapsed s)."""
    path = Path(path)
    if path.is_dir():
        path = latest_checkpoint(path)
    stem = path.with_suffix("")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        weights = load_file(str(stem.with_suffix(".safetensors")))
        tensors = load_file(str(stem.with_suffix(".optimizer.safetensors")))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} does not match the network: {exc}") from exc
    if optimizer is not None:
        state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            index, name = key.split(".", 1)
            state.setdefault(int(index), {})[name] = value
        for index, entries in meta["optimizer"]["scalars"].items():
            state.setdefault(int(index), {}).update(entries)
        optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer"]["param_groups"]})
    if scaler is not None and scaler.is_enabled() and meta["scaler"]:
        scaler.load_state_dict(meta["scaler"])
    return int(meta["epoch"]), int(meta["step"]), float(meta["elapsed_seconds"])
