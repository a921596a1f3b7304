"""The mesh exporter table and :func:`export_mesh`, which writes through it atomically."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from vrn_studio._io import atomic_write
from vrn_studio.errors import ExportError
from vrn_studio.export.glb import export_glb
from vrn_studio.export.obj import export_obj
from vrn_studio.export.ply import export_ply
from vrn_studio.export.stl import export_stl
from vrn_studio.mesh import Mesh

Exporter = Callable[[Mesh], bytes]
"""A pure exporter: encodes a mesh as the bytes of a file and opens no file itself."""

EXPORTERS: dict[str, Exporter] = {
    "obj": export_obj,
    "ply": export_ply,
    "stl": export_stl,
    "glb": export_glb,
}
"""File extension (lower case, no dot) -> exporter. Add to it with :func:`register_exporter`."""


def register_exporter(ext: str, func: Exporter, *, override: bool = False) -> None:
    """Make :func:`export_mesh` write files ending in ``ext`` with ``func``.

    Parameters
    ----------
    ext : str
        File extension, with or without the dot, any case (``".OFF"`` and ``"off"`` match).
    func : callable
        ``func(mesh) -> bytes``.
    override : bool, default: False
        Replace an exporter already registered for ``ext``; without it that is an error.

    Raises
    ------
    ValueError
        When ``ext`` is empty or already registered and ``override`` is false.

    Examples
    --------
    >>> register_exporter("xyz", lambda m: m.vertices.tobytes())
    >>> "xyz" in mesh_formats()
    True
    >>> del EXPORTERS["xyz"]  # only for the example
    """
    key = _normalise(ext)
    if not key:
        raise ValueError(f"File extension must not be empty; got {ext!r}")
    if key in EXPORTERS and not override:
        raise ValueError(f"An exporter for '.{key}' is already registered; pass override=True to replace it")
    EXPORTERS[key] = func


def mesh_formats() -> list[str]:
    """File extensions :func:`export_mesh` can write, sorted (lower case, no dot)."""
    return sorted(EXPORTERS)


def export_mesh(
    mesh: Mesh, path: str | os.PathLike[str], *, file_type: str | None = None, overwrite: bool = False
) -> Path:
    """Write a mesh to a file whose format follows its extension.

    The file is encoded in memory, then written to a temporary file beside ``path`` and
    renamed over it: a failure at any point leaves an existing file as it was and no
    temporary file behind.

    Parameters
    ----------
    mesh : Mesh
        Written as it is (see :func:`vrn_studio.mesh.to_viewer_frame` for other programs).
    path : str or os.PathLike
        Destination; its folder must exist.
    file_type : str or None
        Format (``"glb"``, ``".ply"``...); by default the extension of ``path``.
    overwrite : bool, default: False
        Replace an existing file.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ExportError
        For an unknown format (listing the supported ones), an existing file without
        ``overwrite``, or a failed write (missing folder, no space, no permission).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     export_mesh(Mesh(np.eye(3), [[0, 1, 2]]), Path(folder) / "face.ply").name
    'face.ply'
    """
    path = Path(path)
    key = _normalise(file_type if file_type is not None else path.suffix)
    exporter = EXPORTERS.get(key)
    if exporter is None:
        what = f"'.{key}'" if key else "no extension"
        raise ExportError(
            f"Cannot export a mesh to {path}: {what} is not a mesh format. "
            f"Supported: {', '.join('.' + ext for ext in mesh_formats())}"
        )
    return atomic_write(path, exporter(mesh), overwrite=overwrite)


def _normalise(ext: str) -> str:
    return ext.strip().lstrip(".").lower()
