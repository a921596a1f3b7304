"""The app's persisted preferences: a plain dataclass, its QSettings store, and the theme.

:class:`AppSettings` holds values only and imports no Qt, so the rest of the app (and its
tests) can build, copy and compare settings freely. :class:`SettingsStore` reads and
writes them with :class:`~PySide6.QtCore.QSettings`; whatever is missing or unusable in
the stored file falls back to that field's default, so a damaged settings file never
stops the app from starting.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from vrn_studio.headfit import DEFAULT_HEAD_FIT, HEAD_FITS
from vrn_studio.mesh import DEFAULT_LEVEL, DEFAULT_SMOOTH
from vrn_studio.pipeline.runtime import RUNTIMES

logger = logging.getLogger(__name__)

ORGANISATION = "VRN Studio"
"""QSettings organisation name."""
APPLICATION = "vrn-studio"
"""QSettings application name."""
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")
"""Device choices, as :class:`~vrn_studio.pipeline.Reconstructor` takes them."""
LANDMARKERS: tuple[str, ...] = ("auto", "mediapipe", "fan", "dlib")
"""Landmarker choices, as :func:`~vrn_studio.face.get_landmarker` takes them."""
LIVE_RUNTIMES: tuple[str, ...] = ("auto", *RUNTIMES)
"""Runtime choices of the live view (see :func:`vrn_studio.pipeline.runtime.live_runtime`)."""
BUMP_MODES: tuple[str, ...] = ("largest", "fraction")
"""Ways to remove detached bumps (see :func:`vrn_studio.mesh.strip_bumps`)."""
THEMES: tuple[str, ...] = ("system", "light", "dark")
"""Colour themes :func:`apply_theme` knows."""
MAX_RECENT = 10
"""Most recent files remembered."""
MAX_SMOOTH = 500
"""Most smoothing iterations the app offers and accepts from its settings file."""

MAX_TRIANGLES = 2_000_000
"""Largest decimation target (triangles) the app offers and accepts from its settings file."""

_DEFAULT_STYLE_PROPERTY = "vrnStudioPlatformStyle"


@dataclass
class AppSettings:
    """Everything the app remembers between runs. Plain values, no Qt.

    Attributes
    ----------
    device : str, default: "auto"
        One of :data:`DEVICES`.
    landmarker : str, default: "auto"
        One of :data:`LANDMARKERS`.
    model : str, default: "default"
        Installed model name (or ``"default"``) given to the Reconstructor.
    runtime : str, default: "torch"
        What runs the network for photos and frozen frames: one of
        :data:`~vrn_studio.pipeline.runtime.RUNTIMES`.
    live_runtime : str, default: "auto"
        What runs it for the live view: one of :data:`LIVE_RUNTIMES` (``"auto"``: int8 on a CPU).
    level : float, default: DEFAULT_LEVEL
        Iso-surface level in occupancy probability, in (0, 1); the release uses 10/255.
    bump_mode : str, default: "largest"
        One of :data:`BUMP_MODES`.
    min_fraction : float, default: 0.1
        Size threshold in [0, 1] for ``bump_mode="fraction"``.
    smooth : int, default: DEFAULT_SMOOTH
        Taubin smoothing iterations of the mesh after bump removal, 0 to
        :data:`MAX_SMOOTH` (``Reconstructor(smooth=...)``; 0 keeps the marching-cubes surface).
    triangles : int, default: 0
        Decimate the mesh to about this many triangles after smoothing, 0 (off) or 4 to
        :data:`MAX_TRIANGLES` (``Reconstructor(target_faces=...)``).
    head_fit : str, default: DEFAULT_HEAD_FIT
        One of :data:`~vrn_studio.headfit.HEAD_FITS` (``Reconstructor(head_fit=...)``):
        ``"ict"`` shows the ICT head fitted to the volume, ``"none"`` the network's mesh.
    theme : str, default: "system"
        One of :data:`THEMES`.
    last_dir : str, default: ""
        Folder the last file dialog opened in; empty for none.
    recent_files : list of str
        Recently opened photos, most recent first, without repeats, at most
        :data:`MAX_RECENT`; use :meth:`add_recent`.
    camera : int or str, default: 0
        Camera index, or the path of a video file used as a camera.
    window_geometry : bytes, default: b""
        ``QMainWindow.saveGeometry()``; empty for none.
    window_state : bytes, default: b""
        ``QMainWindow.saveState()`` (docks and toolbars); empty for none.
    """

    device: str = "auto"
    landmarker: str = "auto"
    model: str = "default"
    runtime: str = "torch"
    live_runtime: str = "auto"
    level: float = DEFAULT_LEVEL
    bump_mode: str = "largest"
    min_fraction: float = 0.1
    smooth: int = DEFAULT_SMOOTH
    triangles: int = 0
    head_fit: str = DEFAULT_HEAD_FIT
    theme: str = "system"
    last_dir: str = ""
    recent_files: list[str] = field(default_factory=list)
    camera: int | str = 0
    window_geometry: bytes = b""
    window_state: bytes = b""

    def add_recent(self, path: str | os.PathLike[str]) -> None:
        """Put ``path`` first in :attr:`recent_files`, dropping an older copy and the oldest beyond
        :data:`MAX_RECENT`."""
        entry = os.fspath(path)
        self.recent_files = [entry, *(p for p in self.recent_files if p != entry)][:MAX_RECENT]


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda value: value if isinstance(value, str) and value in choices else None


def _float_in(low: float, high: float, *, open_interval: bool) -> Callable[[Any], float | None]:
    def parse(value: Any) -> float | None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        inside = low < number < high if open_interval else low <= number <= high
        return number if math.isfinite(number) and inside else None

    return parse


def _int_in(low: int, high: int) -> Callable[[Any], int | None]:
    def parse(value: Any) -> int | None:
        if isinstance(value, bool):
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            return None
        return number if low <= number <= high and str(number) == str(value).strip() else None

    return parse


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _paths(value: Any) -> list[str] | None:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
        return None
    return list(dict.fromkeys(items))[:MAX_RECENT]


def _camera(value: Any) -> int | str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip():
        return int(value) if value.isdigit() else value
    return None


def _bytes(value: Any) -> bytes | None:
    if isinstance(value, QByteArray):
        return value.data()
    return value if isinstance(value, bytes) else None


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "device": _choice(DEVICES),
    "landmarker": _choice(LANDMARKERS),
    "model": _name,
    "runtime": _choice(RUNTIMES),
    "live_runtime": _choice(LIVE_RUNTIMES),
    "level": _float_in(0.0, 1.0, open_interval=True),
    "bump_mode": _choice(BUMP_MODES),
    "min_fraction": _float_in(0.0, 1.0, open_interval=False),
    "smooth": _int_in(0, MAX_SMOOTH),
    "triangles": _int_in(0, MAX_TRIANGLES),
    "head_fit": _choice(HEAD_FITS),
    "theme": _choice(THEMES),
    "last_dir": _text,
    "recent_files": _paths,
    "camera": _camera,
    "window_geometry": _bytes,
    "window_state": _bytes,
}


class SettingsStore:
    """Reads and writes :class:`AppSettings` with QSettings.

    Parameters
    ----------
    source : QSettings or str or os.PathLike, optional
        Where to keep the settings: a QSettings object, the path of an INI file (tests use
        one under their tmp_path), or None for the user's settings of organisation
        :data:`ORGANISATION` and application :data:`APPLICATION` in the platform's usual
        place.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = SettingsStore(pathlib.Path(tempfile.mkdtemp()) / "settings.ini")
    >>> settings = store.load()
    >>> settings.theme = "dark"
    >>> store.save(settings)
    >>> store.load().theme
    'dark'
    """

    def __init__(self, source: QSettings | str | os.PathLike[str] | None = None) -> None:
        if isinstance(source, QSettings):
            self.qsettings = source
        elif source is None:
            self.qsettings = QSettings(ORGANISATION, APPLICATION)
        else:
            self.qsettings = QSettings(os.fspath(source), QSettings.Format.IniFormat)

    def load(self) -> AppSettings:
        """The stored settings; a missing or unusable value gives that field's default (logged)."""
        defaults = AppSettings()
        values = {}
        for item in fields(AppSettings):
            parsed = self._read(item.name) if self.qsettings.contains(item.name) else None
            values[item.name] = getattr(defaults, item.name) if parsed is None else parsed
        return AppSettings(**values)

    def _read(self, key: str) -> Any:
        """The parsed value of ``key``, or None (logged) when it cannot be read or used."""
        try:
            stored = self.qsettings.value(key)
        except (RuntimeError, TypeError, ValueError) as exc:
            stored = f"<unreadable: {exc}>"
            parsed = None
        else:
            parsed = _PARSERS[key](stored)
        if parsed is None:
            logger.warning(
                "Ignoring unusable setting %s=%.80r in %s; using the default",
                key,
                stored,
                self.qsettings.fileName(),
            )
        return parsed

    def save(self, settings: AppSettings) -> None:
        """Write every field of ``settings`` and flush to disk (a failure is logged, not raised)."""
        for item in fields(AppSettings):
            value = getattr(settings, item.name)
            self.qsettings.setValue(item.name, QByteArray(value) if isinstance(value, bytes) else value)
        self.qsettings.sync()
        if self.qsettings.status() != QSettings.Status.NoError:
            logger.warning(
                "Could not save settings to %s (%s)", self.qsettings.fileName(), self.qsettings.status().name
            )


