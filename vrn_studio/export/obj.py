"""Wavefront OBJ: text, per-vertex colours as the common ``v x y z r g b`` extension, or a photo texture (OBJ + MTL + PNG)."""

from __future__ import annotations

import numpy as np

from vrn_studio.export.png import encode_png
from vrn_studio.mesh import Mesh, TexturedMesh


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


def export_textured_obj(textured: TexturedMesh, name: str) -> dict[str, bytes]:
    """Encode a photo-textured mesh as OBJ + MTL + PNG, the three files named after ``name``.

    Parameters
    ----------
    textured : TexturedMesh
        From :func:`vrn_studio.mesh.texture_from_photo`, its mesh in the frame to write.
    name : str
        File stem; the OBJ refers to ``NAME.mtl``, which refers to ``NAME.png``.

    Returns
    -------
    dict of str to bytes
        ``{"NAME.png": ..., "NAME.mtl": ..., "NAME.obj": ...}``, in the order to write them
        (the OBJ last, so it never refers to a file not yet there). The OBJ has ``v``,
        ``vt`` (``u, 1 - v``: OBJ's texture origin is bottom-left), ``vn`` when the mesh has
        normals, and ``f a/a/a ...`` faces; the MTL one white, matte material with
        ``map_Kd``.

    Examples
    --------
    >>> from vrn_studio.mesh import TexturedMesh
    >>> tm = TexturedMesh(Mesh(np.eye(3), [[0, 1, 2]]), np.zeros((3, 2)), np.zeros((2, 2, 3), np.uint8),
    ...                   np.ones(1, bool), (0, 0))
    >>> sorted(export_textured_obj(tm, "face"))
    ['face.mtl', 'face.obj', 'face.png']
    """
    mesh = textured.mesh
    vt = np.column_stack([textured.uv[:, 0], 1.0 - textured.uv[:, 1]]).astype(np.float64)
    lines = ["# VRN Studio", f"mtllib {name}.mtl", "usemtl photo", _rows("v", mesh.vertices, "%.9g"),
             _rows("vt", vt, "%.7g")]
    one_based = mesh.faces + 1
    if mesh.normals is None:
        lines.append(_rows("f", np.repeat(one_based, 2, axis=1), "%d/%d"))
    else:
        lines.append(_rows("vn", mesh.normals, "%.9g"))
        lines.append(_rows("f", np.repeat(one_based, 3, axis=1), "%d/%d/%d"))
    obj = "\n".join(line for line in lines if line).encode("ascii") + b"\n"
    mtl = (f"# VRN Studio\nnewmtl photo\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nillum 1\nmap_Kd {name}.png\n").encode("ascii")
    return {f"{name}.png": encode_png(textured.texture), f"{name}.mtl": mtl, f"{name}.obj": obj}
