"""Random heads of the ICT Face Model for synthetic training data: shapes, expressions, jaw contour.

The model itself (:class:`~vrn_studio.headfit.ict.IctModel`, its caps and the shipped subset)
lives in :mod:`vrn_studio.headfit.ict`.

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
within :data:`~vrn_studio.headfit.ict.PARALLEL_HALF_WIDTH` of the landmark's height, on its side of the midline
(midline included) and not behind the model's jawline substitute for k
(``jaw_*_substitutes``, the jaw's outline further back, towards the ear). At moderate yaw a hidden
landmark lands on the cheek's outline; at profile on the face's profile line (nose side,
lips, chin) at its own height, as in 300W-LP. The model's extended jawline alone cannot
serve: at yaw 90 its outermost point lies under the chin, behind the visible surface, and
all eight hidden landmarks would fall on it. Landmarks stay exact: each is a vertex of the
mesh, projected.
"""

from __future__ import annotations

import numpy as np

from vrn_studio.headfit.ict import IctModel

NEUTRAL_PROBABILITY = 0.3
"""Share of heads drawn with a neutral expression."""
FAVOURED = ("jawOpen", "mouthSmile", "eyeBlink", "browInnerUp", "browOuterUp", "browDown", "mouthPucker")
"""Expression groups drawn more often (jaw opening, smiles, blinks, brows, pucker)."""
FAVOURED_WEIGHT = 3.0
"""How much more likely a :data:`FAVOURED` group is drawn than another."""
EXCLUDED_PREFIXES = ("eyeLook", "mouthClose")
"""Blendshapes never drawn: eye gaze (moves the eyeballs, which are not kept) and jawOpen's corrective."""


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
