"""VRN Studio: 3D face reconstruction from one photo with a Volumetric Regression Network.

The public API is small::

    from vrn_studio import Reconstructor, save_result
    result = Reconstructor().reconstruct("photo.jpg")
    save_result(result, "out/", outputs=["glb", "landmarks"])

Names are imported on first use, so ``import vrn_studio.errors`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Reconstructor": "vrn_studio.pipeline",
    "Result": "vrn_studio.pipeline",
    "save_result": "vrn_studio.pipeline",
    "Mesh": "vrn_studio.mesh",
    "texture_from_photo": "vrn_studio.mesh",
    "printable_mesh": "vrn_studio.mesh",
    "export_mesh": "vrn_studio.export",
    "load_model": "vrn_studio.weights",
    "load_image": "vrn_studio.image",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'vrn_studio' has no attribute {name!r}")
