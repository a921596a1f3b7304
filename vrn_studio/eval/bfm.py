"""The user's Basel Face Model, evaluated with 300W-LP / AFLW2000-3D fitting parameters.

300W-LP (VRN's training set) and AFLW2000-3D ship, for every photo, a ``.mat`` file with the
parameters of a 3DMM fit (3DDFA's) but no mesh: the mesh needs the Basel Face Model, whose
licence forbids redistribution. The user obtains it and gives its path; nothing of it is
bundled.

The model file
--------------
A MATLAB ``.mat`` (read with :func:`scipy.io.loadmat`) holding, at the top level or in a
``model`` struct (the ``BFM.mat`` that face3d's and 3DDFA's scripts build from
``01_MorphableModel.mat`` and 3DDFA's expression basis):

- ``shapeMU`` (3N, 1): mean shape, stored x0, y0, z0, x1, ...; plus ``expMU`` if present;
- ``shapePC`` (3N, K): shape basis (K = 199 in 300W-LP's fits);
- ``expPC`` (3N, L): expression basis (L = 29);
- ``tri`` (M, 3) or (3, M): triangles, 1-based;
- ``kpt_ind`` (68,): 1-based vertex index of each iBUG-68 landmark.

The fitting parameters
----------------------
``Shape_Para`` (K, 1), ``Exp_Para`` (L, 1) (the first columns of the bases are used when
the model has more), ``Pose_Para`` (1, 7) = pitch, yaw, roll (radians), tx, ty, tz, scale.
As in 3DDFA's MATLAB code, ``R = Rx(pitch) @ Ry(yaw) @ Rz(roll)`` (its transposed
convention, :func:`rotation_3ddfa`), ``v' = s * R @ v + t``, and the image row is
``height + 1 - y'`` in 1-based MATLAB pixels; here both axes are then made 0-based (pixel
centres at integers), z stays towards the camera.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from vrn_studio.errors import VrnStudioError
from vrn_studio.mesh import euler_rotation


class ModelFileError(VrnStudioError):
    """The morphable model file is missing, unreadable or lacks a field (named in the message)."""


@dataclass(frozen=True)
class MorphableModel:
    """A linear 3D face model: ``vertices = mean + shape_basis @ a + expression_basis @ b``.

    Attributes
    ----------
    mean : np.ndarray, shape (3N,)
    shape_basis : np.ndarray, shape (3N, K)
    expression_basis : np.ndarray, shape (3N, L)
    triangles : np.ndarray, shape (M, 3), int64, 0-based
    keypoints : np.ndarray, shape (68,), int64, 0-based vertex indices of the iBUG-68 landmarks
    """

    mean: np.ndarray
    shape_basis: np.ndarray
    expression_basis: np.ndarray
    triangles: np.ndarray
    keypoints: np.ndarray

    def vertices(self, shape_para: np.ndarray, exp_para: np.ndarray) -> np.ndarray:
        """Model vertices (N, 3) for the parameters (the first K, L of each are used)."""
        a = np.asarray(shape_para, np.float64).reshape(-1)
        b = np.asarray(exp_para, np.float64).reshape(-1)
        k = min(len(a), self.shape_basis.shape[1])
        m = min(len(b), self.expression_basis.shape[1])
        flat = self.mean + self.shape_basis[:, :k] @ a[:k] + self.expression_basis[:, :m] @ b[:m]
        return flat.reshape(-1, 3)


@lru_cache(maxsize=2)
def load_morphable_model(path: str | os.PathLike[str]) -> MorphableModel:
    """Read the user's model file (see the module docstring).

    Raises
    ------
    ModelFileError
        The file cannot be read or misses a field.
    """
    from scipy.io import loadmat

    path = Path(path)
    try:
        data = loadmat(path)
    except (OSError, ValueError, NotImplementedError) as exc:
        raise ModelFileError(f"cannot read the morphable model {path}: {exc}") from exc
    if "model" in data:
        struct = data["model"][0, 0]
        data = {name: struct[name] for name in struct.dtype.names}
    missing = [key for key in ("shapeMU", "shapePC", "expPC", "tri", "kpt_ind") if key not in data]
    if missing:
        raise ModelFileError(f"the morphable model {path} has no {', '.join(missing)}")
    mean = np.asarray(data["shapeMU"], np.float64).reshape(-1)
    if "expMU" in data:
        mean = mean + np.asarray(data["expMU"], np.float64).reshape(-1)
    tri = np.asarray(data["tri"], np.int64)
    if tri.shape[0] == 3 and tri.shape[1] != 3:
        tri = tri.T
    keypoints = np.asarray(data["kpt_ind"], np.int64).reshape(-1) - 1
    n = len(mean) // 3
    shape_basis = np.asarray(data["shapePC"], np.float64)
    expression_basis = np.asarray(data["expPC"], np.float64)
    if (
        len(mean) != 3 * n or shape_basis.shape[0] != len(mean) or expression_basis.shape[0] != len(mean)
        or tri.ndim != 2 or tri.shape[1] != 3 or keypoints.shape != (68,)
        or tri.min() < 1 or tri.max() > n or keypoints.min() < 0 or keypoints.max() >= n
    ):
        raise ModelFileError(f"the morphable model {path} has inconsistent sizes")
    return MorphableModel(mean, shape_basis, expression_basis, tri - 1, keypoints)


def rotation_3ddfa(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """3DDFA's rotation (3, 3) from ``Pose_Para``'s angles in radians (``Rx @ Ry @ Rz``, transposed form)."""
    return euler_rotation(pitch, yaw, roll).T  # = Rx(-pitch) @ Ry(-yaw) @ Rz(-roll)


def pose_vertices(vertices: np.ndarray, pose_para: np.ndarray, image_height: int) -> np.ndarray:
    """Model vertices (N, 3) posed into the photo: 0-based pixels, y down, z towards the camera.

    ``pose_para`` is 300W-LP's ``Pose_Para`` (7 values: pitch, yaw, roll, tx, ty, tz, scale).

    Examples
    --------
    >>> pose_vertices(np.array([[2.0, 3.0, 4.0]]), [0, 0, 0, 10, 20, 0, 2], image_height=100)
    array([[13., 74.,  8.]])
    """
    p = np.asarray(pose_para, np.float64).reshape(-1)
    if p.shape != (7,):
        raise ValueError(f"Pose_Para must hold 7 values; got {p.shape}")
    posed = p[6] * np.asarray(vertices, np.float64) @ rotation_3ddfa(*p[:3]).T + p[3:6]
    return np.column_stack([posed[:, 0] - 1, image_height - posed[:, 1], posed[:, 2]])
