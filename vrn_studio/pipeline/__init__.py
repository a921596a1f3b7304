"""The photo-to-mesh pipeline: one Reconstructor, its Result, and writing results out."""

from vrn_studio.pipeline.device import available_devices, resolve_device
from vrn_studio.pipeline.reconstructor import STAGES, Reconstructor
from vrn_studio.pipeline.result import Result, StageDone
from vrn_studio.pipeline.save import (
    DEFAULT_OUTPUTS,
    output_file_name,
    output_names,
    save_result,
    textured_mesh,
    write_output,
)

__all__ = [
    "DEFAULT_OUTPUTS",
    "STAGES",
    "Reconstructor",
    "Result",
    "StageDone",
    "available_devices",
    "output_file_name",
    "output_names",
    "resolve_device",
    "save_result",
    "textured_mesh",
    "write_output",
]