def dark_palette() -> QPalette:
    """A dark palette for the Fusion style (light text on dark grey, blue selection)."""
    palette = QPalette()
    window, base, text, disabled = (
        QColor(53, 53, 53),
        QColor(35, 35, 35),
        QColor(230, 230, 230),
        QColor(127, 127, 127),
    )
    accent = QColor(42, 130, 218)
    for role, colour in (
        (QPalette.ColorRole.Window, window),
        (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.AlternateBase, window),
        (QPalette.ColorRole.ToolTipBase, QColor(25, 25, 25)),
        (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.PlaceholderText, disabled),
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Button, window),
        (QPalette.ColorRole.ButtonText, text),
        (QPalette.ColorRole.BrightText, QColor(255, 80, 80)),
        (QPalette.ColorRole.Link, accent),
        (QPalette.ColorRole.Highlight, accent),
        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.Light, QColor(80, 80, 80)),
        (QPalette.ColorRole.Midlight, QColor(66, 66, 66)),
        (QPalette.ColorRole.Mid, QColor(40, 40, 40)),
        (QPalette.ColorRole.Dark, QColor(25, 25, 25)),
        (QPalette.ColorRole.Shadow, QColor(0, 0, 0)),
    ):
        palette.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Highlight, QColor(80, 80, 80))
    return palette


def apply_theme(app: QApplication, theme: str) -> None:
    """Colour the whole app.

    Parameters
    ----------
    app : QApplication
        The running application.
    theme : {"system", "light", "dark"}
        ``"dark"``: the Fusion style with :func:`dark_palette`; ``"light"``: Fusion with its
        standard light palette; ``"system"``: the platform's own style and palette (as they
        were the first time this function ran on ``app``).

    Raises
    ------
    ValueError
        If ``theme`` is not one of :data:`THEMES`.
    """
    if theme not in THEMES:
        raise ValueError(f"Unknown theme {theme!r}. Available: {', '.join(THEMES)}")
    platform_style = app.property(_DEFAULT_STYLE_PROPERTY)
    if platform_style is None:
        platform_style = app.style().name()
        app.setProperty(_DEFAULT_STYLE_PROPERTY, platform_style)
    app.setStyle("Fusion" if theme != "system" else platform_style)
    if theme == "dark":
        app.setPalette(dark_palette())
    elif theme == "light":
        app.setPalette(app.style().standardPalette())
    else:
        app.setPalette(QPalette())
