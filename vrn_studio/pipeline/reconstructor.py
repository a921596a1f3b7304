"""The one entry point: a photo in, a :class:`Result` out."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vrn_studio.crop import crop_face
from vrn_studio.errors import NoFaceError, VrnStudioError
from vrn_studio.face import Face, Landmarker, face_from_points, get_landmarker, select_face
from vrn_studio.image import ImageSource, load_image
from vrn_studio.mesh import DEFAULT_LEVEL, BumpMode, BumpRemoval, Mesh, mesh_to_photo, volume_to_mesh
from vrn_studio.mesh import remove_bumps as strip_bumps
from vrn_studio.model import VRN, NormMode, set_norm_mode
from vrn_studio.pipeline.device import resolve_device
from vrn_studio.pipeline.result import Result, StageDone
from vrn_studio.weights import load_model

log = logging.getLogger(__name__)

FaceHint = Face | np.ndarray | None
"""A face given by hand: a :class:`Face`, a box (4,) ``(x1, y1, x2, y2)`` or 68 points (68, 2)."""


@contextlib.contextmanager
def _tf32(allowed: bool) -> Iterator[None]:
    """Allow or forbid TensorFloat-32 in CUDA convolutions and matmuls within the block."""
    cuda = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = [backend.allow_tf32 for backend in cuda]
    for backend in cuda:
        backend.allow_tf32 = allowed
    try:
        yield
    finally:
        for backend, value in zip(cuda, saved):
            backend.allow_tf32 = value


class _Clock:
    """Times consecutive stages; ``lap(name)`` records the time since the previous lap."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> StageDone:
        now = time.perf_counter()
        self.timings[name] = now - self._last
        self._last = now
        return StageDone(name, self.timings[name])


