"""The one entry point: a photo in, a :class:`Result` out."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from vrn_studio.crop import crop_face
from vrn_studio.errors import NoFaceError, VrnStudioError
from vrn_studio.face import Face, Landmarker, face_from_points, get_landmarker, select_face
from vrn_studio.headfit import HEAD_FITS, HeadFit, IctModel, fit_head, prepare_head_model
from vrn_studio.image import ImageSource, load_image
from vrn_studio.mesh import (
    DEFAULT_LEVEL,
    BumpMode,
    BumpRemoval,
    Mesh,
    decimate_mesh,
    mesh_on_device,
    mesh_to_photo,
    smooth_mesh,
    volume_to_mesh,
)
from vrn_studio.mesh import remove_bumps as strip_bumps
from vrn_studio.model import VRN, NormMode, VRNGuided, release_volume, set_norm_mode
from vrn_studio.pipeline.device import resolve_device
from vrn_studio.pipeline.result import Result, StageDone
from vrn_studio.pipeline.runtime import Runtime, check_runtime, onnx_network
from vrn_studio.weights import load_model

log = logging.getLogger(__name__)

CompileMode = Literal["default", "reduce-overhead", "max-autotune"]
"""``torch.compile`` modes that :class:`Reconstructor` accepts for ``compile``."""

FaceHint = Face | np.ndarray | None
"""A face given by hand: a :class:`Face`, a box (4,) ``(x1, y1, x2, y2)`` or 68 points (68, 2)."""

VolumeFilter = Callable[[np.ndarray | torch.Tensor], np.ndarray | torch.Tensor]
"""What :meth:`Reconstructor.reconstruct` may apply to the network's volume before meshing."""


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

    def lap(self, name: str, seconds: float | None = None) -> StageDone:
        """Record stage ``name``: the time since the previous lap, or ``seconds`` when given
        (a share of work done for several photos at once); the next lap starts now."""
        now = time.perf_counter()
        self.timings[name] = now - self._last if seconds is None else seconds
        self._last = now
        return StageDone(name, self.timings[name])


def _drain(stages: Generator[StageDone, None, Any]) -> Any:
    """Run a stage generator to its end and return its value."""
    while True:
        try:
            next(stages)
        except StopIteration as done:
            return done.value


