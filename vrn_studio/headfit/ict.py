"""The ICT Face Model (light): a linear morphable head, loaded from the subset VRN Studio ships.

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

Users
-----
:mod:`vrn_studio.headfit` fits the model to a network's volume and the landmarks (the
head a user gets); :mod:`vrn_studio.train.ict` draws random heads from it for training.
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
NARROW_FACE = 6706
"""Vertices 0-6705: the model's narrow face area (no ears, scalp or neck)."""
PARALLEL_HALF_WIDTH = 0.3
"""Half-height in cm of the horizontal band of face vertices forming a jaw landmark's parallel."""


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
