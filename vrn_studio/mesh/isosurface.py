"""Volume to mesh: marching cubes on the network's probability volume, and frame changes.

Conventions
-----------
The network's volume has shape (D, H, W) = (200, 192, 192), indexed (depth, y, x), holding
probabilities in [0, 1]; a higher depth index is nearer the camera. Meshes made here are in
*crop space*: vertex (x, y, z) with x, y in crop pixels (pixel centres at integers, y down as
in the image) and ``z = depth_index * z_scale`` (0.5 by default: the network was trained with
depth stretched x2), so z is in crop pixels too, larger = nearer the camera. This is the
frame of the release's ``raw2obj.py``.

Triangles are wound so that right-hand-rule normals point out of the body (towards lower
probability) in crop space, and stored vertex normals point outward as well.

Volumes may be numpy arrays or torch tensors. ``method="torch"`` meshes a tensor on its own
device (:mod:`vrn_studio.mesh.torch_meshing`) and copies only the mesh to the host;
:func:`mesh_on_device` also finds the bodies there, for bump removal.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from vrn_studio.errors import MissingDependencyError
from vrn_studio.mesh.bumps import BumpMode, BumpRemoval, _split_bodies
from vrn_studio.mesh.geometry import _normalise, vertex_normals
from vrn_studio.mesh.types import Mesh

if TYPE_CHECKING:
    import torch

DEFAULT_LEVEL: float = 10 / 255
"""Iso level in probability units: the release meshes ``volume * 255`` at 10 (about 0.039)."""

Method = Literal["auto", "flying-edges", "skimage", "mcubes", "torch"]
METHODS: tuple[str, ...] = ("auto", "flying-edges", "skimage", "mcubes", "torch")
"""Marching-cubes backends :func:`volume_to_mesh` accepts."""


class PhotoTransform(Protocol):
    """What :func:`mesh_to_photo` needs of a transform (``vrn_studio.crop.CropTransform``)."""

    scale: float

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        """Map crop points (N, 2) to photo points (N, 2)."""
        ...


def volume_to_mesh(
    volume: np.ndarray | torch.Tensor,
    *,
    level: float = DEFAULT_LEVEL,
    z_scale: float = 0.5,
    image: np.ndarray | None = None,
    int8_compat: bool = False,
    method: Method = "auto",
    occupied_only: bool = True,
) -> Mesh:
    """Extract the surface ``probability == level`` of a VRN volume as a crop-space mesh.

    Where a body touches the grid border the volume is padded by one voxel of zeros, so it still
    gives a closed surface; vertices are shifted back so that voxel (d, y, x) sits at
    ``(x, y, d * z_scale)``.

    Parameters
    ----------
    volume : np.ndarray or torch.Tensor, shape (D, H, W), float or uint8
        Probabilities in [0, 1] indexed (depth, y, x), or the same scaled to 0-255 as uint8
        (as the release stores them); uint8 is read as ``value / 255``. A tensor stays on
        its device with ``method="torch"``; the other methods copy it to the host first.
    level : float, default: DEFAULT_LEVEL
        Iso level in probability units, in (0, 1). The default 10/255 is the release's
        level 10 on ``volume * 255``.
    z_scale : float, default: 0.5
        Crop pixels per depth index (> 0).
    image : np.ndarray or None, shape (H, W, 3), uint8
        The RGB crop fed to the network; each vertex gets the colour at its (x, y), sampled
        bilinearly (clamped at the border).
    int8_compat : bool, default: False
        Reproduce the release's Python scripts, which read the uint8 volume as int8: the
        volume becomes ``uint8(volume * 255)`` (truncated, as Torch7's byte cast) viewed as
        int8, meshed at ``level * 255``. Probabilities above 0.5 wrap to negative values, so
        an extra, inner surface appears where the probability crosses 0.5. A compatibility
        mode only; the default meshes the probabilities themselves.
    method : {"auto", "flying-edges", "skimage", "mcubes", "torch"}, default: "auto"
        ``"flying-edges"``: VTK's ``vtkFlyingEdges3D`` (the ``fast`` extra; multi-threaded);
        ``"skimage"``: :func:`skimage.measure.marching_cubes` (Lewiner);
        ``"mcubes"``: PyMCubes (the ``mcubes`` extra); ``"torch"``:
        :func:`vrn_studio.mesh.torch_meshing.marching_cubes` on the volume's device (the
        CPU for a numpy volume), flying edges' table and order, so the same mesh as
        ``"flying-edges"`` (same vertex and triangle order, vertices equal to 1e-4 voxel);
        ``"auto"``: flying edges when VTK is installed, scikit-image otherwise. On a
        138k-vertex head (2-core AMD EPYC, occupied sub-volume) flying edges took 12 ms,
        scikit-image 75 ms, PyMCubes about 120 ms, torch on the CPU about 40 ms (it is
        meant for a volume already on a GPU). All place vertices at the same edge
        crossings and wind triangles the same way; they may split the rare ambiguous cells
        differently (Lewiner resolves them topologically, the others by a fixed table).
    occupied_only : bool, default: True
        Run marching cubes only on the bounding box of the voxels above ``level``, grown by
        two voxels, instead of the whole grid. Cells outside it hold no surface, so the mesh
        is the same (same triangles in the same order, vertices equal to float32 rounding)
        at about two thirds of the time on a head-sized volume; False meshes the full grid
        (the naive baseline of ``vrn_studio.bench``).

    Returns
    -------
    Mesh
        Crop-space mesh with outward unit vertex normals and, when ``image`` is given,
        vertex colours; :meth:`Mesh.empty` when no voxel exceeds ``level``. The normals
        point down the probability: the field's gradient at each vertex (as flying edges,
        torch and scikit-image compute it) mapped through ``z_scale``; PyMCubes gives none, so
        there they are the triangles' area-weighted normals
        (:func:`~vrn_studio.mesh.vertex_normals`).

    Raises
    ------
    ValueError
        On a volume that is not 3-D float/uint8, an image whose size differs from the
        volume's (H, W), a level outside (0, 1), a non-positive ``z_scale`` or an unknown
        method.
    MissingDependencyError
        When ``method="flying-edges"`` and VTK, or ``method="mcubes"`` and PyMCubes, is
        not installed.

    Examples
    --------
    >>> z, y, x = np.mgrid[:20, :16, :16]
    >>> ball = (np.sqrt((z - 10) ** 2 + (y - 8) ** 2 + (x - 8) ** 2) < 5).astype(np.float32)
    >>> mesh = volume_to_mesh(ball, level=0.5)
    >>> mesh.vertices[:, 2].min(), mesh.vertices[:, 2].max()
    (np.float32(2.75), np.float32(7.25))
    """
    method = resolve_method(method)
    prepared = _marching_input(
        volume,
        level,
        z_scale,
        image,
        int8_compat=int8_compat,
        as_tensor=method == "torch",
        occupied_only=occupied_only,
    )
    if prepared is None:
        return Mesh.empty()
    field, iso, origin, image = prepared
    verts, faces, gradients = _MARCHERS[method](field, iso)
    return _crop_space_mesh(verts, faces, gradients, origin, z_scale, image)


def mesh_on_device(
    volume: np.ndarray | torch.Tensor,
    *,
    level: float = DEFAULT_LEVEL,
    z_scale: float = 0.5,
    image: np.ndarray | None = None,
    mode: BumpMode = "largest",
    min_fraction: float = 0.1,
) -> tuple[Mesh, BumpRemoval]:
    """Mesh a volume and split off its bumps where the volume is; only the mesh comes back.

    Marching cubes (:func:`~vrn_studio.mesh.torch_meshing.marching_cubes`) and the labelling
    of connected bodies (:func:`~vrn_studio.mesh.torch_meshing.label_bodies`) run in torch
    on the volume's device; the mesh (vertices, triangles, gradients) and one body label per
    vertex are then copied to the host, where normals, colours and the kept and removed
    meshes are made. Equal to ``volume_to_mesh(volume, method="torch", ...)`` followed by
    ``remove_bumps(mesh, mode=mode, min_fraction=min_fraction)``, in one pass.

    Parameters
    ----------
    volume : np.ndarray or torch.Tensor, shape (D, H, W), float or uint8
        As for :func:`volume_to_mesh`; a tensor on any device (CUDA, MPS, CPU), a numpy
        array is meshed on the CPU.
    level, z_scale, image
        As for :func:`volume_to_mesh`.
    mode, min_fraction
        Which bodies to keep, as for :func:`~vrn_studio.mesh.remove_bumps`.

    Returns
    -------
    mesh : Mesh
        The whole crop-space mesh, as :func:`volume_to_mesh` with ``method="torch"``.
    bumps : BumpRemoval
        Its kept and removed bodies, as :func:`~vrn_studio.mesh.remove_bumps`.

    Raises
    ------
    ValueError
        On the arguments :func:`volume_to_mesh` or :func:`~vrn_studio.mesh.remove_bumps`
        reject.

    Examples
    --------
    >>> import torch
    >>> z, y, x = torch.meshgrid(*(torch.arange(24.0),) * 3, indexing="ij")
    >>> big = (z - 8) ** 2 + (y - 8) ** 2 + (x - 8) ** 2 < 25
    >>> small = (z - 18) ** 2 + (y - 18) ** 2 + (x - 18) ** 2 < 4
    >>> mesh, bumps = mesh_on_device((big | small).float(), level=0.5)
    >>> mesh.n_vertices, bumps.kept_size, bumps.removed_sizes
    (468, 414, (54,))
    """
    import torch

    from vrn_studio.mesh.torch_meshing import label_bodies, marching_cubes

    prepared = _marching_input(
        volume, level, z_scale, image, int8_compat=False, as_tensor=True, occupied_only=True
    )
    if prepared is None:
        empty = Mesh.empty()
        return empty, _split_bodies(empty, np.zeros(0, np.int64), mode=mode, min_fraction=min_fraction)
    field, iso, origin, image = prepared
    vertices, faces, gradients = marching_cubes(torch.as_tensor(field), iso)
    body = label_bodies(faces, len(vertices))
    mesh = _crop_space_mesh(
        _to_numpy(vertices), _to_numpy(faces), _to_numpy(gradients), origin, z_scale, image
    )
    return mesh, _split_bodies(mesh, _to_numpy(body), mode=mode, min_fraction=min_fraction)


def _marching_input(
    volume: np.ndarray | torch.Tensor,
    level: float,
    z_scale: float,
    image: np.ndarray | None,
    *,
    int8_compat: bool,
    as_tensor: bool,
    occupied_only: bool,
) -> tuple[np.ndarray | torch.Tensor, float, list[int], np.ndarray | None] | None:
    """Validate the arguments and cut out what marching cubes needs, or None for no surface.

    Returns the float32 (sub-)field (a tensor on the volume's device when ``as_tensor`` and
    the volume is a tensor), the iso level, the grid index (d, y, x) of the field's first
    voxel and the checked image.
    """
    field, iso = _scalar_field(volume, level, int8_compat, as_tensor)
    if z_scale <= 0:
        raise ValueError(f"z_scale must be positive; got {z_scale}")
    if image is not None:
        image = _check_image(image, field.shape)
    if occupied_only:
        box = _occupied_box(field, iso)
        if box is None:
            return None
    elif not (field > iso).any():
        return None
    else:
        box = tuple(slice(0, n) for n in field.shape)
    # Zeros close the surface where the box reaches the grid's border; elsewhere its margin does.
    pads = [(int(s.start == 0), int(s.stop == n)) for s, n in zip(box, field.shape, strict=True)]
    origin = [s.start - before for s, (before, _) in zip(box, pads, strict=True)]
    sub = field[box]
    if _is_tensor(sub):
        import torch

        return torch.nn.functional.pad(sub, [n for pad in pads[::-1] for n in pad]), iso, origin, image
    padded = np.pad(sub, pads) if any(any(p) for p in pads) else np.ascontiguousarray(sub)
    return padded, iso, origin, image


def _crop_space_mesh(
    verts: np.ndarray,
    faces: np.ndarray,
    gradients: np.ndarray | None,
    origin: list[int],
    z_scale: float,
    image: np.ndarray | None,
) -> Mesh:
    """The crop-space mesh of a marcher's output (index-space (d, y, x) vertices of the field
    starting at grid index ``origin``, triangles, gradients or None), with normals and colours."""
    index = np.asarray(verts, np.float64) + origin
    vertices = np.column_stack([index[:, 2], index[:, 1], index[:, 0] * z_scale])
    mesh = Mesh(vertices, np.asarray(faces, np.int64))
    if gradients is None:
        normals = vertex_normals(mesh)
    else:  # d/dz = d/dd / z_scale; outward = down the probability
        g = np.asarray(gradients, np.float32)
        normals = _normalise(-np.column_stack([g[:, 2], g[:, 1], g[:, 0] / z_scale]))
    colors = None if image is None else sample_colors(image, mesh.vertices[:, 0], mesh.vertices[:, 1])
    return Mesh(mesh.vertices, mesh.faces, colors, normals)


def mesh_to_photo(mesh: Mesh, transform: PhotoTransform) -> Mesh:
    """The same mesh in photo pixels, to lay it over the original photo.

    Parameters
    ----------
    mesh : Mesh
        Crop-space mesh (from :func:`volume_to_mesh`).
    transform : CropTransform
        The photo -> crop transform used to make the crop (``vrn_studio.crop``).

    Returns
    -------
    Mesh
        x, y mapped by ``transform.to_photo``; z divided by ``transform.scale`` so depth is
        in photo pixels too. Colours, normals and winding are unchanged (a similarity with
        positive scale keeps directions and orientation).

    Examples
    --------
    >>> from vrn_studio.crop import CropTransform
    >>> m = Mesh(np.array([[60.0, 21.0, 5.0]]), np.zeros((0, 3)))
    >>> mesh_to_photo(m, CropTransform(scale=0.5, tx=10.0, ty=-4.0)).vertices
    array([[100.,  50.,  10.]], dtype=float32)
    """
    v = mesh.vertices.astype(np.float64)
    xy = transform.to_photo(v[:, :2])
    vertices = np.column_stack([xy, v[:, 2] / transform.scale])
    return Mesh(vertices, mesh.faces, mesh.colors, mesh.normals)


def to_viewer_frame(mesh: Mesh, height: int) -> Mesh:
    """Flip a crop- or photo-space mesh upright for other programs (MeshLab, Blender, browsers).

    Maps y to ``height - 1 - y``, giving a right-handed frame with x right, y up and the face
    looking toward +z. The mirror would turn the triangles inside out, so their winding is
    reversed (right-hand-rule normals keep pointing out of the head) and the y of stored
    normals is negated.

    Parameters
    ----------
    mesh : Mesh
        Mesh with y down (crop or photo pixels).
    height : int
        Height in pixels of the image the mesh lies on (192 for the crop).

    Returns
    -------
    Mesh
        The mesh in viewer frame; colours unchanged.

    Examples
    --------
    >>> m = Mesh(np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]), np.array([[0, 1, 2]]))
    >>> up = to_viewer_frame(m, 192)
    >>> up.vertices[:, 1].tolist(), up.faces.tolist()
    ([191.0, 191.0, 190.0], [[0, 2, 1]])
    """
    vertices = mesh.vertices.copy()
    vertices[:, 1] = (height - 1) - vertices[:, 1]
    normals = None
    if mesh.normals is not None:
        normals = mesh.normals * np.array([1.0, -1.0, 1.0], np.float32)
    return Mesh(vertices, mesh.faces[:, [0, 2, 1]], mesh.colors, normals)


def depth_map(
    source: Mesh | np.ndarray,
    *,
    level: float = DEFAULT_LEVEL,
    z_scale: float = 0.5,
    shape: tuple[int, int] | None = None,
    subvoxel: bool = False,
) -> np.ndarray:
    """Depth image of the front-most surface: z per pixel, NaN where there is none.

    Parameters
    ----------
    source : Mesh or np.ndarray
        A volume, shape (D, H, W) float or uint8, indexed (depth, y, x) as in
        :func:`volume_to_mesh`: each pixel (y, x) gets the highest depth index whose
        probability exceeds ``level``, times ``z_scale``. Or a mesh (crop or photo space,
        y down): every triangle is sampled at most 0.5 px apart and each pixel gets the
        largest z among the samples nearest to it. Where the surface is flat this is the
        surface over the pixel centre; on steep parts (the silhouette) it can exceed it by
        up to half a pixel times the slope.
    level : float, default: DEFAULT_LEVEL
        Iso level in probability units (volumes only).
    z_scale : float, default: 0.5
        Pixels per depth index (volumes only).
    shape : tuple of int or None
        (H, W) of the output; required for a mesh, ignored for a volume.
    subvoxel : bool, default: False
        Volumes only: place the surface where the probability crosses ``level`` between
        the highest index above it and the next one (linear interpolation, as marching
        cubes places its vertices) instead of at that index.

    Returns
    -------
    np.ndarray, shape (H, W), float32
        Depth in the units of the mesh's z (crop pixels for the network's volume, larger
        = nearer the camera); NaN where no surface covers the pixel.

    Examples
    --------
    >>> vol = np.zeros((10, 2, 3), np.float32)
    >>> vol[:7, 0, 1] = 0.9
    >>> depth_map(vol)
    array([[nan,  3., nan],
           [nan, nan, nan]], dtype=float32)
    >>> round(float(depth_map(vol, level=0.45, subvoxel=True)[0, 1]), 3)  # crossing at index 6.5
    3.25
    """
    if isinstance(source, Mesh):
        if shape is None:
            raise ValueError("depth_map of a mesh needs shape=(H, W)")
        return _mesh_depth(source, shape)
    field, iso = _scalar_field(source, level, int8_compat=False)
    above = field > iso
    if field.shape[0] < 255:  # highest index above the level, + 1 (0: none), as a fast uint8 max over depth
        ranks = np.arange(1, field.shape[0] + 1, dtype=np.uint8)[:, None, None]
        top = np.max(above.view(np.uint8) * ranks, axis=0).astype(np.intp) - 1
    else:
        top = np.where(above.any(axis=0), field.shape[0] - 1 - np.argmax(above[::-1], axis=0), -1)
    covered = top >= 0
    top = np.maximum(top, 0)
    depth = top.astype(np.float64)
    if subvoxel:
        rows, cols = np.indices(top.shape)
        inside = field[top, rows, cols].astype(np.float64)
        outside = field[np.minimum(top + 1, field.shape[0] - 1), rows, cols].astype(np.float64)
        step = inside - outside
        crossing = np.divide(inside - iso, step, out=np.zeros_like(step), where=step > 1e-12)
        depth += np.clip(crossing, 0.0, 1.0)
    return np.where(covered, depth * z_scale, np.nan).astype(np.float32)


def _scalar_field(
    volume: np.ndarray | torch.Tensor, level: float, int8_compat: bool, as_tensor: bool = False
) -> tuple[np.ndarray | torch.Tensor, float]:
    """Validate ``volume`` and return (field, iso) for marching cubes; the field is float32.

    A tensor volume gives a tensor field on its device when ``as_tensor``, else it is copied to
    the host; an array volume gives an array field.
    """
    tensor = _is_tensor(volume)
    if tensor:
        import torch

        volume = volume.detach()
        valid = volume.dtype == torch.uint8 or volume.dtype.is_floating_point
    else:
        volume = np.asarray(volume)
        valid = volume.dtype == np.uint8 or np.issubdtype(volume.dtype, np.floating)
    if volume.ndim != 3 or not valid:
        raise ValueError(
            f"Volume must be a 3-D float or uint8 array indexed (depth, y, x), e.g. (200, 192, 192); "
            f"got shape {tuple(volume.shape)} of dtype {volume.dtype}"
        )
    if not 0 < level < 1:
        raise ValueError(f"Level is a probability and must lie in (0, 1); got {level}")
    if tensor and as_tensor:  # the conversions below, in torch
        if int8_compat:
            raw = volume if volume.dtype == torch.uint8 else (volume.clamp(0, 1) * 255).to(torch.uint8)
            return raw.view(torch.int8).float(), level * 255
        return (volume.float() / 255 if volume.dtype == torch.uint8 else volume.float()), level
    if tensor:  # numpy has no bfloat16
        volume = (volume if volume.dtype in (torch.uint8, torch.float32) else volume.float()).cpu().numpy()
    if int8_compat:
        raw = volume if volume.dtype == np.uint8 else (np.clip(volume, 0, 1) * 255).astype(np.uint8)
        return raw.view(np.int8).astype(np.float32), level * 255
    if volume.dtype == np.uint8:
        return volume.astype(np.float32) / 255, level
    return volume.astype(np.float32, copy=False), level


def _occupied_box(field: np.ndarray | torch.Tensor, iso: float) -> tuple[slice, slice, slice] | None:
    """Bounding box of the voxels above ``iso`` grown by two voxels (clipped to the grid), or None.

    The surface passes only through cells with a corner above ``iso``; the first voxel of
    margin keeps the values below ``iso`` that its vertices are interpolated towards, the
    second the neighbours of those values that the normals' central differences read. For a
    tensor only the three per-axis occupancy vectors (D + H + W booleans) reach the host.
    """
    above = field > iso
    columns = above.any(axis=0)
    hits = tuple(
        _to_numpy(hit)
        for hit in (above.reshape(len(above), -1).any(axis=1), columns.any(axis=1), columns.any(axis=0))
    )
    if not hits[0].any():
        return None
    box = []
    for axis, hit in enumerate(hits):
        index = np.flatnonzero(hit)
        box.append(slice(max(int(index[0]) - 2, 0), min(int(index[-1]) + 3, field.shape[axis])))
    return box[0], box[1], box[2]


def _is_tensor(value: object) -> bool:
    """Whether ``value`` is a torch tensor (without importing torch: none exists before it is)."""
    return "torch" in sys.modules and isinstance(value, sys.modules["torch"].Tensor)


def _to_numpy(value: np.ndarray | torch.Tensor) -> np.ndarray:
    """``value`` as a numpy array, copied to the host when it is a tensor on a device."""
    return value.detach().cpu().numpy() if _is_tensor(value) else np.asarray(value)


def _check_image(image: np.ndarray, volume_shape: tuple[int, ...]) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != volume_shape[1:]:
        raise ValueError(
            f"Shape of image is {image.shape} and should be ({volume_shape[1]}, {volume_shape[2]}, 3), "
            f"the (H, W) of the volume {volume_shape}"
        )
    if image.dtype != np.uint8:
        raise ValueError(f"Image must be uint8 RGB; got dtype {image.dtype}")
    return image


def sample_colors(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear RGB of ``image`` (H, W, 3) at points (x, y), clamped at the border."""
    h, w = image.shape[:2]
    x, y = np.clip(x, 0, w - 1), np.clip(y, 0, h - 1)
    x0, y0 = np.minimum(x.astype(np.intp), max(w - 2, 0)), np.minimum(y.astype(np.intp), max(h - 2, 0))
    fx, fy = (x - x0).astype(np.float32)[:, None], (y - y0).astype(np.float32)[:, None]
    flat, i = image.reshape(-1, 3), y0 * w + x0
    dx, dy = min(1, w - 1), min(1, h - 1) * w
    p00, p01, p10, p11 = (flat.take(i + k, axis=0).astype(np.float32) for k in (0, dx, dy, dx + dy))
    top, bottom = p00 + (p01 - p00) * fx, p10 + (p11 - p10) * fx
    return (top + (bottom - top) * fy + 0.5).astype(np.uint8)


