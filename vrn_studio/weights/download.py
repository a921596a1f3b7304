"""Download published models, resuming broken transfers, then import them.

Only :mod:`urllib` is used. An unreachable server fails at once with the manual steps
(where to get the file, which command imports it); a transfer cut in the middle leaves a
``.part`` file that the next attempt continues with an HTTP ``Range`` request. Callers
with their own display (the GUI) pass a callable as ``progress`` and may cancel a transfer
between chunks with a :class:`threading.Event`; a cancelled transfer also keeps its ``.part``.
"""

from __future__ import annotations

import http.client
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from vrn_studio.errors import WeightsError
from vrn_studio.weights import store
from vrn_studio.weights.manifest import sha256_file
from vrn_studio.weights.t7 import RELEASE_LICENCE, RELEASE_URL, import_t7

_CHUNK = 1 << 16

ProgressCallback = Callable[[int, int | None], None]
"""Called as ``progress(done, total)`` with bytes received so far (counting a resumed
``.part``) and the file size in bytes, or None when the server does not say."""


@dataclass(frozen=True)
class KnownModel:
    """A model VRN Studio knows where to download.

    Attributes
    ----------
    name : str
        Model name, e.g. ``"vrn-unguided"``.
    url : str
        Where the original file is published.
    filename : str
        Name to save the original file under.
    licence : str
        Licence of the weights.
    sha256 : str or None
        SHA-256 of the original file when known; None skips the check (the import's
        probe check still runs).
    """

    name: str
    url: str
    filename: str
    licence: str
    sha256: str | None = None


KNOWN_MODELS: dict[str, KnownModel] = {
    "vrn-unguided": KnownModel("vrn-unguided", RELEASE_URL, "vrn-unguided.t7", RELEASE_LICENCE),
}
"""Downloadable models by name. The authors published no checksum for ``vrn-unguided.t7``."""


def manual_steps(url: str, filename: str) -> str:
    """How to install a model by hand: fetch ``url`` elsewhere, then import the file."""
    return (
        f"To install it by hand, download {url} on a machine with internet access, save it as "
        f"{filename}, copy it here and run `vrn-studio weights import {filename}`."
    )


def fetch(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    progress: bool | ProgressCallback = True,
    timeout: float = 30.0,
    cancel: threading.Event | None = None,
) -> Path:
    """Download ``url`` to ``dest``, resuming from ``dest + ".part"`` if one is there.

    Parameters
    ----------
    url : str
        HTTP(S) address.
    dest : str or os.PathLike
        Final file; it appears only once complete (and checked, when ``sha256`` is given).
    sha256 : str, optional
        Expected SHA-256 of the whole file.
    progress : bool or callable, default: True
        True shows a progress bar on stderr; a callable ``progress(done, total)`` (see
        :data:`ProgressCallback`) is called instead, once when the transfer starts and after
        every chunk of 64 KiB, on the calling thread.
    timeout : float, default: 30.0
        Seconds to wait for the server to answer or send more data.
    cancel : threading.Event, optional
        Checked after every chunk; once set, the transfer stops and raises.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    WeightsError
        Unreachable server or HTTP error (with the manual steps; no retries), a transfer
        cut short or cancelled (the ``.part`` file is kept for the next attempt), or a
        checksum mismatch (naming both hashes; nothing is kept).
    """
    target = Path(dest)
    part = target.with_name(target.name + ".part")
    done = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={done}-"} if done else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and done:
            part.unlink()
            return fetch(url, target, sha256=sha256, progress=progress, timeout=timeout, cancel=cancel)
        raise WeightsError(
            f"Cannot download {url}: HTTP {exc.code} {exc.reason}. {manual_steps(url, target.name)}"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WeightsError(
            f"Cannot reach {url} ({reason}); you may be offline. {manual_steps(url, target.name)}"
        ) from exc
    with response:
        resumed = response.status == 206
        length = response.headers.get("Content-Length")
        total = int(length) + (done if resumed else 0) if length is not None else None
        received = done if resumed else 0
        report = progress if callable(progress) else None
        if report is not None:
            report(received, total)
        with (
            open(part, "ab" if resumed else "wb") as out,
            tqdm(
                total=total,
                initial=done if resumed else 0,
                unit="B",
                unit_scale=True,
                desc=target.name,
                disable=progress is not True,
            ) as bar,
        ):
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                    if report is not None:
                        report(received, total)
                    if cancel is not None and cancel.is_set() and received != total:
                        raise WeightsError(
                            f"Download of {url} cancelled at {received} bytes; the part received is "
                            f"kept in {part.name}, so downloading again resumes from there"
                        )
            except (OSError, http.client.HTTPException) as exc:
                raise WeightsError(
                    f"Download of {url} was interrupted ({exc}); run the same command again to resume"
                ) from exc
    size = part.stat().st_size
    if total is not None and size != total:
        raise WeightsError(
            f"Download of {url} stopped at {size} of {total} bytes; run the same command again to resume"
        )
    if sha256 is not None:
        found = sha256_file(part)
        if found != sha256.lower():
            part.unlink()
            raise WeightsError(
                f"{url} downloaded with SHA-256 {found}, expected {sha256}; the file was deleted. "
                f"The server may hold a different file. {manual_steps(url, target.name)}"
            )
    os.replace(part, target)
    return target


def download(
    name: str,
    dest_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool | ProgressCallback = True,
    timeout: float = 30.0,
    overwrite: bool = False,
    cancel: threading.Event | None = None,
) -> Path:
    """Download a known model's original file and import it; return the manifest path.

    The original file (e.g. ``vrn-unguided.t7``) is kept beside the converted weights,
    so it can be imported again without downloading.

    Parameters
    ----------
    name : str
        A key of :data:`KNOWN_MODELS`, e.g. ``"vrn-unguided"``.
    dest_dir : str or os.PathLike, optional
        Folder for the files; default the per-user weights folder.
    progress : bool or callable, default: True
        Show a progress bar on stderr, or report bytes to a callable (see :func:`fetch`).
        Nothing is reported when the original file is already there.
    timeout : float, default: 30.0
        Seconds to wait for the server.
    overwrite : bool, default: False
        Replace an installed model of that name.
    cancel : threading.Event, optional
        Stops the download between chunks once set (see :func:`fetch`); the import that
        follows a complete download is not interrupted.

    Raises
    ------
    WeightsError
        Unknown name, download failure or cancellation (see :func:`fetch`) or import failure
        (see :func:`~vrn_studio.weights.t7.import_t7`).
    """
    known = KNOWN_MODELS.get(name)
    if known is None:
        raise WeightsError(f"Unknown model {name!r}; downloadable models: {', '.join(sorted(KNOWN_MODELS))}")
    folder = Path(dest_dir) if dest_dir is not None else store.user_dir()
    folder.mkdir(parents=True, exist_ok=True)
    original = folder / known.filename
    if not original.is_file():
        fetch(known.url, original, sha256=known.sha256, progress=progress, timeout=timeout, cancel=cancel)
    return import_t7(
        original, out_dir=folder, name=name, source=known.url, licence=known.licence, overwrite=overwrite
    )
