"""Batch reconstruction of a photo collection: resumable, one results table, on one process
(``engine="local"``) or a Ray cluster (``engine="ray"``, :mod:`vrn_studio.pipeline.batch_ray`).

Each photo's outputs are those of ``vrn-studio reconstruct`` (:func:`~vrn_studio.pipeline.save_result`),
under ``OUT/<key>`` where the key is the photo's path relative to the collection's common
folder, less its suffix (``party/anna.jpg`` -> ``OUT/party/anna.glb``...). Every file is written
atomically; when all of a photo's files are written, a *record* ``OUT/.batch/<key>.json``
lists them with their sizes. A re-run keeps a photo whose record is there, asks for the same
outputs, and whose listed files are all there at their recorded sizes; it redoes the others
(and retries failed photos). A killed run therefore loses at most the photos in flight.

The results table ``OUT/results.parquet`` (and, on request, ``results.csv``) has a row per
photo: :data:`TABLE_COLUMNS`. A bad photo is a row with status ``error`` and its message, never
a stopped job.

>>> photo_key("party/anna.jpg")
'party/anna'
"""

from __future__ import annotations

import dataclasses
import glob
import io
import json
import os
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np

from vrn_studio._io import atomic_path, atomic_write
from vrn_studio.errors import ImageError, MissingDependencyError, VrnStudioError
from vrn_studio.image import IMAGE_SUFFIXES, load_image
from vrn_studio.pipeline.reconstructor import STAGES, Reconstructor
from vrn_studio.pipeline.result import Result
from vrn_studio.pipeline.save import DEFAULT_OUTPUTS, MeshFrame, save_result

Engine = Literal["local", "ray"]
RECORDS_DIR = ".batch"
"""Folder of the per-photo records in the output folder."""
TABLE_NAME = "results.parquet"
"""The results table's file name in the output folder."""
TABLE_COLUMNS = ("path", "key", "status", "error", "reused", "faces", "model", "outputs", "output_bytes",
                 "seconds", *(f"{stage}_ms" for stage in (*STAGES, "export")))
"""Columns of the results table: the photo's ``path`` as given and its ``key``; ``status``
(``ok`` or ``error``) and the ``error`` message; ``reused`` (complete from an earlier run);
``faces`` found; ``model``; ``outputs`` (file paths relative to the output folder) and their
total ``output_bytes``; ``seconds`` for the whole photo and each stage's milliseconds (``load``
is reading and decoding the file, ``export`` writing the outputs)."""


@dataclasses.dataclass(frozen=True)
class Photo:
    """One photo of a collection: its ``path`` (a local path or a URI pyarrow opens, e.g.
    ``s3://bucket/a.jpg``) and its output ``key`` (relative, no suffix, ``/``-separated)."""

    path: str
    key: str


@dataclasses.dataclass(frozen=True)
class BatchOptions:
    """What to make of each photo.

    Attributes
    ----------
    reconstructor : dict
        Keyword arguments of :class:`Reconstructor` (``model``, ``landmarker``, ``device``,
        ``smooth``...): each worker builds its own from them.
    outputs : tuple of str
        :func:`~vrn_studio.pipeline.save_result`'s outputs.
    frame : {"crop", "photo"}
        Mesh coordinates of the exports.
    remove_bumps : bool
        Bump removal.
    """

    reconstructor: dict[str, Any] = dataclasses.field(default_factory=dict)
    outputs: tuple[str, ...] = DEFAULT_OUTPUTS
    frame: MeshFrame = "crop"
    remove_bumps: bool = True

    def build(self, *, network: bool = True) -> Reconstructor:
        """A Reconstructor of these settings; ``network=False`` leaves the model out (the
        detect-and-crop and the meshing stages of a distributed run)."""
        options = dict(self.reconstructor)
        if not network:
            options["model"] = None
        return Reconstructor(**options)


