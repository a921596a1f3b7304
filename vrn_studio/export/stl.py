"""STL: binary, one facet normal per triangle (no colours: STL has no standard for them)."""

from __future__ import annotations

import numpy as np

from vrn_studio.mesh import Mesh, face_normals

_FACET = np.dtype([("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attributes", "<u2")])


def export_stl(mesh: Mesh, *, header: str = "VRN Studio binary STL") -> bytes:
    """Encode a mesh as binary STL.

    Parameters
    ----------
    mesh : Mesh
        Vertices are written as they are (no change of frame); colours and vertex normals
        are not stored.
    header : str, default: "VRN Studio binary STL"
        Text of the 80-byte header (ASCII, at most 80 characters; padded with spaces), e.g.
        :attr:`vrn_studio.mesh.PrintableMesh.title`. It must not start with ``solid``, which
        would mark the file as ASCII STL to some readers.

    Returns
    -------
    bytes
        80-byte header, uint32 triangle count, then per triangle the unit right-hand-rule
        normal (zero for degenerate triangles), its three corners, and a zero uint16.

    Raises
    ------
    ValueError
        ``header`` is not ASCII, is longer than 80 characters, or starts with ``solid``.

    Examples
    --------
    >>> len(export_stl(Mesh(np.eye(3), [[0, 1, 2]])))
    134
    """
    if not header.isascii() or len(header) > 80 or header.lower().startswith("solid"):
        raise ValueError(
            f"STL header must be ASCII, at most 80 characters, not starting with 'solid'; got {header!r}"
        )
    facets = np.zeros(mesh.n_faces, dtype=_FACET)
    facets["normal"] = face_normals(mesh)
    facets["vertices"] = mesh.vertices[mesh.faces]
    return header.encode("ascii").ljust(80, b" ") + np.array(mesh.n_faces, "<u4").tobytes() + facets.tobytes()
