"""Import the released Torch7 ``.t7`` VRN model into a safetensors file, and prove it.

Three parts, each usable alone:

* :func:`load_t7` parses a Torch7 binary file with :mod:`torchfile` (which never runs code
  from the file) into a tree of :class:`T7Module`. Every parse failure, from a truncated or
  garbled file to sizes that point past the end of a storage, becomes a
  :class:`~vrn_studio.errors.WeightsError` naming the file.
* :func:`run_t7` is a small interpreter that executes that tree itself with
  :mod:`torch.nn.functional` ops, following Torch7 ``nn`` semantics. It shares no code with
  the PyTorch network in :mod:`vrn_studio.model`, so agreement between the two is evidence
  that the conversion is right.
* :func:`import_t7` maps every tensor of the tree onto :class:`~vrn_studio.model.VRN` with
  strict shape checks, runs both networks on a probe input in both batch-norm modes, and
  writes the weights (safetensors) plus a manifest only when they agree.

The mapping relies on a *canonical order* of parametric layers (convolutions and batch
norms): a depth-first walk in which the branches of every ``nn.ConcatTable`` are sorted so
that a branch without max pooling at its top level comes before one with it (hourglass:
full-resolution branch, then pooled branch) and, among those, the branch with more
parametric layers comes first (residual: main branch, then skip). Which order the
released file stores its branches in therefore does not matter.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torchfile
from torch import nn

from vrn_studio.errors import WeightsError
from vrn_studio.model import VRN, NormMode, parametric_layers, set_norm_mode
from vrn_studio.weights import store
from vrn_studio.weights.manifest import sha256_file
from vrn_studio.weights.store import check_name

RELEASE_URL = "http://cs.nott.ac.uk/~psxasj/download.php?file=vrn-unguided.t7"
"""Where the authors publish ``vrn-unguided.t7`` (their ``download.sh``)."""
RELEASE_LICENCE = "MIT"
"""Licence of the released code and model (AaronJackson/vrn)."""
PROBE_TOLERANCE = 1e-4
"""Largest absolute difference in occupancy probability allowed between the ``.t7``
interpreter and the converted network on the probe input."""

# torchfile reads GPU long tensors (max-pooling indices of CUDA checkpoints) as plain
# objects and then loses its place in the file; register real readers for them.
torchfile.add_tensor_reader(b"torch.CudaLongTensor", dtype=np.int64)
torchfile.add_storage_reader(b"torch.CudaLongStorage", dtype=np.int64)

_PACKAGES = ("nn", "cudnn")
_CONTAINERS = ("Sequential", "ConcatTable")
_TENSOR_FIELDS = ("weight", "bias", "running_mean", "running_var")


@dataclass(frozen=True)
class T7Module:
    """One module of a parsed ``.t7`` tree.

    Attributes
    ----------
    kind : str
        Class name without its package, e.g. ``"SpatialConvolution"``.
    typename : str
        Full Torch7 class name, e.g. ``"cudnn.SpatialConvolution"``.
    path : str
        Where the module sits, e.g. ``"model.modules[2].modules[1]"`` (Lua 1-based).
    fields : dict of str to Any
        Numbers, booleans and strings of the module, plus its parameters
        (``weight``, ``bias``, ``running_mean``, ``running_var``) as float32 tensors.
    children : tuple of T7Module
        Sub-modules of containers (``nn.Sequential``, ``nn.ConcatTable``), in file order.
    """

    kind: str
    typename: str
    path: str
    fields: dict[str, Any]
    children: tuple[T7Module, ...] = ()

    def tensor(self, name: str) -> torch.Tensor:
        """The parameter ``name``; :class:`WeightsError` naming this module if it is absent."""
        value = self.fields.get(name)
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"{self.typename} at {self.path} has no {name} tensor")
        return value

    def number(self, name: str, default: float | None = None) -> Any:
        """The numeric field ``name`` (or ``default``); :class:`WeightsError` if missing."""
        value = self.fields.get(name, default)
        if not isinstance(value, (int, float)):
            raise WeightsError(f"{self.typename} at {self.path} has no numeric field {name}")
        return value

    def walk(self) -> list[T7Module]:
        """This module and all its descendants, depth first, in file order."""
        return [self, *(m for child in self.children for m in child.walk())]


# --------------------------------------------------------------------------- parsing


class _Truncated(Exception):
    pass


class _BoundedReader(torchfile.T7Reader):
    """A torchfile reader that checks every length against the bytes left in the file.

    Longs are read as 8 bytes little-endian whatever the platform (Torch7 files come from
    64-bit Linux; torchfile's native ``long`` is 4 bytes on Windows).
    """

    def __init__(self, handle: Any, size: int) -> None:
        super().__init__(handle, use_list_heuristic=False)
        self._size = size

    def _exact(self, count: int) -> bytes:
        if count < 0 or count > self._size - self.f.tell():
            raise _Truncated(f"needs {count} more bytes at offset {self.f.tell()}")
        return self.f.read(count)

    def _read(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack(fmt, self._exact(struct.calcsize(fmt)))

    def read_long(self) -> int:
        value = struct.unpack("<q", self._exact(8))[0]
        if not 0 <= value <= self._size:
            raise _Truncated(f"size or offset {value} at offset {self.f.tell() - 8} is impossible")
        return value

    def read_long_array(self, n: int) -> list[int]:
        if not 0 <= n * 8 <= self._size - self.f.tell():
            raise _Truncated(f"array of {n} longs at offset {self.f.tell()} does not fit the file")
        return [self.read_long() for _ in range(n)]

    def read_string(self, disable_utf8: bool = False) -> bytes:
        return self._exact(self.read_int())


def _check_view(array: np.ndarray, where: str) -> None:
    """Refuse a tensor whose sizes and strides reach outside its storage."""
    owner: Any = array
    while getattr(owner, "base", None) is not None:
        owner = owner.base
    if array.size == 0:
        return
    if not isinstance(owner, np.ndarray) or any(s < 0 for s in array.strides):
        raise _Truncated(f"tensor {where} has an unusable layout")
    start = array.__array_interface__["data"][0]
    end = start + sum((n - 1) * s for n, s in zip(array.shape, array.strides)) + array.itemsize
    owner_start = owner.__array_interface__["data"][0]
    if start < owner_start or end > owner_start + owner.nbytes:
        raise _Truncated(f"tensor {where} reaches beyond the end of its storage")


def _convert(obj: Any, path: str, source: Path) -> T7Module:
    if not isinstance(obj, torchfile.TorchObject):
        raise WeightsError(f"{source} holds a {type(obj).__name__} at {path}, not a Torch7 nn module")
    typename = obj.torch_typename().decode("latin-1")
    package, _, kind = typename.rpartition(".")
    if package not in _PACKAGES or kind not in _INTERPRETERS:
        supported = ", ".join(f"nn.{k}" for k in _INTERPRETERS)
        raise WeightsError(
            f"{source} contains {typename} at {path}, which VRN Studio cannot import; it reads VRN "
            f"models built from {supported} (or their cudnn.* twins). Is this the VRN model file?"
        )
    table = obj._obj if isinstance(obj._obj, dict) else {}
    fields: dict[str, Any] = {}
    for key, value in table.items():
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        if isinstance(value, (bool, int, float, bytes)):
            fields[name] = value
        elif name in _TENSOR_FIELDS and isinstance(value, np.ndarray):
            _check_view(value, f"{name} of {typename} at {path}")
            if value.dtype.kind != "f":
                raise WeightsError(f"{source}: {name} of {typename} at {path} is {value.dtype}, not float")
            fields[name] = torch.from_numpy(np.array(value, dtype=np.float32))
    children: tuple[T7Module, ...] = ()
    if kind in _CONTAINERS:
        modules = table.get(b"modules")
        if not isinstance(modules, dict) or set(modules) != set(range(1, len(modules) + 1)):
            raise WeightsError(f"{source}: {typename} at {path} has no valid list of modules")
        children = tuple(
            _convert(modules[i], f"{path}.modules[{i}]", source) for i in range(1, len(modules) + 1)
        )
    return T7Module(kind, typename, path, fields, children)


def load_t7(path: str | os.PathLike[str]) -> T7Module:
    """Parse a Torch7 binary ``.t7`` model file into a :class:`T7Module` tree.

    ``nn.*`` and ``cudnn.*`` classes and float, double and CUDA storages are accepted,
    including parameters that are views into one shared flat storage. Nothing in the file
    is executed.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.t7`` file.

    Returns
    -------
    T7Module
        The root module, with path ``"model"``.

    Raises
    ------
    WeightsError
        If the file cannot be read or parsed, or holds a class the interpreter lacks.
    """
    source = Path(path)
    try:
        with open(source, "rb") as handle:
            root = _BoundedReader(handle, os.fstat(handle.fileno()).st_size).read_obj()
    except FileNotFoundError as exc:
        raise WeightsError(f"{source} does not exist") from exc
    except OSError as exc:
        raise WeightsError(f"Cannot read {source}: {exc.strerror or exc}") from exc
    except Exception as exc:  # torchfile fails in many ways on a bad file; every one means "unreadable"
        raise WeightsError(
            f"{source} is not a readable Torch7 model file ({exc}); it may be truncated or "
            "corrupt: download it again"
        ) from exc
    try:
        return _convert(root, "model", source)
    except (_Truncated, RecursionError) as exc:
        raise WeightsError(f"{source} is corrupt: {exc}; download it again") from exc


# --------------------------------------------------------------------------- interpreter

_Value = torch.Tensor | list[Any]


def _tensor_input(module: T7Module, x: _Value) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise WeightsError(f"{module.typename} at {module.path} received a table, not a tensor")
    return x


def _sequential(module: T7Module, x: _Value, norm: NormMode) -> _Value:
    for child in module.children:
        x = run_t7(child, x, norm=norm)
    return x


def _concat_table(module: T7Module, x: _Value, norm: NormMode) -> _Value:
    return [run_t7(child, x, norm=norm) for child in module.children]


def _cadd_table(module: T7Module, x: _Value, norm: NormMode) -> _Value:
    if not isinstance(x, list) or not x:
        raise WeightsError(f"{module.typename} at {module.path} needs a table of tensors")
    total = x[0]
    for term in x[1:]:
        total = total + term
    return total


def _conv(module: T7Module, x: _Value, norm: NormMode) -> _Value:
    weight = module.tensor("weight")
    n_out, n_in = module.number("nOutputPlane"), module.number("nInputPlane")
    kw, kh = module.number("kW"), module.number("kH")
    if weight.numel() != n_out * n_in * kh * kw:
        raise WeightsError(
            f"{module.typename} at {module.path}: weight {tuple(weight.shape)} does not hold "
            f"{n_out}x{n_in}x{kh}x{kw} values"
        )
    bias = module.fields.get("bias")
    return F.conv2d(
        _tensor_input(module, x),
        weight.reshape(n_out, n_in, kh, kw),
        bias if isinstance(bias, torch.Tensor) else None,
        stride=(module.number("dH", 1), module.number("dW", 1)),
        padding=(module.number("padH", 0), module.number("padW", 0)),
    )


def _batch_norm(module: T7Module, x: _Value, norm: NormMode) -> _Value:
    use_image = norm == "image"
    return F.batch_norm(
        _tensor_input(module, x),
        None if use_image else module.tensor("running_mean"),
        None if use_image else module.tensor("running_var"),
        module.fields.get("weight"),
        module.fields.get("bias"),
        training=use_image,
        eps=module.number("eps", 1e-5),
    )


def _max_pool(module: T7Module, x: _Value, norm: NormMode) -> _Value:
    return F.max_pool2d(
        _tensor_input(module, x),
        (module.number("kH"), module.number("kW")),
        (module.number("dH"), module.number("dW")),
        (module.number("padH", 0), module.number("padW", 0)),
        ceil_mode=bool(module.fields.get("ceil_mode", False)),
    )


def _upsample_nearest(module: T7Module, x: _Value, norm: NormMode) -> _Value:
    return F.interpolate(
        _tensor_input(module, x), scale_factor=int(module.number("scale_factor")), mode="nearest"
    )


def _upsample_bilinear(module: T7Module, x: _Value, norm: NormMode) -> _Value:
    x = _tensor_input(module, x)
    if "scale_factor" in module.fields:
        scale = int(module.number("scale_factor"))
        size = (x.shape[-2] * scale, x.shape[-1] * scale)
    else:
        size = (int(module.number("oheight")), int(module.number("owidth")))
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


_INTERPRETERS: dict[str, Callable[[T7Module, _Value, NormMode], _Value]] = {
    "Sequential": _sequential,
    "ConcatTable": _concat_table,
    "CAddTable": _cadd_table,
    "Identity": lambda module, x, norm: x,
    "SpatialConvolution": _conv,
    "SpatialBatchNormalization": _batch_norm,
    "ReLU": lambda module, x, norm: F.relu(_tensor_input(module, x)),
    "SpatialMaxPooling": _max_pool,
    "SpatialUpSamplingNearest": _upsample_nearest,
    "SpatialUpSamplingBilinear": _upsample_bilinear,
    "Sigmoid": lambda module, x, norm: torch.sigmoid(_tensor_input(module, x)),
}


def run_t7(module: T7Module, x: _Value, *, norm: NormMode = "image") -> _Value:
    """Execute a ``.t7`` module tree on ``x`` the way Torch7 ``nn`` would.

    Parameters
    ----------
    module : T7Module
        Root (or any sub-module) of a tree from :func:`load_t7`.
    x : torch.Tensor or list
        Input, shape (B, C, H, W), or a table (list) for ``nn.CAddTable``.
    norm : {"image", "running"}, default: "image"
        Batch norm as Torch7 runs it in training mode (statistics of the batch; what the
        released demo does) or in evaluation mode (running statistics).

    Returns
    -------
    torch.Tensor or list
        The module's output; ``nn.ConcatTable`` gives a list (a Torch7 table).

    Notes
    -----
    ``nn.SpatialUpSamplingBilinear`` uses ``align_corners=True`` and, with a
    ``scale_factor``, an output of ``input * scale_factor`` as in the final Torch7 ``nn``
    (some older ``nn`` releases gave ``(input - 1) * (scale_factor - 1) + input``).
    """
    return _INTERPRETERS[module.kind](module, x, norm)


def t7_forward(root: T7Module, x: torch.Tensor, *, norm: NormMode = "image") -> torch.Tensor:
    """Run a whole VRN ``.t7`` tree; return the volume, taking ``output[1]`` of a final table.

    ``x`` has shape (B, C, H, W); the result (B, depth_bins, H', W').
    """
    with torch.no_grad():
        out = run_t7(root, x, norm=norm)
    if isinstance(out, list):
        if len(out) != 1 or not isinstance(out[0], torch.Tensor):
            raise WeightsError(
                f"{root.typename} at {root.path} returns a table of {len(out)} outputs, expected 1"
            )
        out = out[0]
    return out


# --------------------------------------------------------------------------- mapping


def _pools_at_top(module: T7Module) -> bool:
    top = module.children if module.kind == "Sequential" else (module,)
    return any(m.kind == "SpatialMaxPooling" for m in top)


def parametric_modules(module: T7Module) -> list[T7Module]:
    """Convolutions and batch norms of a ``.t7`` tree in canonical order.

    Depth first; the branches of each ``nn.ConcatTable`` are visited without-pooling
    first, then by decreasing number of parametric layers (stable), which matches
    :func:`vrn_studio.model.parametric_layers` on the PyTorch network.
    """
    if module.kind in ("SpatialConvolution", "SpatialBatchNormalization"):
        return [module]
    children = module.children
    if module.kind == "ConcatTable":
        counted = [(child, parametric_modules(child)) for child in children]
        counted.sort(key=lambda pair: (_pools_at_top(pair[0]), -len(pair[1])))
        return [m for _, layers in counted for m in layers]
    return [m for child in children for m in parametric_modules(child)]


def infer_architecture(root: T7Module) -> dict[str, int]:
    """The :class:`~vrn_studio.model.VRN` keyword arguments that fit a ``.t7`` tree.

    ``in_channels`` comes from the first convolution, ``features`` and ``depth_bins``
    from the last; ``stacks`` and ``hourglass_depth`` from the number of max poolings
    (one in the stem, ``hourglass_depth`` per stack) and of parametric layers.

    Raises
    ------
    WeightsError
        If no VRN configuration has this many pooling and parametric layers.
    """
    layers = parametric_modules(root)
    convs = [m for m in layers if m.kind == "SpatialConvolution"]
    pools = sum(m.kind == "SpatialMaxPooling" for m in root.walk())
    if not convs or pools < 2:
        raise WeightsError(
            f"The model tree has {len(convs)} convolutions and {pools} max poolings; "
            "it is not a VRN (expected a stem and at least one hourglass)"
        )
    base = {
        "in_channels": int(convs[0].number("nInputPlane")),
        "features": int(convs[-1].number("nInputPlane")),
        "depth_bins": int(convs[-1].number("nOutputPlane")),
    }
    for stacks in range(1, pools):
        if (pools - 1) % stacks:
            continue
        candidate = {**base, "stacks": stacks, "hourglass_depth": (pools - 1) // stacks}
        with torch.device("meta"):
            count = len(parametric_layers(VRN(**candidate)))
        if count == len(layers):
            return candidate
    raise WeightsError(
        f"The model tree has {len(layers)} convolution and batch-norm layers and {pools} max "
        f"poolings, which fits no VRN with {base}; it is not a VRN model VRN Studio knows"
    )


def _check(condition: bool, index: int, src: T7Module, what: str, expected: Any, found: Any) -> None:
    if not condition:
        raise WeightsError(
            f"Layer {index} ({src.typename} at {src.path}) does not fit the network: {what} should "
            f"be {expected} but the file holds {found}. The file is not the VRN model it claims to be."
        )


def _shape(t: torch.Tensor | None) -> tuple[int, ...] | None:
    return None if t is None else tuple(t.shape)


def map_state(root: T7Module, model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of ``model`` filled from a ``.t7`` tree, layer by layer.

    Parameters
    ----------
    root : T7Module
        Tree from :func:`load_t7`.
    model : torch.nn.Module
        Network whose :func:`~vrn_studio.model.parametric_layers` receive the tensors.

    Returns
    -------
    dict of str to torch.Tensor
        Every entry of ``model.state_dict()``, from the file.

    Raises
    ------
    WeightsError
        At the first layer whose type, hyper-parameters or tensor shapes differ, naming
        its index, Torch7 class and place in the tree with expected and found values.
    """
    sources = parametric_modules(root)
    targets = parametric_layers(model)
    if len(sources) != len(targets):
        raise WeightsError(
            f"The file has {len(sources)} convolution and batch-norm layers; the network has {len(targets)}"
        )
    names = {id(m): name for name, m in model.named_modules()}
    state: dict[str, torch.Tensor] = {}
    for index, (src, dst) in enumerate(zip(sources, targets)):
        is_conv = isinstance(dst, nn.Conv2d)
        _check(
            src.kind == ("SpatialConvolution" if is_conv else "SpatialBatchNormalization"),
            index,
            src,
            "the layer type",
            "convolution" if is_conv else "batch norm",
            src.kind,
        )
        prefix = names[id(dst)]
        if isinstance(dst, nn.Conv2d):
            geometry = tuple(
                int(src.number(k, d))
                for k, d in (("kH", 0), ("kW", 0), ("dH", 1), ("dW", 1), ("padH", 0), ("padW", 0))
            )
            wanted = (*dst.kernel_size, *dst.stride, *dst.padding)  # type: ignore[misc]
            _check(geometry == wanted, index, src, "(kH, kW, dH, dW, padH, padW)", wanted, geometry)
            names_here = ("weight", "bias")
        else:
            eps = src.number("eps", 1e-5)
            _check(abs(eps - dst.eps) <= 1e-9, index, src, "eps", dst.eps, eps)
            names_here = ("weight", "bias", "running_mean", "running_var")
        for name in names_here:
            expected = getattr(dst, name)
            found = src.fields.get(name)
            _check(
                isinstance(found, torch.Tensor) and found.shape == expected.shape,
                index,
                src,
                f"{name} shape",
                tuple(expected.shape),
                _shape(found),
            )
            state[f"{prefix}.{name}"] = found.contiguous()
    return state


# --------------------------------------------------------------------------- import


def _probe_input(root: T7Module, in_channels: int) -> torch.Tensor:
    """A fixed random input, shape (1, in_channels, S, S), S = the file's output size or 64."""
    upsampling = [
        m for m in root.walk() if m.kind == "SpatialUpSamplingBilinear" and "scale_factor" not in m.fields
    ]
    side = int(upsampling[-1].number("oheight")) if upsampling else 64
    generator = torch.Generator().manual_seed(0)
    return torch.rand(1, in_channels, side, side, generator=generator)


def verify_conversion(root: T7Module, model: VRN, *, tolerance: float = PROBE_TOLERANCE) -> float:
    """Run the ``.t7`` interpreter and ``model`` on a probe input; return the worst difference.

    Both batch-norm behaviours are compared (per-image statistics and running statistics).
    ``model`` is left in evaluation mode with ``norm="image"``.

    Raises
    ------
    WeightsError
        If the outputs differ in shape, or by more than ``tolerance`` in probability.
    """
    x = _probe_input(root, model.in_channels)
    model.eval()
    worst = 0.0
    for norm in ("image", "running"):
        set_norm_mode(model, norm)
        expected = t7_forward(root, x, norm=norm)
        with torch.no_grad():
            found = model(x)
        if expected.shape != found.shape:
            raise WeightsError(
                f"Conversion check failed: on a probe of shape {tuple(x.shape)} the .t7 network gives "
                f"{tuple(expected.shape)} and the converted one {tuple(found.shape)}"
            )
        diff = float((expected - found).abs().max())
        if not diff <= tolerance:
            raise WeightsError(
                f"Conversion check failed ({norm} batch norm): the converted network differs from the "
                f".t7 one by up to {diff:.3g} in probability (allowed {tolerance:g}); nothing was saved"
            )
        worst = max(worst, diff)
    set_norm_mode(model, "image")
    return worst


def import_t7(
    path: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str] | None = None,
    name: str = "vrn-unguided",
    source: str = RELEASE_URL,
    licence: str = RELEASE_LICENCE,
    overwrite: bool = False,
) -> Path:
    """Convert a Torch7 VRN model to ``NAME.safetensors`` + ``NAME.json``; return the manifest path.

    The architecture is read from the file, every tensor is mapped with strict checks
    (:func:`map_state`) and the result is proved on a probe input against the ``.t7``
    interpreter (:func:`verify_conversion`) before anything is written; both files are
    written atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.t7`` file, e.g. ``vrn-unguided.t7``.
    out_dir : str or os.PathLike, optional
        Folder to write to; default the per-user weights folder
        (:func:`vrn_studio.weights.store.user_dir`), created if needed.
    name : str, default: "vrn-unguided"
        Model name, used for the file names and by ``load_model(name)``.
    source : str, default: the authors' download URL
        Recorded in the manifest.
    licence : str, default: "MIT"
        Recorded in the manifest.
    overwrite : bool, default: False
        Replace an existing model of that name in ``out_dir``.

    Returns
    -------
    pathlib.Path
        The manifest written.

    Raises
    ------
    WeightsError
        If the file cannot be parsed, does not fit a VRN, or fails the probe check; no
        file is written then.
    ExportError
        If the model exists already (without ``overwrite``) or cannot be written.
    """
    check_name(name)
    t7_path = Path(path)
    folder = Path(out_dir) if out_dir is not None else store.user_dir()
    store.check_free(folder, name, overwrite=overwrite)
    root = load_t7(t7_path)
    architecture = infer_architecture(root)
    model = VRN(**architecture)
    model.load_state_dict(map_state(root, model), strict=True)
    verify_conversion(root, model)
    return store.save_model(
        model, folder, name, source=source, licence=licence, architecture=architecture,
        imported_from={"file": t7_path.name, "sha256": sha256_file(t7_path)}, overwrite=overwrite,
    )


__all__ = [
    "PROBE_TOLERANCE",
    "RELEASE_LICENCE",
    "RELEASE_URL",
    "T7Module",
    "import_t7",
    "infer_architecture",
    "load_t7",
    "map_state",
    "parametric_modules",
    "run_t7",
    "t7_forward",
    "verify_conversion",
]