def resolve_method(method: str = "auto") -> str:
    """The marching-cubes backend ``method`` stands for (``"auto"``: the one this machine runs).

    Raises
    ------
    ValueError
        An unknown method.
    MissingDependencyError
        The named backend is not installed.

    Examples
    --------
    >>> resolve_method("skimage")
    'skimage'
    """
    if method not in METHODS:
        raise ValueError(f"Unknown marching cubes method {method!r}. Available: {', '.join(METHODS)}.")
    if method == "auto":
        return "flying-edges" if importlib.util.find_spec("vtkmodules") is not None else "skimage"
    # "torch" needs nothing more: torch is a core dependency.
    for name, module, extra in (("flying-edges", "vtkmodules", "fast"), ("mcubes", "mcubes", "mcubes")):
        if method == name and importlib.util.find_spec(module) is None:
            raise MissingDependencyError(
                f"method={method!r} needs {module!r}, which is not installed. "
                f"Install it with: pip install 'vrn-studio[{extra}]'"
            )
    return method


Marched = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]


def _march_flying_edges(field: np.ndarray, iso: float) -> Marched:
    """VTK's flying edges on ``field`` (D, H, W): index-space vertices (d, y, x), faces, gradients."""
    from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
    from vtkmodules.vtkCommonCore import vtkSMPTools
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D

    vtkSMPTools.SetBackend("STDThread")  # the wheels' default is one thread
    grid = vtkImageData()
    grid.SetDimensions(field.shape[2], field.shape[1], field.shape[0])
    grid.GetPointData().SetScalars(numpy_to_vtk(np.ascontiguousarray(field).ravel(), deep=False))
    marcher = vtkFlyingEdges3D()
    marcher.SetInputData(grid)
    marcher.SetValue(0, iso)
    marcher.ComputeScalarsOff()
    marcher.ComputeNormalsOff()
    marcher.ComputeGradientsOn()
    marcher.Update()
    surface = marcher.GetOutput()
    if surface.GetNumberOfPoints() == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros((0, 3))
    xyz = vtk_to_numpy(surface.GetPoints().GetData())
    faces = vtk_to_numpy(surface.GetPolys().GetConnectivityArray()).reshape(-1, 3)
    gradients = vtk_to_numpy(surface.GetPointData().GetArray("Gradients"))
    return xyz[:, ::-1], faces, gradients[:, ::-1]  # VTK's (x, y, z) is (w, h, d)


