"""The ICT Face Model (light) as a source of synthetic heads: real head shapes, expressions, jaw contour.

The model (ICT-FaceKit, USC Institute for Creative Technologies, MIT licence) is a linear
morphable head: 100 identity modes (principal components of light-stage scans) and 53
ARKit-style expression blendshapes on one topology. VRN Studio ships the part it needs in
``resources/ict_face_model_subset.npz`` (made by ``scripts/make_ict_subset.py``; notice and
provenance in ``resources/README.md``): the skin of the head, i.e. the face, the head and the
neck with the ears (the model's first 11,248 vertices), without the mouth and eye sockets,
gums, tongue, teeth, eyeballs, lacrimal, blend and occlusion meshes and eyelashes.

The solid
---------
The skin is open at four boundary loops: the two eyelid rims, the inner lip line and the
bottom of the neck. Each loop is capped by a fan of triangles around one extra vertex at
the loop's mean, recomputed for every shape, so the head is a closed surface (every edge
shared by two triangles) and its front surface never looks into an eye socket or the mouth:
the eyes are flat membranes across the lid opening (a closed eye is the lids meeting; the
eyeball's bulge is not modelled) and an open mouth is a membrane across the inner lip line.
The triangles are wound so that the normals point out of the head.

Shapes
------
:func:`sample_head`: identity ``neutral + w @ identity_modes`` with ``w ~ N(0, 1)`` per mode
(the toolkit's own sampler); expression: neutral with probability
:data:`NEUTRAL_PROBABILITY`, else 1 to 3 groups of blendshapes (a group is a shape or its
``_L`` / ``_R`` pair) drawn without replacement, jaw opening, smiles, blinks, brows and
pucker :data:`FAVOURED_WEIGHT` times as likely as the others; a group's weight is uniform in
[0.2, 1] and each side of a pair keeps 70-100 % of it (mild asymmetry). Eye-gaze shapes
(they move the eyeballs, which are not kept) and ``mouthClose`` (a corrective of jawOpen)
are never drawn.

Landmarks
---------
The 68 landmarks are the model's Multi-PIE vertices. The jaw contour (0-7 and 9-16) follows
3DDFA's landmark marching (Zhu et al., CVPR 2016, the convention of 300W-LP and
AFLW2000-3D): each contour landmark has a *parallel*, a horizontal line of the face, and a
landmark whose vertex faces away from the camera (its outward normal has a negative depth
component in the posed head, so it cannot be on the visible surface) moves to the point of
its parallel lying farthest outward in the image (along the head's sideways axis after
roll, towards that side of the face): the visible outline of the face at that height. The
parallel of landmark k is built on the neutral face: the vertices of the narrow face area
within :data:`PARALLEL_HALF_WIDTH` of the landmark's height, on its side of the midline
(midline included) and not behind the model's jawline substitute for k
(``jaw_*_substitutes``, the jaw's outline further back, towards the ear). At moderate yaw a hidden
landmark lands on the cheek's outline; at profile on the face's profile line (nose side,
lips, chin) at its own height, as in 300W-LP. The model's extended jawline alone cannot
serve: at yaw 90 its outermost point lies under the chin, behind the visible surface, and
all eight hidden landmarks would fall on it. Landmarks stay exact: each is a vertex of the
mesh, projected.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from vrn_studio.mesh import Mesh, signed_volume

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
ICT_PATH = RESOURCES / "ict_face_model_subset.npz"
"""The shipped subset of the ICT Face Model (see ``resources/README.md``)."""

NEUTRAL_PROBABILITY = 0.3
"""Share of heads drawn with a neutral expression."""
FAVOURED = ("jawOpen", "mouthSmile", "eyeBlink", "browInnerUp", "browOuterUp", "browDown", "mouthPucker")
"""Expression groups drawn more often (jaw opening, smiles, blinks, brows, pucker)."""
FAVOURED_WEIGHT = 3.0
"""How much more likely a :data:`FAVOURED` group is drawn than another."""
NARROW_FACE = 6706
"""Vertices 0-6705: the model's narrow face area (no ears, scalp or neck)."""
PARALLEL_HALF_WIDTH = 0.3
"""Half-height in cm of the horizontal band of face vertices forming a jaw landmark's parallel."""
EXCLUDED_PREFIXES = ("eyeLook", "mouthClose")
"""Blendshapes never drawn: eye gaze (moves the eyeballs, which are not kept) and jawOpen's corrective."""


@dataclass(frozen=True, eq=False)
class IctModel:
    """The skin of the ICT Face Model, capped into a closed head.

    Attributes
    ----------
    neutral : np.ndarray, shape (N, 3), float64
        The generic neutral skin in cm (y up, face towards +z), N = 11,248.
    faces : np.ndarray, shape (M, 3), int64
        The skin's triangles and the caps' fans; cap ``i``'s centre is vertex ``N + i``.
        Wound so that normals point out of the head.
    identity : np.ndarray, shape (100, 3 N), float32
        Identity modes (offsets in cm, flattened (x, y, z) per vertex).
    expression : np.ndarray, shape (53, 3 N), float32
        Expression blendshapes (offsets in cm for weight 1).
    expression_names : tuple of str
        Their ARKit names (``_L`` / ``_R`` for the subject's left / right).
    loops : tuple of np.ndarray
        The capped boundary loops (vertex rings): inner lips, neck, two eyelid rims.
    landmarks : np.ndarray, shape (68,), int64
        Vertex of each iBUG-68 landmark.
    jaw_candidates : dict of int to np.ndarray
        For each jaw landmark 0-7 and 9-16: the vertices of its parallel (see the module
        docstring).
    """

    neutral: np.ndarray
    faces: np.ndarray
    identity: np.ndarray
    expression: np.ndarray
    expression_names: tuple[str, ...]
    loops: tuple[np.ndarray, ...]
    landmarks: np.ndarray
    jaw_candidates: dict[int, np.ndarray]

    def close(self, skin: np.ndarray) -> np.ndarray:
        """Skin vertices (N, 3) with the caps' centres appended: (N + loops, 3), same unit."""
        return np.concatenate([skin, np.stack([skin[ring].mean(axis=0) for ring in self.loops])])


