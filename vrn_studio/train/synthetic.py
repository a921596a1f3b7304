"""Synthetic training faces: posed, textured renders with their exact mesh, landmarks and volume.

VRN's training data (300W-LP) needs the Basel Face Model, which cannot be bundled. This
module makes offline training data from one of two shape sources, so a model trained on it
carries no licence restriction of its own (both are shipped in ``resources/``):

``"ict"`` (the default)
    The ICT Face Model (MIT licence; :mod:`vrn_studio.train.ict`): whole heads with ears and
    neck from 100 identity modes of light-stage scans and 53 expression blendshapes; eyes
    and mouth capped, so the volume is a solid head.
``"mediapipe"``
    The MediaPipe canonical face mesh (``resources/canonical_face_model.obj``, Apache 2.0;
    468 vertices, the front of a neutral head) deformed at random (below); the source of
    the built-in model v1's data.

One sample, all drawn from ``numpy.random.default_rng((seed, index))`` (the same seed and
index always give the same sample, on any machine):

1. **Shape**: ICT: :func:`vrn_studio.train.ict.sample_head`. MediaPipe: the template,
   Loop-subdivided twice (7,257 vertices; the coarse mesh shows its
   facets in a volume), then deformed smoothly: anisotropic scale (width, height, depth),
   six random Gaussian-weighted displacements (radius 2-4.5 cm, 0.3 cm typical), nose
   length and height, and an **expression**: jaw opening (the lips stay joined, as in a
   3DMM fit), smile (mouth corners out and up), brow raise.
2. **Pose**: yaw uniform in ``[-max_yaw, max_yaw]`` (90 degrees by default: full profile),
   pitch in +-25, roll in +-35 degrees; scaled orthographic projection, like VRN's volumes.
3. **Framing**: the release's crop rule (:func:`vrn_studio.crop.release_transform`) on the
   projected 68 landmarks, exactly as a photo is cropped by the pipeline; depth is scaled
   alike and the landmarks' mean depth is put at the middle of the volume (both sources: the
   face is what the grid must hold; of a whole head, parts away from the face may leave the
   grid, see :attr:`IctSource.whole_head`).
4. **Texture**: either a real face photo from ``resources/`` (public domain; mapped by an
   affine fit of the template's inner landmarks to the photo's, randomly mirrored) or a
   procedural skin (tone, low-frequency blotches, darker brows, eyes and lips); then
   Lambertian shading from a random light, per-channel colour scaling (0.7-1.3, the
   paper's colour augmentation).
5. **Background**: procedural clutter (smooth multi-scale colour noise, random discs and
   rectangles); sensor noise and blur on the whole image.

The 68 landmarks are vertices of the mesh, projected, so they are exact. ICT: the model's
Multi-PIE vertices, the hidden side's jaw contour moved to the jawline's silhouette
(:func:`vrn_studio.train.ict.jaw_landmarks`, 3DDFA's convention). MediaPipe: the widely used
MediaPipe -> iBUG-68 correspondence :data:`MEDIAPIPE_TO_IBUG68`; at large yaw its jaw points
are the 3D ones, not the visible silhouette a 2D detector marks.

Target volumes (``fill``)
-------------------------
A target is stored as one or two depth maps, one depth index per pixel column, and made
into a volume by :func:`volume_from_front`: binary, or with ``soft`` anti-aliased (each
voxel's fraction inside the solid along depth).

``"solid"`` (closed heads: the default of the ``"ict"`` source)
    The head's interior, the paper's "1 inside the face, 0 out": in each column the span
    from the *back* surface (the farthest crossing, :func:`vrn_studio.train.voxelise.back_surface`
    over the triangles facing away from the camera) to the *front* surface (the nearest
    crossing, the visible one), clipped to the grid. Where the back surface lies in the grid
    (ears, under the chin, a turned head's far cheek at moderate yaw) the target stops there.
    The release's framing makes a head deeper than the grid (200 bins are 100 px at 192 px,
    about 14 cm frontal, 9 cm at profile, where the crop is tighter) and the face is centred
    in depth, so most columns still reach the back of the grid (the test set, seed 2000, 30
    faces, 96 px: 97 % of the covered columns at |yaw| 0, 94 % at 30, 85 % at 60, 49 % at 90,
    where the hidden half of the face lies in the grid, closed by its back surface) and at
    profile the near side of the head (ear, temple, the jaw by the ear) is cut flat at the
    front of the grid (23 % of the covered columns at |yaw| 90, none below 60).
``"behind"`` (open faces: the ``"mediapipe"`` source, and model v1's data)
    Everything behind the front surface, down to the back of the grid:
    :func:`vrn_studio.train.voxelise.voxelise` with ``fill="behind"``.

``"auto"`` picks ``"solid"`` for a closed head and ``"behind"`` for an open face.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from vrn_studio._io import atomic_open, atomic_write
from vrn_studio.crop import CROP_SIZE, release_transform, resize_points
from vrn_studio.eval.dataset import LANDMARKS_SUFFIX, read_mesh
from vrn_studio.export import export_obj
from vrn_studio.face.mediapipe import MEDIAPIPE_TO_IBUG68
from vrn_studio.headfit.ict import ICT_PATH, load_ict
from vrn_studio.image import load_image
from vrn_studio.mesh import Mesh, euler_rotation, face_normals, vertex_normals
from vrn_studio.mesh.raster import front_surface
from vrn_studio.pipeline.save import write_png
from vrn_studio.train.augment import FLIP_PERMUTATION
from vrn_studio.train.config import SYNTHETIC_SOURCES as SOURCES
from vrn_studio.train.ict import jaw_landmarks, sample_head
from vrn_studio.train.voxelise import back_surface

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
TEMPLATE_PATH = RESOURCES / "canonical_face_model.obj"
"""The MediaPipe canonical face mesh (Apache 2.0; units cm, y up, face towards +z)."""
TEXTURE_PHOTOS: tuple[str, ...] = ("astronaut.png", "grace_hopper.jpg")
"""Public-domain photos of ``resources/`` used as face textures (landmarks in
``resources/face_landmarks.json``)."""

DEPTH_BINS = 200
"""Depth bins of the release's volume over its 192 px crop."""
Z_SCALE = 0.5
"""Crop pixels of depth per depth bin (the paper's depth stretched x2)."""
FILLS: tuple[str, ...] = ("auto", "solid", "behind")
"""Target fills (see the module docstring); ``"auto"``: ``"solid"`` for a closed head, else ``"behind"``."""
SIZES: tuple[int, ...] = (192, 96, 48, 24)
"""Crop sides a sample can be made at: the release's 192 px divided by 1, 2, 4 or 8 (with
200, 100, 50 or 25 depth bins), so every grid keeps pixel and voxel centres aligned."""

