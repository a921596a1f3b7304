"""Landmarker backends by name, each imported only when it is chosen.

Every backend is a row of :data:`BACKENDS`: the module and class that implement it and the
third-party packages it needs. :func:`get_landmarker` builds one by name (``"auto"`` picks
the first usable of ``"mediapipe"``, ``"fan"``, ``"dlib"``); :func:`available_landmarkers`
says which are usable and, for the others, why not and what to install.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any

from vrn_studio.errors import MissingDependencyError
from vrn_studio.face.base import Landmarker

_DLIB_INSTALL = "pip install 'vrn-studio[dlib]'"


@dataclass(frozen=True)
class Requirement:
    """A third-party package a backend needs.

    Attributes
    ----------
    module : str
        Its import name.
    distribution : str
        Its name on PyPI.
    install : str
        The command that installs it.
    import_it : bool
        False for data-only packages that are located (``importlib.util.find_spec``) but not
        imported.
    """

    module: str
    distribution: str
    install: str
    import_it: bool = True


@dataclass(frozen=True)
class Backend:
    """One landmarker: its name, where its class lives and what it needs."""

    name: str
    module: str
    cls: str
    requirements: tuple[Requirement, ...]


BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        Backend(
            "mediapipe",
            "vrn_studio.face.mediapipe",
            "MediaPipeLandmarker",
            (Requirement("ai_edge_litert", "ai-edge-litert", "pip install 'vrn-studio[mediapipe]'"),),
        ),
        Backend(
            "fan",
            "vrn_studio.face.fan",
            "FanLandmarker",
            (
                Requirement(
                    "face_alignment",
                    "face-alignment",
                    # face-alignment declares opencv-python, which clashes with the headless wheel.
                    "pip install 'vrn-studio[fan]' && pip install --no-deps face-alignment==1.5.0",
                ),
                Requirement("dlib", "dlib-bin", _DLIB_INSTALL),
            ),
        ),
        Backend(
            "dlib",
            "vrn_studio.face.dlib",
            "DlibLandmarker",
            (
                Requirement("dlib", "dlib-bin", _DLIB_INSTALL),
                Requirement("face_recognition_models", "face_recognition_models", _DLIB_INSTALL, import_it=False),
            ),
        ),
    )
}
"""The landmarkers, in order of preference."""


def available_landmarkers() -> dict[str, str | None]:
    """Which landmarkers can run here.

    Returns
    -------
    dict of str to (str or None)
        Each backend name mapped to None when it is usable, else the reason it is not,
        with the command to install what is missing (or where to put missing model files).
    """
    return {name: _problem(backend) for name, backend in BACKENDS.items()}


def get_landmarker(name: str = "auto", *, device: str = "cpu", **options: Any) -> Landmarker:
    """Build a landmarker by name.

    Parameters
    ----------
    name : str, default: "auto"
        ``"mediapipe"`` (MediaPipe's detector and face mesh, bundled; milliseconds, to large
        yaw), ``"fan"`` (face-alignment's 2D-FAN, the paper's landmarker), ``"dlib"``
        (offline, models shipped in wheels) or ``"auto"``: the first of these that can run
        (``"fan"`` needs its 2D-FAN weights file in ``$TORCH_HOME/hub/checkpoints``).
        The result's ``.name`` says which one was chosen.
    device : str, default: "cpu"
        Torch device for networks (``"fan"``); ``"mediapipe"`` and ``"dlib"`` always run on
        the CPU.
    **options
        Passed to the backend class (``dlib``: ``upsample``, ``min_score``, ``max_side``;
        ``fan`` also ``flip_input``; ``mediapipe``: ``min_score``, ``min_face``,
        ``min_presence``, ``threads``).

    Returns
    -------
    Landmarker

    Raises
    ------
    ValueError
        Unknown ``name``.
    MissingDependencyError
        A package the backend needs is not installed, or is installed but fails to import.
    VrnStudioError
        A model file is missing (``WeightsError`` for the 2D-FAN weights).
    """
    if name == "auto":
        problems = available_landmarkers()
        usable = [n for n, problem in problems.items() if problem is None]
        if not usable:
            details = " ".join(f"{n}: {problem}" for n, problem in problems.items())
            raise MissingDependencyError(f"No landmarker can run here. {details}")
        name = usable[0]
    if name not in BACKENDS:
        raise ValueError(f"Unknown landmarker {name!r}. Available: {', '.join(BACKENDS)}.")
    backend = BACKENDS[name]
    problem = _import_problem(backend)
    if problem is not None:
        raise MissingDependencyError(problem)
    cls = getattr(importlib.import_module(backend.module), backend.cls)
    return cls(device=device, **options)


def _problem(backend: Backend) -> str | None:
    """Why ``backend`` cannot run (packages, then model files), or None."""
    problem = _import_problem(backend)
    if problem is not None:
        return problem
    return importlib.import_module(backend.module).missing_files()


def _import_problem(backend: Backend) -> str | None:
    """The first requirement of ``backend`` that is absent or broken, as a message; or None."""
    for requirement in backend.requirements:
        if requirement.import_it:
            try:
                importlib.import_module(requirement.module)
            except ModuleNotFoundError as exc:
                if exc.name == requirement.module:
                    return _not_installed(backend, requirement)
                return _broken(requirement, exc)
            except Exception as exc:  # noqa: BLE001 - any failure while importing means "broken"
                return _broken(requirement, exc)
        else:
            try:
                spec = importlib.util.find_spec(requirement.module)
            except (ImportError, ValueError):
                spec = None
            if spec is None:
                return _not_installed(backend, requirement)
    return None


def _not_installed(backend: Backend, requirement: Requirement) -> str:
    return (
        f"The '{backend.name}' landmarker needs '{requirement.distribution}', which is not installed. "
        f"Install it with: {requirement.install}"
    )


def _broken(requirement: Requirement, exc: BaseException) -> str:
    return f"'{requirement.distribution}' is installed but failed to import: {exc}"
