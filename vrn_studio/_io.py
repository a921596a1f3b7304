"""Atomic file writes: a temporary file in the target folder, fsync, then rename."""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from vrn_studio.errors import ExportError

STALE_PART_SECONDS = 600
"""Age after which a leftover temporary file of a target (a killed writer's) is removed."""


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[BinaryIO]:
    """Open a temporary binary file that replaces ``path`` only if the block succeeds.

    On any error the temporary file is removed and ``path`` is left as it was; after a
    successful write, temporary files of the same target older than
    :data:`STALE_PART_SECONDS` (left by a killed process) are removed too. An existing
    ``path`` raises :class:`ExportError` unless ``overwrite`` is true. Errors of the file
    system (no space, no permission, a read-only folder) become :class:`ExportError` naming
    the file.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise ExportError(f"{target} already exists; pass overwrite=True (CLI: --overwrite) to replace it")
    if target.is_dir():
        raise ExportError(f"{target} is a folder, not a file")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent or ".")
    except FileNotFoundError as exc:
        raise ExportError(f"Cannot write {target}: folder {target.parent} does not exist") from exc
    except OSError as exc:
        raise ExportError(f"Cannot write {target}: {exc.strerror or exc}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _remove_stale_parts(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"Cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _remove_stale_parts(target: Path) -> None:
    """Delete ``.NAME.*.part`` files next to ``target`` older than :data:`STALE_PART_SECONDS`."""
    cutoff = time.time() - STALE_PART_SECONDS
    for part in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
        with contextlib.suppress(OSError):
            if part.stat().st_mtime < cutoff:
                part.unlink()


def atomic_write(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`); return the path."""
    with atomic_open(path, overwrite=overwrite) as handle:
        handle.write(data)
    return Path(path)
