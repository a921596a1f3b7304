"""A tiny writer of the Torch7 binary serialisation format, for test fixtures.

It writes what ``torch.save`` in Lua writes on 64-bit Linux: numbers as doubles, strings
with an int32 length, tables and Torch objects with a reference index (an object written
twice is written once and referred to), class names with a ``"V n"`` version, tensors as
sizes, strides, a 1-based storage offset and their storage.

:func:`vrn_tree` builds the module tree of a VRN from a PyTorch :class:`VRN`, taking its
tensors in canonical order, so an imported file can be compared with the model it came from.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from torch import nn

from vrn_studio.model import VRN, parametric_layers
from vrn_studio.model.blocks import BatchNorm

_STORAGE_OF = {
    "torch.FloatTensor": "torch.FloatStorage",
    "torch.CudaTensor": "torch.CudaStorage",
    "torch.DoubleTensor": "torch.DoubleStorage",
    "torch.LongTensor": "torch.LongStorage",
    "torch.CudaLongTensor": "torch.CudaLongStorage",
}


@dataclass(eq=False)
class Storage:
    """A Torch7 storage: a flat array and its class name."""

    data: np.ndarray
    typename: str = "torch.FloatStorage"


@dataclass(eq=False)
class Tensor:
    """A Torch7 tensor: a view (sizes, strides, 0-based offset) into a storage."""

    storage: Storage | None
    size: tuple[int, ...]
    stride: tuple[int, ...]
    offset: int = 0
    typename: str = "torch.FloatTensor"

    @classmethod
    def of(cls, array: np.ndarray | torch.Tensor, typename: str = "torch.FloatTensor") -> Tensor:
        """A contiguous tensor with its own storage holding ``array``."""
        data = np.ascontiguousarray(np.asarray(array))
        dtype = np.int64 if "Long" in typename else (np.float64 if "Double" in typename else np.float32)
        data = data.astype(dtype)
        strides = tuple(s // data.itemsize for s in data.strides)
        return cls(Storage(data.reshape(-1), _STORAGE_OF[typename]), data.shape, strides, 0, typename)

    @classmethod
    def empty(cls, typename: str = "torch.FloatTensor") -> Tensor:
        """A tensor with no dimensions and no storage (Torch7's ``torch.Tensor()``)."""
        return cls(None, (), (), 0, typename)


@dataclass(eq=False)
class Obj:
    """A Torch7 class instance (an ``nn`` module): class name, fields table, version."""

    typename: str
    fields: dict[str, Any] = field(default_factory=dict)
    version: int = 1


class T7Writer:
    """Serialise Python values as Torch7 binary objects."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.index: dict[int, int] = {}
        self.keep: list[Any] = []

    def _int(self, value: int) -> None:
        self.handle.write(struct.pack("<i", value))

    def _long(self, value: int) -> None:
        self.handle.write(struct.pack("<q", value))

    def _string(self, value: str | bytes) -> None:
        data = value.encode() if isinstance(value, str) else value
        self._int(len(data))
        self.handle.write(data)

    def _reference(self, obj: Any) -> bool:
        """Write the object's index; True if it was written before (only the index is due)."""
        if id(obj) in self.index:
            self._int(self.index[id(obj)])
            return True
        self.index[id(obj)] = len(self.index) + 1
        self.keep.append(obj)
        self._int(self.index[id(obj)])
        return False

    def write(self, obj: Any) -> None:
        """Write one value: None, bool, number, string, dict/list (table), Obj, Tensor, Storage."""
        if obj is None:
            self._int(0)
        elif isinstance(obj, bool):
            self._int(5)
            self._int(int(obj))
        elif isinstance(obj, (int, float)):
            self._int(1)
            self.handle.write(struct.pack("<d", float(obj)))
        elif isinstance(obj, (str, bytes)):
            self._int(2)
            self._string(obj)
        elif isinstance(obj, (dict, list)):
            self._int(3)
            if self._reference(obj):
                return
            items = obj.items() if isinstance(obj, dict) else enumerate(obj, start=1)
            items = list(items)
            self._int(len(items))
            for key, value in items:
                self.write(key)
                self.write(value)
        else:
            self._int(4)
            if self._reference(obj):
                return
            version = obj.version if isinstance(obj, Obj) else 1
            self._string(f"V {version}")
            self._string(obj.typename)
            if isinstance(obj, Obj):
                self.write(obj.fields)
            elif isinstance(obj, Tensor):
                self._int(len(obj.size))
                for value in (*obj.size, *obj.stride, obj.offset + 1):
                    self._long(value)
                self.write(obj.storage)
            else:
                self._long(obj.data.size)
                self.handle.write(obj.data.tobytes())


def save_t7(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` to ``path`` as a Torch7 binary file; return the path."""
    with open(path, "wb") as handle:
        T7Writer(handle).write(obj)
    return Path(path)


class VrnTreeBuilder:
    """Build the Torch7 module tree of a VRN from a PyTorch model's tensors.

    Parameters
    ----------
    model : VRN
        Source of the architecture and the tensors (taken in canonical order).
    cudnn : bool
        Use ``cudnn.*`` classes and ``torch.CudaTensor`` where Torch7 has them.
    swap : bool
        Store the branches of every two-branch ``nn.ConcatTable`` in reverse order.
    shared : bool
        Put all weights and biases in one flat storage, each a view at its own offset
        (what Torch7's ``getParameters()`` leaves behind).
    size : int or None
        Give the final bilinear upsampling a fixed ``oheight = owidth = size`` instead
        of ``scale_factor = 4``.
    """

    def __init__(
        self,
        model: VRN,
        *,
        cudnn: bool = False,
        swap: bool = False,
        shared: bool = False,
        size: int | None = None,
    ) -> None:
        self.layers: Iterator[nn.Module] = iter(parametric_layers(model))
        self.model = model
        self.cudnn = cudnn
        self.swap = swap
        self.size = size
        self.tensor_type = "torch.CudaTensor" if cudnn else "torch.FloatTensor"
        self.params: list[Tensor] = []
        self.shared = shared

    def module(
        self, name: str, fields: dict[str, Any] | None = None, *, fast: bool = False, version: int = 1
    ) -> Obj:
        package = "cudnn" if fast and self.cudnn else "nn"
        base = {
            "train": True,
            "output": Tensor.empty(self.tensor_type),
            "gradInput": Tensor.empty(self.tensor_type),
            "_type": self.tensor_type,
        }
        return Obj(f"{package}.{name}", {**base, **(fields or {})}, version)

    def _param(self, value: torch.Tensor) -> Tensor:
        tensor = Tensor.of(value.detach(), self.tensor_type)
        self.params.append(tensor)
        return tensor

    def conv(self) -> Obj:
        layer = next(self.layers)
        assert isinstance(layer, nn.Conv2d)
        (kh, kw), (dh, dw), (ph, pw) = layer.kernel_size, layer.stride, layer.padding
        return self.module(
            "SpatialConvolution",
            {
                "nInputPlane": layer.in_channels,
                "nOutputPlane": layer.out_channels,
                "kW": kw,
                "kH": kh,
                "dW": dw,
                "dH": dh,
                "padW": pw,
                "padH": ph,
                "weight": self._param(layer.weight),
                "bias": self._param(layer.bias),
                "gradWeight": Tensor.of(torch.zeros_like(layer.weight), self.tensor_type),
                "gradBias": Tensor.of(torch.zeros_like(layer.bias), self.tensor_type),
            },
            fast=True,
        )

    def bn(self) -> Obj:
        layer = next(self.layers)
        assert isinstance(layer, BatchNorm)
        return self.module(
            "SpatialBatchNormalization",
            {
                "eps": layer.eps,
                "momentum": 0.1,
                "affine": True,
                "weight": self._param(layer.weight),
                "bias": self._param(layer.bias),
                "running_mean": Tensor.of(layer.running_mean, self.tensor_type),
                "running_var": Tensor.of(layer.running_var, self.tensor_type),
                "gradWeight": Tensor.of(torch.zeros_like(layer.weight), self.tensor_type),
                "gradBias": Tensor.of(torch.zeros_like(layer.bias), self.tensor_type),
            },
            fast=True,
            version=2,
        )

    def relu(self) -> Obj:
        return self.module("ReLU", {"threshold": 0, "val": 0, "inplace": False}, fast=True)

    def pool(self) -> Obj:
        indices = (
            Tensor.of(np.zeros(4), "torch.CudaLongTensor") if self.cudnn else Tensor.empty("torch.LongTensor")
        )
        return self.module(
            "SpatialMaxPooling",
            {
                "kW": 2,
                "kH": 2,
                "dW": 2,
                "dH": 2,
                "padW": 0,
                "padH": 0,
                "ceil_mode": False,
                "indices": indices,
            },
            fast=True,
        )

    def seq(self, *modules: Obj) -> Obj:
        return self.module("Sequential", {"modules": list(modules)})

    def add(self, first: Obj, second: Obj) -> Obj:
        branches = [second, first] if self.swap else [first, second]
        return self.seq(
            self.module("ConcatTable", {"modules": branches}), self.module("CAddTable", {"inplace": False})
        )

    def residual(self, n_in: int, n_out: int) -> Obj:
        main = self.seq(
            self.bn(),
            self.relu(),
            self.conv(),
            self.bn(),
            self.relu(),
            self.conv(),
            self.bn(),
            self.relu(),
            self.conv(),
        )
        skip = self.conv() if n_in != n_out else self.module("Identity")
        return self.add(main, skip)

    def conv_bn_relu(self) -> list[Obj]:
        return [self.conv(), self.bn(), self.relu()]

    def hourglass(self, depth: int, features: int) -> Obj:
        same = self.seq(
            *[self.residual(features, features) for _ in range(3)],
            *([self.hourglass(depth - 1, features)] if depth > 1 else []),
        )
        low = self.seq(
            self.pool(),
            *[self.residual(features, features) for _ in range(6 if depth > 1 else 9)],
            self.module("SpatialUpSamplingNearest", {"scale_factor": 2}),
        )
        return self.seq(self.add(same, low), self.residual(features, features))

    def build(self) -> Obj:
        """The whole network as ``nn.Sequential``; its last module is a one-branch ConcatTable."""
        model = self.model
        features = model.head[1].in_channels
        depth = sum(isinstance(m, nn.MaxPool2d) for m in model.stacks[0].modules())
        stem = [
            self.conv(),
            self.bn(),
            self.relu(),
            self.residual(64, 128),
            self.pool(),
            self.residual(128, 128),
            self.residual(128, features),
        ]
        stacks = [
            self.add(
                self.seq(self.hourglass(depth, features), *self.conv_bn_relu(), *self.conv_bn_relu()),
                self.module("Identity"),
            )
            for _ in model.stacks
        ]
        head = [*self.conv_bn_relu(), self.conv()]
        upsample = (
            self.module("SpatialUpSamplingBilinear", {"oheight": self.size, "owidth": self.size})
            if self.size
            else self.module("SpatialUpSamplingBilinear", {"scale_factor": 4})
        )
        last = self.module(
            "ConcatTable", {"modules": [self.seq(upsample, self.module("Sigmoid", fast=True))]}
        )
        if self.shared:
            self._share()
        return self.seq(*stem, *stacks, *head, last)

    def _share(self) -> None:
        flat = Storage(np.concatenate([p.storage.data for p in self.params]), _STORAGE_OF[self.tensor_type])
        offset = 0
        for param in self.params:
            param.storage, param.offset = flat, offset
            offset += int(np.prod(param.size))


def vrn_tree(model: VRN, **options: Any) -> Obj:
    """The Torch7 module tree of ``model`` (see :class:`VrnTreeBuilder` for ``options``)."""
    return VrnTreeBuilder(model, **options).build()


def random_vrn(seed: int = 0, **kwargs: Any) -> VRN:
    """A VRN with seeded random weights and plausible batch-norm statistics."""
    torch.manual_seed(seed)
    model = VRN(**kwargs)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, BatchNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.1, 0.1)
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 2.0)
    return model.eval()


SMALL_CONFIG = {"features": 16, "stacks": 1, "depth_bins": 8, "hourglass_depth": 2}
"""A VRN small enough for fast tests (498 state tensors)."""


def write_small_vrn(path: str | Path, seed: int = 0, **options: Any) -> Path:
    """Write a random-weight VRN of :data:`SMALL_CONFIG` to ``path`` as a ``.t7`` file."""
    return save_t7(vrn_tree(random_vrn(seed, **SMALL_CONFIG), **options), path)