class Reconstructor:
    """Photo-to-mesh with VRN, built once and called for many photos.

    Parameters
    ----------
    model : str, Path, VRN or None, default: "default"
        A model name from the weights store (``"default"`` = the best installed), a path to a
        ``.safetensors`` file, a ready :class:`VRN` module, or None to stop after the crop
        (face detection only).
    landmarker : str, default: "auto"
        Landmark backend (``"auto"``, ``"fan"``, ``"dlib"``); created on first use.
    device : str, default: "auto"
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    dtype : torch.dtype, default: torch.float32
        Network precision (``torch.float16`` / ``torch.bfloat16`` where supported).
    norm : {"image", "running"}, default: "image"
        Batch-norm statistics; ``"image"`` reproduces the release.
    level : float, default: DEFAULT_LEVEL
        Iso level in probability units (the release's 10/255).
    bump_mode : {"largest", "fraction"}, default: "largest"
        Keep the largest connected body, or drop bodies smaller than ``min_fraction``.
    min_fraction : float, default: 0.1
        Size threshold for ``bump_mode="fraction"``.
    tf32 : bool, default: False
        Let float32 convolutions on NVIDIA Ampere or newer use TensorFloat-32 (faster; on an
        H100 it moved probabilities by up to 0.025 from the CPU's, against 3e-5 without).

    Raises
    ------
    WeightsError
        The model is not installed or its file is corrupt.
    DeviceError
        The device was named explicitly but is not available.

    Examples
    --------
    >>> from vrn_studio import Reconstructor
    >>> rec = Reconstructor(model=None)  # detection and crop only  # doctest: +SKIP
    >>> result = rec.reconstruct("resources/astronaut.png")  # doctest: +SKIP
    >>> result.crop.shape  # doctest: +SKIP
    (192, 192, 3)
    """

    def __init__(
        self,
        model: str | Path | VRN | None = "default",
        *,
        landmarker: str = "auto",
        device: str | torch.device = "auto",
        dtype: torch.dtype = torch.float32,
        norm: NormMode = "image",
        level: float = DEFAULT_LEVEL,
        bump_mode: BumpMode = "largest",
        min_fraction: float = 0.1,
        tf32: bool = False,
    ) -> None:
        self.device = resolve_device(device)
        self.tf32 = tf32
        self.dtype = dtype
        self.level = level
        self.bump_mode = bump_mode
        self.min_fraction = min_fraction
        self._landmarker_name = landmarker
        self._landmarker: Landmarker | None = None
        self.model_name: str | None
        self.net: VRN | None
        if model is None:
            self.net, self.model_name = None, None
        elif isinstance(model, VRN):
            self.net, self.model_name = model, type(model).__name__
        else:
            loaded = load_model(model, device=self.device, dtype=dtype, norm=norm)
            self.net, self.model_name = loaded.model, loaded.manifest.name
        if self.net is not None:
            self.net = self.net.to(self.device, dtype).eval()
            set_norm_mode(self.net, norm)

    @property
    def landmarker(self) -> Landmarker:
        """The landmark backend, created on first use."""
        if self._landmarker is None:
            self._landmarker = get_landmarker(self._landmarker_name, device=str(self.device))
            log.info("landmarker: %s", self._landmarker.name)
        return self._landmarker

    def reconstruct(self, image: ImageSource, *, face: FaceHint = None, remove_bumps: bool = True) -> Result:
        """Run the whole pipeline on one photo and return its :class:`Result`.

        Parameters
        ----------
        image : path, np.ndarray (H, W, 3) uint8 RGB, or PIL image
            The photo.
        face : Face, np.ndarray (4,) or (68, 2), optional
            Skip detection: a face, a box ``(x1, y1, x2, y2)`` in photo pixels, or 68 points.
        remove_bumps : bool, default: True
            Run bump removal (otherwise the cleaned mesh equals the raw one).

        Raises
        ------
        ImageError, NoFaceError
            The photo cannot be read, or holds no face.
        """
        stages = self.iter_stages(image, face=face, remove_bumps=remove_bumps)
        while True:
            try:
                next(stages)
            except StopIteration as done:
                return done.value

    def iter_stages(
        self, image: ImageSource, *, face: FaceHint = None, remove_bumps: bool = True
    ) -> Generator[StageDone, None, Result]:
        """Like :meth:`reconstruct`, as a generator yielding a :class:`StageDone` after each stage.

        Stages: ``load``, ``detect``, ``crop``, then with a model ``network``, ``isosurface``,
        ``bumps``, ``photo``. The generator's return value is the :class:`Result`, so a
        caller can stop between stages (cancel) by closing it.
        """
        clock = _Clock()
        source = Path(image) if isinstance(image, (str, Path)) else None
        rgb = load_image(image)
        yield clock.lap("load")

        faces, chosen, landmarker_name = self._find_face(rgb, face, source)
        yield clock.lap("detect")

        crop, transform = crop_face(rgb, chosen.landmarks)
        yield clock.lap("crop")

        common: dict[str, Any] = dict(
            source=source, image=rgb, faces=faces, face=chosen, crop=crop, transform=transform,
            timings=clock.timings, landmarker=landmarker_name, device=str(self.device),
        )
        if self.net is None:
            return Result(**common)

        volume = self.predict_volume(crop)
        yield clock.lap("network")

        mesh_raw = volume_to_mesh(volume, level=self.level, image=crop)
        yield clock.lap("isosurface")

        if remove_bumps:
            bumps = strip_bumps(mesh_raw, mode=self.bump_mode, min_fraction=self.min_fraction)
        else:
            bumps = BumpRemoval(kept=mesh_raw, removed=Mesh.empty(), removed_sizes=())
        yield clock.lap("bumps")

        mesh_photo = mesh_to_photo(bumps.kept, transform)
        yield clock.lap("photo")
        return Result(**common, volume=volume, mesh_raw=mesh_raw, bumps=bumps, mesh_photo=mesh_photo,
                      model=self.model_name)

    def predict_volume(self, crop: np.ndarray) -> np.ndarray:
        """Run the network on a (192, 192, 3) uint8 RGB crop; return (200, 192, 192) float32."""
        if self.net is None:
            raise VrnStudioError("This Reconstructor was built with model=None: it has no network to run")
        x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None]
        x = x.to(self.device, self.dtype) / 255.0
        with torch.inference_mode(), _tf32(self.tf32):
            volume = self.net(x)[0]
        return volume.float().cpu().numpy()

    def reconstruct_many(
        self, images: Iterable[ImageSource], **options: Any
    ) -> Iterator[tuple[ImageSource, Result | VrnStudioError]]:
        """Reconstruct photos in turn, yielding ``(image, result)`` or ``(image, error)``.

        A photo that fails with a :class:`VrnStudioError` (unreadable, no face) is yielded
        with its error and the batch goes on; other exceptions propagate.
        """
        for image in images:
            try:
                yield image, self.reconstruct(image, **options)
            except VrnStudioError as exc:
                yield image, exc

    def _find_face(
        self, rgb: np.ndarray, hint: FaceHint, source: Path | None
    ) -> tuple[tuple[Face, ...], Face, str]:
        if isinstance(hint, Face):
            return (hint,), hint, "manual"
        if hint is not None:
            points = np.asarray(hint, dtype=np.float64)
            if points.shape == (68, 2):
                chosen = face_from_points(points)
                return (chosen,), chosen, "manual"
            if points.shape == (4,):
                chosen = self.landmarker.landmarks_in_box(rgb, points)
                return (chosen,), chosen, self.landmarker.name
            raise ValueError(f"Shape of face is {points.shape} and should be (4,) for a box or (68, 2) for points")
        faces = tuple(self.landmarker.detect(rgb))
        if not faces:
            where = f" in {source}" if source is not None else ""
            raise NoFaceError(
                f"No face found{where} by the {self.landmarker.name!r} landmarker. "
                "Try a larger or more frontal photo, or give the face by hand (a box or 68 points)."
            )
        return faces, select_face(faces), self.landmarker.name