@dataclasses.dataclass(frozen=True)
class BatchRun:
    """What :func:`run_batch` did: photos reconstructed now, kept from an earlier run, failed;
    the table's path."""

    done: int
    reused: int
    failed: int
    table: Path


def photo_key(relative: str) -> str:
    """The output key of a photo path relative to the collection's folder: ``/``-separated,
    suffix dropped."""
    return str(PurePosixPath(relative.replace(os.sep, "/")).with_suffix(""))


def _is_uri(path: str) -> bool:
    return "://" in path


def _read_manifest(path: Path) -> list[str]:
    """The ``path`` column of a CSV or Parquet manifest."""
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path, columns=["path"])
        else:
            import pyarrow.csv as pacsv

            table = pacsv.read_csv(path)
    except ImportError as exc:
        raise MissingDependencyError("Reading a manifest needs pyarrow: pip install pyarrow") from exc
    except Exception as exc:
        raise VrnStudioError(f"Cannot read the manifest {path}: {exc}") from exc
    if "path" not in table.column_names:
        raise VrnStudioError(f"The manifest {path} has no 'path' column (columns: {', '.join(table.column_names)})")
    return [str(p) for p in table.column("path").to_pylist() if p]


def collect_photos(source: str | os.PathLike[str]) -> list[Photo]:
    """The photos of a collection, in a stable order.

    Parameters
    ----------
    source : str or path
        A folder (its photos by suffix, :data:`~vrn_studio.image.IMAGE_SUFFIXES`, in every
        subfolder), a glob pattern (``"shoot/**/*.jpg"``), or a manifest: a ``.csv`` or
        ``.parquet`` file with a ``path`` column of local paths (relative ones from the
        manifest's folder) or URIs.

    Raises
    ------
    VrnStudioError
        Nothing matches, or the manifest cannot be read.
    """
    text = str(source)
    path = Path(text)
    if path.is_dir():
        paths = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        root = str(path)
    elif path.is_file() and path.suffix.lower() in (".csv", ".parquet"):
        paths = [p if _is_uri(p) or os.path.isabs(p) else str(path.parent / p) for p in _read_manifest(path)]
        root = None
    elif glob.has_magic(text):
        paths = sorted(p for p in glob.glob(text, recursive=True) if Path(p).is_file())
        root = None
    else:
        raise VrnStudioError(f"{text} is not a folder, a manifest (.csv or .parquet with a path column) or a glob "
                             "pattern that matches photos")
    if not paths:
        raise VrnStudioError(f"No photos in {text}")
    if root is None:
        local = [p for p in paths if not _is_uri(p)]
        root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in local]) if local else ""
    keys: dict[str, int] = {}
    photos = []
    for p in paths:
        relative = p.split("://", 1)[1] if _is_uri(p) else os.path.relpath(os.path.abspath(p), os.path.abspath(root))
        key = photo_key(relative.lstrip("/"))
        keys[key] = keys.get(key, 0) + 1
        photos.append(Photo(p, key if keys[key] == 1 else f"{key}_{keys[key]}"))  # a.jpg and a.png: a, a_2
    return photos


def read_photo(path: str) -> np.ndarray:
    """A photo as (H, W, 3) uint8 RGB, from a local path or a URI (pyarrow's file systems:
    ``s3://``, ``gs://``, ``hdfs://``, ``file://``...).

    Raises
    ------
    ImageError
        The file cannot be read or is not a photo.
    """
    if not _is_uri(path):
        return load_image(path)
    try:
        from pyarrow import fs
    except ImportError as exc:
        raise MissingDependencyError("Reading photos from a URI needs pyarrow: pip install pyarrow") from exc
    try:
        filesystem, inner = fs.FileSystem.from_uri(path)
        with filesystem.open_input_stream(inner) as stream:
            data = stream.read()
    except Exception as exc:
        raise ImageError(f"Cannot read {path}: {exc}") from exc
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageError(f"{path} is not an image file Pillow can read") from exc
    return load_image(image)


