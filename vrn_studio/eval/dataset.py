"""Evaluation and training samples on disk: (photo, ground-truth mesh, 68 landmarks).

The folder format
-----------------
A folder holds, for each sample ``NAME``, three files side by side:

``NAME.jpg`` or ``NAME.png``
    The photo.
``NAME.obj`` or ``NAME.ply``
    The ground-truth triangle mesh in the photo's *pixel* frame: x to the right and y down
    in photo pixels, pixel centres at integers (pixel (0, 0) is the centre of the top-left
    pixel, as OpenCV and landmark detectors count), and z the depth in the same pixel unit,
    larger = nearer the camera. The origin of z is free (evaluation aligns the meshes, and
    training re-centres the depth). Only vertices and triangles are read: OBJ ``v`` and
    ``f`` lines (polygons are fanned into triangles, ``v/vt/vn`` indices allowed, negative
    indices count from the end), PLY ascii or binary with ``x y z`` vertex properties and a
    ``vertex_indices`` (or ``vertex_index``) face list (binary PLY: triangles only, and no
    other list property).
``NAME.landmarks.json``
    ``{"landmarks": [[x, y], ... 68 points], "landmarks_3d": [[x, y, z], ... 68 points]}``:
    the iBUG-68 landmarks in photo pixels; ``landmarks_3d`` (same frame as the mesh) is
    optional.

Any photo without its mesh or landmarks is an error naming the missing file (a dataset
should not silently shrink).

Adapters
--------
:func:`iter_aflw2000_3d` reads the AFLW2000-3D layout, :func:`iter_300w_lp` the 300W-LP layout
(meshes evaluated from the user's Basel Face Model, :mod:`vrn_studio.eval.bfm`) and
:func:`iter_florence` a layout of Florence (MICC) renders; see their docstrings for what the
user must supply.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from vrn_studio.crop import validate_landmarks
from vrn_studio.errors import VrnStudioError
from vrn_studio.eval.bfm import MorphableModel, load_morphable_model, pose_vertices
from vrn_studio.mesh import Mesh

PHOTO_SUFFIXES = (".jpg", ".png")
"""Photo extensions of the folder format, in the order they are looked for."""
MESH_SUFFIXES = (".obj", ".ply")
"""Mesh extensions of the folder format, in the order they are looked for."""
LANDMARKS_SUFFIX = ".landmarks.json"
"""Suffix of a sample's landmark file."""
LIFT_NEIGHBOURS = 8
"""Vertices nearest a 2D landmark (in x, y) among which :func:`lift_landmarks` takes the front-most."""


class DatasetError(VrnStudioError):
    """A dataset file is missing or cannot be read; the message names the file."""


@dataclass(frozen=True, eq=False)
class Sample:
    """One evaluation or training sample.

    Attributes
    ----------
    name : str
        The sample's name (file stem, or ``subject/stem`` for nested layouts).
    image_path : Path
        The photo (load it with :func:`vrn_studio.image.load_image`).
    mesh : Mesh
        Ground truth in photo pixels (x right, y down, z toward the camera), float64
        vertices (N, 3) and int64 triangles (M, 3).
    landmarks : np.ndarray, shape (68, 2), float64
        iBUG-68 landmarks (x, y) in photo pixels.
    landmarks_3d : np.ndarray or None, shape (68, 3), float64
        iBUG-68 landmarks in the mesh's frame, when the dataset has them.
    """

    name: str
    image_path: Path
    mesh: Mesh
    landmarks: np.ndarray
    landmarks_3d: np.ndarray | None = None

    def landmarks_3d_or_lifted(self) -> np.ndarray:
        """``landmarks_3d``, or the 2D landmarks lifted onto the mesh (:func:`lift_landmarks`)."""
        if self.landmarks_3d is not None:
            return self.landmarks_3d
        return lift_landmarks(self.mesh.vertices, self.landmarks)


