"""2D views of the photo and of the network's crop, with faces and landmarks drawn over them.

Both views paint themselves (``paintEvent``) rather than use a ``QGraphicsView``: the picture
is scaled to fit the widget with its aspect ratio kept and centred, and one exact, invertible
affine map links widget and picture coordinates, which is all the interaction needs (picking
a face, dragging a box).

Picture coordinates follow the core's convention: pixel centres at integers, x to the right,
y down, so pixel ``i`` covers ``[i - 0.5, i + 0.5]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from vrn_studio.face import Face

PLACEHOLDER = "Open a photo (Ctrl+O), drop one here, or paste (Ctrl+V)"
"""What :class:`PhotoView` says while it shows no photo."""
SELECTED_BOX = QColor(255, 210, 0)
"""Box of the selected face (the one reconstructed): yellow, as in the core's overlays."""
OTHER_BOX = QColor(200, 200, 200, 150)
"""Boxes of the other faces: a translucent grey."""
SELECTED_POINTS = QColor(0, 255, 0)
"""Landmarks of the selected face: bright green."""
OTHER_POINTS = QColor(90, 150, 90, 170)
"""Landmarks of the other faces: a dim translucent green."""
RUBBER_BAND = QColor(0, 200, 255)
"""The box being dragged in manual-box mode."""
MIN_DRAG = 4.0
"""Drags shorter than this many widget pixels in x or in y draw no box."""


def _check_rgb(rgb: np.ndarray, name: str) -> np.ndarray:
    """A read-only C-contiguous copy of an (H, W, 3) uint8 array, or ValueError.

    A copy, because the QImage painted shares its memory: the caller (a video thread, say)
    may reuse or change its own array.
    """
    array = np.asarray(rgb)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"{name} must be an (H, W, 3) uint8 RGB array; got {array.shape} {array.dtype}")
    copy = np.array(array, order="C")
    copy.setflags(write=False)
    return copy


def _to_qimage(rgb: np.ndarray) -> QImage:
    """A QImage sharing the memory of a C-contiguous (H, W, 3) uint8 array (keep the array alive)."""
    height, width, _ = rgb.shape
    return QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)


class _PictureCanvas(QWidget):
    """A widget that paints one RGB picture scaled to fit, aspect kept, centred.

    Subclasses add what is drawn over the picture (:meth:`_paint_over`) and whether the
    scaling is smooth or nearest-neighbour (``smooth``). Smooth scaling filters the whole
    picture down (no aliasing on big photos) once per picture and widget size, and reuses
    that copy for the repaints in between (a rubber-band drag repaints at every move).
    """

    def __init__(self, placeholder: str, *, smooth: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._placeholder = placeholder
        self._smooth = smooth
        self._picture: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._scaled: tuple[tuple[int, int, int], QImage] | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 120)

    def sizeHint(self) -> QSize:
        return QSize(480, 480)

    def _set_picture(self, rgb: np.ndarray | None) -> None:
        self._picture = rgb
        self._qimage = None if rgb is None else _to_qimage(rgb)
        self._scaled = None
        self.update()

    def _fit(self) -> tuple[float, float, float]:
        """Scale (widget pixels per picture pixel) and the widget position of the picture's corner."""
        if self._picture is None:
            return 1.0, 0.0, 0.0
        height, width = self._picture.shape[:2]
        scale = min(self.width() / width, self.height() / height)
        return scale, (self.width() - width * scale) / 2, (self.height() - height * scale) / 2

    def widget_to_photo(self, point: QPointF) -> tuple[float, float]:
        """Picture coordinates (x, y) of a widget position.

        Parameters
        ----------
        point : QPointF
            Position in widget (logical) pixels, origin at the top-left corner.

        Returns
        -------
        tuple of float
            (x, y) in picture pixels, pixel centres at integers; may lie outside the picture.
            The identity map while no picture is shown.
        """
        scale, left, top = self._fit()
        return (point.x() - left) / scale - 0.5, (point.y() - top) / scale - 0.5

    def photo_to_widget(self, x: float, y: float) -> QPointF:
        """Widget position of the picture point (x, y); the inverse of :meth:`widget_to_photo`."""
        scale, left, top = self._fit()
        return QPointF(left + (x + 0.5) * scale, top + (y + 0.5) * scale)

    def _draw_points(self, painter: QPainter, points: np.ndarray, colour: QColor) -> None:
        """Filled dots at the (N, 2) picture points, a fixed size in widget pixels."""
        radius = max(2.0, min(4.0, self._fit()[0] * 1.2))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        for x, y in points:
            painter.drawEllipse(self.photo_to_widget(float(x), float(y)), radius, radius)

    def _widget_rect(self, box: np.ndarray) -> QRectF:
        """The widget rectangle whose corners are the box corners (x1, y1, x2, y2) in picture pixels."""
        return QRectF(self.photo_to_widget(box[0], box[1]), self.photo_to_widget(box[2], box[3]))

    def _smoothly_scaled(self, image: QImage, target: QRectF) -> QImage:
        """``image`` filtered to the device-pixel size of ``target``, cached."""
        ratio = self.devicePixelRatioF()
        width, height = max(1, round(target.width() * ratio)), max(1, round(target.height() * ratio))
        key = (image.cacheKey(), width, height)
        if self._scaled is None or self._scaled[0] != key:
            scaled = image.scaled(
                width,
                height,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self._scaled = (key, scaled)
        return self._scaled[1]

    def _paint_over(self, painter: QPainter) -> None:
        """Draw over the picture; nothing here."""

    def _shown_qimage(self) -> QImage | None:
        return self._qimage

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(self.backgroundRole()))
        shown = self._shown_qimage()
        if shown is None:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder
            )
            painter.end()
            return
        scale, left, top = self._fit()
        target = QRectF(left, top, shown.width() * scale, shown.height() * scale)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._smooth)
        painter.drawImage(target, self._smoothly_scaled(shown, target) if self._smooth else shown)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._paint_over(painter)
        painter.end()


