"""Atomic file writes: a temporary file in the target folder, fsync, then rename.

A new file gets the permissions the user's umask gives any new file (``0o666 & ~umask``,
e.g. ``-rw-r--r--`` under umask 022), not the owner-only mode of the temporary file; a
replaced file keeps the permissions it had.
"""

from __future__ import annotations

import contextlib
import glob
import os
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from vrn_studio.errors import ExportError

STALE_PART_SECONDS = 600
"""Age after which a leftover temporary file of a target (a killed writer's) is removed."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary file's path that replaces ``path`` only if the block succeeds.

    For writers that need a file name (e.g. ``safetensors.torch.save_file``): the block
    writes the yielded path; it is then flushed to disk and renamed over ``path``. On any
    error the temporary file is removed and ``path`` is left as it was; after a successful
    write, temporary files of the same target older than :data:`STALE_PART_SECONDS` (left
    by a killed process) are removed too. An existing ``path`` raises :class:`ExportError`
    unless ``overwrite`` is true; a replaced file keeps its permission bits, a new one gets
    those of the user's umask. Errors of the file system (no space, no permission, a
    read-only folder) become :class:`ExportError` naming the file.
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
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as written:  # the writer may have made a file of its own there
            os.fchmod(written.fileno(), _mode_for(target))
            os.fsync(written.fileno())
        os.replace(tmp, target)
        _remove_stale_parts(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"Cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[BinaryIO]:
    """Open a temporary binary file that replaces ``path`` only if the block succeeds.

    The same guarantees as :func:`atomic_path` (no partial file under ``path``, umask
    permissions, :class:`ExportError` on file-system errors).
    """
    with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "wb") as handle:
        yield handle


def _mode_for(target: Path) -> int:
    """Permission bits for ``target``: those of the file it replaces, else ``0o666 & ~umask``."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's file-creation mask (e.g. ``0o022``), read without changing it where the
    system says it (Linux ``/proc/self/status``), else set and restored under a lock."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


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
