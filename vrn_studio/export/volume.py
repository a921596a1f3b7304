"""The network's volume as a compressed ``.npz`` file, with the settings to mesh it again."""

from __future__ import annotations

import dataclasses
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from vrn_studio._io import atomic_write
from vrn_studio.crop import CropTransform

VOLUME_FORMAT = "vrn-studio-volume/1"


def export_volume(
    volume: np.ndarray, path: str | os.PathLike[str], *, overwrite: bool = False, **metadata: Any
) -> Path:
    """Save a probability volume and its metadata to a compressed ``.npz`` file, atomically.

    Parameters
    ----------
    volume : np.ndarray, shape (D, H, W), float or uint8
        Probabilities in [0, 1] indexed (depth, y, x), or uint8 already scaled to 0-255.
    path : str or os.PathLike
        Destination, written as given (conventionally ``.npz``).
    overwrite : bool, default: False
        Replace an existing file.
    **metadata
        JSON-serialisable values to keep with the volume, e.g. ``level=10/255``,
        ``z_scale=0.5``, ``transform=CropTransform(...)`` (stored as its fields and given
        back as a :class:`CropTransform`). NumPy arrays and scalars are stored as (nested)
        lists and numbers.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        On a volume that is not 3-D float/uint8, or metadata that JSON cannot hold.
    ExportError
        On an existing file without ``overwrite``, or a failed write.

    Notes
    -----
    The archive holds ``volume``: uint8 (D, H, W), ``round(p * 255)`` as the release
    stores it (probability resolution 1/255), and ``metadata``: a JSON string
    ``{"format": "vrn-studio-volume/1", "metadata": {...}}``. It loads without pickle.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = export_volume(np.full((2, 3, 4), 0.5), Path(folder) / "v.npz", level=0.04)
    ...     volume, meta = load_volume(path)
    >>> volume.shape, float(volume[0, 0, 0]), meta
    ((2, 3, 4), 0.501960813999176, {'level': 0.04})
    """
    volume = np.asarray(volume)
    if volume.ndim != 3 or not (volume.dtype == np.uint8 or np.issubdtype(volume.dtype, np.floating)):
        raise ValueError(
            f"Volume must be a 3-D float or uint8 array indexed (depth, y, x); "
            f"got shape {volume.shape} of dtype {volume.dtype}"
        )
    if volume.dtype != np.uint8:
        volume = np.rint(np.clip(volume, 0.0, 1.0) * 255).astype(np.uint8)
    try:
        header = json.dumps({"format": VOLUME_FORMAT, "metadata": metadata}, allow_nan=False, default=_plain)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Volume metadata must be JSON-serialisable: {exc}") from exc
    buffer = io.BytesIO()
    np.savez_compressed(buffer, volume=volume, metadata=np.array(header))
    return atomic_write(path, buffer.getvalue(), overwrite=overwrite)


def load_volume(path: str | os.PathLike[str]) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a file written by :func:`export_volume`.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz`` file from :func:`export_volume`.

    Returns
    -------
    volume : np.ndarray, shape (D, H, W), float32
        Probabilities, ``stored / 255``.
    metadata : dict
        The keyword arguments given to :func:`export_volume`; ``transform`` is a
        :class:`CropTransform` again.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is not a VRN Studio volume.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            stored = archive["volume"]
            header = json.loads(str(archive["metadata"]))
    except FileNotFoundError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path} is not a VRN Studio volume file: {exc}") from exc
    if header.get("format") != VOLUME_FORMAT or stored.dtype != np.uint8 or stored.ndim != 3:
        raise ValueError(f"{path} is not a VRN Studio volume file (format {header.get('format')!r})")
    metadata = header["metadata"]
    if isinstance(metadata.get("transform"), dict):
        metadata["transform"] = CropTransform(**metadata["transform"])
    return stored.astype(np.float32) / 255, metadata


def _plain(value: Any) -> Any:
    """JSON stand-in for the non-JSON values :func:`export_volume` accepts."""
    if isinstance(value, CropTransform):
        return dataclasses.asdict(value)
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
