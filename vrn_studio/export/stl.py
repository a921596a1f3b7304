"""STL: binary, one facet normal per triangle (no colours: STL has no standard for them)."""

from __future__ import annotations

import numpy as np

from vrn_studio.mesh import Mesh, face_normals

_FACET = np.dtype([("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attributes", "<u2")])


def export_stl(mesh: Mesh) -> bytes:
    """Encode a mesh as binary STL.

    Parameters
    ----------
    mesh : Mesh
        Vertices are written as they are (no change of frame); colours and vertex normals
        are not stored.

    Returns
    -------
    bytes
        80-byte header, uint32 triangle count, then per triangle the unit right-hand-rule
        normal (zero for degenerate triangles), its three corners, and a zero uint16.

    Examples
    --------
    >>> len(export_stl(Mesh(np.eye(3), [[0, 1, 2]])))
    134
    """
    facets = np.zeros(mesh.n_faces, dtype=_FACET)
    facets["normal"] = face_normals(mesh)
    facets["vertices"] = mesh.vertices[mesh.faces]
    header = b"VRN Studio binary STL".ljust(80, b" ")
    return header + np.array(mesh.n_faces, "<u4").tobytes() + facets.tobytes()