_SKIN_TONES = np.array(
    [[0.96, 0.80, 0.69], [0.92, 0.72, 0.60], [0.85, 0.64, 0.50], [0.76, 0.55, 0.42],
     [0.62, 0.43, 0.31], [0.48, 0.32, 0.22], [0.36, 0.24, 0.17], [0.98, 0.86, 0.78]]
)


@dataclass(frozen=True)
class Template:
    """A face template: vertices (N, 3) in cm (y up, +z towards the viewer), triangles
    (M, 3) and the vertex index of each iBUG-68 landmark (68,)."""

    vertices: np.ndarray
    faces: np.ndarray
    landmarks: np.ndarray


@lru_cache(maxsize=4)
def load_template(path: str | None = None, subdivisions: int = 2) -> Template:
    """The canonical face mesh, Loop-subdivided ``subdivisions`` times (landmark vertices keep
    their indices; subdivision appends the new vertices)."""
    from trimesh.remesh import subdivide_loop

    mesh = read_mesh(path or TEMPLATE_PATH)
    vertices, faces = mesh.vertices.astype(np.float64), mesh.faces
    if subdivisions:
        vertices, faces = subdivide_loop(vertices, faces, iterations=subdivisions)
    return Template(np.asarray(vertices, np.float64), np.asarray(faces, np.int64),
                    np.asarray(MEDIAPIPE_TO_IBUG68, np.int64))


@lru_cache(maxsize=1)
def _texture_photos() -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    marks = json.loads((RESOURCES / "face_landmarks.json").read_text(encoding="utf-8"))
    return tuple((load_image(RESOURCES / name), np.asarray(marks[name], np.float64)) for name in TEXTURE_PHOTOS)


