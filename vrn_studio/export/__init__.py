"""Mesh and data exporters: pure encoders returning bytes, written atomically.

Mesh formats are chosen by file extension from :data:`EXPORTERS` (see
:func:`export_mesh`); the volume, the landmarks and depth maps have their own functions.
"""

from vrn_studio.export.depth import DEPTH_PNG_SCALE, export_depth_png
from vrn_studio.export.glb import (
    export_animated_glb,
    export_blendshape_glb,
    export_glb,
    export_textured_glb,
    read_glb,
)
from vrn_studio.export.landmarks import export_landmarks
from vrn_studio.export.mp4 import FrameWriter
from vrn_studio.export.obj import export_obj, export_textured_obj
from vrn_studio.export.ply import export_ply
from vrn_studio.export.png import encode_png
from vrn_studio.export.registry import EXPORTERS, Exporter, export_mesh, mesh_formats, register_exporter
from vrn_studio.export.stl import export_stl
from vrn_studio.export.threemf import export_3mf
from vrn_studio.export.volume import export_volume, load_volume

__all__ = [
    "DEPTH_PNG_SCALE",
    "EXPORTERS",
    "Exporter",
    "FrameWriter",
    "encode_png",
    "export_3mf",
    "export_animated_glb",
    "export_blendshape_glb",
    "export_depth_png",
    "export_glb",
    "export_landmarks",
    "export_mesh",
    "export_obj",
    "export_ply",
    "export_stl",
    "export_textured_glb",
    "export_textured_obj",
    "export_volume",
    "load_volume",
    "mesh_formats",
    "read_glb",
    "register_exporter",
]
