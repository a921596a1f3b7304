"""3MF: the 3D Manufacturing Format's core (a zip of XML parts), one mesh object in millimetres."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import quoteattr

import numpy as np

from vrn_studio.errors import ExportError
from vrn_studio.mesh import Mesh

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>'
    "</Types>\n"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
    'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>'
    "</Relationships>\n"
)
_CORE_NAMESPACE = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""Timestamp of every part, so that the same mesh always gives the same bytes."""


def export_3mf(mesh: Mesh, *, title: str = "VRN Studio face") -> bytes:
    """Encode a mesh as a 3MF package, its unit declared as the millimetre.

    Parameters
    ----------
    mesh : Mesh
        Vertices in millimetres, written as they are (3MF is right-handed with z up: a
        :class:`~vrn_studio.mesh.PrintableMesh` lies with its back on the build plate);
        colours and normals are not stored.
    title : str, default: "VRN Studio face"
        The model's ``Title`` metadata (slicers show it), e.g.
        :attr:`vrn_studio.mesh.PrintableMesh.title`.

    Returns
    -------
    bytes
        A deflated zip holding ``[Content_Types].xml``, ``_rels/.rels`` and
        ``3D/3dmodel.model``: one object of type ``model`` with the vertices (9 significant
        digits: float32 values exactly) and triangles, and one build item.

    Raises
    ------
    ExportError
        The mesh has no triangles (3MF has no empty mesh object).

    Examples
    --------
    >>> data = export_3mf(Mesh(np.eye(3), [[0, 1, 2]]))
    >>> sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())
    ['3D/3dmodel.model', '[Content_Types].xml', '_rels/.rels']
    """
    if mesh.is_empty:
        raise ExportError("Cannot write a 3MF file of a mesh with no triangles")
    model = "".join([
        f'<?xml version="1.0" encoding="UTF-8"?>\n<model unit="millimeter" xml:lang="en-US" '
        f'xmlns="{_CORE_NAMESPACE}">\n',
        f'<metadata name="Title">{quoteattr(title)[1:-1]}</metadata>\n',
        '<metadata name="Application">VRN Studio</metadata>\n',
        '<resources>\n<object id="1" type="model">\n<mesh>\n<vertices>\n',
        _elements('<vertex x="%.9g" y="%.9g" z="%.9g"/>', mesh.vertices),
        "</vertices>\n<triangles>\n",
        _elements('<triangle v1="%d" v2="%d" v3="%d"/>', mesh.faces),
        '</triangles>\n</mesh>\n</object>\n</resources>\n<build>\n<item objectid="1"/>\n</build>\n</model>\n',
    ])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS),
                           ("3D/3dmodel.model", model)):
            package.writestr(zipfile.ZipInfo(name, _ZIP_TIME), text.encode("utf-8"), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _elements(template: str, values: np.ndarray) -> str:
    """``template`` filled with each row of ``values``, one element per line (no Python loop)."""
    return (template + "\n") * len(values) % tuple(values.ravel().tolist())
