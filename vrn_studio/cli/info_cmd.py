"""``vrn-studio info``: versions, devices, landmarkers and weights found."""

from __future__ import annotations

import argparse
import platform
from importlib import metadata

from vrn_studio.face import available_landmarkers
from vrn_studio.pipeline import available_devices
from vrn_studio.weights import list_models, search_paths

DISTRIBUTIONS = (
    "vrn-studio", "torch", "numpy", "scipy", "scikit-image", "opencv-python-headless", "opencv-python",
    "pillow", "safetensors", "torchfile", "PyMCubes", "dlib-bin", "face_recognition_models", "face-alignment",
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``info`` sub-command."""
    p = sub.add_parser("info", help="show versions, devices, landmarkers and weights found")
    p.set_defaults(func=run)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _status(reason: str | None) -> str:
    return "available" if reason is None else f"unavailable: {reason}"


def run(args: argparse.Namespace) -> int:
    """Print the report; always exit 0."""
    print(f"Python {platform.python_version()} on {platform.platform()}")
    print("\nPackages:")
    for name in DISTRIBUTIONS:
        print(f"  {name:<26} {_version(name)}")
    print("\nDevices:")
    for name, reason in available_devices().items():
        print(f"  {name:<6} {_status(reason)}")
    print("\nLandmarkers:")
    for name, reason in available_landmarkers().items():
        print(f"  {name:<6} {_status(reason)}")
    print("\nWeights search path (first match wins):")
    for path in search_paths():
        print(f"  {path}{'' if path.is_dir() else '  (missing)'}")
    models = list_models()
    print("\nModels found:" if models else "\nModels found: none (vrn-studio weights download vrn-unguided)")
    for entry in models:
        print(f"  {entry.name:<16} {entry.path}  licence: {entry.manifest.licence}")
    return 0
