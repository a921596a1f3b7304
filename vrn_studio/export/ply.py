"""PLY: binary little-endian, float positions and normals, uchar colours."""

from __future__ import annotations

import numpy as np

from vrn_studio.mesh import Mesh


def export_ply(mesh: Mesh) -> bytes:
    """Encode a mesh as binary little-endian PLY.

    Parameters
    ----------
    mesh : Mesh
        Vertices are written as they are (no change of frame).

    Returns
    -------
    bytes
        A ``vertex`` element with float ``x y z``, then float ``nx ny nz`` and uchar
        ``red green blue`` when the mesh has them; a ``face`` element with
        ``list uchar int vertex_indices``.

    Examples
    --------
    >>> data = export_ply(Mesh(np.eye(3), [[0, 1, 2]]))
    >>> data.split(b"end_header\\n")[0].decode().splitlines()[:3]
    ['ply', 'format binary_little_endian 1.0', 'comment VRN Studio']
    """
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if mesh.normals is not None:
        fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
    if mesh.colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    vertices = np.empty(mesh.n_vertices, dtype=fields)
    for i, axis in enumerate("xyz"):
        vertices[axis] = mesh.vertices[:, i]
        if mesh.normals is not None:
            vertices["n" + axis] = mesh.normals[:, i]
    if mesh.colors is not None:
        for i, channel in enumerate(("red", "green", "blue")):
            vertices[channel] = mesh.colors[:, i]
    faces = np.empty(mesh.n_faces, dtype=[("n", "u1"), ("index", "<i4", (3,))])
    faces["n"] = 3
    faces["index"] = mesh.faces
    ply_types = {"<f4": "float", "u1": "uchar"}
    header = [
        "ply",
        "format binary_little_endian 1.0",
        "comment VRN Studio",
        f"element vertex {mesh.n_vertices}",
        *(f"property {ply_types[kind]} {name}" for name, kind in fields),
        f"element face {mesh.n_faces}",
        "property list uchar int vertex_indices",
        "end_header",
    ]
    return ("\n".join(header) + "\n").encode("ascii") + vertices.tobytes() + faces.tobytes()
