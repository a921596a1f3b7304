"""Temporal filters for video: the One-Euro filter on landmarks and a motion-gated moving
average of the network's volume, so a still face stops jittering and a moving one is followed.

Both are low-pass filters whose cut-off frequency rises with the speed of the signal (the
One-Euro idea): strong smoothing while nothing moves, little lag once something does.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass filter of ``cutoff`` Hz sampled ``dt`` s apart."""
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class _SpeedGated:
    """A low-pass filter whose cut-off ``min_cutoff + beta * speed`` (Hz) rises with the
    signal's speed, itself low-passed at ``d_cutoff`` (Hz)."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("min_cutoff and d_cutoff must be positive and beta >= 0")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample passes unfiltered."""
        raise NotImplementedError


class OneEuroFilter(_SpeedGated):
    """The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) on an array signal: a low-pass
    filter whose cut-off rises with the signal's speed, so a still face stops jittering and a
    moving one is not dragged behind.

    Parameters
    ----------
    min_cutoff : float, default: 1.0
        Cut-off frequency (Hz) when the signal is still: lower smooths more.
    beta : float, default: 0.05
        How fast the cut-off rises with speed (per unit of the signal per second, e.g. per
        pixel/s for landmarks): higher lags less.
    d_cutoff : float, default: 1.0
        Cut-off (Hz) of the speed estimate.

    Examples
    --------
    >>> f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    >>> [round(float(f(np.array([x]), t)[0]), 3) for t, x in enumerate([0.0, 1.0, 1.0])]
    [0.0, 0.863, 0.981]
    """

    def reset(self) -> None:
        """Forget the past: the next sample passes unfiltered."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter sample ``x`` (any shape) taken at time ``t`` (seconds, increasing)."""
        x = np.asarray(x, np.float64)
        if self._x is None or t <= self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x.copy()


ONE_EURO: tuple[float, float] = (1.0, 0.05)
"""``min_cutoff`` (Hz) and ``beta`` (per pixel/s) of the landmark filter of
:func:`~vrn_studio.pipeline.video.reconstruct_video`, chosen on generated videos (tests/core/test_video.py, docs/video.md)."""


def face_shape(landmarks: np.ndarray) -> np.ndarray:
    """68 landmarks without their position and size: centred on their mean and divided by
    their RMS distance from it, in percent. Shape (68, 2). What is left changes when the head
    turns, tilts or the expression changes, not when it slides or comes nearer."""
    points = np.asarray(landmarks, np.float64)
    centred = points - points.mean(axis=0)
    return 100.0 * centred / max(float(np.sqrt((centred**2).sum(axis=1).mean())), 1e-9)


class SurfaceFilter(_SpeedGated):
    """Exponential moving average of the network's volume, gated by how fast the face changes
    shape: the surface of a still face stops flickering, a turning head is not smeared.

    The volume lives in the crop frame, which follows the face (position and size), so a
    sliding face needs no gate; a turn, a tilt or an expression changes the landmarks'
    :func:`face_shape`, and its speed raises the filter's cut-off: ``cutoff = min_cutoff +
    beta * speed``, the speed being the mean length of the landmarks' shape velocities
    (percent of the face's size per second) low-passed at ``d_cutoff`` as vectors, so the
    landmarks' jitter averages out and a steady turn does not.

    Parameters
    ----------
    min_cutoff : float
        Cut-off (Hz) while the face keeps its shape: lower smooths more.
    beta : float
        Rise of the cut-off per percent-of-face-size per second: higher lags less.
    d_cutoff : float, default: 1.0
        Cut-off (Hz) of the speed estimate.

    Examples
    --------
    >>> f = SurfaceFilter(min_cutoff=1.0, beta=0.0)
    >>> marks = np.random.default_rng(0).normal(size=(68, 2))
    >>> [round(float(f(np.full((2, 2, 2), v, np.float32), marks, t / 30)[0, 0, 0]), 3) for t, v in enumerate([0, 1, 1])]
    [0.0, 0.173, 0.316]
    """

    def reset(self) -> None:
        """Forget the past: the next volume passes unfiltered."""
        self._volume: torch.Tensor | None = None
        self._shape: np.ndarray | None = None
        self._velocity: np.ndarray | float = 0.0
        self._t = 0.0
        self.last_alpha = 1.0
        """The weight the last volume got (1: passed unfiltered)."""

    def __call__(self, volume: np.ndarray | torch.Tensor, landmarks: np.ndarray, t: float) -> np.ndarray | torch.Tensor:
        """Filter ``volume`` (any shape: (200, 192, 192) from the network, on any device) of the
        frame at ``t`` seconds whose face has ``landmarks`` (68, 2) in photo pixels; returns the
        same type and device. A new shape of volume, or a time not after the last, restarts."""
        as_numpy = isinstance(volume, np.ndarray)
        current = torch.from_numpy(volume) if as_numpy else volume
        shape = face_shape(landmarks)
        if self._volume is None or t <= self._t or self._volume.shape != current.shape \
                or self._volume.device != current.device:
            self._volume, self._shape, self._velocity, self._t = current.clone(), shape, 0.0, t
            self.last_alpha = 1.0
            return volume
        dt = t - self._t
        assert self._shape is not None
        self._velocity = self._velocity + _alpha(self.d_cutoff, dt) * ((shape - self._shape) / dt - self._velocity)
        speed = float(np.linalg.norm(self._velocity, axis=-1).mean())
        self.last_alpha = float(_alpha(self.min_cutoff + self.beta * speed, dt))
        self._volume.lerp_(current.to(self._volume.dtype), self.last_alpha)
        self._shape, self._t = shape, t
        out = self._volume.clone()
        return out.numpy() if as_numpy else out


SURFACE_FILTER: tuple[float, float] = (1.0, 0.1)
"""``min_cutoff`` (Hz) and ``beta`` (per percent-of-face-size per second) of the surface filter
of :func:`~vrn_studio.pipeline.video.reconstruct_video`, chosen on generated videos
(scripts/measure_video_smoothing.py, docs/video.md)."""
