"""The VRN Studio desktop app (PySide6 + pyvista). Import :func:`main` to run it.

Everything Qt lives under this package; the core never imports it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from vrn_studio.errors import MissingDependencyError

GUI_DISTRIBUTIONS = {
    "PySide6": "PySide6-Essentials",
    "pyvista": "pyvista",
    "pyvistaqt": "pyvistaqt",
    "superqt": "superqt",
}
"""Module -> distribution of everything the app needs beyond the core."""


def check_gui_dependencies() -> None:
    """Raise :class:`MissingDependencyError` naming what the app needs and how to install it."""
    for module, distribution in GUI_DISTRIBUTIONS.items():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            raise MissingDependencyError(
                f"The desktop app needs '{distribution}', which is not installed. "
                "Install it with: pip install 'vrn-studio[gui]'"
            ) from exc
        except ImportError as exc:
            raise MissingDependencyError(f"'{distribution}' is installed but failed to import: {exc}") from exc


def main(argv: Sequence[str] = (), image: str | None = None) -> int:
    """Open the VRN Studio window (optionally on ``image``) and run until it is closed."""
    check_gui_dependencies()
    from vrn_studio.gui.app import run_app

    return run_app(list(argv), image=image)
