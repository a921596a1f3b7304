"""Fit the ICT Face Model to a network's volume and the face's landmarks: a clean, whole head.

A VRN volume meshed by marching cubes shows its depth bins as terraces, has no ears or neck
where the network is unsure, and carries the network's noise. :func:`fit_head` finds the head
of the ICT Face Model (:mod:`vrn_studio.headfit.ict`: 100 identity modes, 53 expression
blendshapes) and the pose that best explain both

- the 68 landmarks, but for a landmark of the jaw contour (0-7, 9-16) on the side turned
  away from the camera: what that one marks differs between detectors (MediaPipe's mesh puts
  it on the hidden jaw line, iBUG annotations, FAN and the ICT training faces on the visible
  outline), so it is left out, and
- the volume's front surface (:func:`~vrn_studio.mesh.depth_map` with sub-voxel depth):
  each model vertex facing the camera is pulled onto the tangent plane of the surface
  under it (point-to-plane; vertices farther than :data:`GATE` from it are left out as
  occluded or outside what the network saw),

under a Gaussian prior on the weights (identity N(0, 1) per mode, expression N(0, 0.5²)
clipped to [0, 1]). Camera: orthographic along depth, as the crop and the volume are.

Method
------
Alternating least squares, :data:`ITERATIONS` rounds of

1. the pose (scale, rotation, translation) by weighted Procrustes (Umeyama) from the current
   shape's points to their targets (the landmarks at the points' own depth, the surface
   points' projections onto their planes), then
2. the weights by one linear least-squares solve (the residuals are linear in the weights
   for a fixed pose and fixed planes).

The first pose is a scaled orthographic fit of the neutral head's landmarks to the given
ones (an affine camera made orthonormal) and the depth of the front-facing landmarks on the
surface. The units of the residuals are the face's interocular distance (the pose's scale
times the neutral head's), so the weights do not depend on the yaw.

Measured on issue 14's fixed ICT test set (``training/v2/head-fit.sh``; the figures are in
``weights/vrn-studio-guided-v2.md``): the fitted head's NME is 44-63 % below the network's own
mesh at every |yaw|, for both built-in models. Most of that is the head model's: the neutral
ICT head posed from the landmarks alone already scores 0.021-0.023 against the networks'
0.030-0.047, and the landmarks fit identity and expression; the network's surface is worth
3-6 % at |yaw| 60 and 90 and costs 1-3 % at 0 and 30. On faces made from one other template
(v1's MediaPipe set) the fitted head is 10 % worse than v1's mesh frontally, better at 45 and
90 degrees. The head is the model's, so a face outside its range (a child, a beard) is drawn
towards the range, and it has no hair.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

from vrn_studio.eval.icp import similarity_transform
from vrn_studio.headfit.ict import IctModel, load_ict
from vrn_studio.mesh import DEFAULT_LEVEL, Mesh, depth_map, vertex_normals
from vrn_studio.mesh.isosurface import sample_colors

HEAD_FITS: tuple[str, ...] = ("none", "ict")
"""Head fits a :class:`~vrn_studio.Reconstructor` knows: none (the network's mesh) or the ICT head."""
DEFAULT_HEAD_FIT = "ict"
"""The head fit of the command line and the app. The library's default is ``"none"``: a library
caller gets the network's own surface (what the paper's evaluation measures), a user of the
tools gets the fitted head and can turn it off (as with smoothing)."""
ITERATIONS = 10
"""Rounds of pose and weights (10 and 15 rounds, stride 4 and 8 measured the same NME on the ICT test set to 3 %)."""
LANDMARK_SIGMA = 0.02
"""Expected landmark error, interocular distances: the weight of the landmark residuals."""
SURFACE_SIGMA = 0.2
"""Expected surface error, interocular distances: the weight of the surface residuals (about 800
surface points against 68 landmarks). Chosen on validation faces that no test set holds (ICT seed
3000 at |yaw| 0 and 60, MediaPipe seed 1001 frontal, 8 each): 0.2 was better than 0.1 in 9 of 12
(model, set) cells, by up to 11 %; 0.05 lost the ICT heads' shape to the network's noise."""
PRIOR_WEIGHT = 3.0
"""Weight of the Gaussian prior on the identity and expression weights."""
EXPRESSION_SIGMA = 0.5
"""Prior standard deviation of an expression weight."""
GATE = 0.15
"""Surface points farther than this from the surface (interocular distances) are not used."""
FACING = 0.15
"""A vertex takes part in the surface term when its normal's depth component exceeds this."""
POINT_STRIDE = 8
"""Every 8th skin vertex (1,406 of 11,248) may take part in the surface term."""
JAW_CONTOUR = np.array([*range(8), *range(9, 17)])
"""The jaw contour's landmarks but the chin: left out on the side turned away from the camera."""
FIRST_POSE_LANDMARKS = np.array([8, *range(17, 68)])
"""The landmarks of the first pose: the chin and the 51 inner points (where the contour points lie depends on the yaw)."""
_FLIP = np.array([1.0, -1.0, 1.0])  # model frame (y up) -> crop frame (y down)


@dataclass(frozen=True, eq=False)
class HeadFit:
    """A head of the ICT Face Model fitted to one face (:func:`fit_head`).

    Attributes
    ----------
    mesh : Mesh
        The closed head (11,252 vertices: the skin and the caps' centres) in crop space, as
        :func:`~vrn_studio.mesh.volume_to_mesh` gives the network's mesh (x, y in crop
        pixels, z in crop pixels towards the camera), outward normals, colours from the
        crop where one was given.
    identity : np.ndarray, shape (100,), float64
        Identity weights, in standard deviations of the model.
    expression : np.ndarray, shape (53,), float64
        Blendshape weights in [0, 1] (``IctModel.expression_names``).
    scale : float
        Crop pixels per centimetre of the model.
    rotation : np.ndarray, shape (3, 3), float64
        Rotation of the model (y flipped to point down) into the crop frame.
    translation : np.ndarray, shape (3,), float64
        Crop pixels: ``crop = scale * rotation @ (model * (1, -1, 1)) + translation``.
    landmark_error : float
        RMS distance of the fitted 68 landmarks from the given ones, in interocular distances.
    surface_error : float
        RMS point-to-plane distance of the points used from the volume's surface, in
        interocular distances (NaN when none was used).
    surface_points : int
        Model vertices matched to the surface in the last round (0: landmarks alone).
    """

    mesh: Mesh
    identity: np.ndarray
    expression: np.ndarray
    scale: float
    rotation: np.ndarray
    translation: np.ndarray
    landmark_error: float
    surface_error: float
    surface_points: int


@dataclass(frozen=True, eq=False)
class _Basis:
    """The parts of a model the fit reads each round, in float64."""

    mean: np.ndarray  # (P, 3) neutral at the points
    modes: np.ndarray  # (3, P, K) identity then expression offsets at the points, per axis
    mean_landmarks: np.ndarray  # (68, 3)
    modes_landmarks: np.ndarray  # (68, 3, K)
    normals: np.ndarray  # (P, 3) neutral normals, y flipped
    normals_landmarks: np.ndarray  # (68, 3)
    prior: np.ndarray  # (K,) inverse prior variances
    interocular: float  # cm, neutral head


@functools.cache
def _basis(model: IctModel) -> _Basis:
    n = len(model.neutral)
    all_modes = np.concatenate([model.identity, model.expression]).reshape(-1, n, 3)
    points = np.arange(0, n, POINT_STRIDE)
    normals = vertex_normals(Mesh(model.close(model.neutral), model.faces))[:n] * _FLIP
    prior = np.concatenate([np.ones(len(model.identity)), np.full(len(model.expression), EXPRESSION_SIGMA**-2)])
    return _Basis(
        mean=model.neutral[points], modes=np.ascontiguousarray(all_modes[:, points].transpose(2, 1, 0), np.float64),
        mean_landmarks=model.neutral[model.landmarks],
        modes_landmarks=all_modes[:, model.landmarks].transpose(1, 2, 0).astype(np.float64),
        normals=normals[points], normals_landmarks=normals[model.landmarks], prior=PRIOR_WEIGHT * prior,
        interocular=float(np.linalg.norm(model.neutral[model.landmarks[36]] - model.neutral[model.landmarks[45]])),
    )


def prepare_head_model(model: IctModel | None = None) -> IctModel:
    """Load the model (default: the shipped subset) and build the tables :func:`fit_head` reads
    for it, once per process (about 0.3 s), so that the first fit is as fast as the others;
    returns the model."""
    model = model or load_ict()
    _basis(model)
    return model


def fit_head(
    volume: np.ndarray,
    landmarks: np.ndarray,
    *,
    level: float = DEFAULT_LEVEL,
    image: np.ndarray | None = None,
    model: IctModel | None = None,
    iterations: int = ITERATIONS,
    landmark_sigma: float = LANDMARK_SIGMA,
    surface_sigma: float = SURFACE_SIGMA,
) -> HeadFit:
    """Fit the ICT head to a volume's front surface and the face's landmarks (see the module docstring).

    Parameters
    ----------
    volume : np.ndarray, shape (D, H, W), float or uint8
        Occupancy indexed (depth, y, x), as ``Result.volume`` (200 x 192 x 192); a volume
        with no surface leaves the landmarks alone to fit (depth placed mid-volume).
    landmarks : np.ndarray, shape (68, 2)
        The face's landmarks in the volume's pixels (``Result.landmarks_crop``).
    level : float, default: DEFAULT_LEVEL
        Iso level of the surface, in probability units.
    image : np.ndarray, shape (H, W, 3), uint8, optional
        The crop: colours of the head's vertices (sampled where each projects).
    model : IctModel, optional
        The model (default: the shipped subset, :func:`~vrn_studio.headfit.ict.load_ict`).
    iterations : int, default: ITERATIONS
        Rounds of pose and weights.
    landmark_sigma, surface_sigma : float, default: LANDMARK_SIGMA, SURFACE_SIGMA
        Expected error of the landmarks and of the surface, in interocular distances: the
        lower, the more the fit follows them. ``surface_sigma=math.inf`` fits the landmarks
        alone (the surface still gives the first pose's depth).

    Returns
    -------
    HeadFit

    Raises
    ------
    ValueError
        Landmarks not (68, 2) finite points spread over more than a pixel, or a volume
        that is not 3-D.

    Examples
    --------
    >>> import numpy as np
    >>> from vrn_studio.headfit import fit_head
    >>> from vrn_studio.train.synthetic import SyntheticFaces
    >>> face = SyntheticFaces(seed=3).sample(0, yaw=20.0)
    >>> head = fit_head(face.target().astype(np.float32), face.landmarks)
    >>> head.mesh.n_vertices, head.identity.shape, round(head.landmark_error, 2) < 0.05
    (11252, (100,), True)
    """
    with _blas().limit(limits=1, user_api="blas"):  # see _blas
        return _fit_head(volume, landmarks, level, image, model or load_ict(), iterations, landmark_sigma, surface_sigma)


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's BLAS thread pools. The fit's products are small, and OpenBLAS's threads,
    left spinning after them, slowed the network of the next photo by 40-50 ms on 2 cores, so
    the fit runs its BLAS on one thread (33 ms a fit)."""
    return ThreadpoolController()


def _fit_head(
    volume: np.ndarray, landmarks: np.ndarray, level: float, image: np.ndarray | None, model: IctModel,
    iterations: int, landmark_sigma: float, surface_sigma: float,
) -> HeadFit:
    volume = np.asarray(volume)
    marks = np.asarray(landmarks, np.float64)
    if volume.ndim != 3:
        raise ValueError(f"volume must be (depth, height, width); got shape {volume.shape}")
    if marks.shape != (68, 2) or not np.isfinite(marks).all():
        raise ValueError(f"landmarks must be 68 finite (x, y) points; got shape {marks.shape}")
    if not (landmark_sigma > 0 and surface_sigma > 0):
        raise ValueError(f"the sigmas must be positive; got {landmark_sigma}, {surface_sigma}")
    if np.ptp(marks, axis=0).max() <= 1.0:
        raise ValueError("the landmarks lie within one pixel: no face to fit")
    basis = _basis(model)
    surface = depth_map(volume, level=level, subvoxel=True).astype(np.float64)
    has_surface = ~np.isnan(surface)
    slope_y, slope_x = np.gradient(np.where(has_surface, surface, np.nanmean(surface) if has_surface.any() else 0.0))
    scale, rotation, shift = _first_pose(model, basis, marks, surface, default_depth=volume.shape[0] * 0.25)
    weights = np.zeros(basis.modes.shape[2])
    n_identity = len(model.identity)
    unit = scale * basis.interocular
    residuals = np.zeros(0)
    for _ in range(iterations):
        points = basis.mean + (basis.modes @ weights).T
        mark_used = _landmarks_used(basis, rotation)
        marks_3d = basis.mean_landmarks + basis.modes_landmarks @ weights
        posed = scale * (points * _FLIP) @ rotation.T + shift
        posed_marks = scale * (marks_3d * _FLIP) @ rotation.T + shift
        under = _bilinear(surface, posed[:, 0], posed[:, 1])
        used = ((basis.normals @ rotation.T)[:, 2] > FACING) & ~np.isnan(under)
        used &= np.abs(posed[:, 2] - np.nan_to_num(under)) < GATE * unit
        planes = _unit_rows(np.column_stack([-_bilinear(slope_x, *posed[used, :2].T),
                                             -_bilinear(slope_y, *posed[used, :2].T), np.ones(used.sum())]))
        on_surface = np.column_stack([posed[used, :2], under[used]])
        residuals = ((posed[used] - on_surface) * planes).sum(axis=1)
        # 1. Pose: the current shape onto the landmarks (at their own depth) and the surface's planes.
        sources = np.concatenate([marks_3d, points[used]]) * _FLIP
        targets = np.concatenate([np.column_stack([marks, posed_marks[:, 2]]),
                                  posed[used] - planes * residuals[:, None]])
        trust = np.concatenate([mark_used * landmark_sigma**-2, np.full(used.sum(), surface_sigma**-2)])
        scale, rotation, shift = _procrustes(sources, targets, trust)
        unit = scale * basis.interocular
        # 2. Weights: linear least squares for this pose and these planes.
        linear = scale * rotation * _FLIP
        mark_rows = np.einsum("ij,njk->nik", linear[:2], basis.modes_landmarks[mark_used]).reshape(-1, len(weights))
        mark_gap = (marks - (basis.mean_landmarks @ linear.T + shift)[:, :2])[mark_used].reshape(-1)
        along = planes @ linear  # each plane's normal pulled back to the model frame
        plane_rows = sum(along[:, axis, None] * basis.modes[axis][used] for axis in range(3))
        plane_gap = -(((basis.mean[used] @ linear.T + shift) - on_surface) * planes).sum(axis=1)
        mark_trust = (landmark_sigma * unit) ** -2
        plane_trust = (surface_sigma * unit) ** -2
        normal = mark_trust * mark_rows.T @ mark_rows + plane_trust * plane_rows.T @ plane_rows
        weights = np.linalg.solve(normal + np.diag(basis.prior),
                                  mark_trust * mark_rows.T @ mark_gap + plane_trust * plane_rows.T @ plane_gap)
        weights[n_identity:] = np.clip(weights[n_identity:], 0.0, 1.0)
    skin = model.neutral + (weights[:n_identity].astype(np.float32) @ model.identity
                            + weights[n_identity:].astype(np.float32) @ model.expression).reshape(-1, 3)
    mesh = _posed_head(model, skin, scale * rotation * _FLIP, shift, image)
    mark_used = _landmarks_used(basis, rotation)
    fitted_marks = mesh.vertices[model.landmarks[mark_used], :2]
    return HeadFit(
        mesh=mesh, identity=weights[:n_identity].copy(), expression=weights[n_identity:].copy(),
        scale=float(scale), rotation=rotation, translation=shift,
        landmark_error=float(np.sqrt(((fitted_marks - marks[mark_used]) ** 2).sum(axis=1).mean()) / unit),
        surface_error=float(np.sqrt((residuals**2).mean()) / unit) if residuals.size else float("nan"),
        surface_points=int(residuals.size),
    )


def expression_rig(
    head: HeadFit, *, image: np.ndarray | None = None, model: IctModel | None = None
) -> tuple[Mesh, np.ndarray, tuple[str, ...]]:
    """The fitted head as a rig: its identity with a neutral expression, and the model's 53
    expression blendshapes as displacements at the head's pose.

    Parameters
    ----------
    head : HeadFit
        A fit of ``model`` (:func:`fit_head`), decimated or not: the rig has the model's topology.
    image : np.ndarray, shape (H, W, 3), uint8, optional
        The crop: the base's vertex colours, sampled where each vertex projects (as :func:`fit_head`).
    model : IctModel, optional
        The model it was fitted with (default: the shipped subset).

    Returns
    -------
    base : Mesh
        The head with every expression weight 0, in the crop space of ``head.mesh``, outward
        normals, colours from ``image``.
    targets : np.ndarray, shape (53, 11252, 3), float32
        Blendshape k's displacement of every vertex at weight 1 (crop pixels).
    names : tuple of str
        The blendshapes' ARKit names (``IctModel.expression_names``).

    ``base.vertices + head.expression @ targets`` is the undecimated ``head.mesh.vertices``
    (float32 rounding): the blendshapes at the fitted weights give the fitted head back.

    Raises
    ------
    ValueError
        The head's weights do not fit the model's modes (fitted with another model).
    """
    model = model or load_ict()
    if head.identity.shape != (len(model.identity),) or head.expression.shape != (len(model.expression),):
        raise ValueError("the head's weights do not match the model's modes: it was fitted with another model")
    linear = head.scale * head.rotation * _FLIP  # model offsets (cm) -> crop pixels
    skin = model.neutral + (head.identity.astype(np.float32) @ model.identity).reshape(-1, 3)
    base = _posed_head(model, skin, linear, head.translation, image)
    shapes = model.expression.reshape(len(model.expression), -1, 3)
    targets = np.stack([model.close(shape.astype(np.float64)) @ linear.T for shape in shapes]).astype(np.float32)
    return base, targets, model.expression_names


def _posed_head(
    model: IctModel, skin: np.ndarray, linear: np.ndarray, shift: np.ndarray, image: np.ndarray | None
) -> Mesh:
    """The closed head of ``skin`` (N, 3) cm, posed into crop pixels by ``linear`` (3, 3; scale,
    rotation and the y flip) and ``shift`` (3,), outward normals, colours sampled from ``image``."""
    vertices = model.close(skin) @ linear.T + shift
    colors = None if image is None else sample_colors(np.asarray(image), vertices[:, 0], vertices[:, 1])
    mesh = Mesh(vertices, model.faces[:, ::-1])  # the y flip mirrors: reversed winding stays outward
    return Mesh(mesh.vertices, mesh.faces, colors, vertex_normals(mesh))


def _landmarks_used(basis: _Basis, rotation: np.ndarray) -> np.ndarray:
    """Which of the 68 landmarks the fit uses at this pose (bool): all but the jaw contour's
    (:data:`JAW_CONTOUR`) whose vertex turns away from the camera (neutral normals, rotated)."""
    used = np.ones(len(basis.normals_landmarks), bool)
    facing = (basis.normals_landmarks @ rotation.T)[:, 2] >= 0
    used[JAW_CONTOUR] = facing[JAW_CONTOUR]
    return used


def _first_pose(
    model: IctModel, basis: _Basis, marks: np.ndarray, surface: np.ndarray, default_depth: float
) -> tuple[float, np.ndarray, np.ndarray]:
    """Scaled orthographic pose of the neutral head's :data:`FIRST_POSE_LANDMARKS` onto the given
    ones: an affine camera made orthonormal; depth from the surface under the front-facing landmarks."""
    target = marks[FIRST_POSE_LANDMARKS]
    model_marks = model.neutral[model.landmarks[FIRST_POSE_LANDMARKS]] * _FLIP
    centred = model_marks - model_marks.mean(axis=0)
    camera = np.linalg.lstsq(centred, target - target.mean(axis=0), rcond=None)[0].T  # (2, 3)
    left, singular, right = np.linalg.svd(camera, full_matrices=False)
    rows = left @ right
    rotation = np.vstack([rows, np.cross(rows[0], rows[1])])
    scale = float(singular.mean())
    shift = np.zeros(3)
    shift[:2] = target.mean(axis=0) - scale * (rotation @ model_marks.mean(axis=0))[:2]
    depth = scale * (model_marks @ rotation.T)[:, 2]
    under = _bilinear(surface, target[:, 0], target[:, 1])
    front = ((basis.normals_landmarks[FIRST_POSE_LANDMARKS] @ rotation.T)[:, 2] > 0.3) & ~np.isnan(under)
    shift[2] = np.median(under[front] - depth[front]) if front.any() else default_depth - depth.mean()
    return scale, rotation, shift


def _procrustes(
    source: np.ndarray, target: np.ndarray, weights: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Weighted similarity (scale, rotation, translation) taking ``source`` (N, 3) onto ``target``."""
    transform = similarity_transform(source, target, scale=True, weights=weights)
    scale = float(np.cbrt(np.linalg.det(transform[:3, :3])))
    return scale, transform[:3, :3] / scale, transform[:3, 3]


def _bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``image`` (H, W) at points (x, y), bilinear, clamped at the border; NaN where a corner is NaN."""
    h, w = image.shape
    x = np.clip(x, 0.0, w - 1.001)
    y = np.clip(y, 0.0, h - 1.001)
    x0, y0 = x.astype(np.intp), y.astype(np.intp)
    fx, fy = x - x0, y - y0
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)
