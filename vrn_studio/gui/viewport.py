"""The 3D view: a widget that owns a pyvistaqt ``QtInteractor`` and offers a few verbs.

The widget composes the interactor rather than inheriting from it (see the style anchors:
pyvistaqt's ``QtInteractor`` is a Qt widget and a plotter at once). Three actors are made
once, empty, and then only refilled: the raw mesh (before bump removal), the kept mesh
(after) and the removed bodies. Refilling a dataset in place keeps actors, mappers and the
camera, which is what makes :meth:`Viewport.update_mesh` cheap enough for webcam frames.

Which actors are visible:

=========================  ===================  =====================
settings                   raw mesh             kept mesh, removed
=========================  ===================  =====================
after (default)            hidden               kept shown
before                     shown                hidden
highlight removed (any)    hidden               kept + removed in
                                                :data:`REMOVED_COLOUR`
=========================  ===================  =====================

With the highlight on, "before" and "after" look the same: the kept and removed parts
together are the raw mesh, and drawing the raw mesh under the highlight would z-fight.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyvista as pv
from vtkmodules.vtkCommonCore import vtkLookupTable
from vtkmodules.vtkRenderingAnnotation import vtkScalarBarActor
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pyvistaqt import QtInteractor

from vrn_studio.eval import heatmap_colors
from vrn_studio.mesh import Mesh, remove_bumps, to_viewer_frame, vertex_normals
from vrn_studio.pipeline.overlay import CLAY
from vrn_studio.pipeline.save import write_png

CROP_SIZE = 192
"""Height in pixels of the crop the meshes live on (for :func:`to_viewer_frame`)."""
CLAY_COLOUR = tuple(round(c) for c in CLAY)
"""RGB of meshes without photo colours: the light blue clay of the photo overlays."""
BACKGROUND = (48, 52, 60)
"""RGB of the empty view: a dark slate grey."""
REMOVED_COLOUR = (255, 0, 255)
"""RGB of the removed bodies when highlighted: magenta, absent from skin and clay."""
PLACEHOLDER = "No mesh yet"
"""What the view says while it shows no mesh."""
PARTS = ("raw", "kept", "removed")
"""Names of the three actors, see :attr:`Viewport.actors`."""


def _polydata(mesh: Mesh) -> pv.PolyData:
    """A crop-space mesh as upright polydata with point arrays ``RGB`` (when coloured) and ``Normals``."""
    if mesh.is_empty:
        return pv.PolyData()
    upright = to_viewer_frame(mesh, CROP_SIZE)
    poly = pv.PolyData.from_regular_faces(upright.vertices, upright.faces)
    normals = upright.normals if upright.normals is not None else vertex_normals(upright)
    poly.point_data["Normals"] = normals
    poly.point_data.active_normals_name = "Normals"
    if upright.colors is not None:
        poly.point_data["RGB"] = upright.colors
        poly.point_data.active_scalars_name = "RGB"
    return poly


def _heat_scalar_bar() -> vtkScalarBarActor:
    """A hidden colour bar of :func:`~vrn_studio.eval.heatmap_colors` (its range is set when shown)."""
    colours = heatmap_colors(np.linspace(0.0, 1.0, 256), 1.0) / 255.0
    table = vtkLookupTable()
    table.SetNumberOfTableValues(len(colours))
    for index, rgb in enumerate(colours):
        table.SetTableValue(index, *rgb, 1.0)
    table.Build()
    bar = vtkScalarBarActor()
    bar.SetLookupTable(table)
    bar.SetNumberOfLabels(5)
    bar.SetPosition(0.86, 0.1)
    bar.SetWidth(0.1)
    bar.SetHeight(0.8)
    bar.SetVisibility(False)
    return bar


def _body_sizes(mesh: Mesh) -> tuple[int, ...]:
    """Vertex count of each connected body of ``mesh``, largest first.

    Uses bump removal's own labelling: it keeps the largest body and reports the others.
    """
    if mesh.is_empty:
        return ()
    split = remove_bumps(mesh)
    return (split.kept_size, *split.removed_sizes)


class Viewport(QWidget):
    """An interactive 3D view of a reconstruction (rotate: drag; zoom: wheel; pan: shift-drag).

    Meshes are given in crop space (x right, y down, z toward the camera, crop pixels) and
    shown upright (:func:`vrn_studio.mesh.to_viewer_frame`), in their per-vertex photo colours
    or in clay, with smooth (Gouraud) shading.

    Changes are drawn at the next paint, merged per event-loop turn (so setting several
    options costs one frame); :meth:`screenshot` renders at once.

    Call :meth:`close` when done (the owning window's ``closeEvent`` should: Qt does not send
    ``closeEvent`` to child widgets); it closes the plotter, after which every verb but
    :meth:`screenshot` does nothing.

    Parameters
    ----------
    parent : QWidget or None
        The parent widget.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._plotter = QtInteractor(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._plotter.interactor)
        # VTK's one-letter keys (w: wireframe, s: surface, 3: stereo, e/q: exit, ...) would
        # change the scene behind the verbs' backs; the window's menus own the keyboard.
        self._plotter.iren.interactor.RemoveObservers("CharEvent")
        self._plotter.set_background(BACKGROUND)
        self._plotter.add_axes(interactive=False)
        self._placeholder = self._plotter.add_text(
            PLACEHOLDER, position=(0.5, 0.5), viewport=True, font_size=14, color="#a0a4ac"
        )
        self._placeholder.prop.justification_horizontal = "center"
        self._placeholder.prop.justification_vertical = "center"
        self._actors: dict[str, pv.Actor] = {}
        for name in PARTS:
            mapper = pv.DataSetMapper(_polydata(Mesh.empty()))
            mapper.SetColorModeToDirectScalars()
            actor = pv.Actor(mapper=mapper)
            actor.prop.interpolation = "gouraud"
            self._plotter.add_actor(actor, reset_camera=False, name=name)
            self._actors[name] = actor
        self._show_before = False
        self._highlight_removed = False
        self._wireframe = False
        self._colors = True
        self._removed_sizes: tuple[int, ...] | None = None
        self._heatmap = False
        self._scalar_bar = _heat_scalar_bar()
        self._plotter.add_actor(self._scalar_bar, reset_camera=False, name="heat-bar")
        self._closed = False
        self._place_camera()
        self._apply()

    # -- state --------------------------------------------------------------------------
    @property
    def plotter(self) -> QtInteractor:
        """The owned pyvistaqt interactor (for tests and rare advanced use)."""
        return self._plotter

    @property
    def actors(self) -> dict[str, pv.Actor]:
        """The three actors by name (:data:`PARTS`); made once and refilled, never replaced."""
        return dict(self._actors)

    @property
    def is_empty(self) -> bool:
        """True while no mesh is shown (the placeholder text is up)."""
        return all(self._actors[name].mapper.dataset.n_points == 0 for name in PARTS)

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._closed

    # -- verbs --------------------------------------------------------------------------
    def show_result(self, mesh_raw: Mesh, kept: Mesh, removed: Mesh, *, reset_camera: bool = False) -> None:
        """Show a reconstruction: the raw mesh, the kept mesh and the removed bodies.

        Parameters
        ----------
        mesh_raw : Mesh
            Crop-space mesh before bump removal (``Result.mesh_raw``).
        kept : Mesh
            Crop-space mesh after bump removal (``Result.mesh``).
        removed : Mesh
            Crop-space bodies that bump removal dropped (``Result.removed``), possibly empty.
        reset_camera : bool, default: False
            Look at the face from the front again. The camera is always placed on the first
            mesh shown (and after :meth:`clear`); otherwise it stays where the user left it.
        """
        if self._closed:
            return
        for name, mesh in zip(PARTS, (mesh_raw, kept, removed), strict=True):
            self._refill(name, mesh)
        self._removed_sizes = _body_sizes(removed)
        self._heatmap = False
        self._after_refill(reset_camera)

    def show_heatmap(self, mesh: Mesh, vmax: float, title: str) -> None:
        """Show a mesh coloured by distance (``Comparison.aligned``) with a colour bar.

        Parameters
        ----------
        mesh : Mesh
            Crop-space (y down) mesh whose colours are :func:`~vrn_studio.eval.heatmap_colors`
            of its distances over ``[0, vmax]``; shown in its colours whatever
            :meth:`set_colors` says, until the next :meth:`show_result`,
            :meth:`update_mesh` or :meth:`clear`.
        vmax : float
            Distance at the top of the colour bar.
        title : str
            The colour bar's title (e.g. ``"distance (mm)"``).
        """
        if self._closed:
            return
        self._refill("raw", Mesh.empty())
        self._refill("kept", mesh)
        self._refill("removed", Mesh.empty())
        self._removed_sizes = None
        self._heatmap = True
        self._scalar_bar.GetLookupTable().SetRange(0.0, float(vmax))
        self._scalar_bar.SetTitle(title)
        self._after_refill(reset_camera=True)

    @property
    def shows_heatmap(self) -> bool:
        """Whether a distance heat map (:meth:`show_heatmap`) is on show."""
        return self._heatmap

    def update_mesh(self, kept: Mesh) -> None:
        """Fast path for live video: show only ``kept``, refilling the existing actor in place.

        The kept actor, its mapper and dataset objects, and the camera are reused (no scene
        rebuild); the raw and removed parts are emptied, so :meth:`removed_summary` becomes
        ``""``. The first mesh shown still places the camera.

        Parameters
        ----------
        kept : Mesh
            Crop-space mesh.
        """
        if self._closed:
            return
        self._refill("kept", kept)
        for name in ("raw", "removed"):
            self._refill(name, Mesh.empty())
        self._removed_sizes = None
        self._heatmap = False
        self._after_refill(reset_camera=False)

    def clear(self) -> None:
        """Show nothing (the placeholder text); the next mesh shown places the camera."""
        if self._closed:
            return
        for name in PARTS:
            self._refill(name, Mesh.empty())
        self._removed_sizes = None
        self._heatmap = False
        self._place_camera()
        self._apply()

    def set_show_before(self, on: bool) -> None:
        """True: the raw mesh (before bump removal and smoothing); False: the cleaned mesh."""
        self._show_before = bool(on)
        self._apply()

    def set_highlight_removed(self, on: bool) -> None:
        """Draw the removed bodies in :data:`REMOVED_COLOUR` together with the cleaned mesh."""
        self._highlight_removed = bool(on)
        self._apply()

    def set_wireframe(self, on: bool) -> None:
        """Draw triangle edges only (True) or filled surfaces (False)."""
        self._wireframe = bool(on)
        self._apply()

    def set_colors(self, on: bool) -> None:
        """Per-vertex photo colours (True; meshes without colours stay clay) or plain clay (False)."""
        self._colors = bool(on)
        self._apply()

    def reset_camera(self) -> None:
        """Look at the shown mesh from the front: +z toward the viewer, y up, all of it in view."""
        if self._closed:
            return
        self._place_camera()
        self._schedule_render()

    def removed_summary(self) -> str:
        """What bump removal dropped, for a label.

        Returns
        -------
        str
            e.g. ``"2 bodies removed (1,234 and 56 vertices)"``, ``"1 body removed (56
            vertices)"``, ``"nothing removed"``; ``""`` while unknown (nothing shown, or a
            mesh from :meth:`update_mesh`).
        """
        if self._removed_sizes is None:
            return ""
        sizes = self._removed_sizes
        if not sizes:
            return "nothing removed"
        counts = [f"{size:,}" for size in sizes]
        listed = counts[0] if len(counts) == 1 else f"{', '.join(counts[:-1])} and {counts[-1]}"
        bodies = "1 body" if len(sizes) == 1 else f"{len(sizes)} bodies"
        return f"{bodies} removed ({listed} vertices)"

    def screenshot(self) -> np.ndarray:
        """Render now and return the view's pixels.

        Returns
        -------
        np.ndarray, shape (H, W, 3), uint8
            RGB; H and W are the view's size in device pixels.

        Raises
        ------
        RuntimeError
            The view is closed.
        """
        if self._closed:
            raise RuntimeError("The 3D view is closed")
        self._plotter.render()
        return np.ascontiguousarray(self._plotter.screenshot(return_img=True)[..., :3])

    def save_screenshot(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write :meth:`screenshot` to a PNG file atomically.

        Parameters
        ----------
        path : str or os.PathLike
            Destination, normally ending in ``.png``.
        overwrite : bool, default: False
            Replace an existing file.

        Returns
        -------
        Path
            ``path``.

        Raises
        ------
        ExportError
            The file exists and ``overwrite`` is false, or it cannot be written.
        RuntimeError
            The view is closed.
        """
        return write_png(Path(path), self.screenshot(), overwrite=overwrite)

    def close(self) -> bool:
        """Close the plotter (once; later calls do nothing more) and the widget.

        Returns
        -------
        bool
            What ``QWidget.close`` returns.
        """
        self._close_plotter()
        return super().close()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._close_plotter()
        super().closeEvent(event)

    # -- internals ----------------------------------------------------------------------
    def _close_plotter(self) -> None:
        if not self._closed:
            self._closed = True
            self._plotter.close()

    def _refill(self, name: str, mesh: Mesh) -> None:
        """Replace the geometry, normals and colours of one actor's dataset in place."""
        dataset = self._actors[name].mapper.dataset
        dataset.copy_from(_polydata(mesh), deep=False)
        dataset.Modified()

    def _after_refill(self, reset_camera: bool) -> None:
        if reset_camera or not self._camera_placed:
            self._place_camera()
        self._apply()

    def _place_camera(self) -> None:
        self._plotter.view_xy(render=False)
        self._plotter.reset_camera(render=False)
        self._camera_placed = not self.is_empty

    def _apply(self) -> None:
        """Set visibility, colours and style of every actor from the settings; schedule a render."""
        if self._closed:
            return
        has_raw = self._actors["raw"].mapper.dataset.n_points > 0
        show_raw = self._show_before and not self._highlight_removed and has_raw
        visible = {"raw": show_raw, "kept": not show_raw, "removed": self._highlight_removed}
        for name, actor in self._actors.items():
            dataset = actor.mapper.dataset
            actor.visibility = visible[name]
            actor.mapper.scalar_visibility = (
                name != "removed" and (self._colors or self._heatmap) and "RGB" in dataset.point_data
            )
            actor.prop.color = REMOVED_COLOUR if name == "removed" else CLAY_COLOUR
            actor.prop.style = "wireframe" if self._wireframe else "surface"
        self._placeholder.visibility = self.is_empty
        self._scalar_bar.SetVisibility(self._heatmap)
        self._schedule_render()

    def _schedule_render(self) -> None:
        """Render at the next paint: Qt merges the requests of one event-loop turn into one frame.

        ``QWidget.update`` is called unbound because the plotter's own ``update`` means
        something else (pyvista's ``BasePlotter.update``).
        """
        QWidget.update(self._plotter.interactor)