def _record_path(out_dir: Path, key: str) -> Path:
    return out_dir / RECORDS_DIR / f"{key}.json"


def completed_row(out_dir: Path, photo: Photo, options: BatchOptions) -> dict[str, Any] | None:
    """The row of an earlier run's photo when its outputs are complete: its record is there,
    asked for the same outputs, and lists files that are all there at their sizes."""
    try:
        record = json.loads(_record_path(out_dir, photo.key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("formats") != list(options.outputs) or record["row"]["path"] != photo.path:
        return None
    for name, size in record["sizes"].items():
        file = out_dir / name
        if not file.is_file() or file.stat().st_size != size:
            return None
    return {**record["row"], "reused": True}


def error_row(photo: Photo, exc: BaseException, seconds: float = 0.0) -> dict[str, Any]:
    """The row of a photo that failed: the message of a VRN Studio error, else the exception's
    type and message (a bug, logged with its traceback)."""
    if isinstance(exc, VrnStudioError):
        message = str(exc)
    else:
        message = f"{type(exc).__name__}: {exc}"
        traceback.print_exception(exc)
    return _row(photo, status="error", error=message, seconds=seconds)


def _row(photo: Photo, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(TABLE_COLUMNS)
    row.update(path=photo.path, key=photo.key, reused=False, outputs=[], output_bytes=0, faces=0)
    row.update(fields)
    return row


def save_photo(out_dir: Path, photo: Photo, result: Result, options: BatchOptions, seconds: float) -> dict[str, Any]:
    """Write ``result``'s outputs for ``photo``, then its record; return its table row
    (``seconds``: the photo's time before the export)."""
    key = PurePosixPath(photo.key)
    start = time.perf_counter()
    written = save_result(result, out_dir / key.parent, outputs=options.outputs, stem=key.name, frame=options.frame,
                          overwrite=True)
    export = time.perf_counter() - start
    sizes = {str(PurePosixPath(p.relative_to(out_dir))): p.stat().st_size for p in written}
    row = _row(photo, status="ok", faces=len(result.faces), model=result.model, outputs=list(sizes),
               output_bytes=sum(sizes.values()), seconds=round(seconds + export, 4),
               **{f"{stage}_ms": round(value * 1000, 2) for stage, value in result.timings.items()},
               export_ms=round(export * 1000, 2))
    record = _record_path(out_dir, photo.key)
    record.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(record, json.dumps({"formats": list(options.outputs), "sizes": sizes, "row": row}).encode(),
                 overwrite=True)
    return row


def crop_or_reconstruct(rec: Reconstructor, photo: Photo, *, remove_bumps: bool = True) -> Result:
    """``rec.reconstruct`` of the photo read by :func:`read_photo`, its ``load`` time the reading
    and decoding, its ``source`` the photo's path (None for a URI)."""
    start = time.perf_counter()
    rgb = read_photo(photo.path)
    decoded = time.perf_counter() - start
    result = rec.reconstruct(rgb, remove_bumps=remove_bumps)
    return dataclasses.replace(result, source=None if _is_uri(photo.path) else Path(photo.path),
                               timings={**result.timings, "load": decoded})


def reconstruct_photo(rec: Reconstructor, out_dir: Path, photo: Photo, options: BatchOptions) -> dict[str, Any]:
    """One photo, start to end, in this process: its row (an error row when it fails)."""
    start = time.perf_counter()
    try:
        result = crop_or_reconstruct(rec, photo, remove_bumps=options.remove_bumps)
        return save_photo(out_dir, photo, result, options, time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - a bad photo is a row, never a stopped job
        return error_row(photo, exc, time.perf_counter() - start)


def _run_local(photos: Sequence[Photo], out_dir: Path, options: BatchOptions,
               rec: Reconstructor | None) -> Iterator[dict[str, Any]]:
    rec = rec or options.build()
    for photo in photos:
        yield reconstruct_photo(rec, out_dir, photo, options)


def write_table(rows: Sequence[dict[str, Any]], out_dir: Path, *, csv: bool = False) -> Path:
    """Write the results table (Parquet, and CSV with ``outputs`` joined by ``;``) atomically."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingDependencyError("The results table needs pyarrow: pip install pyarrow") from exc
    columns = {name: [row.get(name) for row in rows] for name in TABLE_COLUMNS}
    types = {"outputs": pa.list_(pa.string()), "reused": pa.bool_(), "faces": pa.int32(), "output_bytes": pa.int64()}
    table = pa.table({name: pa.array(values, type=types.get(name, pa.float64() if name.endswith(("_ms", "seconds"))
                                                            else pa.string()))
                      for name, values in columns.items()})
    target = out_dir / TABLE_NAME
    with atomic_path(target, overwrite=True) as tmp:
        pq.write_table(table, tmp)
    if csv:
        flat = table.set_column(table.column_names.index("outputs"), "outputs",
                                pa.array([";".join(v) for v in columns["outputs"]], pa.string()))
        with atomic_path(out_dir / "results.csv", overwrite=True) as tmp:
            pacsv.write_csv(flat, tmp)
    return target


def run_batch(
    source: str | os.PathLike[str] | Sequence[Photo],
    out_dir: str | os.PathLike[str],
    options: BatchOptions | None = None,
    *,
    engine: Engine = "local",
    address: str | None = None,
    csv: bool = False,
    progress: Any = None,
    reconstructor: Reconstructor | None = None,
) -> BatchRun:
    """Reconstruct a photo collection into ``out_dir`` (see the module's notes).

    Parameters
    ----------
    source : str, path or sequence of Photo
        What :func:`collect_photos` takes, or its photos.
    out_dir : path
        Output folder (created).
    options : BatchOptions, optional
        Model, landmarker, device, outputs...; default: the defaults of ``reconstruct``.
    engine : {"local", "ray"}
        One process, photo after photo; or Ray Data: decode, detection and crop as CPU
        tasks, the network in actors that keep the model loaded and batch crops (a GPU each
        where the cluster has them), meshing and export as CPU tasks, streamed.
    address : str, optional
        Ray: the cluster's address (``ray://host:10001`` or ``host:6379``); default: a running
        local instance, else a new one.
    csv : bool
        Also write ``results.csv``.
    progress : callable, optional
        Called with (photos handled, photos in all) as rows come in.
    reconstructor : Reconstructor, optional
        The local engine's, already built with ``options.reconstructor`` (default: it builds
        one); the Ray engine's workers build their own.

    Raises
    ------
    VrnStudioError
        No photos, or an engine that is not installed (``MissingDependencyError``).
    """
    options = options or BatchOptions()
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    photos = list(source) if isinstance(source, Sequence) and not isinstance(source, str) else collect_photos(source)
    rows: dict[str, dict[str, Any]] = {}
    todo = []
    for photo in photos:
        row = completed_row(folder, photo, options)
        if row is None:
            todo.append(photo)
        else:
            rows[photo.key] = row
    if progress:
        progress(len(rows), len(photos))
    if engine == "ray":
        from vrn_studio.pipeline.batch_ray import run_ray

        fresh = run_ray(todo, folder, options, address=address)
    elif engine == "local":
        fresh = _run_local(todo, folder, options, reconstructor)
    else:
        raise VrnStudioError(f"Unknown engine {engine!r}: local or ray")
    for row in fresh:
        rows[row["key"]] = row
        if progress:
            progress(len(rows), len(photos))
    ordered = [rows[p.key] for p in photos]
    table = write_table(ordered, folder, csv=csv)
    failed = sum(1 for row in ordered if row["status"] == "error")
    reused = sum(1 for row in ordered if row["reused"])
    return BatchRun(len(ordered) - failed - reused, reused, failed, table)
