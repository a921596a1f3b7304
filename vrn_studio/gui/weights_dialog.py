"""The weights manager: installed models, import of a ``.t7``, downloads, the active model.

Everything slow runs in workers (:func:`~vrn_studio.gui.workers.start_task`): checking each model's SHA-256, converting a
``.t7`` file (:func:`~vrn_studio.weights.import_t7`) and downloading
(:func:`~vrn_studio.weights.download`, cancelled cooperatively between chunks). Errors are
shown in the dialog itself, in :attr:`WeightsDialog.message_label`, never in a blocking
message box.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import FunctionWorker, GeneratorWorker

from vrn_studio.errors import VrnStudioError, WeightsError
from vrn_studio.gui.workers import start_task
from vrn_studio.weights import (
    DEFAULT_MODELS,
    KNOWN_MODELS,
    ModelEntry,
    download,
    import_t7,
    list_models,
    search_paths,
    store,
    verify_model,
)

logger = logging.getLogger(__name__)

COLUMNS = ("Name", "Location", "Size", "Licence", "SHA-256", "Verified")
"""Table columns, left to right."""
CHECKING, VERIFIED, FAILED = "…", "✓", "✗"
"""Texts of the Verified column: still hashing, matches its manifest, does not."""
_PROGRESS_STEPS = 1000


def empty_text() -> str:
    """What the dialog says when no model is installed."""
    name = DEFAULT_MODELS[0]
    known = KNOWN_MODELS.get(name)
    licence = f" ({known.licence})" if known is not None else ""
    filename = known.filename if known is not None else f"{name}.t7"
    return f"No VRN weights installed. Download {name}{licence} or import a {filename} you have."


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _verify_each(entries: list[ModelEntry]) -> Iterator[tuple[str, str | None]]:
    """Yield ``(manifest path, None or the problem)`` for each entry, hashing one file at a time."""
    for entry in entries:
        try:
            verify_model(entry)
        except WeightsError as exc:
            yield str(entry.path), str(exc)
        else:
            yield str(entry.path), None


class _ByteRelay(QObject):
    """Carries ``(done, total)`` byte counts from a download thread to the dialog's thread."""

    progressed = Signal(object, object)


