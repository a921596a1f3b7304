"""Where weights live, how they are found, checked and loaded.

A model is a manifest ``NAME.json`` (:class:`~vrn_studio.weights.manifest.Manifest`) next to
its ``NAME.safetensors``. Folders are searched in this order:

1. the folders in the environment variable ``VRN_STUDIO_WEIGHTS`` (``os.pathsep``-separated),
2. the per-user data folder (``platformdirs.user_data_dir("vrn-studio")/weights``), where
   ``vrn-studio weights import`` and ``download`` write by default,
3. the project's ``weights/`` folder (next to the ``vrn_studio`` package in a checkout).

Only safetensors files are ever loaded. Pickle-based checkpoints (``.pth``, ``.pt``,
``.ckpt``, or any file that starts like a pickle or a zip archive) are refused unread,
because unpickling a file can run arbitrary code.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as save_safetensors

from vrn_studio._io import atomic_write
from vrn_studio.errors import DeviceError, ExportError, WeightsError
from vrn_studio.model import VRN, NormMode, VRNGuided
from vrn_studio.weights.manifest import MANIFEST_SUFFIX, Manifest, sha256_file

logger = logging.getLogger(__name__)

ENV_VAR = "VRN_STUDIO_WEIGHTS"
"""Environment variable with extra weights folders, searched first."""
DEFAULT_MODELS: tuple[str, ...] = ("vrn-unguided", "vrn-studio-guided")
"""Models ``"default"`` means, in order of preference; the first installed one is used."""
PICKLE_SUFFIXES = frozenset({".pth", ".pt", ".ckpt", ".pkl", ".pickle"})
"""File name endings of pickle-based checkpoints, which are never loaded."""

_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_name(name: str) -> str:
    """Return ``name`` if it is a usable model name (letters, digits, ``.``, ``_``, ``-``).

    Raises
    ------
    WeightsError
        If it is not (it becomes a file name).
    """
    if not _NAME.fullmatch(name):
        raise WeightsError(
            f"{name!r} is not a valid model name; use letters, digits, '.', '_' and '-', e.g. vrn-unguided"
        )
    return name


def user_dir() -> Path:
    """The per-user weights folder (may not exist yet)."""
    return Path(platformdirs.user_data_dir("vrn-studio", appauthor=False)) / "weights"


def project_dir() -> Path:
    """The ``weights/`` folder of the project checkout that holds this package."""
    return Path(__file__).resolve().parents[2] / "weights"


def _locations() -> list[tuple[str, Path]]:
    env = [("env", Path(p)) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    return [*env, ("user", user_dir()), ("project", project_dir())]


def search_paths() -> list[Path]:
    """Folders searched for models, first match wins (see the module docstring)."""
    return [path for _, path in _locations()]


@dataclass(frozen=True)
class ModelEntry:
    """One installed model.

    Attributes
    ----------
    name : str
        Model name from the manifest.
    path : pathlib.Path
        The manifest file.
    manifest : Manifest
        Its contents.
    location : str
        ``"env"``, ``"user"``, ``"project"`` (search folders) or ``"file"`` (given by path).
    """

    name: str
    path: Path
    manifest: Manifest
    location: str

    @property
    def weights_path(self) -> Path:
        """The safetensors file the manifest describes."""
        return self.path.parent / self.manifest.file


@dataclass(frozen=True)
class LoadedModel:
    """A network with its weights loaded, in evaluation mode, and the manifest they came with."""

    model: VRN
    manifest: Manifest


def list_models() -> list[ModelEntry]:
    """Every model found in the search folders, in search order (files sorted by name).

    A name may appear more than once; the first one is what :func:`find_model` picks.
    JSON files that are not manifests are skipped with a logged warning.
    """
    entries = []
    for location, folder in _locations():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob(f"*{MANIFEST_SUFFIX}")):
            try:
                manifest = Manifest.read(path)
            except WeightsError as exc:
                logger.warning("Skipping %s: %s", path, exc)
                continue
            entries.append(ModelEntry(manifest.name, path, manifest, location))
    return entries


def _missing(name: str) -> WeightsError:
    searched = "; ".join(str(p) for p in search_paths())
    return WeightsError(
        f"Model {name!r} is not installed (searched: {searched}). Get it with "
        f"`vrn-studio weights download {name}`, or convert a copy of the original file with "
        f"`vrn-studio weights import {name}.t7`."
    )


def find_model(name: str) -> ModelEntry:
    """The first installed model called ``name``.

    Raises
    ------
    WeightsError
        If none is found; the message lists the folders searched and the command to run.
    """
    for entry in list_models():
        if entry.name == name:
            return entry
    raise _missing(name)


def verify_model(entry: ModelEntry) -> None:
    """Check that the model's safetensors file has the size and SHA-256 its manifest records.

    Raises
    ------
    WeightsError
        If the file is missing or differs, naming the expected and found values.
    """
    weights = entry.weights_path
    if not weights.is_file():
        raise WeightsError(
            f"{weights} (listed in {entry.path}) is missing; import or download {entry.name} again"
        )
    size = weights.stat().st_size
    sha256 = sha256_file(weights)
    if sha256 != entry.manifest.sha256 or size != entry.manifest.size:
        raise WeightsError(
            f"{weights} is corrupt or was changed: its SHA-256 is {sha256} ({size} bytes) but "
            f"{entry.path.name} expects {entry.manifest.sha256} ({entry.manifest.size} bytes). "
            f"Run `vrn-studio weights download {entry.name}` or import it again with --overwrite."
        )


def check_safetensors(path: Path) -> None:
    """Refuse anything but a safetensors file, pickle-based checkpoints above all.

    Only the first 9 bytes are read; nothing is unpickled.

    Raises
    ------
    WeightsError
        If ``path`` ends in a pickle suffix, or does not start like a safetensors file
        (8-byte header length then ``{``); the message says what to use instead.
    """
    with open(path, "rb") as handle:
        head = handle.read(9)
    looks_safetensors = head[8:9] == b"{"
    if path.suffix.lower() in PICKLE_SUFFIXES or (not looks_safetensors and head.startswith(_PICKLE_MAGIC)):
        raise WeightsError(
            f"{path} is a pickle-based PyTorch checkpoint. VRN Studio never loads those, because "
            "unpickling a file can run any code in it. Use a safetensors model with its manifest, "
            "or convert the original Torch7 file with `vrn-studio weights import FILE.t7`."
        )
    if not looks_safetensors:
        raise WeightsError(
            f"{path} is not a safetensors file; import the original model with `vrn-studio weights import`"
        )


def _resolve(name_or_path: str | os.PathLike[str]) -> ModelEntry:
    if name_or_path == "default":
        for name in DEFAULT_MODELS:
            try:
                return find_model(name)
            except WeightsError:
                continue
        raise _missing(DEFAULT_MODELS[0])
    path = Path(name_or_path)
    if not path.is_file():
        if isinstance(name_or_path, str) and _NAME.fullmatch(name_or_path):
            return find_model(name_or_path)
        raise WeightsError(f"{path} does not exist; give an installed model name or a manifest file")
    if path.suffix == ".t7":
        raise WeightsError(
            f"{path} is a Torch7 file; convert it first with `vrn-studio weights import {path}`"
        )
    if path.suffix != MANIFEST_SUFFIX:
        check_safetensors(path)
    manifest_path = path.with_suffix(MANIFEST_SUFFIX)
    if not manifest_path.is_file():
        raise WeightsError(
            f"{path} has no manifest {manifest_path.name} beside it, so its network and checksum are "
            "unknown; import the original file with `vrn-studio weights import`"
        )
    manifest = Manifest.read(manifest_path)
    if path.suffix != MANIFEST_SUFFIX and manifest.file != path.name:
        raise WeightsError(f"{manifest_path} describes {manifest.file}, not {path.name}")
    return ModelEntry(manifest.name, manifest_path, manifest, "file")


def load_model(
    name_or_path: str | os.PathLike[str] = "default",
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    norm: NormMode | None = None,
) -> LoadedModel:
    """Load an installed model (by name) or a manifest / safetensors file (by path).

    The checksum is verified and every tensor must match the network built from the
    manifest's architecture, by name and shape, before the weights are used.

    Parameters
    ----------
    name_or_path : str or os.PathLike, default: "default"
        ``"default"`` (the first installed of :data:`DEFAULT_MODELS`), a model name such
        as ``"vrn-unguided"``, or the path of a manifest or safetensors file.
    device : str or torch.device, default: "cpu"
        Where the network runs.
    dtype : torch.dtype, default: torch.float32
        Parameter type.
    norm : {"image", "running"}, optional
        Batch-norm statistics at inference; default: the manifest's ``norm`` (``"image"``
        for the release).

    Returns
    -------
    LoadedModel
        ``model`` in evaluation mode and its ``manifest``.

    Raises
    ------
    WeightsError
        If the model is not installed (naming the folders searched and the command to
        run), is corrupt, is a pickle checkpoint, or does not fit the network.
    DeviceError
        If the network cannot be moved to ``device`` / ``dtype``.
    """
    entry = _resolve(name_or_path)
    verify_model(entry)
    weights = entry.weights_path
    check_safetensors(weights)
    try:
        state = load_file(weights, device="cpu")
    except (SafetensorError, OSError) as exc:
        raise WeightsError(f"{weights} is not a readable safetensors file: {exc}") from exc
    try:
        network = VRNGuided if entry.manifest.variant == "guided" else VRN
        model = network(**entry.manifest.architecture, norm=norm or entry.manifest.norm)
    except (TypeError, ValueError) as exc:
        raise WeightsError(
            f"{entry.path} has an unusable architecture {entry.manifest.architecture}: {exc}"
        ) from exc
    expected = model.state_dict()
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    if missing or unexpected:
        raise WeightsError(
            f"{weights} does not fit the network: missing {missing[:3] or 'none'}, "
            f"unexpected {unexpected[:3] or 'none'} ({len(missing)} and {len(unexpected)} in all)"
        )
    for key, tensor in expected.items():
        if state[key].shape != tensor.shape:
            raise WeightsError(
                f"{weights} does not fit the network: {key} has shape {tuple(state[key].shape)}, "
                f"expected {tuple(tensor.shape)}"
            )
    model.load_state_dict(state, strict=True)
    try:
        model = model.to(device=device, dtype=dtype)
    except (RuntimeError, AssertionError) as exc:
        raise DeviceError(f"Cannot put {entry.name} on device {device!r} as {dtype}: {exc}") from exc
    return LoadedModel(model.eval(), entry.manifest)


def check_free(folder: Path, name: str, *, overwrite: bool = False) -> None:
    """Raise :class:`ExportError` if model ``name`` exists in ``folder`` and ``overwrite`` is off."""
    if overwrite:
        return
    for existing in (folder / f"{name}.safetensors", folder / f"{name}{MANIFEST_SUFFIX}"):
        if existing.exists():
            raise ExportError(f"{existing} already exists; pass overwrite=True (CLI: --overwrite) to replace it")


def save_model(
    model: torch.nn.Module,
    folder: str | os.PathLike[str],
    name: str,
    *,
    source: str,
    licence: str,
    architecture: dict[str, int],
    variant: str = "unguided",
    norm: NormMode = "image",
    imported_from: dict[str, str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model``'s weights as ``NAME.safetensors`` and its manifest ``NAME.json``; return the manifest.

    Both files are written atomically; the weights file is removed again if the manifest
    cannot be written. ``architecture``, ``variant`` and ``norm`` must rebuild ``model``
    through :func:`load_model`.

    Raises
    ------
    ExportError
        The model exists already (without ``overwrite``) or cannot be written.
    """
    check_name(name)
    folder = Path(folder)
    check_free(folder, name, overwrite=overwrite)
    weights_path = folder / f"{name}.safetensors"
    data = save_safetensors({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()},
                            metadata={"name": name})
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(weights_path, data, overwrite=overwrite)
    manifest = Manifest(
        name=name, file=weights_path.name, sha256=sha256_file(weights_path), size=len(data), source=source,
        licence=licence, architecture=architecture, variant=variant, norm=norm, imported_from=imported_from or {},
    )
    try:
        return manifest.write(folder / f"{name}{MANIFEST_SUFFIX}", overwrite=overwrite)
    except BaseException:
        weights_path.unlink(missing_ok=True)
        raise
