"""Errors VRN Studio raises on purpose.

Every message is written for the person running the program: it names the bad value
(file, model, device) and, where there is one, the next thing to do. The CLI prints
``str(error)`` on one line; the GUI shows it in a dialog.
"""

from __future__ import annotations


class VrnStudioError(Exception):
    """Base class: an expected failure with a message meant for the user."""


class ImageError(VrnStudioError):
    """An image could not be read, or is not a usable photo."""


class NoFaceError(VrnStudioError):
    """No face was found in a photo."""


class WeightsError(VrnStudioError):
    """Model weights are missing, corrupt, or do not match the network."""


class DeviceError(VrnStudioError):
    """A compute device (cuda, mps) was asked for but is not available."""


class ExportError(VrnStudioError):
    """A result could not be written to disk."""


class MissingDependencyError(VrnStudioError, ImportError):
    """An optional dependency needed by a backend is absent or broken."""