def lift_landmarks(vertices: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """3D landmarks on the visible surface of a photo-frame mesh, from 2D landmarks.

    For each landmark, of the :data:`LIFT_NEIGHBOURS` vertices nearest it in (x, y), the
    front-most one (largest z) gives the depth: the landmark lies on the surface the camera
    sees, not on the back of the head.

    Parameters
    ----------
    vertices : array_like, shape (N, 3)
        Mesh vertices in photo pixels (x, y, z), z toward the camera.
    landmarks : array_like, shape (68, 2)
        Landmarks (x, y) in photo pixels.

    Returns
    -------
    np.ndarray, shape (68, 3), float64
        (x, y) of the landmarks and z of the chosen vertices.

    Examples
    --------
    >>> v = np.array([[0.0, 0, 1], [0, 0, 5], [9, 9, 0]])
    >>> points = np.column_stack([np.linspace(0, 1, 68), np.linspace(0, 1, 68)])
    >>> lift_landmarks(v, points)[0]  # the front-most of the 3 vertices nearest (0, 0)
    array([0., 0., 5.])
    """
    points = validate_landmarks(landmarks)
    v = np.asarray(vertices, dtype=np.float64)
    k = min(LIFT_NEIGHBOURS, len(v))
    _, index = cKDTree(v[:, :2]).query(points, k=k)
    index = np.asarray(index).reshape(len(points), k)
    return np.column_stack([points, v[index, 2].max(axis=1)])


def sample_photos(folder: str | os.PathLike[str]) -> list[Path]:
    """The photos of a folder in the folder format, sorted; nothing else is read yet.

    Raises
    ------
    DatasetError
        The folder does not exist or holds no photo.
    """
    root = _existing_dir(folder)
    photos = _photos(root)
    if not photos:
        raise DatasetError(f"No photos ({', '.join(PHOTO_SUFFIXES)}) in dataset folder {root}")
    return photos


def read_sample(photo: str | os.PathLike[str]) -> Sample:
    """Read the sample of one photo of the folder format: its mesh and landmark files beside it.

    Raises
    ------
    DatasetError
        The mesh or landmark file is missing or malformed (the message names it).
    """
    photo = Path(photo)
    landmarks, landmarks_3d = read_landmarks(_sibling(photo, (LANDMARKS_SUFFIX,)))
    return Sample(photo.stem, photo, read_mesh(_sibling(photo, MESH_SUFFIXES)), landmarks, landmarks_3d)


def iter_samples(folder: str | os.PathLike[str]) -> Iterator[Sample]:
    """The samples of a folder in the folder format (module docstring), sorted by name.

    Parameters
    ----------
    folder : path
        The dataset folder.

    Yields
    ------
    Sample

    Raises
    ------
    DatasetError
        The folder does not exist or has no photo, a photo lacks its mesh or landmark file,
        or a file is malformed (the message names it).
    """
    for photo in sample_photos(folder):
        yield read_sample(photo)


def iter_aflw2000_3d(
    folder: str | os.PathLike[str], *, meshes: str | os.PathLike[str] | None = None
) -> Iterator[Sample]:
    """Samples of the AFLW2000-3D layout: ``image00002.jpg`` + ``image00002.mat``, ...

    Read from each ``.mat`` (with :func:`scipy.io.loadmat`): ``pt3d_68`` (3, 68), the 68 3D
    landmarks in image pixels, 1-based as in MATLAB (converted here to 0-based pixel
    centres); its x, y rows are the 2D landmarks. The other fields (``Shape_Para``,
    ``Exp_Para``, ``Pose_Para``, ...) are the parameters of a fit of the Basel Face Model,
    which cannot be redistributed: the dataset holds no mesh. The user supplies one
    ``NAME.obj`` or ``NAME.ply`` per photo, the 3DMM evaluated with those parameters and
    projected into the photo (e.g. with 3DDFA's code and their own BFM), in the folder
    format's frame (1-based pixels made 0-based, y down, z toward the camera).

    Parameters
    ----------
    folder : path
        The AFLW2000 folder (photos and ``.mat`` files).
    meshes : path, optional
        Where the user's meshes are; by default ``folder`` itself.

    Yields
    ------
    Sample
        With ``landmarks_3d`` from ``pt3d_68``.

    Raises
    ------
    DatasetError
        A photo lacks its ``.mat`` or mesh, or a ``.mat`` has no (3, 68) ``pt3d_68``.
    """
    from scipy.io import loadmat  # scipy.io is slow to import; only this adapter needs it

    root = _existing_dir(folder)
    mesh_root = root if meshes is None else _existing_dir(meshes)
    photos = _photos(root)
    if not photos:
        raise DatasetError(f"No photos ({', '.join(PHOTO_SUFFIXES)}) in AFLW2000-3D folder {root}")
    for photo in photos:
        mat_path = _sibling(photo, (".mat",))
        try:
            pt3d = np.asarray(loadmat(mat_path)["pt3d_68"], dtype=np.float64)
        except KeyError:
            raise DatasetError(f"{mat_path} has no pt3d_68 field (is it an AFLW2000-3D file?)") from None
        except (OSError, ValueError) as exc:
            raise DatasetError(f"Cannot read {mat_path}: {exc}") from exc
        if pt3d.shape != (3, 68) or not np.isfinite(pt3d).all():
            raise DatasetError(f"pt3d_68 in {mat_path} has shape {pt3d.shape}; expected (3, 68) finite numbers")
        landmarks_3d = pt3d.T - [1.0, 1.0, 0.0]
        mesh = read_mesh(_sibling(mesh_root / photo.name, MESH_SUFFIXES))
        yield Sample(photo.stem, photo, mesh, landmarks_3d[:, :2].copy(), landmarks_3d)


def read_300w_lp(photo: str | os.PathLike[str], model: MorphableModel) -> Sample:
    """One 300W-LP (or AFLW2000-3D) photo with its mesh evaluated from the user's morphable model.

    The ``.mat`` beside the photo gives ``Shape_Para``, ``Exp_Para`` and ``Pose_Para``
    (:mod:`vrn_studio.eval.bfm` says how they are applied). The 3D landmarks are the posed
    model's ``kpt_ind`` vertices; the 2D landmarks are ``pt2d`` (2, 68) when the file has
    it (1-based, made 0-based), else the 3D ones' x, y.

    Raises
    ------
    DatasetError
        The ``.mat`` is missing, unreadable or lacks a parameter.
    """
    from scipy.io import loadmat

    photo = Path(photo)
    mat_path = photo.with_suffix(".mat")
    try:
        info = loadmat(mat_path)
    except (OSError, ValueError, NotImplementedError) as exc:
        raise DatasetError(f"Cannot read {mat_path}: {exc}") from exc
    missing = [key for key in ("Shape_Para", "Exp_Para", "Pose_Para") if key not in info]
    if missing:
        raise DatasetError(f"{mat_path} has no {', '.join(missing)}")
    height = _image_height(photo)
    try:
        vertices = pose_vertices(model.vertices(info["Shape_Para"], info["Exp_Para"]), info["Pose_Para"], height)
    except ValueError as exc:
        raise DatasetError(f"{mat_path}: {exc}") from exc
    landmarks_3d = vertices[model.keypoints]
    pt2d = np.asarray(info.get("pt2d", np.zeros((0, 0))), np.float64)
    landmarks = pt2d.T - 1.0 if pt2d.shape == (2, 68) else landmarks_3d[:, :2].copy()
    return Sample(photo.stem, photo, Mesh(vertices, model.triangles), landmarks, landmarks_3d)


def photos_300w_lp(folder: str | os.PathLike[str]) -> list[Path]:
    """The photos with a ``.mat`` beside them under a 300W-LP folder (``AFW/``, ``HELEN/``, ...), sorted.

    Raises
    ------
    DatasetError
        The folder does not exist or holds no such photo.
    """
    root = _existing_dir(folder)
    photos = sorted(p for p in root.rglob("*.jpg") if p.with_suffix(".mat").is_file())
    if not photos:
        raise DatasetError(f"No photos with a .mat beside them under 300W-LP folder {root}")
    return photos


def iter_300w_lp(folder: str | os.PathLike[str], model: str | os.PathLike[str] | None) -> Iterator[Sample]:
    """Samples of the 300W-LP layout, meshes from the user's morphable model file ``model``.

    300W-LP holds ``AFW/``, ``HELEN/``, ``IBUG/``, ``LFPW/`` (and ``*_Flip/``) folders of
    ``NAME.jpg`` + ``NAME.mat``; each sample is named ``<subfolder>/NAME``. The Basel Face
    Model is the user's (see :mod:`vrn_studio.eval.bfm`); it is never bundled.

    Raises
    ------
    DatasetError, ModelFileError
        Missing folder or model (None), no photo, a bad ``.mat``, or an unusable model file.
    """
    root = _existing_dir(folder)
    photos, read = photo_reader(root, "300w-lp", bfm=model)
    for photo in photos:
        sample = read(photo)
        yield Sample(photo.relative_to(root).with_suffix("").as_posix(), photo, sample.mesh,
                     sample.landmarks, sample.landmarks_3d)


def photo_reader(
    folder: str | os.PathLike[str], layout: str, *, bfm: str | os.PathLike[str] | None = None
) -> tuple[list[Path], Callable[[Path], Sample]]:
    """The photos of a ``"folder"`` or ``"300w-lp"`` dataset and the function reading one's sample.

    For readers that fetch samples by index (training); ``bfm`` is the model file 300W-LP needs.

    Raises
    ------
    DatasetError
        Another layout, ``"300w-lp"`` without ``bfm``, a missing folder or no photo.
    ModelFileError
        An unusable model file.
    """
    if layout == "folder":
        return sample_photos(folder), read_sample
    if layout == "300w-lp":
        if bfm is None:
            raise DatasetError("The 300W-LP layout needs the Basel Face Model its meshes are made from (bfm)")
        return photos_300w_lp(folder), partial(read_300w_lp, model=load_morphable_model(bfm))
    raise DatasetError(f"Unknown layout {layout!r} for reading photos one by one. Available: folder, 300w-lp.")


LAYOUTS: tuple[str, ...] = ("folder", "aflw2000", "florence", "300w-lp")
"""Dataset layouts :func:`iter_dataset` reads."""


def iter_dataset(
    folder: str | os.PathLike[str], layout: str = "folder", *, bfm: str | os.PathLike[str] | None = None
) -> Iterator[Sample]:
    """The samples of a dataset in one of :data:`LAYOUTS` (``bfm``: the model file 300W-LP needs).

    Raises
    ------
    DatasetError
        Unknown layout, ``"300w-lp"`` without ``bfm``, or what the layout's reader raises.
    """
    if layout == "300w-lp":
        return iter_300w_lp(folder, bfm)
    readers = {"folder": iter_samples, "aflw2000": iter_aflw2000_3d, "florence": iter_florence}
    if layout not in readers:
        raise DatasetError(f"Unknown dataset layout {layout!r}. Available: {', '.join(LAYOUTS)}.")
    return readers[layout](folder)


def _image_height(photo: Path) -> int:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(photo) as image:
            return int(image.height)
    except (OSError, UnidentifiedImageError) as exc:
        raise DatasetError(f"Cannot read {photo}: {exc}") from exc


def iter_florence(folder: str | os.PathLike[str]) -> Iterator[Sample]:
    """Samples of Florence (MICC) renders: one sub-folder per subject in the folder format.

    The MICC Florence dataset ships 3D scans (VRML, millimetres) and videos, not posed
    photos with aligned meshes; the paper evaluated on renders of the scans. The supported
    layout is therefore ``folder/<subject>/NAME.{jpg,png}`` with its ``NAME.{obj,ply}`` (the
    scan posed as rendered, in the render's pixel frame) and ``NAME.landmarks.json``, as the
    user's renderer writes them; each sample is named ``<subject>/NAME``.

    Parameters
    ----------
    folder : path
        The folder of subject folders.

    Yields
    ------
    Sample

    Raises
    ------
    DatasetError
        No subject folder holds a photo, or a sample is incomplete or malformed.
    """
    root = _existing_dir(folder)
    subjects = sorted(p for p in root.iterdir() if p.is_dir() and _photos(p))
    if not subjects:
        raise DatasetError(f"No subject folders with photos in Florence folder {root}")
    for subject in subjects:
        for sample in iter_samples(subject):
            yield Sample(f"{subject.name}/{sample.name}", sample.image_path, sample.mesh,
                         sample.landmarks, sample.landmarks_3d)


def read_landmarks(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a ``NAME.landmarks.json`` file (module docstring).

    Returns
    -------
    landmarks : np.ndarray, shape (68, 2), float64
    landmarks_3d : np.ndarray or None, shape (68, 3), float64

    Raises
    ------
    DatasetError
        The file is missing, is not JSON, or its arrays have the wrong shape or values.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"Cannot read landmark file {path}: {exc}") from exc
    if not isinstance(data, dict) or "landmarks" not in data:
        raise DatasetError(f"Landmark file {path} needs a JSON object with a 'landmarks' list of 68 [x, y]")
    landmarks = _points(data["landmarks"], 2, path, "landmarks")
    landmarks_3d = None if data.get("landmarks_3d") is None else _points(data["landmarks_3d"], 3, path, "landmarks_3d")
    return landmarks, landmarks_3d


def read_mesh(path: str | os.PathLike[str]) -> Mesh:
    """Read the vertices and triangles of an OBJ or PLY file (module docstring).

    Returns
    -------
    Mesh
        float64 vertices (N, 3), int64 triangles (M, 3); no colours or normals.

    Raises
    ------
    DatasetError
        The file is missing or malformed, has no triangle, or indexes a missing vertex.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"Cannot read mesh file {path}: {exc}") from exc
    try:
        if path.suffix.lower() == ".obj":
            vertices, faces = _parse_obj(data.decode("utf-8", errors="replace"))
        elif path.suffix.lower() == ".ply":
            vertices, faces = _parse_ply(data)
        else:
            raise ValueError(f"unknown mesh extension {path.suffix!r}; use .obj or .ply")
    except (ValueError, IndexError, KeyError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Malformed mesh file {path}: {exc}") from exc
    if len(faces) == 0:
        raise DatasetError(f"Mesh file {path} has no triangles")
    if not np.isfinite(vertices).all():
        raise DatasetError(f"Mesh file {path} has non-finite vertex coordinates")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise DatasetError(
            f"Mesh file {path} has triangles indexing vertex {faces.min() if faces.min() < 0 else faces.max()} "
            f"but {len(vertices)} vertices"
        )
    return Mesh(vertices, faces)


def _parse_obj(text: str) -> tuple[np.ndarray, np.ndarray]:
    vertices: list[list[float]] = []
    faces: list[list[int]] = []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            if parts[0] == "v":
                vertices.append([float(x) for x in parts[1:4]])
                if len(vertices[-1]) != 3:
                    raise ValueError("a vertex needs 3 coordinates")
            elif parts[0] == "f":
                index = [int(p.split("/")[0]) for p in parts[1:]]
                if len(index) < 3:
                    raise ValueError("a face needs at least 3 vertices")
                index = [i - 1 if i > 0 else len(vertices) + i for i in index]
                faces.extend([index[0], index[k], index[k + 1]] for k in range(1, len(index) - 1))
        except ValueError as exc:
            raise ValueError(f"line {number} {line.strip()!r}: {exc}") from None
    return np.array(vertices, np.float64).reshape(-1, 3), np.array(faces, np.int64).reshape(-1, 3)


_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
    "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}


def _parse_ply(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    end = re.search(rb"end_header\r?\n", data)
    if not data.startswith(b"ply") or end is None:
        raise ValueError("not a PLY file (no 'ply' magic or 'end_header')")
    header = data[: end.start()].decode("ascii").splitlines()
    body = data[end.end():]
    fmt = next((line.split()[1] for line in header if line.startswith("format")), None)
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise ValueError(f"unsupported PLY format {fmt!r}")
    elements: list[tuple[str, int, list[list[str]]]] = []
    for line in header:
        parts = line.split()
        if parts[:1] == ["element"]:
            elements.append((parts[1], int(parts[2]), []))
        elif parts[:1] == ["property"]:
            elements[-1][2].append(parts[1:])
    if fmt == "ascii":
        return _ply_ascii(body.decode("ascii").split(), elements)
    return _ply_binary(body, elements, "<" if fmt == "binary_little_endian" else ">")


def _ply_ascii(tokens: list[str], elements: list[tuple[str, int, list[list[str]]]]) -> tuple[np.ndarray, np.ndarray]:
    pos = 0
    vertices, faces = np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    for name, count, props in elements:
        rows = []
        for _ in range(count):
            row: dict[str, list[float]] = {}
            for prop in props:
                if prop[0] == "list":
                    n = int(tokens[pos])
                    row[prop[3]] = [float(t) for t in tokens[pos + 1: pos + 1 + n]]
                    pos += 1 + n
                else:
                    row[prop[1]] = [float(tokens[pos])]
                    pos += 1
            rows.append(row)
        if name == "vertex":
            vertices = np.array([[r["x"][0], r["y"][0], r["z"][0]] for r in rows], np.float64).reshape(-1, 3)
        elif name == "face":
            key = _face_key(props)
            faces = _triangles([np.asarray(r[key], np.int64) for r in rows])
    return vertices, faces


def _ply_binary(
    body: bytes, elements: list[tuple[str, int, list[list[str]]]], order: str
) -> tuple[np.ndarray, np.ndarray]:
    offset = 0
    vertices, faces = np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    for name, count, props in elements:
        fields = []
        for prop in props:
            if prop[0] == "list":  # triangles only: count then 3 indices per face
                fields += [(f"{prop[3]}_n", order + _PLY_TYPES[prop[1]]),
                           (prop[3], order + _PLY_TYPES[prop[2]], (3,))]
            else:
                fields.append((prop[1], order + _PLY_TYPES[prop[0]]))
        table = np.frombuffer(body, np.dtype(fields), count=count, offset=offset)
        offset += table.nbytes
        if name == "vertex":
            vertices = np.column_stack([table["x"], table["y"], table["z"]]).astype(np.float64)
        elif name == "face":
            key = _face_key(props)
            if count and not (table[f"{key}_n"] == 3).all():
                raise ValueError("binary PLY faces must all be triangles")
            faces = table[key].astype(np.int64).reshape(-1, 3)
    return vertices, faces


def _face_key(props: list[list[str]]) -> str:
    for prop in props:
        if prop[0] == "list" and prop[3] in ("vertex_indices", "vertex_index"):
            return prop[3]
    raise ValueError("the face element has no vertex_indices list")


def _triangles(polygons: list[np.ndarray]) -> np.ndarray:
    tris = [[p[0], p[k], p[k + 1]] for p in polygons for k in range(1, len(p) - 1)]
    return np.array(tris, np.int64).reshape(-1, 3)


def _points(value: object, dim: int, path: Path, key: str) -> np.ndarray:
    try:
        points = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        points = np.zeros(0)
    if points.shape != (68, dim) or not np.isfinite(points).all():
        raise DatasetError(
            f"'{key}' in {path} has shape {points.shape}; expected 68 finite points of {dim} coordinates"
        )
    return points


def _existing_dir(folder: str | os.PathLike[str]) -> Path:
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"Dataset folder {root} does not exist or is not a folder")
    return root


def _photos(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)


def _sibling(photo: Path, suffixes: tuple[str, ...]) -> Path:
    """The first existing ``photo`` stem + suffix; DatasetError naming the candidates if none."""
    candidates = [photo.with_name(photo.stem + suffix) for suffix in suffixes]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DatasetError(f"Photo {photo} has no {' or '.join(str(c) for c in candidates)}")
