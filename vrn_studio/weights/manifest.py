"""Model manifests: one small JSON file describing one safetensors weights file.

A manifest records where the weights came from (URL, licence, the original file and its
SHA-256), what network they fit (the :class:`~vrn_studio.model.VRN` keyword arguments) and
the SHA-256 and size of the safetensors file, so that a corrupt or swapped file is caught
before it is loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vrn_studio._io import atomic_write
from vrn_studio.errors import WeightsError

MANIFEST_SUFFIX = ".json"
"""File name ending of a manifest; the manifest of ``NAME.safetensors`` is ``NAME.json``."""

VARIANTS: tuple[str, ...] = ("unguided", "guided")
"""Network variants a manifest can describe (the ones the pipeline runs)."""

_CHUNK = 1 << 20
_FIELD_TYPES: dict[str, tuple[type, str]] = {
    "size": (int, "an integer"),
    "architecture": (dict, "an object"),
    "imported_from": (dict, "an object"),
}


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes as 64 lowercase hex digits, read in 1 MiB chunks.

    Raises
    ------
    WeightsError
        If the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise WeightsError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def utc_now() -> str:
    """The current time in ISO 8601 form, UTC, to the second (``2026-01-31T12:00:00+00:00``)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Manifest:
    """What one weights file is, where it came from and how to check it.

    Attributes
    ----------
    name : str
        Model name used on the command line, e.g. ``"vrn-unguided"``.
    file : str
        Name of the safetensors file, relative to the manifest's folder.
    sha256 : str
        SHA-256 of the safetensors file, 64 lowercase hex digits.
    size : int
        Size of the safetensors file in bytes.
    source : str
        URL the original weights were published at.
    licence : str
        Licence of the weights, e.g. ``"MIT"``.
    architecture : dict of str to int
        Keyword arguments of :class:`~vrn_studio.model.VRN` that build the matching network.
    variant : str, default: "unguided"
        Network variant: ``"unguided"`` (:class:`~vrn_studio.model.VRN`) or ``"guided"``
        (:class:`~vrn_studio.model.VRNGuided`).
    norm : str, default: "image"
        Batch-norm statistics the model is meant to run with: ``"image"`` (the release,
        trained in Torch7 and run without ``:evaluate()``) or ``"running"``.
    imported_from : dict of str to str
        ``{"file": original file name, "sha256": its SHA-256}``; empty when the weights
        were not converted from another file.
    created : str
        When the safetensors file was written, ISO 8601 UTC.
    """

    name: str
    file: str
    sha256: str
    size: int
    source: str
    licence: str
    architecture: dict[str, int]
    variant: str = "unguided"
    norm: str = "image"
    imported_from: dict[str, str] = field(default_factory=dict)
    created: str = field(default_factory=utc_now)

    def to_json(self) -> str:
        """The manifest as indented JSON text ending in a newline."""
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, *, origin: str = "manifest") -> Manifest:
        """Parse JSON text; ``origin`` (a file name) is quoted in errors.

        Raises
        ------
        WeightsError
            If the text is not JSON or misses, or mistypes, a field.
        """
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise WeightsError(f"{origin} is not a valid manifest: {exc}") from exc
        if not isinstance(data, dict):
            raise WeightsError(f"{origin} is not a valid manifest: expected a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        required = {
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        missing = sorted(required - data.keys())
        if missing:
            raise WeightsError(f"{origin} is not a valid manifest: missing {', '.join(missing)}")
        unknown = sorted(data.keys() - names)
        if unknown:
            raise WeightsError(f"{origin} is not a valid manifest: unknown field(s) {', '.join(unknown)}")
        manifest = cls(**data)
        manifest._check_types(origin)
        return manifest

    def _check_types(self, origin: str) -> None:
        problems = [
            f"{f.name} should be {_FIELD_TYPES.get(f.name, (str, 'a string'))[1]}"
            for f in dataclasses.fields(self)
            if not isinstance(getattr(self, f.name), _FIELD_TYPES.get(f.name, (str, ""))[0])
        ]
        if self.variant not in VARIANTS:
            problems.append(f"variant is {self.variant!r}, expected one of {', '.join(VARIANTS)}")
        if self.norm not in ("image", "running"):
            problems.append(f"norm is {self.norm!r}, expected image or running")
        if problems:
            raise WeightsError(f"{origin} is not a valid manifest: {'; '.join(problems)}")

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Manifest:
        """Read a manifest file.

        Raises
        ------
        WeightsError
            If the file cannot be read or is not a valid manifest.
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise WeightsError(f"Cannot read manifest {path}: {exc}") from exc
        return cls.from_json(text, origin=str(path))

    def write(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the manifest atomically to ``path``; return the path."""
        return atomic_write(path, self.to_json().encode("utf-8"), overwrite=overwrite)
