"""Bump removal: split a mesh into connected bodies and drop the small detached ones.

VRN meshes often carry detached blobs ("bumps"), more of them as the head turns. A *body*
is a set of vertices connected through shared triangles; vertices used by no triangle
belong to no body and are dropped from both outputs. Three implementations give identical
results: ``method="fast"`` (vectorised, :func:`scipy.sparse.csgraph.connected_components`),
``method="torch"`` (label propagation, :func:`vrn_studio.mesh.torch_meshing.label_bodies`,
which :func:`vrn_studio.mesh.mesh_on_device` runs on the volume's device) and
``method="reference"``, the peer review's "dynamic labelling" in plain Python, kept as the
readable specification the others are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from vrn_studio.mesh.types import Mesh

BumpMode = Literal["largest", "fraction"]
"""Which bodies :func:`remove_bumps` keeps."""


@dataclass(frozen=True)
class BumpRemoval:
    """Result of :func:`remove_bumps`.

    Parameters
    ----------
    kept : Mesh
        The kept body (or bodies), vertices re-indexed compactly in their original order.
    removed : Mesh
        The removed bodies together, re-indexed the same way; colours and normals kept.
    removed_sizes : tuple of int
        Vertex count of each removed body, largest first.
    """

    kept: Mesh
    removed: Mesh
    removed_sizes: tuple[int, ...]

    @property
    def n_removed(self) -> int:
        """Number of removed bodies."""
        return len(self.removed_sizes)

    @property
    def kept_size(self) -> int:
        """Number of vertices kept."""
        return self.kept.n_vertices


def remove_bumps(
    mesh: Mesh,
    *,
    mode: BumpMode = "largest",
    min_fraction: float = 0.1,
    method: Literal["fast", "reference", "torch"] = "fast",
) -> BumpRemoval:
    """Keep the head, drop detached blobs.

    Parameters
    ----------
    mesh : Mesh
        Any mesh (colours and normals are carried along).
    mode : {"largest", "fraction"}, default: "largest"
        ``"largest"`` keeps only the largest body by vertex count. Ties go to the body
        holding the earliest triangle in ``mesh.faces`` (for the reference method: the
        smallest label). ``"fraction"`` keeps every body with at least
        ``min_fraction * n`` vertices, n being the vertex count of the *largest* body. The
        threshold is relative to the largest body rather than to the whole mesh so that it
        does not move with the number of blobs, and so the largest body is always kept.
    min_fraction : float, default: 0.1
        In [0, 1]; used by ``mode="fraction"`` only.
    method : {"fast", "reference", "torch"}, default: "fast"
        ``"fast"``: connected components of the vertex adjacency (vectorised).
        ``"reference"``: the review's dynamic labelling in plain Python (slow; for tests).
        ``"torch"``: label propagation in torch on the CPU (the labelling that
        :func:`~vrn_studio.mesh.mesh_on_device` runs on a GPU).

    Returns
    -------
    BumpRemoval
        ``kept``, ``removed``, ``removed_sizes``. An empty mesh gives an empty ``kept`` and
        nothing removed.

    Raises
    ------
    ValueError
        On an unknown mode or method, or ``min_fraction`` outside [0, 1].

    Examples
    --------
    Two separate triangles, one with an extra vertex fanned on:

    >>> v = np.random.default_rng(0).random((7, 3))  # positions only for the example
    >>> m = Mesh(v, [[0, 1, 2], [3, 4, 5], [3, 5, 6]])
    >>> r = remove_bumps(m)
    >>> r.kept_size, r.removed_sizes, r.kept.faces.tolist()
    (4, (3,), [[0, 1, 2], [0, 2, 3]])
    """
    labelers = {"fast": _label_fast, "reference": _label_reference, "torch": _label_torch}
    if method not in labelers:
        raise ValueError(f"Unknown bump removal method {method!r}. Available: fast, reference, torch.")
    body = np.full(mesh.n_vertices, -1) if mesh.is_empty else labelers[method](mesh)
    return _split_bodies(mesh, body, mode=mode, min_fraction=min_fraction)


def _split_bodies(mesh: Mesh, body: np.ndarray, *, mode: BumpMode, min_fraction: float) -> BumpRemoval:
    """:func:`remove_bumps` given each vertex's body label, shape (N,) int: -1 for a vertex in
    no triangle, else any label in [0, N) shared by exactly the vertices of one body."""
    if mode not in ("largest", "fraction"):
        raise ValueError(f"Unknown bump removal mode {mode!r}. Available: largest, fraction.")
    if not 0 <= min_fraction <= 1:
        raise ValueError(f"min_fraction must lie in [0, 1]; got {min_fraction}")
    if mesh.is_empty:
        return BumpRemoval(Mesh.empty(), Mesh.empty(), ())
    body = np.array(body, np.int64)
    used = body >= 0
    present = np.zeros(mesh.n_vertices, bool)
    present[body[used]] = True
    body[used] = (np.cumsum(present) - 1)[body[used]]  # labels made 0..k-1, order kept (no sort)
    sizes = np.bincount(body[used])
    first_face = np.full(len(sizes), mesh.n_faces)
    np.minimum.at(first_face, body[mesh.faces[:, 0]], np.arange(mesh.n_faces))
    order = np.lexsort((first_face, -sizes))
    if mode == "largest":
        keep_body = np.zeros(len(sizes), bool)
        keep_body[order[0]] = True
    else:
        keep_body = sizes >= min_fraction * sizes[order[0]]
    keep_vertex = used & keep_body[np.maximum(body, 0)]
    removed_sizes = tuple(int(s) for s in sizes[order][~keep_body[order]])
    return BumpRemoval(_submesh(mesh, keep_vertex), _submesh(mesh, used & ~keep_vertex), removed_sizes)


def _label_fast(mesh: Mesh) -> np.ndarray:
    """Body label per vertex (-1: in no triangle) from the sparse vertex adjacency.

    Two edges per triangle (0-1 and 0-2) connect its three corners; the third would add
    nothing to the components and cost a third more graph.
    """
    f = mesh.faces
    rows = np.concatenate([f[:, 0], f[:, 0]])
    cols = np.concatenate([f[:, 1], f[:, 2]])
    n = mesh.n_vertices
    graph = sparse.csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    used = np.zeros(n, bool)
    used[f.ravel()] = True
    return np.where(used, labels, -1)


def _label_torch(mesh: Mesh) -> np.ndarray:
    """Body label per vertex (-1: in no triangle) by label propagation in torch, on the CPU."""
    import torch

    from vrn_studio.mesh.torch_meshing import label_bodies

    return label_bodies(torch.as_tensor(mesh.faces), mesh.n_vertices).numpy()


def _label_reference(mesh: Mesh) -> np.ndarray:
    """Body label per vertex (-1: in no triangle) by the review's dynamic labelling.

    Fragments (triangles) are visited in turn. A fragment touching already-labelled
    vertices takes the smallest of their labels and the others are merged into it (an
    equivalence: the larger label's parent becomes the smaller); otherwise it opens a new
    label. Each label's parent is always a smaller label, so flattening in increasing
    order sends every label to its first ancestor.
    """
    vertex_label = [-1] * mesh.n_vertices
    parent: list[int] = []

    def first_ancestor(label: int) -> int:
        while parent[label] != label:
            label = parent[label]
        return label

    for fragment in mesh.faces.tolist():
        touched = {first_ancestor(vertex_label[v]) for v in fragment if vertex_label[v] >= 0}
        if touched:
            label = min(touched)
            for other in touched:
                parent[other] = label
        else:
            label = len(parent)
            parent.append(label)
        for v in fragment:
            vertex_label[v] = label
    for label in range(len(parent)):
        parent[label] = parent[parent[label]]
    return np.array([parent[label] if label >= 0 else -1 for label in vertex_label], np.int64)


def _submesh(mesh: Mesh, vertex_mask: np.ndarray) -> Mesh:
    """Vertices in ``vertex_mask`` and the triangles among them, indices made compact.

    ``vertex_mask`` must be a union of whole bodies, so a triangle is in it exactly when its
    first vertex is.
    """
    new_index = np.cumsum(vertex_mask) - 1
    faces = new_index[mesh.faces.take(np.flatnonzero(vertex_mask[mesh.faces[:, 0]]), axis=0)]
    keep = np.flatnonzero(vertex_mask)
    colors = None if mesh.colors is None else mesh.colors.take(keep, axis=0)
    normals = None if mesh.normals is None else mesh.normals.take(keep, axis=0)
    return Mesh(mesh.vertices.take(keep, axis=0), faces, colors, normals)