@lru_cache(maxsize=2)
def load_ict(path: str | Path | None = None) -> IctModel:
    """Read the shipped subset (or ``path``, written by ``scripts/make_ict_subset.py``) and cap it."""
    with np.load(path or ICT_PATH) as data:
        neutral = data["neutral"].astype(np.float64)
        n = len(neutral)
        triangles = data["triangles"].astype(np.int64)
        loops = tuple(row[row >= 0].astype(np.int64) for row in data["loops"])
        identity = data["identity_modes"].astype(np.float32).reshape(len(data["identity_modes"]), -1)
        expression = data["expression_modes"].astype(np.float32).reshape(len(data["expression_modes"]), -1)
        names = tuple(str(name) for name in data["expression_names"])
        landmarks = data["landmarks68"].astype(np.int64)
        substitutes = np.concatenate([data["jaw_right_substitutes_0_7"], data["jaw_left_substitutes_9_16"]])
    directed = set(map(tuple, triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2).tolist()))
    fans = []
    for index, ring in enumerate(loops):
        # A cap triangle walks each boundary edge against the skin's triangle on it (consistent winding).
        if (int(ring[0]), int(ring[1])) in directed:
            ring = ring[::-1]
        fans.append(np.column_stack([ring, np.roll(ring, -1), np.full(len(ring), n + index)]))
    faces = np.concatenate([triangles, *fans])
    closed = np.concatenate([neutral, np.stack([neutral[ring].mean(axis=0) for ring in loops])])
    if signed_volume(Mesh(closed, faces)) < 0:
        faces = faces[:, ::-1].copy()
    face = neutral[:NARROW_FACE]
    candidates = {}
    for k, substitute in zip([*range(8), *range(9, 17)], substitutes.tolist(), strict=True):
        side = -1.0 if k < 8 else 1.0
        height, back = neutral[landmarks[k], 1], neutral[substitute, 2]
        band = (np.abs(face[:, 1] - height) <= PARALLEL_HALF_WIDTH) & (side * face[:, 0] >= 0) & (face[:, 2] >= back)
        candidates[k] = np.flatnonzero(band)
    return IctModel(neutral, faces, identity, expression, names, loops, landmarks, candidates)


def _expression_groups(names: tuple[str, ...]) -> list[tuple[str, list[int]]]:
    """Blendshape groups (a shape, or its _L / _R pair) that may be drawn, in the model's order."""
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        if name.startswith(EXCLUDED_PREFIXES):
            continue
        groups.setdefault(name.removesuffix("_L").removesuffix("_R"), []).append(index)
    return list(groups.items())


def sample_expression(model: IctModel, rng: np.random.Generator) -> np.ndarray:
    """Blendshape weights (53,) in [0, 1]: neutral, or 1 to 3 groups (see the module docstring)."""
    weights = np.zeros(len(model.expression_names))
    if rng.random() < NEUTRAL_PROBABILITY:
        return weights
    groups = _expression_groups(model.expression_names)
    odds = np.array([FAVOURED_WEIGHT if name in FAVOURED else 1.0 for name, _ in groups])
    chosen = rng.choice(len(groups), size=int(rng.integers(1, 4)), replace=False, p=odds / odds.sum())
    for group in chosen:
        indices = groups[group][1]
        weights[indices] = rng.uniform(0.2, 1.0) * rng.uniform(0.7, 1.0, len(indices))
    return weights


def sample_head(model: IctModel, rng: np.random.Generator) -> np.ndarray:
    """A random identity with a random expression, capped: vertices (N + loops, 3) in cm."""
    identity = rng.standard_normal(len(model.identity))
    expression = sample_expression(model, rng)
    offsets = identity.astype(np.float32) @ model.identity + expression.astype(np.float32) @ model.expression
    return model.close(model.neutral + offsets.reshape(-1, 3))


def jaw_landmarks(model: IctModel, posed: np.ndarray, normals: np.ndarray, roll: float) -> np.ndarray:
    """Vertex of each of the 68 landmarks for a posed head, the hidden jaw contour on its silhouette.

    Parameters
    ----------
    model : IctModel
        The model (landmark vertices and the jaw landmarks' parallels).
    posed : np.ndarray, shape (N', 3)
        The posed head (template frame: x right, y up, +z towards the camera).
    normals : np.ndarray, shape (N', 3)
        Its outward vertex normals.
    roll : float
        The head's roll in degrees (the image-plane rotation applied last).

    Returns
    -------
    np.ndarray, shape (68,), int64
        Vertex indices; see the module docstring for the rule.
    """
    vertices = model.landmarks.copy()
    sideways = np.array([np.cos(np.radians(roll)), np.sin(np.radians(roll))])
    for k, candidates in model.jaw_candidates.items():
        if normals[vertices[k], 2] >= 0:
            continue
        outward = (-1.0 if k < 8 else 1.0) * posed[candidates, :2] @ sideways
        vertices[k] = candidates[int(np.argmax(outward))]
    return vertices
