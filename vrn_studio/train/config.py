"""Training configuration: a plain dataclass read from a TOML or JSON file.

Every key is a top-level field of :class:`TrainConfig` (no tables). Unknown keys, wrong
types and out-of-range values raise :class:`ConfigError` naming the key. Relative paths
(``out_dir``, ``data``, ``bfm``, ``synthetic_cache``, ``init_weights``) are resolved against the folder holding
the config file.

Example (TOML)::

    variant = "guided"
    features = 64
    stacks = 2
    input_size = 96
    depth_bins = 100
    batch_size = 8
    epochs = 60
    out_dir = "runs/guided-small"
    data = "synthetic-smoke"
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tomllib

from vrn_studio.errors import VrnStudioError
from vrn_studio.mesh.isosurface import DEFAULT_LEVEL

Variant = Literal["unguided", "guided", "multitask"]
VARIANTS: tuple[str, ...] = ("unguided", "guided", "multitask")
SYNTHETIC_SMOKE = "synthetic-smoke"
"""``data`` value selecting :class:`vrn_studio.train.smoke.SyntheticSmokeDataset` (tests only)."""
SYNTHETIC = "synthetic"
"""``data`` value selecting :class:`vrn_studio.train.synthetic.SyntheticDataset` (rendered faces)."""
SYNTHETIC_SOURCES: tuple[str, ...] = ("ict", "mediapipe")
"""``synthetic_source`` values, the default first: the shape sources of
:mod:`vrn_studio.train.synthetic` (which takes them from here)."""
SYNTHETIC_FILLS: tuple[str, ...] = ("auto", "solid", "behind")
"""``synthetic_fill`` values (:data:`vrn_studio.train.synthetic.FILLS`)."""


class ConfigError(VrnStudioError):
    """A training configuration is unreadable or has a bad key or value."""


@dataclass
class TrainConfig:
    """Everything one training run needs, defaults from the paper where it gives them.

    Attributes
    ----------
    variant : {"unguided", "guided", "multitask"}
        Network: :class:`~vrn_studio.model.VRN`, :class:`~vrn_studio.model.VRNGuided` (RGB +
        68 ground-truth landmark heatmaps in) or :class:`~vrn_studio.model.VRNMultitask`.
    features : int
        Channels inside the hourglasses (256 in the paper).
    stacks : int
        Hourglass stacks of the unguided and guided networks (2 in the paper).
    trunk_stacks, fork_stacks : int
        Stacks of the multitask trunk and of each of its forks (1 each: three hourglasses).
    hourglass_depth : int
        Levels of each hourglass (4 in the paper).
    depth_bins : int
        Depth slices D of the volume (200 in the paper); the dataset's volumes must match.
    input_size : int
        Crop side in pixels, a multiple of 8 (192 in the paper); the dataset must match.
    batch_size : int
        Samples per optimiser step (per process under torchrun).
    epochs : int
        Passes over the dataset.
    lr : float
        RMSProp learning rate before ``lr_drop_epoch`` (1e-4 in the paper).
    lr_dropped : float
        Learning rate from ``lr_drop_epoch`` on (1e-5 in the paper).
    lr_drop_epoch : int
        First epoch (0-based) trained at ``lr_dropped`` (40 in the paper).
    landmark_loss_weight : float
        Weight of the heatmap MSE against the volume cross-entropy (multitask only).
    seed : int
        Seeds the weights' initialisation, the data order and each epoch's RNG.
    out_dir : Path
        Where checkpoints and ``metrics.jsonl`` go.
    data : str
        A dataset folder, ``"synthetic"`` for rendered faces
        (:class:`~vrn_studio.train.synthetic.SyntheticDataset`; ``depth_bins`` must then be
        ``200 * input_size / 192``), or ``"synthetic-smoke"`` for the test-only ellipsoid data.
    data_format : {"folder", "300w-lp"}
        Layout of a dataset folder: the folder format, or 300W-LP (meshes from ``bfm``).
    bfm : str
        The user's Basel Face Model ``.mat`` for ``data_format = "300w-lp"``
        (:mod:`vrn_studio.eval.bfm`; relative to the config's folder).
    synthetic_samples : int
        Number of rendered faces when ``data = "synthetic"`` (cached in ``synthetic_cache``).
    synthetic_max_yaw : float
        Largest absolute yaw of the rendered faces, degrees.
    synthetic_source : {"ict", "mediapipe"}
        Shape source of the rendered faces (:mod:`vrn_studio.train.synthetic`): ``"ict"``
        (the ICT Face Model's heads, the default) or ``"mediapipe"`` (the deformed canonical
        face that made the built-in model v1).
    synthetic_fill : {"auto", "solid", "behind"}
        Target volume of the rendered faces (:mod:`vrn_studio.train.synthetic`): ``"solid"``
        (the head's interior, between its back and front surfaces; closed heads only),
        ``"behind"`` (everything behind the front surface, model v1's targets) or ``"auto"``
        (the default: ``"solid"`` for ``"ict"``, ``"behind"`` for ``"mediapipe"``).
    synthetic_cache : str
        Folder of the rendered faces' cache (``""``, the default: ``out_dir``). The cache file
        is named after the source, fill, seed, sample count, size and maximum yaw, but not
        ``soft_targets`` (the volume is made from the cached depth maps as each item is read):
        runs that differ only in ``soft_targets`` (or in the network and optimiser settings)
        and name the same folder render the faces once and share the file.
    soft_targets : bool
        Train on anti-aliased volumes (each voxel's fraction behind the surface,
        :func:`~vrn_studio.train.synthetic.volume_from_front`) instead of binary ones; only
        with ``data = "synthetic"``.
    surface_weight : float
        Extra weight of the voxels near the target's surfaces in the volume loss
        (:func:`~vrn_studio.train.loop.surface_weights`: those within ``SURFACE_BAND`` depth
        bins of a change of occupancy along depth count ``1 + surface_weight``); 0, the default,
        is the paper's plain per-voxel cross-entropy. Thin protrusions such as the nose hold a
        tiny share of a volume's voxels, so the plain loss hardly sees them.
    init_weights : str
        A model's ``.safetensors`` file (an exported model, as in ``weights/``) whose network
        starts the run instead of a random initialisation (``""``, the default: random): a
        further training stage of an earlier model. Its tensors must fit this config's
        network. A resumed run takes its weights from the checkpoint instead.
    init_sha256 : str
        The expected SHA-256 of ``init_weights`` (hex; ``""``: not checked), so a recipe keeps
        naming the stage it was run from after the file is replaced by a later one.
    init_iso_level : float
        The iso level ``init_weights`` was exported calibrated to
        (:func:`~vrn_studio.train.export.export_checkpoint`: the release's 10/255 by default;
        0.5 for a model exported uncalibrated): the output bias is shifted back by
        ``logit(init_iso_level)`` so the network's surface is at probability 0.5 again.
    amp : bool
        Mixed precision (float16 autocast + gradient scaling); used on CUDA only.
    num_workers : int
        DataLoader worker processes.
    """

    variant: Variant = "unguided"
    features: int = 256
    stacks: int = 2
    trunk_stacks: int = 1
    fork_stacks: int = 1
    hourglass_depth: int = 4
    depth_bins: int = 200
    input_size: int = 192
    batch_size: int = 8
    epochs: int = 60
    lr: float = 1e-4
    lr_dropped: float = 1e-5
    lr_drop_epoch: int = 40
    landmark_loss_weight: float = 1.0
    seed: int = 0
    out_dir: Path = field(default_factory=lambda: Path("runs/train"))
    data: str = SYNTHETIC_SMOKE
    data_format: str = "folder"
    bfm: str = ""
    synthetic_samples: int = 8000
    synthetic_max_yaw: float = 90.0
    synthetic_source: str = "ict"
    synthetic_fill: str = "auto"
    synthetic_cache: str = ""
    soft_targets: bool = False
    surface_weight: float = 0.0
    init_weights: str = ""
    init_sha256: str = ""
    init_iso_level: float = DEFAULT_LEVEL
    amp: bool = True
    num_workers: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad key."""
        if self.variant not in VARIANTS:
            raise ConfigError(f"variant is {self.variant!r}; expected one of {', '.join(VARIANTS)}")
        for name in (
            "features",
            "stacks",
            "trunk_stacks",
            "fork_stacks",
            "hourglass_depth",
            "depth_bins",
            "input_size",
            "batch_size",
            "epochs",
            "synthetic_samples",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer; got {value!r}")
        for name in ("seed", "lr_drop_epoch", "num_workers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer; got {value!r}")
        if self.input_size % 8:
            raise ConfigError(f"input_size must be a multiple of 8; got {self.input_size}")
        for name in ("lr", "lr_dropped", "landmark_loss_weight", "surface_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ConfigError(f"{name} must be a non-negative number; got {value!r}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive; got {self.lr!r}")
        if isinstance(self.synthetic_max_yaw, bool) or not isinstance(self.synthetic_max_yaw, int | float) or not (
            0 <= self.synthetic_max_yaw <= 90
        ):
            raise ConfigError(f"synthetic_max_yaw must be between 0 and 90 degrees; got {self.synthetic_max_yaw!r}")
        if self.data_format not in ("folder", "300w-lp"):
            raise ConfigError(f"data_format must be 'folder' or '300w-lp'; got {self.data_format!r}")
        if self.data_format == "300w-lp" and not (isinstance(self.bfm, str) and self.bfm):
            raise ConfigError("data_format = '300w-lp' needs bfm: the path of your Basel Face Model .mat")
        if not isinstance(self.amp, bool):
            raise ConfigError(f"amp must be true or false; got {self.amp!r}")
        if self.synthetic_source not in SYNTHETIC_SOURCES:
            raise ConfigError(
                f"synthetic_source must be one of {', '.join(SYNTHETIC_SOURCES)}; got {self.synthetic_source!r}"
            )
        if self.synthetic_fill not in SYNTHETIC_FILLS:
            raise ConfigError(
                f"synthetic_fill must be one of {', '.join(SYNTHETIC_FILLS)}; got {self.synthetic_fill!r}"
            )
        if self.synthetic_fill == "solid" and self.synthetic_source == "mediapipe":
            raise ConfigError("synthetic_fill = 'solid' needs a closed head; synthetic_source 'mediapipe' is an open face")
        if not isinstance(self.synthetic_cache, str):
            raise ConfigError(f"synthetic_cache must be a folder path (a string); got {self.synthetic_cache!r}")
        if not isinstance(self.soft_targets, bool):
            raise ConfigError(f"soft_targets must be true or false; got {self.soft_targets!r}")
        if self.soft_targets and self.data != SYNTHETIC:
            raise ConfigError(f"soft_targets needs data = {SYNTHETIC!r}; got data = {self.data!r}")
        if not isinstance(self.init_weights, str):
            raise ConfigError(f"init_weights must be a .safetensors path (a string); got {self.init_weights!r}")
        if not (isinstance(self.init_sha256, str) and re.fullmatch(r"([0-9a-f]{64})?", self.init_sha256)):
            raise ConfigError(f"init_sha256 must be 64 lower-case hex digits or empty; got {self.init_sha256!r}")
        if isinstance(self.init_iso_level, bool) or not isinstance(self.init_iso_level, int | float) or not (
            0 < self.init_iso_level < 1
        ):
            raise ConfigError(f"init_iso_level must be between 0 and 1 (exclusive); got {self.init_iso_level!r}")
        if not isinstance(self.data, str) or not self.data:
            raise ConfigError(f"data must be a folder, {SYNTHETIC!r} or {SYNTHETIC_SMOKE!r}; got {self.data!r}")
        if not isinstance(self.out_dir, str | Path):
            raise ConfigError(f"out_dir must be a path; got {self.out_dir!r}")
        self.out_dir = Path(self.out_dir)

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, base: Path | None = None) -> TrainConfig:
        """Build from a mapping; relative ``out_dir`` and ``data`` paths are taken from ``base``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}")
        values = dict(values)
        if base is not None:
            if "out_dir" in values and isinstance(values["out_dir"], str):
                values["out_dir"] = base / values["out_dir"]
            if isinstance(values.get("data"), str) and values["data"] not in (SYNTHETIC_SMOKE, SYNTHETIC):
                values["data"] = str(base / values["data"])
            for key in ("bfm", "synthetic_cache", "init_weights"):
                if isinstance(values.get(key), str) and values[key]:
                    values[key] = str(base / values[key])
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """Read a ``.toml`` or ``.json`` file (by extension; anything else is read as TOML)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the training config {path}: {exc.strerror or exc}") from exc
        try:
            values = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(
                f"{path} is not valid {path.suffix.lstrip('.').upper() or 'TOML'}: {exc}"
            ) from exc
        if not isinstance(values, dict):
            raise ConfigError(f"{path} must hold a table of keys; got {type(values).__name__}")
        try:
            return cls.from_dict(values, base=path.parent)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready copy (paths as strings)."""
        out = dataclasses.asdict(self)
        out["out_dir"] = str(self.out_dir)
        return out
