"""Marching cubes and connected bodies in torch, on the device that holds the volume.

:func:`marching_cubes` is a vectorised marching cubes for a (D, H, W) float32 tensor on any
device (CPU, CUDA, MPS) that triangulates every cell as VTK's flying edges does (the case
table below is generated from ``vtkFlyingEdges3D`` by ``scripts/make_mc_table.py``) and
numbers its vertices and triangles in flying edges' order, so on the same field it gives
the same mesh as ``volume_to_mesh(method="flying-edges")`` to float32 rounding.
:func:`label_bodies` labels the connected bodies of a triangle mesh by label propagation on
the same device. Only float32 and int64 arithmetic is used (MPS has no float64).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

_CASES = """
- 048 095 548958 41a 01a80a 5091a4 51a5a99a8
5b1 0485b1 9b1091 14818bb89 45ba4b 05b0b88ba 40949aa9b 9b8ba8
286 204624 095862 295256654 86241a a62a21120 9508621a4 2a69a291a951
5b1862 4624205b1 9b1910862 19b169146629 45b4ba628 5ba5a252062a 2869a09baa40 2a629a9ba
927 927048 027507 827874475 9271a4 01a0a8279 0270751a4 1751871a8278
5b1927 4805b1279 7b1712210 17b471427482 ba4b45927 27905885b8ba 7027a07baa40 7827b8ba8
986796 904947746 086065567 547467 67969841a 9679169011a6 1a4085586567 a51a65675
986967b15 b15907704746 810871867b17 17b147467 987867b45ba4 70679060a5b0a0b a0ba40b07860706 a7b67a
6a3 480a36 095a36 895854a36 641361 680603301 136164095 513538589836
b1536a 5b148036a 10919b36a 36a14bb48b89 b36b65564 b365b6568580 0640b609b36b 6b368b89b
328a38 4a3430032 8a3832950 932943954a34 841812213 012213 509124132284 529512132
32838a15b 5b14a00a3032 28a2a309119b b49b14942a34243 84585383235b b05b30320 24328434b094b49 b2932b
2796a3 048279a36 7507026a3 a36824427475 641613792 927038013368 413436507702 381368185278587
927b156a3 36a5b1048279 6a37b22b1210 482427471b17a36 927b35536564 5b3536560806927 2b027b0b436b4b6 6b368b7b22b8
37939aa98 4a3043037079 08a0a70757a3 34a374754 798781713418 937903013 587508783418381 537135
5b19a798aa37 04a0a30397935b1 a78a37870b17071 34a37414bb47 5345b3438793839 b05b30907703 0847b3 b37
b73 04873b 95073b 54858973b 1a4b73 a80a01b73 0951a473b 73b51991a9a8
573153 573531480 973930031 789718731481 3a4347745 0a807a05773a 43a034073097 3973a9a89
73b286 2042463b7 50973b862 b73569546629 41a628b73 73b2162011a6 0952861a473b 95191a9a262a73b
315357286 571731420462 862970073031 694629491739193 86247a45773a 7a573a5a062a0a2 097073034a43862 3973a929669a
b923b2 23b2b9048 b50b03302 8548358233b5 b92b23a41 0181a82b923b 41a0350233b5 3523b52581a585a
592521123 480591192123 021231 814821231 923934945a43 85a805a53925352 43a403023 382a83
63b6b88b9 04606b0b93b6 b6356b586508 b63b56546 1a4b83b98863 1601a60693b696b 50858656b3b61a4 a51a65b53356
531583598863 193159396049694 608630310 614316 839863935a43534 059a63 60863040aa03 63a
ab76a7 ab7a76804 76a7ab509 b76b6a958854 1b7174476 801817876b71 95074b76441b 918951816b71617
a15a56657 0485615766a1 97696191016a 6176a1719481918 574476 068056576 940974764 968769
72878bb8a 72070a7aba04 0958b28abb72 b2ab72a24952425 1b7417472428 71b721201 41b4b7478287095 71b721519912
15717818a287 0a204a2a715a7a5 07109717a287a78 97214a 872847457 072570 872847970074 972
26a2a99ab 04826996a9ab 5ab52a5026a2 42548252b6a2b2a 1b9196164692 96b926b61806160 4b641b6b250b2b0 51b826
26a92a9a1915 92696a9a515a048 a26a12102 a26a12824421 259265645 259265058856 240642 268
98bb8a 4904a9ab9 0b508b8ab 4b5ab4 1841b8b98 91b019 1841b808558b 51b
5a159a98a 4904a959119a 0a18a0 4a1 584985 059 084 -
"""
"""Triangles of each of the 256 cube cases, from VTK's flying edges (``scripts/make_mc_table.py``).

