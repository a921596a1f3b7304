"""Wavefront OBJ: text, per-vertex colours as the common ``v x y z r g b`` extension."""

from __future__ import annotations

import numpy as np

from vrn_studio.mesh import Mesh


def export_obj(mesh: Mesh) -> bytes:
    """Encode a mesh as OBJ text.

    Parameters
    ----------
    mesh : Mesh
        Vertices are written as they are (no change of frame).

    Returns
    -------
    bytes
        ASCII OBJ: ``v x y z`` lines, or ``v x y z r g b`` with colours as floats in [0, 1]
        (read by MeshLab, Blender and trimesh); ``vn`` lines when the mesh has normals;
        faces 1-based, ``f a//a b//b c//c`` with normals, else ``f a b c``.

    Examples
    --------
    >>> m = Mesh(np.eye(3), [[0, 1, 2]], colors=[[255, 0, 0]] * 3)
    >>> print(export_obj(m).decode().splitlines()[1:3])
    ['v 1 0 0 1 0 0', 'v 0 1 0 1 0 0']
    """
    lines = ["# VRN Studio"]
    if mesh.colors is None:
        lines.append(_rows("v", mesh.vertices, "%.9g"))
    else:
        columns = np.column_stack([mesh.vertices.astype(np.float64), mesh.colors / 255.0])
        lines.append(_rows("v", columns, "%.9g"))
    if mesh.normals is not None:
        lines.append(_rows("vn", mesh.normals, "%.9g"))
    one_based = mesh.faces + 1
    if mesh.normals is None:
        lines.append(_rows("f", one_based, "%d"))
    else:
        lines.append(_rows("f", np.repeat(one_based, 2, axis=1), "%d//%d"))
    return "\n".join(line for line in lines if line).encode("ascii") + b"\n"


def _rows(tag: str, values: np.ndarray, fmt: str) -> str:
    """``tag`` followed by each row of ``values`` in ``fmt``, one line per row (no Python loop)."""
    if len(values) == 0:
        return ""
    per_field = fmt.count("%")
    fields = values.shape[1] // per_field
    line = tag + (" " + fmt) * fields + "\n"
    return (line * len(values) % tuple(values.ravel().tolist()))[:-1]
