"""MPEG-4 video files written frame by frame, atomically (a camera recording, a video's overlay)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from vrn_studio._io import atomic_path
from vrn_studio.errors import ExportError


class FrameWriter:
    """Frames appended to an MPEG-4 video (``mp4v``, the codec OpenCV's wheels write) that
    takes its name only when closed.

    The frames go to a hidden file beside ``path`` (``.NAME.part.mp4``: OpenCV picks the
    container by the extension); :meth:`close` moves it to ``path`` atomically
    (:func:`~vrn_studio._io.atomic_path`), so ``path`` never names a video cut short, and
    :meth:`abort` drops it. The video opens on the first frame, whose size it takes. One
    thread may write while another closes.

    Parameters
    ----------
    path : path
        The video to write; its folder must exist.
    fps : float
        Frame rate stored in the file, frames per second.
    overwrite : bool, default: False
        Replace an existing ``path`` when closing.

    Raises
    ------
    ExportError
        ``path`` exists already and ``overwrite`` is False.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float, *, overwrite: bool = False) -> None:
        self.path, self.fps, self.overwrite = Path(path), float(fps), overwrite
        if self.path.exists() and not overwrite:
            raise ExportError(f"{self.path} already exists; choose another folder")
        self.frames = 0
        """Frames written so far."""
        self._part = self.path.with_name(f".{self.path.name}.part{self.path.suffix}")
        self._lock = threading.Lock()
        self._writer: cv2.VideoWriter | None = None
        self._closed = False

    def write(self, rgb: np.ndarray) -> None:
        """Append a frame, (H, W, 3) uint8 RGB, the size of the first; nothing once closed.

        Raises
        ------
        ExportError
            The video cannot be created (no MPEG-4 writer, a folder that refuses files).
        """
        with self._lock:
            if self._closed:
                return
            if self._writer is None:
                writer = cv2.VideoWriter(str(self._part), cv2.VideoWriter_fourcc(*"mp4v"), self.fps,
                                         (rgb.shape[1], rgb.shape[0]))
                if not writer.isOpened():
                    raise ExportError(f"Cannot write {self.path}: OpenCV cannot create an MPEG-4 video there")
                self._writer = writer
            self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            self.frames += 1

    def close(self) -> Path | None:
        """Finish the video and give it its name (later calls do nothing and return None).

        Returns
        -------
        Path or None
            ``path``, or None when no frame was written (no file is left behind).

        Raises
        ------
        ExportError
            The file cannot be finished or renamed (disk full: the writer wrote nothing;
            ``path`` made meanwhile).
        """
        return self._finish(keep=True)

    def abort(self) -> None:
        """Drop the video written so far (``path`` is left as it was)."""
        self._finish(keep=False)

    def _finish(self, *, keep: bool) -> Path | None:
        with self._lock:
            if self._closed:
                return None
            self._closed = True
            if self._writer is not None:
                self._writer.release()
            try:
                if not self.frames or not keep:
                    return None
                if not self._part.is_file() or self._part.stat().st_size == 0:
                    raise ExportError(f"Cannot write {self.path}: the video writer wrote nothing (disk full?)")
                with atomic_path(self.path, overwrite=self.overwrite) as tmp:
                    os.replace(self._part, tmp)
                return self.path
            finally:
                self._part.unlink(missing_ok=True)