class WeightsDialog(QDialog):
    """Manage VRN weights: see what is installed, import, download, pick the active model.

    Parameters
    ----------
    active_model : str, default: "default"
        The model in use: ``"default"`` (the first installed of
        :data:`~vrn_studio.weights.DEFAULT_MODELS`), a model name, or a manifest path. Its
        row is shown in bold.
    parent : QWidget, optional
        Parent widget.

    Attributes
    ----------
    table : QTableWidget
        One row per installed model (:func:`~vrn_studio.weights.list_models`), columns
        :data:`COLUMNS`; hidden when there are none.
    empty_label : QLabel
        :func:`empty_text`, shown when no model is installed.
    use_button, import_button, open_folder_button : QPushButton
        "Use this model", "Import .t7…", "Open folder".
    replace_check : QCheckBox
        Let an import replace an installed model of the same name.
    download_buttons : dict of str to QPushButton
        One "Download" button per model of :data:`~vrn_studio.weights.KNOWN_MODELS` that
        is not installed.
    progress_bar : QProgressBar
        Download progress in bytes (busy while converting); hidden when idle.
    progress_label : QLabel
        What the running job is doing.
    cancel_button : QPushButton
        Stops a download between chunks; the part received is kept for a resume.
    message_label : QLabel
        The outcome of the last job: an error message (with what to do next) or a result.

    Signals
    -------
    modelChosen(str)
        "Use this model": the model's name, or its manifest path when an earlier folder
        holds another model of that name.
    modelsChanged()
        A model was imported or downloaded.
    """

    modelChosen = Signal(str)
    modelsChanged = Signal()

    def __init__(self, active_model: str = "default", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("VRN weights")
        self.resize(780, 440)
        self._active = active_model
        self._entries: list[ModelEntry] = []
        self._rows: dict[str, int] = {}
        self._verifier: GeneratorWorker | None = None
        self._job: FunctionWorker | None = None
        self._cancel = threading.Event()
        self._relay = _ByteRelay(self)
        self._relay.progressed.connect(self._on_bytes)

        self.empty_label = QLabel(empty_text())
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(self.use_selected)

        searched = QLabel("Searched in this order: " + "; ".join(str(p) for p in search_paths()))
        searched.setWordWrap(True)
        searched.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        searched.setEnabled(False)

        self.use_button = QPushButton("Use this model")
        self.use_button.clicked.connect(self.use_selected)
        self.import_button = QPushButton("Import .t7…")
        self.import_button.clicked.connect(self._choose_t7)
        self.replace_check = QCheckBox("Replace an installed model of the same name")
        self.open_folder_button = QPushButton("Open folder")
        self.open_folder_button.setToolTip(str(store.user_dir()))
        self.open_folder_button.clicked.connect(self.open_folder)
        actions = QHBoxLayout()
        for widget in (self.use_button, self.import_button, self.replace_check):
            actions.addWidget(widget)
        actions.addStretch(1)
        actions.addWidget(self.open_folder_button)

        self.downloads_box = QGroupBox("Download")
        self._downloads_layout = QVBoxLayout(self.downloads_box)
        self.download_buttons: dict[str, QPushButton] = {}

        self.progress_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, _PROGRESS_STEPS)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_download)
        self._progress_row = QWidget()
        progress = QHBoxLayout(self._progress_row)
        progress.setContentsMargins(0, 0, 0, 0)
        progress.addWidget(self.progress_label)
        progress.addWidget(self.progress_bar, 1)
        progress.addWidget(self.cancel_button)
        self._progress_row.hide()

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label.hide()

        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(searched)
        layout.addLayout(actions)
        layout.addWidget(self.downloads_box)
        layout.addWidget(self._progress_row)
        layout.addWidget(self.message_label)
        layout.addWidget(close)
        self.refresh()

    @property
    def active_model(self) -> str:
        """The active model as given or last chosen (a name, ``"default"`` or a path)."""
        return self._active

    def is_busy(self) -> bool:
        """Whether an import or download is running."""
        return self._job is not None

    def refresh(self) -> None:
        """Read the installed models again, rebuild the table and start checking their SHA-256."""
        if self._verifier is not None:
            self._verifier.quit()
        self._entries = list_models()
        self._rows = {str(entry.path): row for row, entry in enumerate(self._entries)}
        self.table.setRowCount(len(self._entries))
        for row, entry in enumerate(self._entries):
            shadowed_by = self._first_named(entry.name)
            cells = (
                entry.name,
                entry.location,
                _megabytes(entry.manifest.size),
                entry.manifest.licence,
                entry.manifest.sha256[:12],
                CHECKING,
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(
                    str(entry.path)
                    if shadowed_by is entry
                    else f"{entry.path}\nHidden by {shadowed_by.path}: choose it here to use it by path"
                )
                self.table.setItem(row, column, item)
            self.table.item(row, COLUMNS.index("Verified")).setToolTip("Checking the SHA-256…")
        self.empty_label.setVisible(not self._entries)
        self.table.setVisible(bool(self._entries))
        self._highlight_active()
        self._rebuild_downloads()
        self._update_buttons()
        self._verifier = (
            start_task(
                _verify_each,
                list(self._entries),
                connect={"yielded": self._on_verified, "errored": self._on_verify_errored},
            )
            if self._entries
            else None
        )

    def _first_named(self, name: str) -> ModelEntry:
        """The entry loading ``name`` picks (the first in search order)."""
        return next(entry for entry in self._entries if entry.name == name)

    def _choice_for(self, row: int) -> str:
        """What "Use this model" reports for a row: its name, or its path if the name is taken."""
        entry = self._entries[row]
        return entry.name if self._first_named(entry.name) is entry else str(entry.path)

    def _active_row(self) -> int | None:
        names = DEFAULT_MODELS if self._active == "default" else (self._active,)
        for name in names:
            for row, entry in enumerate(self._entries):
                if entry.name == name:
                    return row
        for row, entry in enumerate(self._entries):
            if self._active in (str(entry.path), str(entry.weights_path)):
                return row
        return None

    def _highlight_active(self) -> None:
        active = self._active_row()
        for row, entry in enumerate(self._entries):
            self.table.item(row, 0).setText(f"{entry.name} (active)" if row == active else entry.name)
            for column in range(self.table.columnCount()):
                item = self.table.item(row, column)
                font = QFont(item.font())
                font.setBold(row == active)
                item.setFont(font)

    def _rebuild_downloads(self) -> None:
        while self._downloads_layout.count():
            self._downloads_layout.takeAt(0).widget().deleteLater()
        self.download_buttons = {}
        installed = {entry.name for entry in self._entries}
        for name, known in KNOWN_MODELS.items():
            if name in installed:
                continue
            row = QWidget()
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            label = QLabel(f"<b>{name}</b> ({known.licence}) from {known.url}")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            button = QPushButton("Download")
            button.clicked.connect(lambda _=False, n=name: self.start_download(n))
            line.addWidget(label, 1)
            line.addWidget(button)
            self._downloads_layout.addWidget(row)
            self.download_buttons[name] = button
        self.downloads_box.setVisible(bool(self.download_buttons))

    def _update_buttons(self) -> None:
        idle = self._job is None
        self.use_button.setEnabled(bool(self.table.selectedItems()))
        self.import_button.setEnabled(idle)
        self.replace_check.setEnabled(idle)
        for button in self.download_buttons.values():
            button.setEnabled(idle)

    def _on_verified(self, outcome: tuple[str, str | None]) -> None:
        path, problem = outcome
        row = self._rows.get(path)
        if row is None:
            return
        item = self.table.item(row, COLUMNS.index("Verified"))
        item.setText(FAILED if problem else VERIFIED)
        item.setForeground(QColor("#c62828") if problem else QColor("#2e7d32"))
        item.setToolTip(problem or "The file matches the SHA-256 and size in its manifest")

    def _on_verify_errored(self, exc: BaseException) -> None:
        logger.error("Checking the installed models failed", exc_info=exc)

    def use_selected(self) -> None:
        """Make the selected model the active one and emit :attr:`modelChosen`."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        self._active = self._choice_for(rows[0].row())
        self._highlight_active()
        self.modelChosen.emit(self._active)

    def open_folder(self) -> None:
        """Show the per-user weights folder (created if needed) in the file manager."""
        folder = store.user_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._show_message(f"Cannot create {folder}: {exc.strerror or exc}", error=True)
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self._show_message(f"Could not open {folder}; open it in your file manager.", error=True)

    def _choose_t7(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a Torch7 VRN model", str(Path.home()), "Torch7 models (*.t7);;All files (*)"
        )
        if path:
            self.start_import(path)

    def start_import(self, path: str | os.PathLike[str]) -> None:
        """Convert ``path`` (a ``.t7`` file) into the user folder as ``vrn-unguided``, in the background.

        Does nothing while another job runs. Emits :attr:`modelsChanged` on success; a
        failure is shown in :attr:`message_label` and leaves no file.
        """
        if self._job is not None:
            return
        name = DEFAULT_MODELS[0]
        source = Path(path)
        installed = [e for e in self._entries if e.name == name and e.location == "user"]
        if installed and not self.replace_check.isChecked():
            self._show_message(
                f"{name} is already installed ({installed[0].path}). Tick “{self.replace_check.text()}” "
                f"to import {source.name} over it.",
                error=True,
            )
            return
        self._cancel = threading.Event()
        self._start(
            import_t7,
            source,
            name=name,
            overwrite=self.replace_check.isChecked(),
            doing=f"Importing {source.name}: converting and checking against the .t7 network…",
            done=f"Imported {source.name} as {name} and checked it against the .t7 network.",
            cancellable=False,
        )

    def start_download(self, name: str) -> None:
        """Download a model of :data:`~vrn_studio.weights.KNOWN_MODELS` and import it, in the background.

        Does nothing while another job runs. Progress shows in :attr:`progress_bar`;
        :meth:`cancel_download` stops it. Emits :attr:`modelsChanged` on success.
        """
        if self._job is not None:
            return
        self._cancel = threading.Event()
        self._start(
            download,
            name,
            progress=self._relay.progressed.emit,
            cancel=self._cancel,
            doing=f"Getting {name}…",
            done=f"Downloaded {name}, imported it and checked it against the .t7 network.",
            cancellable=True,
        )

    def cancel_download(self) -> None:
        """Ask the running download to stop after its current chunk."""
        self._cancel.set()
        self.cancel_button.setEnabled(False)
        self.progress_label.setText("Cancelling…")

    def _start(
        self, func: Callable[..., Path], *args: Any, doing: str, done: str, cancellable: bool, **kwargs: Any
    ) -> None:
        """Run ``func(*args, **kwargs)`` in a worker, showing ``doing`` meanwhile and ``done`` after."""
        self._job = start_task(
            func,
            *args,
            connect={
                "returned": lambda _path: self._on_job_returned(done),
                "errored": self._on_job_errored,
                "finished": self._end_job,
            },
            **kwargs,
        )
        self.message_label.hide()
        self.progress_label.setText(doing)
        self.progress_bar.setRange(0, 0)
        self.cancel_button.setVisible(cancellable)
        self.cancel_button.setEnabled(cancellable)
        self._progress_row.show()
        self._update_buttons()

    def _on_bytes(self, done: int, total: int | None) -> None:
        if self._job is None or self._cancel.is_set():
            return
        if total is None:
            self.progress_bar.setRange(0, 0)
            self.progress_label.setText(f"{_megabytes(done)} received")
        elif done >= total:
            self.progress_bar.setRange(0, 0)
            self.progress_label.setText("Downloaded; converting and checking against the .t7 network…")
            self.cancel_button.setEnabled(False)
        else:
            self.progress_bar.setRange(0, _PROGRESS_STEPS)
            self.progress_bar.setValue(done * _PROGRESS_STEPS // max(total, 1))
            self.progress_bar.setFormat(f"{_megabytes(done)} of {_megabytes(total)}")
            self.progress_label.setText("Downloading")

    def _on_job_returned(self, done: str) -> None:
        self._end_job()
        self._show_message(done, error=False)
        self.refresh()
        self.modelsChanged.emit()

    def _on_job_errored(self, exc: BaseException) -> None:
        self._end_job()
        if isinstance(exc, VrnStudioError):
            self._show_message(str(exc), error=not self._cancel.is_set())
        else:
            logger.error("Weights job failed", exc_info=exc)
            self._show_message(f"Unexpected error: {exc!r}. The full traceback is in the log.", error=True)

    def _end_job(self) -> None:
        """Back to idle (on the job's outcome, and again on its ``finished`` signal)."""
        self._job = None
        self._progress_row.hide()
        self._update_buttons()

    def _show_message(self, text: str, *, error: bool) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: #c62828;" if error else "")
        self.message_label.setProperty("error", error)
        self.message_label.show()

    def done(self, result: int) -> None:
        """Close: stop a download and the SHA-256 checks (an import finishes on its own)."""
        self._cancel.set()
        if self._verifier is not None:
            self._verifier.quit()
        super().done(result)
