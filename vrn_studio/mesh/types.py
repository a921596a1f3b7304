"""The triangle mesh type shared by meshing, bump removal, export and the viewers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Mesh:
    """A triangle mesh with optional per-vertex colours and normals.

    Parameters
    ----------
    vertices : np.ndarray, shape (N, 3), float32
        Vertex positions (x, y, z). In crop space x and y are crop pixels (y down) and
        z is depth in the same pixel units, larger = nearer the camera.
    faces : np.ndarray, shape (M, 3), int64
        Triangles as indices into ``vertices``.
    colors : np.ndarray or None, shape (N, 3), uint8
        RGB colour of each vertex.
    normals : np.ndarray or None, shape (N, 3), float32
        Unit normal of each vertex.
    """

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray | None = None
    normals: np.ndarray | None = None

    def __post_init__(self) -> None:
        vertices = np.ascontiguousarray(self.vertices, dtype=np.float32).reshape(-1, 3)
        faces = np.ascontiguousarray(self.faces, dtype=np.int64).reshape(-1, 3)
        n = len(vertices)
        if faces.size and (faces.min() < 0 or faces.max() >= n):
            raise ValueError(f"Face indices must lie in [0, {n}); got [{faces.min()}, {faces.max()}]")
        object.__setattr__(self, "vertices", vertices)
        object.__setattr__(self, "faces", faces)
        for name, dtype in (("colors", np.uint8), ("normals", np.float32)):
            value = getattr(self, name)
            if value is not None:
                value = np.ascontiguousarray(value, dtype=dtype)
                if value.shape != (n, 3):
                    raise ValueError(f"Shape of {name} is {value.shape} and should be ({n}, 3)")
                object.__setattr__(self, name, value)

    @property
    def n_vertices(self) -> int:
        """Number of vertices."""
        return len(self.vertices)

    @property
    def n_faces(self) -> int:
        """Number of triangles."""
        return len(self.faces)

    @property
    def is_empty(self) -> bool:
        """True when the mesh has no triangles."""
        return self.n_faces == 0

    @classmethod
    def empty(cls) -> Mesh:
        """A mesh with no vertices and no faces."""
        return cls(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64))