One token per case, in case order: three hex edge ids per triangle, in VTK's order and
winding, ``-`` for none. Case bit k is set when corner k, at offset (x, y, depth) =
(k & 1, k >> 1 & 1, k >> 2), is at or above the level. Edges 0-3 run along x from
(y, depth) = (0, 0), (1, 0), (0, 1), (1, 1); 4-7 along y from (x, depth) in the same order;
8-11 along depth from (x, y) in the same order.
"""

MAX_TRIANGLES = 5
"""Most triangles of any case."""


def marching_cubes(field: torch.Tensor, iso: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The surface ``field == iso`` of a (D, H, W) grid, computed on the field's device.

    Cells are triangulated by VTK's flying-edges case table, a corner counting as inside when
    its value is at or above ``iso`` (compared exactly as VTK does in double precision). One
    vertex is made per grid edge the surface crosses, shared by the cells around it, so the
    mesh is closed wherever the surface stays inside the grid.

    Parameters
    ----------
    field : torch.Tensor, shape (D, H, W), float32
        Scalar field indexed (depth, y, x), on any device; D, H, W >= 2 for any surface.
    iso : float
        Level of the surface, in the field's units.

    Returns
    -------
    vertices : torch.Tensor, shape (N, 3), float32
        Index-space positions (d, y, x): the crossing interpolated linearly along its edge.
        Ordered as flying edges orders them (by depth, then y, then edges along x, y, depth,
        then x).
    faces : torch.Tensor, shape (M, 3), int64
        Triangles, cell by cell in (d, y, x) order as flying edges emits them. Right-hand-rule
        normals in (x, y, d) point towards lower values (out of the region above ``iso``).
    gradients : torch.Tensor, shape (N, 3), float32
        The field's gradient (d/dd, d/dy, d/dx) at each vertex, per voxel: central differences
        at the edge's two grid points (one-sided on the grid's faces), interpolated along the
        edge like the vertex (as ``vtkFlyingEdges3D`` computes its gradients).

    All three are on ``field``'s device.

    Examples
    --------
    >>> z, y, x = torch.meshgrid(*(torch.arange(12.0),) * 3, indexing="ij")
    >>> ball = ((z - 6) ** 2 + (y - 6) ** 2 + (x - 6) ** 2 < 16).float()
    >>> vertices, faces, gradients = marching_cubes(ball, 0.5)
    >>> len(vertices), len(faces), vertices[:, 0].min().item(), vertices[:, 0].max().item()
    (270, 536, 2.5, 9.5)
    >>> len(faces) == 2 * len(vertices) - 4  # closed, one piece, no holes: V - E + F = 2
    True
    """
    if field.ndim != 3:
        raise ValueError(f"field must be 3-D (D, H, W); got shape {tuple(field.shape)}")
    field = field.to(torch.float32).contiguous()
    _, height, width = field.shape
    device = field.device
    if min(field.shape) < 2:
        return _empty(device)
    above = field >= _float32_at_least(iso)
    # Case of each cell: bit dx + 2 dy + 4 dz for its corner at offset (dx, dy, dz), built axis by axis.
    bits = above.to(torch.uint8)
    bits = bits[:, :, :-1] | bits[:, :, 1:] << 1
    bits = bits[:, :-1] | bits[:, 1:] << 2
    cube = (bits[:-1] | bits[1:] << 4).reshape(-1)
    cells = torch.nonzero(cube + 1 > 1).squeeze(1)  # uint8 wraps: empty (0) and full (255) cells fail
    if len(cells) == 0:
        return _empty(device)
    valid, edges, delta = _tables(device)
    cases = cube[cells].long()
    # Edge key (d, y, axis, x) -> ((d * H + y) * 3 + axis) * W + x sorts edges as flying edges
    # numbers points; a cell's edge keys are its corner's key plus the edge's offset.
    row = 3 * width
    d, rest = cells // ((height - 1) * (width - 1)), cells % ((height - 1) * (width - 1))
    base = (d * height + rest // (width - 1)) * row + rest % (width - 1)
    offsets = (delta[0] * height * row + delta[1] * row + delta[2] * width + delta[3])[edges]
    corner_keys = (base[:, None] + offsets[cases])[valid[cases]]  # (cell, slot) in cell order
    keys, faces = torch.unique(corner_keys, sorted=True, return_inverse=True)
    d, rest = keys // (height * row), keys % (height * row)
    y, rest = rest // row, rest % row
    axis, x = rest // width, rest % width
    strides = torch.tensor([1, width, height * width], device=device)  # along x, y, depth
    flat = field.reshape(-1)
    lower = (d * height + y) * width + x
    upper = lower + strides[axis]
    s0, s1 = flat[lower], flat[upper]
    # iso as float32 high + low parts: iso - s0 nearly exact where s0 is close to iso and the
    # edge is flat, where rounding iso alone would move the vertex by up to 1e-4 voxel.
    iso_high = float(np.float32(iso))
    t = (iso_high - s0 + (iso - iso_high)) / (s1 - s0)
    vertices, gradients = [], []
    for column, (coordinate, size, stride) in enumerate(
        zip((d, y, x), field.shape, (height * width, width, 1))
    ):
        along = axis == 2 - column
        vertices.append(coordinate + t * along)
        g0 = _difference(flat, lower, coordinate, size, stride)
        g1 = _difference(flat, upper, coordinate + along, size, stride)
        gradients.append(g0 + t * (g1 - g0))
    return torch.stack(vertices, dim=1), faces.reshape(-1, 3), torch.stack(gradients, dim=1)


def label_bodies(faces: torch.Tensor, n_vertices: int) -> torch.Tensor:
    """Connected body of each vertex of a triangle mesh, computed on the faces' device.

    Label propagation over two edges per triangle (0-1, 0-2): each pass hooks the root of the
    larger label under the smaller one (``scatter_reduce`` amin) and then follows the labels
    to their roots (pointer jumping), until every edge joins equal labels.

    Parameters
    ----------
    faces : torch.Tensor, shape (M, 3), int64
        Triangles as vertex indices.
    n_vertices : int
        Number of vertices (> every index in ``faces``).

    Returns
    -------
    torch.Tensor, shape (n_vertices,), int64
        The smallest vertex index of each vertex's body; -1 for vertices in no triangle.

    Examples
    --------
    >>> label_bodies(torch.tensor([[3, 4, 5], [0, 1, 4], [6, 2, 7]]), 9).tolist()
    [0, 0, 2, 0, 0, 0, 2, 2, -1]
    """
    faces = faces.long()
    src = torch.cat([faces[:, 0], faces[:, 0]])
    dst = torch.cat([faces[:, 1], faces[:, 2]])
    label = torch.arange(n_vertices, device=faces.device)
    while True:
        a, b = label[src], label[dst]
        split = a != b
        if not bool(split.any()):
            break
        src, dst, a, b = src[split], dst[split], a[split], b[split]  # joined edges stay joined
        label.scatter_reduce_(0, torch.maximum(a, b), torch.minimum(a, b), reduce="amin")
        while True:
            root = label[label]
            if torch.equal(root, label):
                break
            label = root
    used = torch.zeros(n_vertices, dtype=torch.bool, device=faces.device)
    used[faces.reshape(-1)] = True
    return torch.where(used, label, -1)


def _float32_at_least(iso: float) -> float:
    """The smallest float32 at or above ``iso``: ``x >= it`` in float32 iff ``double(x) >= iso``."""
    rounded = np.float32(iso)
    if float(rounded) < iso:
        rounded = np.nextafter(rounded, np.float32(np.inf))
    return float(rounded)


def _difference(
    flat: torch.Tensor, index: torch.Tensor, coordinate: torch.Tensor, size: int, stride: int
) -> torch.Tensor:
    """Derivative of the flattened field along one axis at grid points (linear ``index``, their
    ``coordinate`` on that axis): central differences, one-sided on the grid's faces (as VTK)."""
    forward, backward = coordinate < size - 1, coordinate > 0
    ahead = flat[index + forward * stride]
    behind = flat[index - backward * stride]
    return (ahead - behind) / (forward.to(torch.float32) + backward)


def _empty(device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    vertices = torch.zeros((0, 3), dtype=torch.float32, device=device)
    return vertices, torch.zeros((0, 3), dtype=torch.int64, device=device), vertices.clone()


@lru_cache(maxsize=8)
def _tables(device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The case table on ``device``: valid (256, 15) bool, whether a case has a triangle corner
    in each slot; edges (256, 15) int64, the corners' edge ids (0 in unused slots); and each
    edge's start and axis as rows (dz, dy, axis, dx), shape (4, 12)."""
    valid = torch.zeros((256, 3 * MAX_TRIANGLES), dtype=torch.bool)
    edges = torch.zeros((256, 3 * MAX_TRIANGLES), dtype=torch.int64)
    for case, token in enumerate(_CASES.split()):
        ids = [int(c, 16) for c in token.strip("-")]
        edges[case, : len(ids)] = torch.tensor(ids, dtype=torch.int64)
        valid[case, : len(ids)] = True
    edge = torch.arange(12)
    axis, first, second = edge // 4, edge % 2, edge // 2 % 2
    dx = torch.where(axis == 0, 0, first)
    dy = torch.where(axis == 0, first, torch.where(axis == 1, 0, second))
    dz = torch.where(axis == 2, 0, second)
    delta = torch.stack([dz, dy, axis, dx])
    return valid.to(device), edges.to(device), delta.to(device)
