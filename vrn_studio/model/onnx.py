"""Run a VRN under ONNX Runtime on the CPU, in float32 or statically quantised to int8.

Needs the ``onnx`` extra (``onnx`` and ``onnxruntime``). The network is exported once
(opset 17, dynamic batch) and, for int8, quantised with ONNX Runtime's static QDQ recipe:
per-output-channel int8 convolution weights in 7 bits (``reduce_range``), uint8 activations
whose ranges are the minimum and maximum seen on calibration inputs; normalisation, additions,
upsampling and the sigmoid stay in float32. The int8 convolutions use the CPU's VNNI
instructions where it has them; without VNNI (AVX2 only, as on the 2-core AMD EPYC of
2026-12-06) 8-bit weights saturate the 16-bit sums of u8 x s8 products, which took a tiny
network's int8 volume down to a correlation of 0.55 with its float32 one and failed the built-in
model's mesh check; 7-bit weights cannot saturate there.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from vrn_studio.errors import MissingDependencyError
from vrn_studio.model.vrn import VRN

OPSET = 17
"""ONNX opset of the export."""


def require_onnxruntime() -> None:
    """Raise :class:`MissingDependencyError` naming the extra unless onnx and onnxruntime import."""
    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingDependencyError(
            f"The ONNX Runtime runtimes need {' and '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed. Install with: pip install 'vrn-studio[onnx]'"
        )


def export_onnx(net: VRN) -> bytes:
    """The network in evaluation mode as an ONNX model (input ``x``, output ``volume``).

    Parameters
    ----------
    net : VRN
        Any variant with a volume output; its norm mode is baked in.

    Returns
    -------
    bytes
        The serialised model: ``x`` (B, C, S, S) float32 -> ``volume`` (B, D, S, S)
        probabilities, with B dynamic, C = ``net.in_channels``, S = ``net.input_size``.
    """
    require_onnxruntime()
    example = torch.zeros(1, net.in_channels, net.input_size, net.input_size)
    model = copy.deepcopy(net).float().cpu().eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # tracer warnings about the input checks
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (example,), buffer, dynamo=False, opset_version=OPSET, input_names=["x"],
            output_names=["volume"], dynamic_axes={"x": {0: "batch"}, "volume": {0: "batch"}},
        )
    return buffer.getvalue()


def quantize_int8(model: bytes, calibration: Iterable[np.ndarray]) -> bytes:
    """Quantise an exported network's convolutions to int8 (static QDQ, module docstring).

    Parameters
    ----------
    model : bytes
        From :func:`export_onnx`.
    calibration : iterable of np.ndarray, each (1, C, S, S) float32
        Network inputs whose activation ranges set the quantisation (a few real crops).

    Returns
    -------
    bytes
        The quantised model, same inputs and outputs.
    """
    require_onnxruntime()
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._inputs = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self._inputs, None)
            return None if x is None else {"x": np.ascontiguousarray(x, np.float32)}

    with tempfile.TemporaryDirectory(prefix="vrn-onnx-") as folder:
        source, prepared, target = (Path(folder) / name for name in ("f32.onnx", "pre.onnx", "int8.onnx"))
        source.write_bytes(model)
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)  # fails on the dynamic batch
        quantize_static(
            str(prepared), str(target), Reader(), quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
            per_channel=True, reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        )
        return target.read_bytes()


class OnnxNetwork:
    """An ONNX Runtime CPU session called like the network: (B, C, S, S) tensor in, volume out.

    Parameters
    ----------
    model : str or Path
        An ONNX file from :func:`export_onnx` or :func:`quantize_int8`.
    threads : int
        Threads of the session's operators (``torch.get_num_threads()`` is the pipeline's choice).

    Examples
    --------
    >>> net = VRN(features=16, stacks=1, depth_bins=8, hourglass_depth=2, input_size=32).eval()
    >>> path = Path(tempfile.mkdtemp()) / "tiny.onnx"
    >>> _ = path.write_bytes(export_onnx(net))
    >>> run = OnnxNetwork(path, threads=1)
    >>> x = torch.rand(2, 3, 32, 32)
    >>> bool(torch.allclose(run(x), net(x), atol=1e-4))
    True
    """

    def __init__(self, model: str | Path, *, threads: int) -> None:
        require_onnxruntime()
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.path = Path(model)
        self.session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities (B, D, S, S) for inputs ``x`` (B, C, S, S) on the CPU."""
        feed = {"x": np.ascontiguousarray(x.detach().cpu().numpy(), np.float32)}
        return torch.from_numpy(self.session.run(None, feed)[0])
