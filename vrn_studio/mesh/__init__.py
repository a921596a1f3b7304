"""Volume to mesh, bump removal, and the Mesh type."""

from vrn_studio.mesh.types import Mesh

__all__ = ["Mesh"]