def _march_skimage(field: np.ndarray, iso: float) -> Marched:
    from skimage.measure import marching_cubes

    verts, faces, normals, _ = marching_cubes(field, iso)
    return verts, faces, -normals  # scikit-image's normals point down the field: make them gradients


def _march_mcubes(field: np.ndarray, iso: float) -> Marched:
    import mcubes

    # PyMCubes winds triangles outward in (d, y, x) index space, which is inward once the
    # axes are swapped to (x, y, z): reverse them.
    verts, faces = mcubes.marching_cubes(field, iso)
    return verts, faces[:, ::-1], None


def _march_torch(field: np.ndarray | torch.Tensor, iso: float) -> Marched:
    import torch

    from vrn_studio.mesh.torch_meshing import marching_cubes

    verts, faces, gradients = marching_cubes(torch.as_tensor(field), iso)  # an array is shared, not copied
    return _to_numpy(verts), _to_numpy(faces), _to_numpy(gradients)


_MARCHERS = {
    "flying-edges": _march_flying_edges,
    "skimage": _march_skimage,
    "mcubes": _march_mcubes,
    "torch": _march_torch,
}


_DEPTH_CHUNK_SAMPLES = 2_000_000
"""Surface samples drawn at once by :func:`_mesh_depth` (bounds its memory to ~100 MB)."""


def _mesh_depth(mesh: Mesh, shape: tuple[int, int]) -> np.ndarray:
    height, width = shape
    depth = np.full(height * width, -np.inf)
    if not mesh.is_empty:
        tri = mesh.vertices[mesh.faces].astype(np.float64)
        longest = np.abs(tri[:, [1, 2, 0], :2] - tri[:, :, :2]).max()
        n = max(1, int(np.ceil(longest / 0.5)))
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = i + j <= n
        weights = np.stack([i[keep], j[keep], n - i[keep] - j[keep]], axis=1) / n
        step = max(1, _DEPTH_CHUNK_SAMPLES // len(weights))
        for start in range(0, len(mesh.faces), step):
            corners = tri[start : start + step].transpose(2, 0, 1)  # (3 coordinates, F, 3 corners)
            x, y, z = corners @ weights.T  # each (F, samples): one matrix product per coordinate
            col = np.rint(x).astype(np.int64).ravel()
            row = np.rint(y).astype(np.int64).ravel()
            inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
            np.maximum.at(depth, row[inside] * width + col[inside], z.ravel()[inside])
    depth[np.isneginf(depth)] = np.nan
    return depth.reshape(height, width).astype(np.float32)
