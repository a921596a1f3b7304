"""Write a :class:`Result` to a folder in the formats asked for."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np

from vrn_studio._io import atomic_write
from vrn_studio.errors import ExportError
from vrn_studio.export import (
    encode_png,
    export_3mf,
    export_blendshape_glb,
    export_depth_png,
    export_landmarks,
    export_mesh,
    export_stl,
    export_textured_glb,
    export_textured_obj,
    export_volume,
    mesh_formats,
)
from vrn_studio.headfit import expression_rig
from vrn_studio.mesh import (
    ADULT_OUTER_INTEROCULAR_MM,
    Mesh,
    TexturedMesh,
    depth_map,
    mesh_to_photo,
    printable_mesh,
    texture_from_photo,
    to_viewer_frame,
)
from vrn_studio.pipeline.overlay import landmarks_overlay, mesh_overlay
from vrn_studio.pipeline.result import Result

MeshFrame = Literal["crop", "photo"]
"""Coordinates of exported meshes: the 192 px crop, or the original photo's pixels."""

DEFAULT_OUTPUTS = ("glb", "textured-glb", "obj", "landmarks", "crop", "overlay")
"""What ``save_result`` writes when not told otherwise."""


def write_png(path: Path, rgb: np.ndarray, *, overwrite: bool = False) -> Path:
    """Encode an (H, W, 3) uint8 RGB image as PNG and write it atomically."""
    return atomic_write(path, encode_png(rgb), overwrite=overwrite)


def _export_frame(result: Result, mesh: Mesh, frame: MeshFrame) -> Mesh:
    """``mesh`` (crop space) in the asked frame, y flipped so tools open it upright."""
    if frame == "photo":
        return to_viewer_frame(mesh_to_photo(mesh, result.transform), result.image.shape[0])
    return to_viewer_frame(mesh, result.crop.shape[0])


def _mesh(result: Result, mesh: Mesh | None, frame: MeshFrame) -> Mesh | None:
    return None if mesh is None or mesh.is_empty else _export_frame(result, mesh, frame)


def textured_mesh(result: Result, frame: MeshFrame = "crop") -> TexturedMesh | None:
    """``result``'s cleaned mesh textured with its photo (:func:`~vrn_studio.mesh.texture_from_photo`),
    in the asked frame, upright; None without a mesh."""
    if result.mesh is None or result.mesh.is_empty:
        return None
    textured = texture_from_photo(result.mesh, result.transform, result.image, crop_size=result.crop.shape[0])
    return dataclasses.replace(textured, mesh=_export_frame(result, textured.mesh, frame))


def rigged_glb(result: Result, frame: MeshFrame = "crop") -> bytes:
    """The GLB of ``rigged-glb``: the fitted head (:func:`~vrn_studio.headfit.expression_rig`, colours
    from the crop) in the asked frame, upright, its 53 blendshapes as morph targets named in
    ``extras.targetNames`` and weighted as fitted, so it opens showing the photo's expression.

    Raises
    ------
    ValueError
        The result has no fitted head.
    """
    if result.head is None:
        raise ValueError("this result has no fitted head (Reconstructor(head_fit='ict'))")
    base, targets, names = expression_rig(result.head, image=result.crop)
    upright = _export_frame(result, base, frame)
    # The frames are affine: a displacement maps as the difference of two mapped positions.
    moved = np.stack([_export_frame(result, Mesh(base.vertices + target, base.faces), frame).vertices
                      for target in targets])
    return export_blendshape_glb(upright, moved - upright.vertices, list(names), result.head.expression)


def _write_files(files: dict[Path, bytes], overwrite: bool) -> list[Path]:
    """Write several files atomically, in order; none when one of them exists and not ``overwrite``."""
    if not overwrite:
        for path in files:
            if path.exists():
                raise ExportError(f"{path} already exists; pass overwrite=True to replace it")
    return [atomic_write(path, data, overwrite=overwrite) for path, data in files.items()]


