"""Camera ▸ Record…: where the frames come from, where the outputs go, and how many frames.

The dialog only asks; :meth:`vrn_studio.gui.main_window.MainWindow.record` does the work. It
never lets a run be overwritten: a folder that holds one (``frames.jsonl``) is resumed or
exchanged for another, as the user says.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vrn_studio.gui.webcam import VIDEO_FILE_FILTER, SourceSpec
from vrn_studio.pipeline.video import TABLE_NAME, read_table

RECORDING_NAME = "recording.mp4"
"""A camera recording's file name in its output folder."""

MAX_EVERY = 1000
"""Largest "every N-th frame" the dialog offers."""


def default_folder(source: SourceSpec, start_dir: str) -> Path:
    """The output folder Record… proposes for ``source``.

    A video file's is ``<stem>-3d`` beside it (the same each time, so recording the video again
    offers to resume), except a camera recording's (:data:`RECORDING_NAME`), which goes on in
    its own folder; a camera's is a new ``camera-<date>-<time>`` folder in ``start_dir`` (the
    last folder used; the home folder when empty).
    """
    if isinstance(source, int):
        return Path(start_dir or Path.home()) / time.strftime("camera-%Y%m%d-%H%M%S")
    video = Path(source)
    return video.parent if video.name == RECORDING_NAME else video.with_name(f"{video.stem}-3d")


def source_label(source: SourceSpec) -> str:
    """How the dialog names a source: ``Camera N`` or the video file's path."""
    return f"Camera {source}" if isinstance(source, int) else os.fspath(source)


class RecordDialog(QDialog):
    """Camera ▸ Record…: the source, the output folder and every N-th frame.

    The source is the live view's (a camera or a video file) when one runs, or a video file
    picked with "Video file…". On Record, a folder that holds a run (``frames.jsonl``) is
    never overwritten: for a video the dialog offers to resume the run (:attr:`resume`) or to
    choose another folder; a camera recording always needs a folder without a run or a
    recording.

    Parameters
    ----------
    live : int, str, os.PathLike or None
        The live view's source (camera index or video file); None when none runs.
    start_dir : str
        Where a camera's output folder goes by default (the last folder used; may be empty).
    parent : QWidget, optional
        Parent widget.

    Attributes
    ----------
    resume : bool
        After Record: the user chose to go on with the run in the folder.
    """

    def __init__(self, live: SourceSpec | None, start_dir: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Record")
        self.resume = False
        self._start_dir = start_dir
        self.source_combo = QComboBox()
        if live is not None:
            self.source_combo.addItem(f"{source_label(live)} (live view)", live)
        self.source_combo.addItem("Video file\u2026", None)
        self.source_combo.activated.connect(self._on_source_activated)
        self._chosen = 0  # the combo's last real choice, restored when picking a file is cancelled
        self.folder_edit = QLineEdit()
        self.folder_edit.textChanged.connect(self._update_button)
        browse = QPushButton("Browse\u2026")
        browse.clicked.connect(self.browse_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.every_spin = QSpinBox()
        self.every_spin.setRange(1, MAX_EVERY)
        self.every_spin.setToolTip("Reconstruct frames 0, N, 2N\u2026 (1: every frame)")
        self.note = QLabel()
        self.note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Source:", self.source_combo)
        form.addRow("Output folder:", folder_row)
        form.addRow("Every N-th frame:", self.every_spin)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Record")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)
        self._source_changed()

    # ------------------------------------------------------------------ values
    def source(self) -> SourceSpec | None:
        """The chosen camera index or video file; None until a video file is picked."""
        return self.source_combo.currentData()

    def out_dir(self) -> Path | None:
        """The output folder typed or picked; None when the field is empty."""
        text = self.folder_edit.text().strip()
        return Path(text).expanduser() if text else None

    def every(self) -> int:
        """Reconstruct every N-th frame, N >= 1."""
        return self.every_spin.value()

    # ------------------------------------------------------------------ choosing
    def pick_video(self) -> None:
        """Ask for a video file and make it the source (cancelled: the previous choice stays)."""
        start = self._start_dir
        if isinstance(self.source(), (str, os.PathLike)):
            start = os.fspath(Path(self.source()).parent)
        path, _ = QFileDialog.getOpenFileName(self, "Record from a video file", start, VIDEO_FILE_FILTER)
        if path:
            index = self.source_combo.count() - 1  # just above "Video file…"
            self.source_combo.insertItem(index, source_label(path), path)
            self._chosen = index
        self.source_combo.setCurrentIndex(self._chosen)
        self._source_changed()

    def browse_folder(self) -> None:
        """Pick the output folder with a folder dialog."""
        folder = self.out_dir()
        start = os.fspath(folder if folder is not None and folder.is_dir() else self._start_dir)
        path = QFileDialog.getExistingDirectory(self, "Output folder", start)
        if path:
            self.folder_edit.setText(path)

    def _on_source_activated(self, index: int) -> None:
        if self.source_combo.itemData(index) is None:
            self.pick_video()
        else:
            self._chosen = index
            self._source_changed()

    def _source_changed(self) -> None:
        """Propose the source's output folder and say what Record will do."""
        source = self.source()
        if source is None:
            self.note.setText("Pick a video file, or start a camera first (Camera \u25b8 Start camera).")
        else:
            self.folder_edit.setText(os.fspath(default_folder(source, self._start_dir)))
            if isinstance(source, int):
                self.note.setText(
                    f"Every frame the camera captures is written to {RECORDING_NAME} in the output folder while the "
                    "live view runs; Camera \u25b8 Stop recording ends it, then reconstructs every frame of it."
                )
            else:
                self.note.setText(
                    "Each frame is shown as it is reconstructed. The folder gets a mesh per frame, frames.jsonl, "
                    "animation.glb and overlay.mp4; Camera \u25b8 Stop recording stops early (Record\u2026 on the "
                    "same folder resumes)."
                )
        self._update_button()

    def _update_button(self) -> None:
        ready = self.source() is not None and self.out_dir() is not None
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ready)

    # ------------------------------------------------------------------ closing
    def accept(self) -> None:
        """Close with Record unless the folder is unusable or the user goes back to choose another.

        A folder holding a run offers Resume (:attr:`resume` becomes True) or Choose another
        folder (the dialog stays open); for a camera it must hold neither a run nor a recording.
        """
        source, folder = self.source(), self.out_dir()
        if source is None or folder is None:
            return
        if folder.exists() and not folder.is_dir():
            QMessageBox.warning(self, "Record", f"{folder} is a file, not a folder.")
            return
        done = read_table(folder)
        if isinstance(source, int):
            if done or (folder / RECORDING_NAME).exists():
                QMessageBox.warning(self, "Record", f"{folder} holds a recording already; a camera recording "
                                    "needs a new folder.")
                return
        elif done and not self._ask_resume(folder, len(done)):
            self.folder_edit.setFocus()
            self.folder_edit.selectAll()
            return
        self.resume = bool(done)
        super().accept()

    def _ask_resume(self, folder: Path, frames: int) -> bool:
        """Whether the user resumes the run of ``frames`` frames in ``folder`` (else: choose another)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Record",
                          f"{folder} already holds a run of {frames} frame(s) ({TABLE_NAME}).\n\n"
                          "Resume it (the frames done are kept), or choose another folder?", parent=self)
        resume = box.addButton("Resume", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Choose another folder", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(resume)
        box.exec()
        return box.clickedButton() is resume
