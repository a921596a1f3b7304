"""Training samples from a dataset folder: crop, volume and landmarks, jointly augmented.

A :class:`FolderDataset` reads the folder format of :mod:`vrn_studio.eval.dataset` (photo,
ground-truth mesh in photo pixels, 68 landmarks) and turns each sample into what VRN is
trained on:

1. the crop: the release's rule (:func:`vrn_studio.crop.release_transform`) framed at
   192 px from the 2D landmarks, resampled to ``size`` (the face keeps the same share of
   the crop at any size);
2. the mesh in crop space: x, y through the photo -> crop transform, z multiplied by its
   scale, then shifted so that the mean depth of the 3D landmarks (given, or lifted onto
   the mesh by :func:`vrn_studio.eval.dataset.lift_landmarks`) lies at the middle of the
   volume, ``depth_bins * z_scale / 2`` crop pixels (the format leaves the depth origin
   free);
3. the volume: :func:`vrn_studio.train.voxelise` (depth stretched x2: ``z_scale = 0.5``);
4. the paper's augmentation (:func:`vrn_studio.train.augment`), drawn by
   :func:`vrn_studio.train.sample_params` from a generator seeded with
   ``(seed, epoch, index)``: the same item of the same epoch is always the same, and
   :meth:`FolderDataset.set_epoch` gives every epoch new draws.

300W-LP: the paper trained on 300W-LP, whose ``.mat`` files hold 3DMM parameters
(``Shape_Para``, ``Exp_Para``, ``Pose_Para``) and ``pt2d``, but no mesh: the mesh needs the
Basel Face Model, which the user must obtain and which is never bundled. With
``layout="300w-lp"`` and ``bfm`` (the user's model file) each sample's mesh is evaluated
from its parameters (:func:`vrn_studio.eval.dataset.read_300w_lp`).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import Dataset

from vrn_studio.crop import CropTransform, crop_image, release_transform
from vrn_studio.eval.dataset import photo_reader
from vrn_studio.image import load_image
from vrn_studio.train.augment import augment, sample_params
from vrn_studio.train.voxelise import voxelise

RELEASE_SIZE = 192
"""Crop side the release's framing rule is defined at, in pixels."""
Z_SCALE = 0.5
"""Crop pixels per depth bin (the paper's depth stretched x2)."""


class FolderDataset(Dataset):
    """A torch Dataset of (crop, target volume, landmarks) from a folder-format dataset.

    Parameters
    ----------
    folder : path
        The dataset folder (see :mod:`vrn_studio.eval.dataset`).
    size : int, default: 192
        Side of the square crop and of the volume's (H, W), in pixels.
    depth_bins : int, default: 200
        D, the volume's depth bins (``depth_bins / 2`` crop pixels of depth).
    augment : bool, default: True
        Apply the paper's augmentation; without it the items are deterministic crops.
    seed : int, default: 0
        Seed of the augmentation draws.
    layout : {"folder", "300w-lp"}, default: "folder"
        The folder format, or the 300W-LP layout (meshes from ``bfm``).
    bfm : path, optional
        The user's Basel Face Model file, for ``layout="300w-lp"``
        (:mod:`vrn_studio.eval.bfm`).

    Raises
    ------
    DatasetError
        The folder does not exist or holds no photo (the other files are read, and checked,
        per item), or the layout is unknown or lacks its ``bfm``.
    ValueError
        ``size`` or ``depth_bins`` is not a positive integer.
    """

    def __init__(
        self, folder: str | os.PathLike[str], *, size: int = RELEASE_SIZE, depth_bins: int = 200,
        augment: bool = True, seed: int = 0, layout: str = "folder", bfm: str | os.PathLike[str] | None = None,
    ) -> None:
        if not (isinstance(size, int) and size > 0 and isinstance(depth_bins, int) and depth_bins > 0):
            raise ValueError(f"size and depth_bins must be positive integers; got {size!r} and {depth_bins!r}")
        self.photos, self._read = photo_reader(folder, layout, bfm=bfm)
        self.size = size
        self.depth_bins = depth_bins
        self.augment = augment
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.photos)

    def set_epoch(self, epoch: int) -> None:
        """Draw the augmentations of epoch ``epoch`` from now on (call it once per epoch)."""
        self.epoch = int(epoch)

    def crop_transform(self, landmarks: np.ndarray) -> CropTransform:
        """The release's photo -> crop framing for 68 photo landmarks, at ``self.size`` pixels.

        Pixel centres stay at integers: crop pixel u at 192 px maps to ``(u + 0.5) * f - 0.5``
        with ``f = size / 192``.
        """
        return release_transform(landmarks, size=RELEASE_SIZE).resized(self.size)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """Item ``index``.

        Returns
        -------
        dict
            ``image``: (3, size, size) float32 RGB in [0, 1]; ``volume``: (depth_bins, size,
            size) float32 in {0, 1}, indexed (depth, y, x), higher depth = nearer the camera;
            ``landmarks``: (68, 2) float32 (x, y) in crop pixels (they may leave the crop).

        Raises
        ------
        DatasetError, ImageError
            The sample's files are missing or malformed (the message names the file).
        """
        sample = self._read(self.photos[index])
        transform = self.crop_transform(sample.landmarks)
        crop = crop_image(load_image(sample.image_path), transform)
        vertices = sample.mesh.vertices.astype(np.float64)
        z_ref = sample.landmarks_3d_or_lifted()[:, 2].mean()
        z = (vertices[:, 2] - z_ref) * transform.scale + self.depth_bins * Z_SCALE / 2
        posed = np.column_stack([transform.to_crop(vertices[:, :2]), z])
        volume = voxelise(posed, sample.mesh.faces, shape=(self.depth_bins, self.size, self.size), z_scale=Z_SCALE)
        landmarks = transform.to_crop(sample.landmarks)
        if self.augment:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            crop, landmarks, volume = augment(crop, landmarks, volume, sample_params(rng))
        return {
            "image": torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))).float().div_(255),
            "volume": torch.from_numpy(np.ascontiguousarray(volume)).float(),
            "landmarks": torch.from_numpy(np.asarray(landmarks, np.float32)),
        }