def write_output(
    result: Result,
    name: str,
    path: str | Path,
    *,
    frame: MeshFrame = "crop",
    overwrite: bool = False,
    interocular_mm: float = ADULT_OUTER_INTEROCULAR_MM,
    base_mm: float = 0.0,
) -> list[Path]:
    """Write one output of ``result`` to ``path``; return the files written (none when it does not apply).

    ``name`` is one of :func:`output_names`: a mesh format (the cleaned mesh, vertex
    colours), ``textured-glb`` (GLB with the photo as its texture), ``textured-obj`` (OBJ at
    ``path`` with an MTL and a PNG texture of the same stem beside it), ``rigged-glb`` (the
    fitted head, :attr:`Result.head`, with its 53 ARKit expression blendshapes as named morph
    targets set to the fitted weights: :func:`rigged_glb`), ``print-stl`` and
    ``print-3mf`` (a watertight solid in millimetres with a flat back, scaled so that the
    outer eye corners are ``interocular_mm`` apart, on a base ``base_mm`` thick; its size in
    the STL header and the 3MF title: :func:`~vrn_studio.mesh.printable_mesh`), ``removed`` (PLY of
    what bump removal dropped), ``volume`` (.npz), ``depth`` (16-bit PNG), ``landmarks``
    (JSON), ``crop`` (PNG of what the network saw), ``overlay`` (PNG of the mesh, or without
    a model the landmarks, over the photo). Outputs that need a model (meshes, volume,
    depth), removed bodies or a fitted head write nothing when the result has none.
    """
    path = Path(path)
    if name in mesh_formats():
        mesh = _mesh(result, result.mesh, frame)
        return [] if mesh is None else [export_mesh(mesh, path, file_type=name, overwrite=overwrite)]
    if name in ("textured-glb", "textured-obj"):
        textured = textured_mesh(result, frame)
        if textured is None:
            return []
        if name == "textured-glb":
            return [atomic_write(path, export_textured_glb(textured), overwrite=overwrite)]
        files = export_textured_obj(textured, path.stem)
        return _write_files({path.with_name(file): data for file, data in files.items()}, overwrite)[::-1]
    if name == "rigged-glb":
        return [] if result.head is None else [atomic_write(path, rigged_glb(result, frame), overwrite=overwrite)]
    if name in ("print-stl", "print-3mf"):
        if result.mesh is None or result.mesh.is_empty:
            return []
        solid = printable_mesh(result.mesh, result.landmarks_crop, interocular_mm=interocular_mm, base_mm=base_mm)
        data = (export_stl(solid.mesh, header=solid.title) if name == "print-stl"
                else export_3mf(solid.mesh, title=solid.title))
        return [atomic_write(path, data, overwrite=overwrite)]
    if name == "removed":
        mesh = _mesh(result, result.removed, frame)
        return [] if mesh is None else [export_mesh(mesh, path, file_type="ply", overwrite=overwrite)]
    if name in ("volume", "depth"):
        if result.volume is None:
            return []
        if name == "depth":
            return [export_depth_png(depth_map(result.volume), path, overwrite=overwrite)]
        return [export_volume(
            result.volume, path, overwrite=overwrite, transform=result.transform, model=str(result.model)
        )]
    if name == "landmarks":
        return [export_landmarks(
            path, landmarks_photo=result.face.landmarks, landmarks_crop=result.landmarks_crop,
            transform=result.transform, box=result.face.box, score=result.face.score, overwrite=overwrite,
        )]
    if name == "crop":
        return [write_png(path, result.crop, overwrite=overwrite)]
    if name == "overlay":
        if result.mesh_photo is not None:
            picture = mesh_overlay(result.image, result.mesh_photo)
        else:
            picture = landmarks_overlay(result.image, result.face.landmarks, box=result.face.box)
        return [write_png(path, picture, overwrite=overwrite)]
    raise ExportError(f"Unknown output {name!r}. Available: {', '.join(output_names())}")


def output_names() -> list[str]:
    """Every output ``save_result`` knows: mesh formats, textured meshes, then data and pictures."""
    return [*mesh_formats(), "textured-glb", "textured-obj", "rigged-glb", "print-stl", "print-3mf", "removed",
            "volume", "depth", "landmarks", "crop", "overlay"]


def output_file_name(name: str, stem: str) -> str:
    """The file name ``save_result`` gives output ``name`` of a photo called ``stem``
    (``textured-obj``: the OBJ; its ``.mtl`` and ``.png`` share its stem)."""
    if name in mesh_formats():
        return f"{stem}.{name}"
    if name.startswith(("textured-", "rigged-", "print-")):
        kind, ext = name.split("-")
        return f"{stem}_{kind}.{ext}"
    suffix = {"removed": "ply", "volume": "npz", "landmarks": "json"}.get(name, "png")
    return f"{stem}_{name}.{suffix}"


def save_result(
    result: Result,
    out_dir: str | Path,
    *,
    outputs: Iterable[str] = DEFAULT_OUTPUTS,
    stem: str | None = None,
    frame: MeshFrame = "crop",
    overwrite: bool = False,
    interocular_mm: float = ADULT_OUTER_INTEROCULAR_MM,
    base_mm: float = 0.0,
) -> list[Path]:
    """Write the chosen outputs of ``result`` into ``out_dir``; return the files written.

    Files are named after ``stem`` (default: the photo's file name stem, else ``"face"``):
    ``STEM.glb`` / ``.obj`` / ``.ply`` / ``.stl`` (cleaned mesh with vertex colours, upright
    for other tools), ``STEM_textured.glb`` and ``STEM_textured.obj`` + ``.mtl`` + ``.png``
    (the same mesh with the photo as its texture), ``STEM_print.stl`` / ``.3mf`` (printable
    at real size; ``interocular_mm`` and ``base_mm`` as for :func:`write_output`),
    ``STEM_removed.ply`` (bodies bump removal dropped), ``STEM_volume.npz``,
    ``STEM_depth.png``, ``STEM_landmarks.json``, ``STEM_crop.png`` (what the network saw),
    ``STEM_overlay.png`` (mesh, or without a model the landmarks, over the photo). Outputs
    that need a model are skipped when the result has none. Each file is written
    atomically; an existing file raises :class:`ExportError` unless ``overwrite``.
    """
    outputs = list(dict.fromkeys(outputs))
    unknown = [name for name in outputs if name not in output_names()]
    if unknown:
        raise ExportError(f"Unknown output(s) {', '.join(unknown)}. Available: {', '.join(output_names())}")
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"Cannot create output folder {folder}: {exc.strerror or exc}") from exc
    stem = stem or (result.source.stem if result.source is not None else "face")
    return [
        path
        for name in outputs
        for path in write_output(result, name, folder / output_file_name(name, stem), frame=frame, overwrite=overwrite,
                                 interocular_mm=interocular_mm, base_mm=base_mm)
    ]
