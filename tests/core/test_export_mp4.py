"""MPEG-4 videos written frame by frame and named only when finished (vrn_studio.export.FrameWriter)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vrn_studio.errors import ExportError
from vrn_studio.export import FrameWriter
from vrn_studio.pipeline.video_io import probe_video


def test_frame_writer_names_the_video_only_when_closed(tmp_path: Path) -> None:
    path = tmp_path / "recording.mp4"
    writer = FrameWriter(path, fps=25.0)
    for shade in (60, 120, 180):
        writer.write(np.full((240, 320, 3), shade, np.uint8))
    assert not path.exists() and writer.frames == 3
    assert writer.close() == path and writer.close() is None
    info = probe_video(path)
    assert (info.frame_count, info.fps, info.width, info.height) == (3, 25.0, 320, 240)
    assert [p.name for p in tmp_path.iterdir()] == ["recording.mp4"]  # no temporary file left
    with pytest.raises(ExportError, match="already exists"):
        FrameWriter(path, fps=25.0)
    empty = FrameWriter(tmp_path / "empty.mp4", fps=25.0)
    assert empty.close() is None and not (tmp_path / "empty.mp4").exists()


def test_an_aborted_video_leaves_the_old_one_and_overwrite_replaces_it(tmp_path: Path) -> None:
    path = tmp_path / "overlay.mp4"
    first = FrameWriter(path, fps=10.0)
    first.write(np.full((64, 64, 3), 50, np.uint8))
    first.close()
    before = path.read_bytes()
    dropped = FrameWriter(path, fps=10.0, overwrite=True)
    dropped.write(np.full((64, 64, 3), 200, np.uint8))
    dropped.abort()
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["overlay.mp4"]
    again = FrameWriter(path, fps=10.0, overwrite=True)
    for _ in range(2):
        again.write(np.full((64, 64, 3), 200, np.uint8))
    assert again.close() == path and probe_video(path).frame_count == 2