@dataclass(frozen=True)
class SyntheticFace:
    """One synthetic sample, in the frame of the crop the network sees.

    Attributes
    ----------
    image : np.ndarray, shape (size, size, 3), uint8
        The rendered crop (RGB).
    landmarks : np.ndarray, shape (68, 2), float64
        iBUG-68 landmarks (x, y) in crop pixels (pixel centres at integers).
    landmarks_3d : np.ndarray, shape (68, 3), float64
        The same with depth z (crop pixels, larger = nearer the camera).
    vertices : np.ndarray, shape (N, 3), float64
        The exact mesh, (x, y, z) in crop pixels as above (depth index = z / 0.5).
    faces : np.ndarray, shape (M, 3), int64
        Its triangles.
    landmark_vertices : np.ndarray, shape (68,), int64
        The vertex of each landmark: ``landmarks_3d == vertices[landmark_vertices]``.
    front : np.ndarray, shape (size, size), float32
        Depth index of the front surface over each pixel centre (``-inf`` where there is
        none; it may lie in front of the grid, index > D - 0.5, where a whole head's near side
        leaves it at profile: the target clips it).
    yaw, pitch, roll : float
        Head pose in degrees (yaw > 0 turns the face towards the image's left).
    back : np.ndarray, shape (size, size), float32, or None
        Depth index of the back surface over each pixel centre (``+inf`` where there is
        none; it may lie below the grid, index < -0.5) for the ``"solid"`` fill; None for
        ``"behind"``. The target volume is :meth:`target`, i.e.
        ``volume_from_front(front, depth_bins, back=back)``.
    """

    image: np.ndarray
    landmarks: np.ndarray
    landmarks_3d: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray
    landmark_vertices: np.ndarray
    front: np.ndarray
    yaw: float
    pitch: float
    roll: float
    back: np.ndarray | None = None

    def target(self, *, soft: bool = False) -> np.ndarray:
        """The target volume (D, size, size), D = ``200 * size / 192``: :func:`volume_from_front`
        of :attr:`front` and :attr:`back` (bool, or float32 with ``soft``)."""
        return volume_from_front(self.front, DEPTH_BINS * len(self.front) // CROP_SIZE, back=self.back, soft=soft)


def volume_from_front(
    front: np.ndarray, depth_bins: int = DEPTH_BINS, *, back: np.ndarray | None = None, soft: bool = False
) -> np.ndarray:
    """The target volume (D, H, W) of a front-surface depth-index map (H, W), and a back one for a solid.

    Without ``back`` (the ``"behind"`` fill) the solid is everything behind the front
    surface; with ``back`` (the ``"solid"`` fill) it is the span ``[back, front]`` of each
    column. Depth indices: voxel ``d`` has its centre at ``d`` and spans ``[d - 0.5, d + 0.5]``;
    the grid spans ``[-0.5, D - 0.5]`` and clips the solid.

    Binary (bool): voxel (d, y, x) is filled when its centre lies in the solid,
    ``back[y, x] <= d <= front[y, x]`` (without ``back``: ``d <= front[y, x]``, see
    :mod:`vrn_studio.train.voxelise`). A back surface below the grid (``back < 0``) gives
    exactly the ``"behind"`` volume.

    ``soft`` (float32 in [0, 1], anti-aliased): each voxel holds the fraction of its depth
    extent ``[d - 0.5, d + 0.5]`` inside the solid, ``clip(min(front, d + 0.5) - max(back, d - 0.5), 0, 1)``
    (without ``back``: ``clip(front + 0.5 - d, 0, 1)``): 1 inside, fractional in the voxels the
    surfaces cross, 0 outside. A column's sum is the exact length of its solid clipped to the
    grid, ``max(0, min(front, D - 0.5) - max(back, -0.5))``, and ``soft >= 0.5`` is exactly
    the binary volume wherever the span is at least one voxel long (``front - back >= 1``)
    or reaches below the grid. A thinner span (a sliver at a silhouette) holds the voxel
    centres it contains in the binary volume but less than 0.5 of any voxel in the soft one.

    Parameters
    ----------
    front : np.ndarray, shape (H, W), float
        Depth index of the front surface per column, ``-inf`` where the column is empty.
    depth_bins : int, default: 200
        D.
    back : np.ndarray, shape (H, W), float, optional
        Depth index of the back surface per column (``+inf`` where empty; below -0.5 where
        the solid leaves the back of the grid).
    soft : bool, default: False
        Anti-aliased fractions instead of a binary volume.

    Returns
    -------
    np.ndarray, shape (D, H, W)
        bool, or float32 with ``soft``.

    Examples
    --------
    >>> volume_from_front(np.array([[1.5, -np.inf]]), 3)[:, 0, :].astype(int).tolist()
    [[1, 0], [1, 0], [0, 0]]
    >>> volume_from_front(np.array([[1.25]]), 3, soft=True)[:, 0, 0].tolist()
    [1.0, 0.75, 0.0]
    >>> volume_from_front(np.array([[3.0]]), 5, back=np.array([[0.75]]))[:, 0, 0].astype(int).tolist()
    [0, 1, 1, 1, 0]
    >>> volume_from_front(np.array([[3.0]]), 5, back=np.array([[0.75]]), soft=True)[:, 0, 0].tolist()
    [0.0, 0.75, 1.0, 0.5, 0.0]
    """
    front = np.asarray(front)[None]
    depth = np.arange(depth_bins)[:, None, None]
    if back is not None:
        back = np.asarray(back)[None]
    if soft:
        # The overlap measured from the voxel's back face d - 0.5: min(front, d + 0.5) - max(back, d - 0.5).
        fraction = np.minimum(front + 0.5 - depth, 1.0)
        if back is not None:
            fraction -= np.maximum(back + 0.5 - depth, 0.0)
        return np.clip(fraction, 0.0, 1.0).astype(np.float32)
    inside = depth <= front
    return inside if back is None else inside & (depth >= back)


class MediaPipeSource:
    """Shape source ``"mediapipe"``: the canonical face deformed by :func:`deform` (model v1's data).

    Parameters
    ----------
    template : Template, optional
        The face template (default: :func:`load_template`).
    """

    name = "mediapipe"
    whole_head = False
    """An open face, placed in depth by its landmarks (as ICT heads are; see :attr:`IctSource.whole_head`)."""

    def __init__(self, template: Template | None = None) -> None:
        self.template = template or load_template()

    def shape(self, rng: np.random.Generator) -> np.ndarray:
        """A random identity and expression: vertices (N, 3) in cm."""
        return deform(self.template, rng)

    def landmark_vertices(self, posed: np.ndarray, roll: float) -> np.ndarray:
        """The vertex (68,) of each landmark: the template's, whatever the pose."""
        return self.template.landmarks


class IctSource:
    """Shape source ``"ict"``: heads of the ICT Face Model (:mod:`vrn_studio.train.ict`).

    Parameters
    ----------
    path : path, optional
        The model subset (default: :data:`vrn_studio.headfit.ict.ICT_PATH`).

    Attributes
    ----------
    template : Template
        The neutral closed head (for the textures), its triangles and the 68 landmark vertices.
    """

    name = "ict"
    whole_head = True
    """A closed head wound outward: outward normals shade it and back-facing triangles are left out of
    the z-buffer (they are never in front on a closed surface).

    It is placed in depth as the open face is (the 68 landmarks' mean depth at the middle of the
    grid), since the face region is what the network must get right. At profile the head is deeper
    than the grid, and its near side then leaves the grid's front: the ear, the temple and the jaw
    contour and brow end by the ear lie up to ~60 depth bins (200-bin grid) in front of the landmarks'
    mean, so their columns are cut flat at the grid's front (their front map lies beyond the grid; the
    image and landmarks still show them); the nose, eyes and mouth, and the hidden half of the face,
    stay in the grid. Version 4 instead moved the head back until its nearest point was in the last
    depth bin, which put the hidden half of the face behind the grid (solid oracle NME 0.053 at
    |yaw| 90 on the ICT test set; 0.018 with this placement, measured on 10 faces per |yaw|)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = path
        self.model = load_ict(path or ICT_PATH)
        self.template = Template(self.model.close(self.model.neutral), self.model.faces, self.model.landmarks)

    def __reduce__(self) -> tuple[type, tuple[str | Path | None]]:
        # Worker processes reload the (cached) model file instead of receiving ~20 MB of modes.
        return IctSource, (self.path,)

    def shape(self, rng: np.random.Generator) -> np.ndarray:
        """A random identity and expression (:func:`~vrn_studio.train.ict.sample_head`): (N, 3) cm."""
        return sample_head(self.model, rng)

    def landmark_vertices(self, posed: np.ndarray, roll: float) -> np.ndarray:
        """The vertex (68,) of each landmark, the hidden jaw contour on its silhouette
        (:func:`~vrn_studio.train.ict.jaw_landmarks`); ``posed`` (N, 3) in the template frame."""
        normals = vertex_normals(Mesh(posed, self.template.faces))
        return jaw_landmarks(self.model, posed, normals, roll)


def make_source(name: str) -> IctSource | MediaPipeSource:
    """The shape source called ``name`` (one of :data:`SOURCES`, ``("ict", "mediapipe")``)."""
    if name == "ict":
        return IctSource()
    if name == "mediapipe":
        return MediaPipeSource()
    raise ValueError(f"unknown synthetic source {name!r}; available: {', '.join(SOURCES)}")


def resolve_fill(fill: str, source: IctSource | MediaPipeSource) -> str:
    """The target fill (one of :data:`FILLS`) for a shape source: ``"auto"`` resolved to
    ``"solid"`` for a closed head (``source.whole_head``) or ``"behind"``; ``"solid"`` of an
    open face is refused (it has no back surface)."""
    if fill not in FILLS:
        raise ValueError(f"unknown fill {fill!r}; available: {', '.join(FILLS)}")
    if fill == "auto":
        return "solid" if source.whole_head else "behind"
    if fill == "solid" and not source.whole_head:
        raise ValueError(f"fill 'solid' needs a closed head; the {source.name!r} source is an open face")
    return fill


class SyntheticFaces:
    """Deterministic generator of :class:`SyntheticFace` samples (see the module docstring).

    Parameters
    ----------
    seed : int, default: 0
        Sample ``i`` is drawn from ``numpy.random.default_rng((seed, i))``.
    size : {192, 96, 48, 24}, default: 192
        Side of the crop in pixels. The face is always rendered at the release's 192 px and
        framed by its rule; a smaller size is the area-average of that render (what a
        network trained at that size receives from the pipeline's 192 px crop), with the
        landmarks and the volume on the smaller grid (pixel and voxel centres aligned:
        ``u' = (u + 0.5) * size / 192 - 0.5``, the same in depth).
    max_yaw : float, default: 90.0
        Largest absolute yaw in degrees.
    template : Template, optional
        A face template for the ``"mediapipe"`` source (default: :func:`load_template`).
    source : {"ict", "mediapipe"}, default: "ict"
        The shape source (see the module docstring).
    fill : {"auto", "solid", "behind"}, default: "auto"
        The target volume (see the module docstring): ``"solid"`` (closed heads only) also
        renders the back surface (:attr:`SyntheticFace.back`); ``"auto"`` is ``"solid"`` for
        the ``"ict"`` source and ``"behind"`` for ``"mediapipe"``. The fill changes no image,
        landmark or mesh.

    Attributes
    ----------
    depth_bins : int
        Depth bins of the target volume: ``200 * size / 192``.
    source : IctSource or MediaPipeSource
        The shape source.
    fill : {"solid", "behind"}
        The fill, ``"auto"`` resolved.

    Examples
    --------
    >>> faces = SyntheticFaces(seed=1, size=48)
    >>> face = faces.sample(0)
    >>> face.image.shape, face.landmarks.shape, face.front.shape, faces.depth_bins
    ((48, 48, 3), (68, 2), (48, 48), 50)
    >>> bool((faces.sample(0).image == face.image).all())
    True
    """

    def __init__(
        self, seed: int = 0, *, size: int = CROP_SIZE, max_yaw: float = 90.0, template: Template | None = None,
        source: str = SOURCES[0], fill: str = "auto",
    ) -> None:
        if size not in SIZES:
            raise ValueError(f"size must be one of {', '.join(map(str, SIZES))}; got {size!r}")
        if not 0 <= max_yaw <= 90:
            raise ValueError(f"max_yaw must be between 0 and 90 degrees; got {max_yaw}")
        self.seed = seed
        self.size = size
        self.depth_bins = DEPTH_BINS * size // CROP_SIZE
        self.max_yaw = float(max_yaw)
        if template is not None and source != "mediapipe":
            raise ValueError(f"a template is a shape for the 'mediapipe' source, not {source!r}")
        self.source = MediaPipeSource(template) if source == "mediapipe" else make_source(source)
        self.fill = resolve_fill(fill, self.source)

    def sample(self, index: int, *, yaw: float | None = None) -> SyntheticFace:
        """Sample ``index``; ``yaw`` (degrees) overrides the drawn yaw (for held-out sets)."""
        rng = np.random.default_rng((self.seed, index))
        t = self.source.template
        shape = self.source.shape(rng)
        colours = texture(t, rng)
        drawn_yaw = rng.uniform(-self.max_yaw, self.max_yaw)
        pitch, roll = rng.uniform(-25, 25), rng.uniform(-35, 35)
        yaw = drawn_yaw if yaw is None else float(yaw)
        rotation = rotation_matrix(yaw, pitch, roll)
        posed = shape @ rotation.T
        whole = self.source.whole_head
        colours = colours * shading(posed, t.faces, rng, outward=whole)[:, None] * rng.uniform(0.7, 1.3, 3)
        landmarks = self.source.landmark_vertices(posed, roll)
        # Image frame: x right, y down, z towards the camera; then the release framing.
        image_space = posed * [1.0, -1.0, 1.0]
        crop = release_transform(image_space[landmarks, :2])
        vertices = np.column_stack([crop.to_crop(image_space[:, :2]), image_space[:, 2] * crop.scale])
        # Both sources: the landmarks' mean depth at the middle of the grid (see IctSource.whole_head
        # for what of a closed head that leaves outside the grid).
        vertices[:, 2] += DEPTH_BINS * Z_SCALE / 2 - vertices[landmarks, 2].mean()
        faces = back_faces = t.faces
        if whole:
            # Front-facing triangles only (flipping y mirrored the winding: outward is -face_normals);
            # the others hold the back surface of the closed head.
            facing = face_normals(Mesh(vertices, faces))[:, 2] < 0
            faces, back_faces = faces[facing], faces[~facing]
        image = background(CROP_SIZE, rng)
        front, pixel, triangle, weights = front_surface(vertices, faces, CROP_SIZE, CROP_SIZE)
        rgb = (weights[:, :, None] * colours[faces[triangle]]).sum(axis=1)
        image.reshape(-1, 3)[pixel] = np.clip(rgb, 0, 1)
        image = finish(image, rng)
        if self.size != CROP_SIZE:
            image = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA)
            # Depth indices move like pixel indices (d' = (d + 0.5) / k - 0.5), in crop pixels here.
            vertices = resize_points(vertices / [1.0, 1.0, Z_SCALE], CROP_SIZE, self.size) * [1.0, 1.0, Z_SCALE]
            front = front_surface(vertices, faces, self.size, self.size)[0]
        back = None
        if self.fill == "solid":
            back = (back_surface(vertices, back_faces, self.size, self.size) / Z_SCALE).astype(np.float32)
        marks = vertices[landmarks]
        return SyntheticFace(
            image=image, landmarks=marks[:, :2].copy(), landmarks_3d=marks, vertices=vertices, faces=t.faces,
            landmark_vertices=np.asarray(landmarks, np.int64), front=(front / Z_SCALE).astype(np.float32),
            yaw=float(yaw), pitch=float(pitch), roll=float(roll), back=back,
        )


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation (3, 3) of a head in the template frame (y up, +z to the viewer), degrees.

    ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)``: pitch about x (positive tilts the chin up),
    then yaw about y (positive turns the face towards +x, the image's right as seen
    in the template frame), then roll in the image plane.
    """
    return euler_rotation(*np.radians([pitch, yaw, roll]))


def _bump(points: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian weight (N,) of each point around ``centre`` with standard deviation ``radius``."""
    return np.exp(-((points - centre) ** 2).sum(axis=1) / (2 * radius**2))


def deform(template: Template, rng: np.random.Generator) -> np.ndarray:
    """A random identity and expression of the template: vertices (N, 3) in cm."""
    v = template.vertices.copy()
    mark = template.landmarks
    neutral = template.vertices
    v *= [rng.uniform(0.88, 1.12), rng.uniform(0.9, 1.1), rng.uniform(0.8, 1.2)]
    for centre in neutral[rng.choice(len(neutral), 6, replace=False)]:
        v += _bump(neutral, centre, rng.uniform(2.0, 4.5))[:, None] * rng.normal(0, 0.3, 3)
    nose = _bump(neutral, neutral[mark[30]], 1.4)
    v[:, 2] += nose * rng.uniform(-0.5, 0.7)
    v[:, 1] += nose * rng.uniform(-0.3, 0.3)
    if rng.random() < 0.4:  # jaw opening: everything below the lips' parting line moves down
        parting = neutral[mark[[62, 66]], 1].mean()
        below = np.clip((parting - neutral[:, 1]) / 0.4, 0, 1) * _bump(neutral, neutral[mark[57]], 6.0)
        v[:, 1] -= below * rng.uniform(0.2, 1.6)
        v[:, 2] -= below * rng.uniform(0.0, 0.4)
    smile = rng.uniform(0, 0.5)
    for corner, side in ((48, -1.0), (54, 1.0)):
        weight = _bump(neutral, neutral[mark[corner]], 1.0)[:, None]
        v += weight * [side * smile * 0.6, smile, -0.2 * smile]
    brows = sum(_bump(neutral, neutral[mark[k]], 1.2) for k in (19, 24))
    v[:, 1] += np.minimum(brows, 1.0) * rng.uniform(-0.2, 0.5)
    return v


def texture(template: Template, rng: np.random.Generator) -> np.ndarray:
    """Vertex colours (N, 3) in [0, 1] before shading: a real photo's face or a procedural skin."""
    if rng.random() < 0.5:
        return _photo_texture(template, rng)
    return _procedural_texture(template, rng)


def _photo_texture(template: Template, rng: np.random.Generator) -> np.ndarray:
    photos = _texture_photos()
    photo, marks = photos[rng.integers(len(photos))]
    if rng.random() < 0.5:  # a mirrored copy of the face
        photo = photo[:, ::-1]
        marks = np.column_stack([photo.shape[1] - 1 - marks[:, 0], marks[:, 1]])[FLIP_PERMUTATION]
    # Affine fit of the template's frontal (x, -y) inner landmarks (brows to mouth) onto the photo's.
    inner = np.arange(17, 68)
    source = template.vertices[template.landmarks[inner], :2] * [1.0, -1.0]
    design = np.column_stack([source, np.ones(len(inner))])
    affine, *_ = np.linalg.lstsq(design, marks[inner], rcond=None)
    points = np.column_stack([template.vertices[:, :2] * [1.0, -1.0], np.ones(len(template.vertices))]) @ affine
    maps = points.astype(np.float32)[None]
    colours = cv2.remap(np.ascontiguousarray(photo), maps[..., 0], maps[..., 1], cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REFLECT)[0]
    return colours.astype(np.float64) / 255.0


def _procedural_texture(template: Template, rng: np.random.Generator) -> np.ndarray:
    v = template.vertices
    mark = template.landmarks
    skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.9, 1.1, 3)
    colours = np.tile(skin, (len(v), 1))
    for centre in v[rng.choice(len(v), 8, replace=False)]:
        colours *= 1 + _bump(v, centre, rng.uniform(1.0, 3.0))[:, None] * rng.normal(0, 0.08, 3)
    regions = (
        (range(17, 27), 0.5, rng.uniform(0.15, 0.6), (1.0, 0.9, 0.85)),  # brows
        (range(36, 48), 0.35, rng.uniform(0.2, 0.6), (1.0, 1.0, 1.0)),  # eyes
        (range(48, 68), 0.45, rng.uniform(0.6, 0.9), (1.0, 0.75, 0.8)),  # lips
    )
    for indices, radius, darkness, tint in regions:
        weight = np.max([_bump(v, v[mark[k]], radius) for k in indices], axis=0)[:, None]
        colours = colours * (1 - weight) + weight * colours * darkness * np.asarray(tint)
    return np.clip(colours, 0, 1)


def shading(
    vertices: np.ndarray, faces: np.ndarray, rng: np.random.Generator, *, outward: bool = False
) -> np.ndarray:
    """Lambertian shading factor (N,) of posed vertices under a random light from the camera side.

    ``outward``: the triangles are wound with normals out of a closed head; otherwise (an open
    face of consistent winding) the normals are flipped, if need be, to face the camera overall.
    """
    normals = vertex_normals(Mesh(vertices, faces)).astype(np.float64)
    if not outward:
        normals *= np.sign((normals[:, 2]).sum())
    light = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(0.4, 1.5)])
    light /= np.linalg.norm(light)
    ambient = rng.uniform(0.35, 0.7)
    return ambient + (1.1 - ambient) * np.clip(normals @ light, 0, 1)


def background(size: int, rng: np.random.Generator) -> np.ndarray:
    """Procedural clutter (size, size, 3) float32 in [0, 1]: multi-scale colour noise and shapes."""
    image = np.zeros((size, size, 3), np.float32)
    for cells, weight in ((2, 0.6), (6, 0.3), (24, 0.1)):
        grid = rng.uniform(0, 1, (cells, cells, 3)).astype(np.float32)
        image += weight * cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    for _ in range(rng.integers(0, 6)):
        colour = tuple(float(c) for c in rng.uniform(0, 1, 3))
        centre = tuple(int(c) for c in rng.integers(0, size, 2))
        extent = int(rng.integers(size // 16, size // 3))
        if rng.random() < 0.5:
            cv2.circle(image, centre, extent, colour, -1)
        else:
            cv2.rectangle(image, centre, (centre[0] + extent, centre[1] + extent // 2), colour, -1)
    return np.clip(image, 0, 1)


def finish(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera blur and noise on a float image in [0, 1]; uint8 (H, W, 3) out."""
    blur = rng.uniform(0, 1.0)
    if blur > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    image = image * 255 + rng.normal(0, rng.uniform(0, 5), image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


class SyntheticDataset(Dataset):
    """``count`` samples of :class:`SyntheticFaces` as a torch Dataset, made once and kept.

    The samples are rendered when the dataset is built (in ``workers`` processes), kept in
    memory as compact arrays (crop uint8, landmarks, front-surface map and, for the
    ``"solid"`` fill, back-surface map; about 65 kB per sample at 96 px, 102 kB with the back
    map) and, with ``cache``, saved to / reloaded from a ``.npz`` file whose name records
    every parameter of the rendering, so a resumed run does not render them again.

    The volume is made from the maps in ``__getitem__``, so ``soft`` is not part of the cache:
    a binary and a soft run given the same ``cache`` folder, ``count``, ``size``, ``seed``,
    ``max_yaw``, ``source`` and ``fill`` share one file (the first renders and writes it, the
    other reads it; two started at once both render, and the file written last is kept).

    Parameters
    ----------
    count : int
        Number of samples (indices 0 .. count - 1 of the generator).
    size : {192, 96, 48, 24}, default: 192
        Crop side; the volume has ``200 * size / 192`` depth bins.
    seed : int, default: 0
        Generator seed.
    max_yaw : float, default: 90.0
        Largest absolute yaw in degrees.
    source : {"ict", "mediapipe"}, default: "ict"
        The generator's shape source (see the module docstring).
    fill : {"auto", "solid", "behind"}, default: "auto"
        The target volume (see the module docstring): ``"solid"`` for ``"ict"``,
        ``"behind"`` for ``"mediapipe"`` unless named.
    soft : bool, default: False
        Anti-aliased targets (:func:`volume_from_front` with ``soft``) instead of binary ones.
    cache : path, optional
        Folder for the ``.npz`` cache, named
        ``synthetic-v<GENERATOR_VERSION>-<source>-<fill>-seed<seed>-n<count>-size<size>-yaw<max_yaw>.npz``
        (shared by binary and soft targets: it holds the depth maps both are made from).
    workers : int, default: 0
        Processes rendering the samples (used for more than 256 samples; 0 or 1: render
        in this process).
    progress : bool, default: False
        Show a tqdm bar while rendering.

    Attributes
    ----------
    images : np.ndarray, shape (count, size, size, 3), uint8
    landmarks : np.ndarray, shape (count, 68, 2), float32
    fronts : np.ndarray, shape (count, size, size), float32
        :attr:`SyntheticFace.front` of each sample.
    backs : np.ndarray, shape (count, size, size), float32, or None
        :attr:`SyntheticFace.back` of each sample (``"solid"``); None for ``"behind"``.
    cache_path : Path or None
        The cache file, when ``cache`` is given.

    Items are dicts like :class:`~vrn_studio.train.FolderDataset`'s: ``image`` (3, size,
    size) float32 in [0, 1], ``volume`` (D, size, size) float32 in {0, 1} (binary) or
    [0, 1] (``soft``), ``landmarks`` (68, 2) float32 crop pixels.
    """

    def __init__(
        self, count: int, *, size: int = CROP_SIZE, seed: int = 0, max_yaw: float = 90.0,
        source: str = SOURCES[0], fill: str = "auto", soft: bool = False,
        cache: str | Path | None = None, workers: int = 0, progress: bool = False,
    ) -> None:
        if not (isinstance(count, int) and count >= 1):
            raise ValueError(f"count must be a positive integer; got {count!r}")
        self.faces = SyntheticFaces(seed, size=size, max_yaw=max_yaw, source=source, fill=fill)
        self.depth_bins = self.faces.depth_bins
        self.soft = soft
        fill = self.faces.fill
        name = f"synthetic-v{GENERATOR_VERSION}-{source}-{fill}-seed{seed}-n{count}-size{size}-yaw{max_yaw:g}.npz"
        self.cache_path = Path(cache) / name if cache is not None else None
        if self.cache_path is not None and self.cache_path.is_file():
            with np.load(self.cache_path) as data:
                arrays = {key: data[key] for key in data.files}
        else:
            arrays = _render_all(self.faces, count, workers, progress)
            if self.cache_path is not None:
                self.cache_path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_open(self.cache_path, overwrite=True) as out:
                    np.savez(out, **arrays)
        self.images, self.landmarks, self.fronts = arrays["images"], arrays["landmarks"], arrays["fronts"]
        self.backs: np.ndarray | None = arrays["backs"] if fill == "solid" else None

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        back = None if self.backs is None else self.backs[index]
        volume = volume_from_front(self.fronts[index], self.depth_bins, back=back, soft=self.soft)
        return {
            "image": torch.from_numpy(self.images[index]).permute(2, 0, 1).float().div_(255),
            "volume": torch.from_numpy(volume).float(),
            "landmarks": torch.from_numpy(self.landmarks[index]),
        }


GENERATOR_VERSION = 5
"""Bumped whenever a change to the generator changes its samples (invalidates caches).
Version 2: the template read through :func:`vrn_studio.eval.dataset.read_mesh` (float32
coordinates) and shaded with :func:`vrn_studio.mesh.vertex_normals`; samples differ from
version 1 (which made the built-in model's data) only by float rounding. Version 3: the ICT
Face Model source, the default (``source="mediapipe"`` makes version 2's samples unchanged);
cache names record the source. Version 4: the ``"solid"`` fill, the ICT source's default
(its samples gain the back-surface map; images, landmarks, meshes and front maps are version
3's); cache names record the fill. Version 5: ICT heads placed in depth by the landmarks alone,
as the MediaPipe face (no more moving the head back to keep its near side in the grid; see
:attr:`IctSource.whole_head`): ICT samples at large yaw (about 60 degrees and more) differ in
their meshes, landmark depths and depth maps (images and 2D landmarks are unchanged).
``"mediapipe"`` samples and volumes are unchanged."""


def _render_range(faces: SyntheticFaces, indices: range) -> dict[str, np.ndarray]:
    samples = [faces.sample(i) for i in indices]
    arrays = {
        "images": np.stack([s.image for s in samples]),
        "landmarks": np.stack([s.landmarks for s in samples]).astype(np.float32),
        "fronts": np.stack([s.front for s in samples]),
    }
    if faces.fill == "solid":
        arrays["backs"] = np.stack([s.back for s in samples])
    return arrays


def _render_all(faces: SyntheticFaces, count: int, workers: int, progress: bool) -> dict[str, np.ndarray]:
    """Samples 0 .. count - 1 as stacked arrays (see :class:`SyntheticDataset`'s attributes)."""
    chunks = [range(start, min(start + 64, count)) for start in range(0, count, 64)]
    bar = tqdm(total=count, desc="rendering synthetic faces", unit="face", disable=not progress)
    parts = []
    if workers > 1 and count > 256:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for part, chunk in zip(pool.map(_render_range, [faces] * len(chunks), chunks), chunks, strict=True):
                parts.append(part)
                bar.update(len(chunk))
    else:
        for chunk in chunks:
            parts.append(_render_range(faces, chunk))
            bar.update(len(chunk))
    bar.close()
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def write_folder(
    faces: SyntheticFaces,
    folder: str | Path,
    count: int,
    *,
    yaw: float | None = None,
    first: int = 0,
    overwrite: bool = False,
) -> list[Path]:
    """Write samples ``first .. first + count - 1`` in the dataset folder format; return the photos.

    Each sample ``NAME`` (``synthetic-<seed>-<index>``) becomes ``NAME.png`` (the crop, as
    the photo), ``NAME.obj`` (its exact mesh, in the photo's pixels, z towards the camera)
    and ``NAME.landmarks.json`` (2D and 3D landmarks): what :mod:`vrn_studio.eval.dataset`
    reads, so ``vrn-studio evaluate`` measures a model on them. ``yaw`` (degrees) fixes the
    pose's yaw, its sign alternating from one sample to the next (left and right profiles).
    Files are written atomically; existing ones are kept unless ``overwrite``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    photos = []
    for index in range(first, first + count):
        signed = None if yaw is None else (yaw if index % 2 == 0 else -yaw)
        face = faces.sample(index, yaw=signed)
        stem = folder / f"synthetic-{faces.seed}-{index:05d}"
        photos.append(write_png(stem.with_suffix(".png"), face.image, overwrite=overwrite))
        atomic_write(stem.with_suffix(".obj"), export_obj(Mesh(face.vertices, face.faces)), overwrite=overwrite)
        marks = {
            "landmarks": np.round(face.landmarks, 4).tolist(),
            "landmarks_3d": np.round(face.landmarks_3d, 4).tolist(),
            "pose_degrees": {"yaw": face.yaw, "pitch": face.pitch, "roll": face.roll},
        }
        atomic_write(Path(f"{stem}{LANDMARKS_SUFFIX}"), (json.dumps(marks) + "\n").encode(), overwrite=overwrite)
    return photos
