"""Bad and odd photos through the command line and the desktop app.

``tests/core/test_image.py`` checks each message of :func:`~vrn_studio.image.load_image`;
here the same files go through the CLI (one failure per bad file, the other photos still
written, nothing written for a bad one) and the window (the message shown, the previous
result kept, the app still reconstructing afterwards). Odd but valid photos (CMYK, 16-bit,
greyscale, palette, RGBA, EXIF-rotated, animated GIF, a unicode name with spaces) must give
the same face as the plain photo. Unreadable files are checked for real, with file
permissions enforced even for root (see the ``permission_bound`` fixture).
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vrn_studio.cli.main import main
from vrn_studio.image import load_image, sample_image_path

ASTRONAUT = sample_image_path("astronaut")
CLI_OPTIONS = ["-f", "landmarks", "--landmarker", "dlib", "--device", "cpu"]


def _png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def write_bad_photos(folder: Path) -> dict[Path, str]:
    """Write one file per kind of bad photo into ``folder``; map each to a regex of its message."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg, png = folder / "cut.jpg", folder / "cut.png"
    Image.open(ASTRONAUT).convert("RGB").save(jpeg, quality=90)
    Image.open(ASTRONAUT).save(png)
    for path in (jpeg, png):
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    Image.new("RGB", (1, 1)).save(folder / "dot.png")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("shopping list: milk, eggs\n" * 10)
    (folder / "bomb.png").write_bytes(_png_header(30_000, 30_000))
    (folder / "phone.heic").write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 200)
    return {
        folder / "empty.jpg": r"is empty \(0 bytes\)",
        jpeg: r"is truncated or damaged",
        png: r"is truncated or damaged",
        folder / "notes.jpg": r"is not an image file VRN Studio can read",
        folder / "dot.png": r"is 1 x 1 pixels; photos must be at least 32 x 32",
        folder / "bomb.png": r"too large to open safely .*decompression bomb",
        folder / "phone.heic": r"is a HEIC image, which VRN Studio does not read",
        folder / "missing.png": r"not found",
    }


def _exif_rotated(path: Path) -> None:
    """The astronaut stored turned a quarter anticlockwise, with the EXIF tag (6) that turns it upright."""
    exif = Image.Exif()
    exif[0x0112] = 6  # display: rotate 90 degrees clockwise
    Image.fromarray(np.rot90(load_image(ASTRONAUT), 1)).save(path, quality=95, exif=exif)


def write_odd_photos(folder: Path) -> list[Path]:
    """The astronaut in odd but valid encodings; each must give the plain photo's face."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = load_image(ASTRONAUT)
    image = Image.fromarray(rgb)
    image.convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    image.convert("L").save(folder / "grey.png")
    image.convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(folder / "palette.png")
    rgba = image.convert("RGBA")
    rgba.putalpha(255)
    rgba.save(folder / "rgba.png")
    cv2.imwrite(str(folder / "sixteen.png"), rgb[..., ::-1].astype(np.uint16) * 257)
    _exif_rotated(folder / "exif6.jpg")
    frames = [image, Image.fromarray(255 - rgb)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    image.save(folder / "fotó de Ünïcode 顔.png")
    return sorted(folder.iterdir())


def _landmarks(path: Path) -> np.ndarray:
    return np.array(json.loads(path.read_text())["landmarks_photo"])


# ------------------------------------------------------------------------ CLI


def test_cli_reports_each_bad_photo_and_writes_the_good_one(tmp_path: Path, capsys) -> None:
    bad = write_bad_photos(tmp_path / "in")
    out = tmp_path / "out"
    code = main(["reconstruct", *map(str, bad), str(ASTRONAUT), "-o", str(out), *CLI_OPTIONS])
    err = capsys.readouterr().err
    assert code == 1
    failures = [line for line in err.splitlines() if line.startswith("failed: ")]
    assert len(failures) == len(bad)
    for path, message in bad.items():
        assert any(re.match(rf"failed: {re.escape(str(path))}: .*{message}", line) for line in failures), path
    assert f"{len(bad)} of {len(bad) + 1} photo(s) failed" in err
    assert sorted(p.name for p in out.iterdir()) == ["astronaut_landmarks.json"]


def test_cli_folder_without_photos_is_an_error(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "holiday.jpg"  # a folder, named like a photo
    folder.mkdir()
    out = tmp_path / "out"
    assert main(["reconstruct", str(folder), "-o", str(out), *CLI_OPTIONS]) == 2
    assert capsys.readouterr().err == f"error: No images found in {folder}\n"
    assert not out.exists()


def test_cli_reads_odd_but_valid_photos_like_the_plain_one(tmp_path: Path, capsys) -> None:
    odd = write_odd_photos(tmp_path / "in")
    out = tmp_path / "out"
    assert main(["reconstruct", str(ASTRONAUT), *map(str, odd), "-o", str(out), *CLI_OPTIONS]) == 0, (
        capsys.readouterr().err
    )
    expected = _landmarks(out / "astronaut_landmarks.json")
    for photo in odd:
        found = _landmarks(out / f"{photo.stem}_landmarks.json")
        assert np.abs(found - expected).mean() < 2.0, photo.name


# ------------------------------------------------------------------------ GUI


def test_window_shows_each_bad_photo_error_and_stays_usable(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        window.open_path(ASTRONAUT)
    good = window.result
    bad = write_bad_photos(tmp_path / "in")
    for path, message in bad.items():
        with qtbot.waitSignal(window.runner.failed, timeout=30_000):
            window.open_path(path)
        text = window.message.label.text()
        assert window.message.isVisible() and re.search(message, text) and path.name in text, text
        assert window.stage_label.text() == "Failed" and not window.cancel_button.isVisible()
        assert window.result is good and window.export_actions["glb"].isEnabled()  # the last result stays
    (tmp_path / "empty-folder").mkdir()
    window.open_path(tmp_path / "empty-folder")
    assert window.message.label.text() == f"No photos in {tmp_path / 'empty-folder'}"
    with qtbot.waitSignal(window.runner.resultReady, timeout=60_000):
        window.open_path(ASTRONAUT)
    assert window.result is not good and window.result.mesh is not None
    assert not window.message.isVisible()


# ------------------------------------------------------------ no read permission


def test_photo_without_read_permission_for_real(tmp_path: Path, permission_bound: list[str]) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(ASTRONAUT.read_bytes())
    secret.chmod(0)
    try:
        probe = "from vrn_studio.image import load_image; import sys; load_image(sys.argv[1])"
        run = subprocess.run([*permission_bound, sys.executable, "-c", probe, str(secret)],
                             capture_output=True, text=True, check=False)
    finally:
        secret.chmod(0o600)
    assert run.returncode == 1
    assert f"ImageError: Cannot read {secret}: permission denied" in run.stderr
    assert secret.read_bytes() == ASTRONAUT.read_bytes()
