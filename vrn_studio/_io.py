"""Atomic file writes: a temporary file in the target folder, fsync, then rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from vrn_studio.errors import ExportError


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[BinaryIO]:
    """Open a temporary binary file that replaces ``path`` only if the block succeeds.

    On any error the temporary file is removed and ``path`` is left as it was. An existing
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
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"Cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`); return the path."""
    with atomic_open(path, overwrite=overwrite) as handle:
        handle.write(data)
    return Path(path)
