"""Model weights: manifests, the local store, Torch7 import and download.

The released VRN model is a Torch7 ``.t7`` file; :func:`import_t7` converts it once into
a safetensors file plus a JSON manifest, and :func:`load_model` loads that (never a
pickle) after checking its SHA-256.
"""

from vrn_studio.weights.download import KNOWN_MODELS, KnownModel, download, fetch
from vrn_studio.weights.manifest import Manifest, sha256_file
from vrn_studio.weights.store import (
    DEFAULT_MODELS,
    ENV_VAR,
    LoadedModel,
    ModelEntry,
    find_model,
    list_models,
    load_model,
    search_paths,
    verify_model,
)
from vrn_studio.weights.t7 import import_t7, load_t7, run_t7, t7_forward

__all__ = [
    "DEFAULT_MODELS",
    "ENV_VAR",
    "KNOWN_MODELS",
    "KnownModel",
    "LoadedModel",
    "Manifest",
    "ModelEntry",
    "download",
    "fetch",
    "find_model",
    "import_t7",
    "list_models",
    "load_model",
    "load_t7",
    "run_t7",
    "search_paths",
    "sha256_file",
    "t7_forward",
    "verify_model",
]
