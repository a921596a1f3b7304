"""What one reconstruction produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vrn_studio.crop import CropTransform
from vrn_studio.face import Face
from vrn_studio.headfit import HeadFit
from vrn_studio.mesh import BumpRemoval, Mesh


@dataclass(frozen=True)
class StageDone:
    """A pipeline stage finished: its name and how long it took, in seconds."""

    name: str
    seconds: float


@dataclass(frozen=True, eq=False)
class Result:
    """Everything one photo-to-mesh run produced.

    Attributes
    ----------
    source : Path or None
        The photo's path, when it came from a file.
    image : np.ndarray, shape (H, W, 3), uint8
        The photo as RGB, orientation applied.
    faces : tuple of Face
        Every face found (best first); ``face`` is the one reconstructed.
    face : Face
        Box, score and 68 landmarks (photo pixels) of the reconstructed face.
    face_index : int
        Its index in ``faces`` (0 = the largest; outputs of several faces are named
        ``STEM_face{face_index + 1}``).
    crop : np.ndarray, shape (192, 192, 3), uint8
        What the network saw.
    transform : CropTransform
        Photo -> crop similarity.
    volume : np.ndarray or None, shape (200, 192, 192), float32
        Occupancy probabilities indexed (depth, y, x); None when no model ran.
    mesh_raw : Mesh or None
        Iso-surface in crop space before bump removal.
    bumps : BumpRemoval or None
        Bump removal outcome: ``bumps.kept`` is the largest body, ``bumps.removed`` the
        detached bodies that were dropped.
    mesh_clean : Mesh or None
        ``bumps.kept`` smoothed and/or decimated (:func:`~vrn_studio.mesh.smooth_mesh`,
        :func:`~vrn_studio.mesh.decimate_mesh`), crop space; None when neither was asked for
        or when a head was fitted (:attr:`head` is then the result's mesh).
    head : HeadFit or None
        The ICT head fitted to the volume and the landmarks (``Reconstructor(head_fit="ict")``);
        its mesh is then :attr:`mesh`. None when no head was fitted.
    mesh_photo : Mesh or None
        The result's mesh (:attr:`mesh`) in photo pixel coordinates, to lay over ``image``.
    timings : dict of str to float
        Seconds per stage, in run order.
    model : str or None
        Name of the model that produced the volume.
    landmarker : str
        Name of the landmark backend that ran (``"manual"`` for hand-given points).
    device : str
        Torch device of the network.
    """

    source: Path | None
    image: np.ndarray
    faces: tuple[Face, ...]
    face: Face
    crop: np.ndarray
    transform: CropTransform
    volume: np.ndarray | None = None
    mesh_raw: Mesh | None = None
    bumps: BumpRemoval | None = None
    mesh_clean: Mesh | None = None
    head: HeadFit | None = None
    mesh_photo: Mesh | None = None
    timings: dict[str, float] = field(default_factory=dict)
    model: str | None = None
    landmarker: str = ""
    device: str = "cpu"
    face_index: int = 0

    @property
    def mesh(self) -> Mesh | None:
        """The crop-space mesh a user gets: the fitted head (:attr:`head`) when one was fitted,
        else the network's mesh cleaned (bump removal, then smoothing and decimation where
        asked for); None when no model ran."""
        if self.head is not None:
            return self.head.mesh
        if self.mesh_clean is not None:
            return self.mesh_clean
        return None if self.bumps is None else self.bumps.kept

    @property
    def removed(self) -> Mesh | None:
        """The geometry bump removal dropped, or None when no model ran."""
        return None if self.bumps is None else self.bumps.removed

    @property
    def landmarks_crop(self) -> np.ndarray:
        """The 68 landmarks in crop pixels, shape (68, 2), float64."""
        return self.transform.to_crop(self.face.landmarks)

    @property
    def total_seconds(self) -> float:
        """Sum of the stage timings, in seconds."""
        return float(sum(self.timings.values()))
