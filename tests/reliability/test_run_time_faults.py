"""Faults while running: no GPU, a full disk, a read-only folder, a process killed while
writing, a camera unplugged, a video cut short.

Cancelling mid-inference and a second request while one runs are tested in
tests/gui/test_workers.py and tests/gui/test_main_window.py; here each fault must leave the
user's existing files as they were, say what happened, and leave the app usable.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from fakes import EllipsoidNet, FakeCamera

from vrn_studio._io import atomic_write
from vrn_studio.cli.main import main
from vrn_studio.gui import main_window
from vrn_studio.gui.settings import AppSettings, SettingsStore
from vrn_studio.gui.webcam import VideoSource, WebcamRunner
from vrn_studio.image import load_image, sample_image_path
from vrn_studio.pipeline import Reconstructor

ASTRONAUT = sample_image_path("astronaut")
PRECIOUS = b"the user's earlier export\n"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------ no GPU


def test_cuda_without_a_gpu_cli_exits_2_and_writes_nothing(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "out"
    assert main(["reconstruct", "--device", "cuda", "-o", str(out)]) == 2
    assert "error: Device 'cuda' is not available" in capsys.readouterr().err
    assert not out.exists()


def test_cuda_preference_without_a_gpu_is_reported_and_cpu_then_works(qtbot, make_window, monkeypatch,
                                                                     tmp_path: Path) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    store = SettingsStore(tmp_path / "settings.ini")
    store.save(AppSettings(device="cuda"))  # chosen on a machine that had one
    window = make_window(
        factory=lambda settings: Reconstructor(EllipsoidNet(), landmarker="dlib", device=settings.device),
        store=store,
    )
    with qtbot.waitSignal(window.runner.failed, timeout=30_000):
        window.open_path(ASTRONAUT)
    assert "Device 'cuda' is not available" in window.message.label.text()
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        window._apply_settings(AppSettings(device="cpu"))  # what Preferences > OK does
        window.open_path(ASTRONAUT)
    assert window.result.device == "cpu" and window.result.mesh is not None


# ---------------------------------------------------------------- full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Path:
    """A real 256 KiB file system (tmpfs) holding one earlier export, ``face.glb``; needs root."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.strip()}")
    (mount_point / "face.glb").write_bytes(PRECIOUS)
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_cli_export_on_a_full_disk_keeps_the_old_file(small_disk: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("VRN_STUDIO_WEIGHTS", str(small_disk / "no-weights"))  # crop, landmarks, overlay only
    overlay = small_disk / "astronaut_overlay.png"
    overlay.write_bytes(PRECIOUS)
    code = main(["reconstruct", str(ASTRONAUT), "-o", str(small_disk), "-f", "landmarks,overlay", "--overwrite",
                 "--landmarker", "dlib", "--device", "cpu"])  # the 512 x 512 overlay PNG does not fit
    assert code == 1
    assert f"failed: {ASTRONAUT}: Cannot write {overlay}: No space left on device" in capsys.readouterr().err
    assert overlay.read_bytes() == PRECIOUS
    assert _leftovers(small_disk) == ["astronaut_landmarks.json", "astronaut_overlay.png", "face.glb"]


def test_window_export_on_a_full_disk_says_so_and_keeps_the_old_file(qtbot, make_window, small_disk) -> None:
    window = make_window()
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        window.open_path(ASTRONAUT)
    window.export("glb", small_disk / "face.glb")  # the save dialog confirmed the overwrite
    qtbot.waitUntil(lambda: window.message.isVisible(), timeout=10_000)
    assert f"Cannot write {small_disk / 'face.glb'}: No space left on device" in window.message.label.text()
    assert (small_disk / "face.glb").read_bytes() == PRECIOUS and _leftovers(small_disk) == ["face.glb"]
    window.export("landmarks", small_disk / "face.json")  # the app goes on: a small file fits
    qtbot.waitUntil(lambda: (small_disk / "face.json").exists(), timeout=10_000)


# ----------------------------------------------------------- read-only folder


def test_cli_export_into_a_read_only_folder_for_real(tmp_path: Path, permission_bound: list[str]) -> None:
    out = tmp_path / "read-only"
    out.mkdir()
    (out / "astronaut_landmarks.json").write_bytes(PRECIOUS)
    out.chmod(0o555)
    env = {**os.environ, "VRN_STUDIO_WEIGHTS": str(tmp_path / "no-weights"), "XDG_DATA_HOME": str(tmp_path),
           "TORCH_HOME": str(tmp_path / "torch")}
    try:
        run = subprocess.run(
            [*permission_bound, sys.executable, "-m", "vrn_studio.cli.main", "reconstruct", str(ASTRONAUT),
             "-o", str(out), "-f", "landmarks", "--overwrite", "--landmarker", "dlib", "--device", "cpu"],
            capture_output=True, text=True, env=env, timeout=300, check=False,
        )
    finally:
        out.chmod(0o755)
    assert run.returncode == 1, run.stderr
    assert f"failed: {ASTRONAUT}: Cannot write {out / 'astronaut_landmarks.json'}: Permission denied" in run.stderr
    assert (out / "astronaut_landmarks.json").read_bytes() == PRECIOUS
    assert _leftovers(out) == ["astronaut_landmarks.json"]


# ------------------------------------------------------- killed while writing

SLOW_EXPORT = """
import sys, time
from vrn_studio._io import atomic_open
with atomic_open(sys.argv[1], overwrite=True) as handle:
    for chunk in range(10_000):  # up to 10 GB, 1 MiB at a time: far more than it gets to write
        handle.write(bytes(2**20))
        handle.flush()
        if chunk == 3:
            print("writing", flush=True)
        time.sleep(0.005)
"""


def test_killing_the_process_mid_export_keeps_the_previous_file(tmp_path: Path) -> None:
    """Exporters encode in memory, then stream the bytes through ``atomic_open``; here a child
    process streams a huge file through it and is killed (SIGKILL, no clean-up) mid-write."""
    target = tmp_path / "face.glb"
    target.write_bytes(PRECIOUS)
    child = subprocess.Popen([sys.executable, "-c", SLOW_EXPORT, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "writing\n"
        (part,) = tmp_path.glob(".face.glb.*.part")
        assert part.stat().st_size >= 4 * 2**20
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert target.read_bytes() == PRECIOUS
    assert _leftovers(tmp_path) == sorted(["face.glb", part.name])  # one hidden temporary file, no other
    atomic_write(target, b"next export", overwrite=True)  # the next export is not disturbed by it
    assert target.read_bytes() == b"next export"
    assert part.exists()  # a fresh temporary file may belong to another writer: kept
    hour_ago = time.time() - 3600
    os.utime(part, (hour_ago, hour_ago))
    atomic_write(target, b"later export", overwrite=True)
    assert _leftovers(tmp_path) == ["face.glb"]  # the killed writer's leftover is cleaned up


# ------------------------------------------------------------------ live video


def test_camera_unplugged_mid_stream_is_reported_and_photos_still_work(qtbot, make_window, monkeypatch) -> None:
    monkeypatch.setattr(main_window, "WebcamRunner", partial(
        WebcamRunner, source_factory=partial(VideoSource, capture_factory=partial(FakeCamera, frames=8))))
    window = make_window()
    with qtbot.waitSignal(window.webcam.failed, timeout=30_000):
        window.start_webcam(0)
    assert window.message.label.text() == (
        "Camera 0 stopped delivering frames: was it unplugged or taken by another program?"
    )
    assert window.webcam.state == "stopped"
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        window.open_path(ASTRONAUT)
    assert window.result.mesh is not None


def test_video_cut_short_ends_cleanly_and_photos_still_work(qtbot, make_window, tmp_path: Path) -> None:
    photo = load_image(ASTRONAUT)
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 320))
    for i in range(40):
        writer.write(np.ascontiguousarray(photo[0:320, 40 + i : 360 + i, ::-1]))
    writer.release()
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 2])  # the copy broke off half way
    window = make_window()
    with qtbot.waitSignal(window.webcam.ended, timeout=30_000):
        window.start_webcam(str(video))
    assert 5 < window.webcam.frames_captured < 40
    assert window.stage_label.text() == "Video ended" and window.webcam.state == "stopped"
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        window.open_path(ASTRONAUT)
    assert window.result.mesh is not None