STAGES = ("load", "detect", "crop", "network", "isosurface", "bumps", "clean", "fit", "photo")
"""The stages of :meth:`Reconstructor.iter_stages`, in run order (``Result.timings``' keys)."""


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
    norm : {"image", "running"}, optional
        Batch-norm statistics: ``"image"`` (per image, as the release runs) or ``"running"``
        (stored statistics, how VRN Studio's own models were validated). Default: the
        model's manifest says (``"image"`` for a module passed in).
    level : float, default: DEFAULT_LEVEL
        Iso level in probability units (the release's 10/255).
    bump_mode : {"largest", "fraction"}, default: "largest"
        Keep the largest connected body, or drop bodies smaller than ``min_fraction``.
    min_fraction : float, default: 0.1
        Size threshold for ``bump_mode="fraction"``.
    smooth : int, default: 0
        Iterations of Taubin smoothing of the mesh after bump removal
        (:func:`~vrn_studio.mesh.smooth_mesh`; 60 takes out the depth bins' terraces and
        moves no vertex more than about a pixel); 0 keeps the marching-cubes surface. The
        library defaults to 0, the command line and the app to
        :data:`~vrn_studio.mesh.DEFAULT_SMOOTH`: a library caller gets the network's own
        surface (what evaluation, comparisons and the published pipeline measure) and asks
        for clean-up, a user of the tools gets the cleaned mesh and can turn it off.
    target_faces : int, optional
        Decimate the mesh to about this many triangles after smoothing
        (:func:`~vrn_studio.mesh.decimate_mesh`); None keeps every triangle.
    head_fit : {"none", "ict"}, default: "none"
        ``"ict"``: fit the ICT Face Model to the volume and the landmarks
        (:func:`~vrn_studio.headfit.fit_head`, about 35 ms on a 2-core CPU) and make the fitted
        head the result's mesh (``Result.head``; the network's own mesh stays in
        ``Result.bumps``, unsmoothed: ``smooth`` and ``target_faces`` apply to the result's
        mesh, and the head needs no smoothing, so only decimation applies to it). The library
        defaults to ``"none"`` (the network's surface, as the paper's evaluation measures it),
        the command line and the app to :data:`~vrn_studio.headfit.DEFAULT_HEAD_FIT`.
    tf32 : bool, default: False
        Let float32 convolutions on NVIDIA Ampere or newer use TensorFloat-32 (faster; on an
        H100 it moved probabilities by up to 0.025 from the CPU's, against 3e-5 without).
    channels_last : bool, default: False
        Keep the network's weights and activations in NHWC memory order. Alone it is slower
        on a CPU (instance norm in NHWC) and faster on a GPU; with ``compile`` it pays on both
        (see docs/benchmarks.md). The output is the same to float32 rounding.
    compile : bool or {"default", "reduce-overhead", "max-autotune"}, default: False
        Run the network through :func:`torch.compile` (fused kernels); a string is its
        ``mode`` (``"reduce-overhead"`` replays CUDA graphs on a GPU). The first call of each
        batch size compiles, which takes a minute or more on a CPU; later calls are faster.
        Needs a C++ compiler (and Triton on CUDA).
    runtime : {"torch", "onnxruntime", "onnxruntime-int8"}, default: "torch"
        What runs the network (:mod:`vrn_studio.pipeline.runtime`): PyTorch, or ONNX
        Runtime on the CPU in float32 (as fast as ``compile`` there, ready in seconds) or
        with int8 convolutions (about twice as fast, less faithful: for live previews). The
        ONNX runtimes need the ``onnx`` extra and export the model on first use (cached).
    mesh_on : {"auto", "host", "device"}, default: "auto"
        Where marching cubes and the labelling of bump removal's bodies run. ``"device"``:
        where the volume is (:func:`~vrn_studio.mesh.mesh_on_device`, torch), so on a GPU
        the mesh is made there; ``"host"``: VTK flying edges and scipy on the CPU;
        ``"auto"``: the device on CUDA, the host otherwise. Both give the same mesh
        (vertices within 1e-4 voxel, same triangles; tested on the CPU). ``Result.volume``
        is copied to the host after meshing either way.

    Raises
    ------
    WeightsError
        The model is not installed or its file is corrupt.
    DeviceError
        The device was named explicitly but is not available, or an ONNX runtime was asked
        for on another device than the CPU.
    MissingDependencyError
        An ONNX runtime without onnx / onnxruntime installed.

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
        norm: NormMode | None = None,
        level: float = DEFAULT_LEVEL,
        bump_mode: BumpMode = "largest",
        min_fraction: float = 0.1,
        smooth: int = 0,
        target_faces: int | None = None,
        head_fit: str = "none",
        tf32: bool = False,
        channels_last: bool = False,
        compile: bool | CompileMode = False,
        runtime: Runtime = "torch",
        mesh_on: Literal["auto", "host", "device"] = "auto",
    ) -> None:
        self.device = resolve_device(device)
        if mesh_on not in ("auto", "host", "device"):
            raise ValueError(f"mesh_on must be 'auto', 'host' or 'device'; got {mesh_on!r}")
        self.mesh_on_device = mesh_on == "device" or (mesh_on == "auto" and self.device.type == "cuda")
        check_runtime(runtime, self.device, dtype, compiled=bool(compile), channels_last=channels_last)
        self.runtime = runtime
        self.tf32 = tf32
        self.channels_last = channels_last
        self.dtype = dtype
        self.level = level
        self.bump_mode = bump_mode
        self.min_fraction = min_fraction
        if smooth < 0:
            raise ValueError(f"smooth must be >= 0 iterations; got {smooth}")
        if target_faces is not None and target_faces < 4:
            raise ValueError(f"target_faces must be at least 4; got {target_faces}")
        if head_fit not in HEAD_FITS:
            raise ValueError(f"head_fit must be one of {', '.join(HEAD_FITS)}; got {head_fit!r}")
        self.smooth = smooth
        self.target_faces = target_faces
        self.head_fit = head_fit
        self._head_model: IctModel | None = prepare_head_model() if head_fit == "ict" else None
        self._landmarker_name = landmarker
        self._landmarker: Landmarker | None = None
        self.model_name: str | None
        self.net: VRN | None
        if model is None:
            self.net, self.model_name = None, None
        elif isinstance(model, VRN):
            self.net, self.model_name = model, type(model).__name__
            norm = norm or "image"
        else:
            loaded = load_model(model, device=self.device, dtype=dtype, norm=norm)
            self.net, self.model_name = loaded.model, loaded.manifest.name
            norm = norm or loaded.manifest.norm
        self._forward: Any = None
        if self.net is not None:
            self.net = self.net.to(self.device, dtype).eval()
            if channels_last:
                self.net = self.net.to(memory_format=torch.channels_last)
            set_norm_mode(self.net, norm or "image")
            mode = "default" if compile is True else compile
            if runtime != "torch":
                self._forward = onnx_network(self.net, runtime, threads=torch.get_num_threads())
            else:
                self._forward = torch.compile(self.net, mode=mode, dynamic=False) if mode else self.net

    @property
    def landmarker(self) -> Landmarker:
        """The landmark backend, created on first use."""
        if self._landmarker is None:
            self._landmarker = get_landmarker(self._landmarker_name, device=str(self.device))
            log.info("landmarker: %s", self._landmarker.name)
        return self._landmarker

    def reconstruct(
        self, image: ImageSource, *, face: FaceHint = None, remove_bumps: bool = True,
        volume_filter: VolumeFilter | None = None,
    ) -> Result:
        """Run the whole pipeline on one photo and return its :class:`Result`.

        Parameters
        ----------
        image : path, np.ndarray (H, W, 3) uint8 RGB, or PIL image
            The photo.
        face : Face, np.ndarray (4,) or (68, 2), optional
            Skip detection: a face, a box ``(x1, y1, x2, y2)`` in photo pixels, or 68 points.
        remove_bumps : bool, default: True
            Run bump removal (otherwise the cleaned mesh equals the raw one).
        volume_filter : callable, optional
            Applied to the network's (200, 192, 192) volume before meshing, which it returns
            changed or replaced, of the same type (a NumPy array, or a tensor on the device
            when meshing there): e.g. :class:`~vrn_studio.pipeline.temporal.SurfaceFilter`'s
            smoothing over a video's frames. ``Result.volume`` is the filtered volume.

        Raises
        ------
        ImageError, NoFaceError
            The photo cannot be read, or holds no face.
        """
        return _drain(self.iter_stages(image, face=face, remove_bumps=remove_bumps, volume_filter=volume_filter))

    def iter_stages(
        self, image: ImageSource, *, face: FaceHint = None, remove_bumps: bool = True,
        volume_filter: VolumeFilter | None = None,
    ) -> Generator[StageDone, None, Result]:
        """Like :meth:`reconstruct`, as a generator yielding a :class:`StageDone` after each stage.

        Stages: :data:`STAGES` (``load``, ``detect``, ``crop``, then with a model ``network``,
        ``isosurface``, ``bumps``, ``clean``, ``fit``, ``photo``). The generator's return value is the :class:`Result`, so a
        caller can stop between stages (cancel) by closing it.
        """
        clock = _Clock()
        common = yield from self._crop_stages(image, face, clock)
        if self.net is None:
            return Result(**common)
        volume = self._network_volumes([common])[0]
        if volume_filter is not None:
            volume = volume_filter(volume)
        yield clock.lap("network")
        return (yield from self._mesh_stages(common, volume, clock, remove_bumps))

    def _crop_stages(
        self, image: ImageSource, face: FaceHint, clock: _Clock
    ) -> Generator[StageDone, None, dict[str, Any]]:
        """Stages ``load``, ``detect``, ``crop``; return the :class:`Result` fields they fill."""
        source = Path(image) if isinstance(image, (str, Path)) else None
        rgb = load_image(image)
        yield clock.lap("load")

        faces, chosen, landmarker_name = self._find_face(rgb, face, source)
        yield clock.lap("detect")
        index = next(i for i, candidate in enumerate(faces) if candidate is chosen)
        common = self._crop(source, rgb, faces, index, landmarker_name, clock)
        yield StageDone("crop", clock.timings["crop"])
        return common

    def _crop(
        self, source: Path | None, rgb: np.ndarray, faces: tuple[Face, ...], index: int, landmarker: str,
        clock: _Clock,
    ) -> dict[str, Any]:
        """Stage ``crop`` of face ``faces[index]``; return the :class:`Result` fields filled so far."""
        crop, transform = crop_face(rgb, faces[index].landmarks)
        clock.lap("crop")
        return {
            "source": source, "image": rgb, "faces": faces, "face": faces[index], "face_index": index, "crop": crop,
            "transform": transform, "timings": clock.timings, "landmarker": landmarker, "device": str(self.device),
        }

    def reconstruct_faces(
        self, image: ImageSource, *, faces: Literal["all"] | Sequence[int] = "all", remove_bumps: bool = True
    ) -> list[Result]:
        """Reconstruct several faces of one photo: detection once, then one :class:`Result` per face.

        Parameters
        ----------
        image : path, np.ndarray (H, W, 3) uint8 RGB, or PIL image
            The photo.
        faces : "all" or sequence of int, default: "all"
            Which faces: every face found, or indices into the detected faces, which come
            largest first (index 0 is the face :meth:`reconstruct` picks).
        remove_bumps : bool, default: True
            As for :meth:`reconstruct`.

        Returns
        -------
        list of Result
            In the order asked for; each has the same ``faces`` and its own ``face_index``.
            ``timings["load"]`` and ``["detect"]`` are the shared stages' times; the
            network runs once for all the crops and each gets its share.

        Raises
        ------
        ImageError, NoFaceError
            The photo cannot be read, or holds no face.
        VrnStudioError
            An index is not one of the faces found.

        Examples
        --------
        >>> rec = Reconstructor()  # doctest: +SKIP
        >>> [r.face_index for r in rec.reconstruct_faces("group.jpg")]  # doctest: +SKIP
        [0, 1, 2, 3, 4, 5]
        """
        clock = _Clock()
        source = Path(image) if isinstance(image, (str, Path)) else None
        rgb = load_image(image)
        clock.lap("load")
        found, _, landmarker_name = self._find_face(rgb, None, source)
        clock.lap("detect")
        indices = list(range(len(found))) if isinstance(faces, str) and faces == "all" else [int(i) for i in faces]
        wrong = [i for i in indices if not 0 <= i < len(found)]
        if wrong:
            raise VrnStudioError(
                f"No face number {wrong[0] + 1} in {source or 'the photo'}: {len(found)} face(s) found, "
                f"numbered 1 to {len(found)} from the largest"
            )
        shared = dict(clock.timings)
        commons, clocks = [], []
        for index in indices:
            face_clock = _Clock()
            face_clock.timings.update(shared)
            commons.append(self._crop(source, rgb, found, index, landmarker_name, face_clock))
            clocks.append(face_clock)
        if self.net is None:
            return [Result(**common) for common in commons]
        volumes, share = self._network_share(commons)
        results = []
        for common, face_clock, volume in zip(commons, clocks, volumes):
            face_clock.lap("network", share)
            results.append(_drain(self._mesh_stages(common, volume, face_clock, remove_bumps)))
        return results

    def _mesh_stages(
        self, common: dict[str, Any], volume: np.ndarray | torch.Tensor, clock: _Clock, remove_bumps: bool
    ) -> Generator[StageDone, None, Result]:
        """Stages ``isosurface``, ``bumps``, ``clean``, ``fit``, ``photo`` on the network's volume (a
        tensor on the device when meshing there); return the Result."""
        crop, transform = common["crop"], common["transform"]
        found: BumpRemoval | None = None
        if isinstance(volume, torch.Tensor):  # meshed and its bodies labelled where it is
            mesh_raw, found = mesh_on_device(volume, level=self.level, image=crop, mode=self.bump_mode,
                                             min_fraction=self.min_fraction)
            volume = volume.cpu().numpy()
        else:
            mesh_raw = volume_to_mesh(volume, level=self.level, image=crop)
        yield clock.lap("isosurface")

        if not remove_bumps:
            bumps = BumpRemoval(kept=mesh_raw, removed=Mesh.empty(), removed_sizes=())
        elif found is not None:
            bumps = found
        else:
            bumps = strip_bumps(mesh_raw, mode=self.bump_mode, min_fraction=self.min_fraction)
        yield clock.lap("bumps")

        mesh_clean = None
        if self.head_fit == "none" and (self.smooth or self.target_faces is not None):
            mesh_clean = smooth_mesh(bumps.kept, iterations=self.smooth)
            if self.target_faces is not None:
                mesh_clean = decimate_mesh(mesh_clean, self.target_faces)
        yield clock.lap("clean")

        head: HeadFit | None = None
        if self.head_fit == "ict":
            head = fit_head(volume, transform.to_crop(common["face"].landmarks), level=self.level, image=crop,
                            model=self._head_model)
            if self.target_faces is not None:  # the head is smooth already; decimation is asked of the result
                head = dataclasses.replace(head, mesh=decimate_mesh(head.mesh, self.target_faces))
        yield clock.lap("fit")

        shown = head.mesh if head is not None else bumps.kept if mesh_clean is None else mesh_clean
        mesh_photo = mesh_to_photo(shown, transform)
        yield clock.lap("photo")
        return Result(**common, volume=volume, mesh_raw=mesh_raw, bumps=bumps, mesh_clean=mesh_clean, head=head,
                      mesh_photo=mesh_photo, model=self.model_name)

    def mesh_from_volume(
        self, cropped: Result, volume: np.ndarray | torch.Tensor, *, remove_bumps: bool = True,
        network_seconds: float | None = None, model_name: str | None = None,
    ) -> Result:
        """Finish a reconstruction whose network ran elsewhere: ``cropped`` is the
        :class:`Result` of a Reconstructor with ``model=None`` (load, detect, crop), ``volume``
        (200, 192, 192) the network's output for its crop (:meth:`predict_volumes`). Runs the
        stages ``isosurface``, ``bumps``, ``clean``, ``fit``, ``photo`` with this Reconstructor's
        settings (level, bump removal, smoothing, decimation) and returns the full Result;
        ``network_seconds`` is recorded as the ``network`` stage's time and ``model_name`` as
        the model's (default: this Reconstructor's). A distributed batch
        runs the stages on different machines this way (:mod:`vrn_studio.pipeline.batch`).
        """
        clock = _Clock()
        clock.timings.update(cropped.timings)
        if network_seconds is not None:
            clock.lap("network", network_seconds)
        common = {f.name: getattr(cropped, f.name) for f in dataclasses.fields(Result)
                  if f.name not in ("volume", "mesh_raw", "bumps", "mesh_clean", "head", "mesh_photo", "model")}
        common["timings"] = clock.timings
        finished = _drain(self._mesh_stages(common, volume, clock, remove_bumps))
        return dataclasses.replace(finished, model=model_name or self.model_name)

    def predict_volume(self, crop: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray:
        """Run the network on a (192, 192, 3) uint8 RGB crop; return (200, 192, 192) float32.

        ``landmarks`` (68, 2), the face's landmarks in crop pixels, are needed by a guided
        model (VRN Studio's default) and ignored by the others.
        """
        return self.predict_volumes(np.asarray(crop)[None], None if landmarks is None else np.asarray(landmarks)[None])[0]

    def predict_volumes(self, crops: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray:
        """Run the network on a batch of crops (B, 192, 192, 3) uint8 RGB; return (B, 200, 192, 192).

        ``landmarks`` (B, 68, 2) in crop pixels feed a guided model. A model trained at a
        smaller crop gets the crops area-averaged and its volume resampled to 200 x 192 x
        192 (:func:`~vrn_studio.model.release_volume`). With ``norm="image"`` every crop is
        normalised with its own statistics, so a crop's volume does not depend on the others
        in the batch (equal to float32 rounding).

        Raises
        ------
        VrnStudioError
            No network, or a guided network without landmarks.
        """
        return self._predict(crops, landmarks).cpu().numpy()

    def _predict(self, crops: np.ndarray, landmarks: np.ndarray | None) -> torch.Tensor:
        """:meth:`predict_volumes` as a float32 tensor on the network's device."""
        if self._forward is None or self.net is None:
            raise VrnStudioError("This Reconstructor was built with model=None: it has no network to run")
        if isinstance(self.net, VRNGuided) and landmarks is None:
            raise VrnStudioError(f"{self.model_name} is guided by landmarks: pass the crop's 68 landmarks")
        x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2)
        x = x.to(self.device, self.dtype) / 255.0
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        marks = None if landmarks is None else torch.as_tensor(np.asarray(landmarks), dtype=self.dtype)
        with torch.inference_mode(), _tf32(self.tf32):
            return release_volume(self.net, x, marks, forward=self._forward).float()

    def reconstruct_many(
        self, images: Iterable[ImageSource], *, batch_size: int = 1, **options: Any
    ) -> Iterator[tuple[ImageSource, Result | VrnStudioError]]:
        """Reconstruct photos in turn, yielding ``(image, result)`` or ``(image, error)``.

        A photo that fails with a :class:`VrnStudioError` (unreadable, no face) is yielded
        with its error and the batch goes on; other exceptions propagate.

        Parameters
        ----------
        images : iterable of path, np.ndarray or PIL image
            The photos.
        batch_size : int, default: 1
            Photos whose crops go through the network together (faster on a GPU). Each
            result's ``timings["network"]`` is then its share of the batch's time.
        **options
            ``face`` and ``remove_bumps``, as for :meth:`reconstruct`.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1; got {batch_size}")
        if batch_size == 1 or self.net is None:
            for image in images:
                try:
                    yield image, self.reconstruct(image, **options)
                except VrnStudioError as exc:
                    yield image, exc
            return
        face, remove_bumps = options.pop("face", None), options.pop("remove_bumps", True)
        if options:
            raise TypeError(f"Unknown options for reconstruct_many: {', '.join(options)}")
        batch_iter = iter(images)
        while batch := list(islice(batch_iter, batch_size)):
            yield from self._reconstruct_batch(batch, face, remove_bumps)

    def _reconstruct_batch(
        self, images: list[ImageSource], face: FaceHint, remove_bumps: bool
    ) -> Iterator[tuple[ImageSource, Result | VrnStudioError]]:
        """One batch of :meth:`reconstruct_many`: crops one by one, one network call, meshes."""
        cropped: list[tuple[ImageSource, dict[str, Any] | VrnStudioError, _Clock]] = []
        for image in images:
            clock = _Clock()
            try:
                cropped.append((image, _drain(self._crop_stages(image, face, clock)), clock))
            except VrnStudioError as exc:
                cropped.append((image, exc, clock))
        ready = [common for _, common, _ in cropped if isinstance(common, dict)]
        batch, share = self._network_share(ready) if ready else ((), 0.0)
        volumes = iter(batch)
        for image, common, clock in cropped:
            if isinstance(common, VrnStudioError):
                yield image, common
                continue
            clock.lap("network", share)
            yield image, _drain(self._mesh_stages(common, next(volumes), clock, remove_bumps))

    def _network_share(self, commons: list[dict[str, Any]]) -> tuple[np.ndarray | torch.Tensor, float]:
        """One network call for the crops of several faces (``_crop``'s fields); return their
        volumes (B, 200, 192, 192) and each one's share of the call's seconds."""
        start = time.perf_counter()
        volumes = self._network_volumes(commons)
        return volumes, (time.perf_counter() - start) / len(commons)

    def _network_volumes(self, commons: list[dict[str, Any]]) -> np.ndarray | torch.Tensor:
        """The volumes (B, 200, 192, 192) of the faces' crops: on the host, or a tensor left on
        the device when meshing there (synchronised, so the network's time is its own)."""
        crops = np.stack([c["crop"] for c in commons])
        marks = np.stack([c["transform"].to_crop(c["face"].landmarks) for c in commons])
        if not self.mesh_on_device:
            return self.predict_volumes(crops, marks)
        volumes = self._predict(crops, marks)
        if volumes.device.type == "cuda":
            torch.cuda.synchronize(volumes.device)
        return volumes

    def find_face(self, rgb: np.ndarray, face: FaceHint = None) -> Face:
        """The face :meth:`reconstruct` would use in an (H, W, 3) uint8 RGB image, without
        reconstructing it: detected (the largest), or from ``face`` as :meth:`reconstruct` takes it.

        Raises
        ------
        NoFaceError
            No face found.
        """
        return self._find_face(rgb, face, None)[1]

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
