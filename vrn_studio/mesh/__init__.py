"""Volume to mesh, bump removal, and the Mesh type."""

from vrn_studio.mesh.bumps import BumpMode, BumpRemoval, remove_bumps
from vrn_studio.mesh.clean import DEFAULT_SMOOTH, decimate_mesh, smooth_mesh
from vrn_studio.mesh.geometry import euler_rotation, face_normals, signed_volume, vertex_normals
from vrn_studio.mesh.isosurface import (
    DEFAULT_LEVEL,
    depth_map,
    mesh_on_device,
    mesh_to_photo,
    resolve_method,
    to_viewer_frame,
    volume_to_mesh,
)
from vrn_studio.mesh.printable import ADULT_OUTER_INTEROCULAR_MM, PrintableMesh, printable_mesh
from vrn_studio.mesh.texture import FILL_ROWS, TexturedMesh, texture_from_photo
from vrn_studio.mesh.types import Mesh

__all__ = [
    "ADULT_OUTER_INTEROCULAR_MM",
    "DEFAULT_LEVEL",
    "DEFAULT_SMOOTH",
    "FILL_ROWS",
    "BumpMode",
    "BumpRemoval",
    "Mesh",
    "PrintableMesh",
    "TexturedMesh",
    "decimate_mesh",
    "depth_map",
    "euler_rotation",
    "face_normals",
    "mesh_on_device",
    "mesh_to_photo",
    "printable_mesh",
    "remove_bumps",
    "resolve_method",
    "signed_volume",
    "smooth_mesh",
    "texture_from_photo",
    "to_viewer_frame",
    "vertex_normals",
    "volume_to_mesh",
]