class PhotoView(_PictureCanvas):
    """The photo with every face's box and 68 landmarks, an optional mesh overlay, and a
    manual-box mode.

    The selected face (the one reconstructed) is drawn in :data:`SELECTED_BOX` with
    :data:`SELECTED_POINTS` landmarks, the others dimmer. The view never changes the
    selection itself: it emits :attr:`facePicked` and its owner calls :meth:`set_faces`.

    Signals
    -------
    facePicked(int)
        A left click inside a face's box while more than one face is shown (not in box mode);
        the index into the faces given to :meth:`set_faces`. Where boxes overlap, the smallest
        box containing the click wins.
    boxDrawn(object)
        After a drag in box mode: ``np.ndarray`` shape (4,), float64, (x1, y1, x2, y2) in photo
        pixels, x1 <= x2 and y1 <= y2, clipped to the photo. Drags under :data:`MIN_DRAG`
        widget pixels wide or high, and drags cancelled with Escape, emit nothing.
    """

    facePicked = Signal(int)
    boxDrawn = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(PLACEHOLDER, smooth=True, parent=parent)
        self._faces: tuple[Face, ...] = ()
        self._selected = 0
        self._overlay: np.ndarray | None = None
        self._overlay_qimage: QImage | None = None
        self._overlay_shown = False
        self._box_mode = False
        self._drag: tuple[QPointF, QPointF] | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # -- state --------------------------------------------------------------------------
    @property
    def image(self) -> np.ndarray | None:
        """The photo shown, (H, W, 3) uint8 RGB, or None."""
        return self._picture

    @property
    def faces(self) -> tuple[Face, ...]:
        """The faces drawn."""
        return self._faces

    @property
    def selected(self) -> int:
        """Index of the highlighted face in :attr:`faces`."""
        return self._selected

    @property
    def overlay_shown(self) -> bool:
        """Whether the mesh overlay is switched on (it is drawn only when one is set)."""
        return self._overlay_shown

    @property
    def box_mode(self) -> bool:
        """Whether a drag draws a face box."""
        return self._box_mode

    def set_image(self, rgb: np.ndarray) -> None:
        """Show a photo; forget the faces and overlay of the previous one.

        Parameters
        ----------
        rgb : np.ndarray, shape (H, W, 3), uint8
            The photo, RGB; copied.

        Raises
        ------
        ValueError
            Wrong shape or dtype.
        """
        self._set_picture(_check_rgb(rgb, "The photo"))
        self._faces, self._selected = (), 0
        self.set_overlay(None)

    def set_faces(self, faces: Sequence[Face], selected: int = 0) -> None:
        """Draw these faces' boxes and landmarks (photo pixels), highlighting ``faces[selected]``.

        Raises
        ------
        IndexError
            ``selected`` is not an index into a non-empty ``faces``.
        """
        faces = tuple(faces)
        if faces and not 0 <= selected < len(faces):
            raise IndexError(f"selected is {selected} but there are {len(faces)} faces")
        self._faces, self._selected = faces, selected
        self.update()

    def set_overlay(self, rgb: np.ndarray | None) -> None:
        """Set (or with None, drop) the picture shown instead of the photo when the overlay is on.

        Parameters
        ----------
        rgb : np.ndarray or None, shape (H, W, 3), uint8
            Same size as the photo, e.g. from :func:`vrn_studio.pipeline.overlay.mesh_overlay`.

        Raises
        ------
        ValueError
            Wrong dtype, or a size other than the photo's (or no photo shown).
        """
        if rgb is None:
            self._overlay = self._overlay_qimage = None
        else:
            overlay = _check_rgb(rgb, "The overlay")
            if self._picture is None or overlay.shape != self._picture.shape:
                photo = None if self._picture is None else self._picture.shape
                raise ValueError(f"The overlay is {overlay.shape} but the photo is {photo}")
            self._overlay, self._overlay_qimage = overlay, _to_qimage(overlay)
        self.update()

    def show_overlay(self, on: bool) -> None:
        """Switch the mesh overlay on or off (kept across :meth:`set_overlay` and :meth:`set_image`)."""
        self._overlay_shown = bool(on)
        self.update()

    def set_box_mode(self, on: bool) -> None:
        """In box mode a left drag draws a rubber-band box and emits :attr:`boxDrawn`."""
        self._box_mode = bool(on)
        self._drag = None
        self.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)
        self.update()

    def clear(self) -> None:
        """Show nothing (the placeholder text); box mode and the overlay switch are kept."""
        self._set_picture(None)
        self._faces, self._selected, self._drag = (), 0, None
        self.set_overlay(None)

    # -- painting -----------------------------------------------------------------------
    def _shown_qimage(self) -> QImage | None:
        if self._overlay_shown and self._overlay_qimage is not None:
            return self._overlay_qimage
        return self._qimage

    def _paint_over(self, painter: QPainter) -> None:
        order = [i for i in range(len(self._faces)) if i != self._selected]
        if self._faces:
            order.append(self._selected)  # drawn last, on top
        for i in order:
            selected = i == self._selected
            pen = QPen(SELECTED_BOX if selected else OTHER_BOX, 2.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self._widget_rect(self._faces[i].box))
            self._draw_points(
                painter, self._faces[i].landmarks, SELECTED_POINTS if selected else OTHER_POINTS
            )
        if self._drag is not None:
            pen = QPen(RUBBER_BAND, 1.5, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(QColor(RUBBER_BAND.red(), RUBBER_BAND.green(), RUBBER_BAND.blue(), 40))
            painter.drawRect(QRectF(*self._drag).normalized())

    # -- interaction --------------------------------------------------------------------
    def _face_at(self, x: float, y: float) -> int | None:
        """Index of the smallest face box containing the photo point, or None."""
        hits = [i for i, face in enumerate(self._faces) if face.contains((x, y))]
        return min(hits, key=lambda i: self._faces[i].area) if hits else None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._picture is None:
            super().mousePressEvent(event)
            return
        position = event.position()
        if self._box_mode:
            self._drag = (position, position)
            self.update()
        elif len(self._faces) > 1:
            index = self._face_at(*self.widget_to_photo(position))
            if index is not None:
                self.facePicked.emit(index)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is None:
            super().mouseMoveEvent(event)
            return
        self._drag = (self._drag[0], event.position())
        self.update()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag is None or event.button() != Qt.MouseButton.LeftButton:
            super().mouseReleaseEvent(event)
            return
        start, end = self._drag[0], event.position()
        self._drag = None
        self.update()
        event.accept()
        if (
            self._picture is None
            or abs(end.x() - start.x()) < MIN_DRAG
            or abs(end.y() - start.y()) < MIN_DRAG
        ):
            return
        height, width = self._picture.shape[:2]
        corners = np.array([self.widget_to_photo(start), self.widget_to_photo(end)], np.float64)
        corners[:, 0] = np.clip(corners[:, 0], 0, width - 1)
        corners[:, 1] = np.clip(corners[:, 1], 0, height - 1)
        box = np.concatenate([corners.min(axis=0), corners.max(axis=0)])
        if box[2] > box[0] and box[3] > box[1]:
            self.boxDrawn.emit(box)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self._drag is not None:
            self._drag = None
            self.update()
            event.accept()
            return
        super().keyPressEvent(event)


class CropView(_PictureCanvas):
    """The 192 x 192 crop the network saw, scaled up crisply (nearest neighbour), with its
    68 landmarks (crop pixels) drawn in :data:`SELECTED_POINTS`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("No crop yet", smooth=False, parent=parent)
        self._landmarks: np.ndarray | None = None
        self.setMinimumSize(96, 96)

    def sizeHint(self) -> QSize:
        return QSize(192, 192)

    @property
    def landmarks(self) -> np.ndarray | None:
        """The landmarks drawn, shape (68, 2), crop pixels, or None."""
        return self._landmarks

    def set_crop(self, rgb: np.ndarray, landmarks_crop: np.ndarray | None = None) -> None:
        """Show a crop and, optionally, its landmarks.

        Parameters
        ----------
        rgb : np.ndarray, shape (S, S, 3), uint8
            The crop, RGB (``Result.crop``, S = 192).
        landmarks_crop : np.ndarray or None, shape (N, 2)
            Points (x, y) in crop pixels (``Result.landmarks_crop``).

        Raises
        ------
        ValueError
            Wrong shape or dtype.
        """
        crop = _check_rgb(rgb, "The crop")
        points = None
        if landmarks_crop is not None:
            points = np.asarray(landmarks_crop, np.float64)
            if points.ndim != 2 or points.shape[1] != 2:
                raise ValueError(f"Shape of landmarks_crop is {points.shape} and should be (N, 2)")
        self._landmarks = points
        self._set_picture(crop)

    def clear(self) -> None:
        """Show nothing (the placeholder text)."""
        self._landmarks = None
        self._set_picture(None)

    def _paint_over(self, painter: QPainter) -> None:
        if self._landmarks is not None:
            self._draw_points(painter, self._landmarks, SELECTED_POINTS)
