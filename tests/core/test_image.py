"""load_image: every odd or broken input gives RGB uint8 or an ImageError naming the file."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFile

from vrn_studio.errors import ImageError
from vrn_studio.image import MAX_PIXELS, MIN_SIDE, SAMPLES, load_image, sample_image_path

RED = (255, 0, 0)


def _marker_photo() -> np.ndarray:
    """A 40 x 60 grey photo with a red 8 x 8 block near its top-left corner."""
    image = np.full((40, 60, 3), 128, np.uint8)
    image[4:12, 6:14] = RED
    return image


def _marker_centre(rgb: np.ndarray) -> tuple[float, float]:
    """(row, col) centroid of the red pixels."""
    mask = (rgb[:, :, 0] > 200) & (rgb[:, :, 1] < 80) & (rgb[:, :, 2] < 80)
    rows, cols = np.nonzero(mask)
    return rows.mean(), cols.mean()


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG file whose header claims ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


# Expected display of a stored image for each EXIF orientation, written with NumPy.
ORIENTATIONS = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_exif_orientation_is_applied(tmp_path, orientation):
    stored = _marker_photo()
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif)
    loaded = load_image(path)
    expected = ORIENTATIONS[orientation](stored)
    assert loaded.shape == expected.shape
    assert np.allclose(_marker_centre(loaded), _marker_centre(expected), atol=0.5)


def test_sample_photos_load():
    for name in SAMPLES:
        rgb = load_image(sample_image_path(name))
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert load_image(sample_image_path()).shape == (512, 512, 3)
    with pytest.raises(ValueError, match="Unknown sample image 'lena'. Available: astronaut"):
        sample_image_path("lena")


def test_unicode_path_with_spaces(tmp_path):
    path = tmp_path / "fotó de Ünïcode 顔 photo.png"
    Image.fromarray(_marker_photo()).save(path)
    assert np.array_equal(load_image(str(path)), _marker_photo())


@pytest.mark.parametrize(
    ("mode", "colour", "expected"),
    [
        ("L", 90, (90, 90, 90)),
        ("1", 1, (255, 255, 255)),
        ("CMYK", (0, 255, 255, 0), RED),
        ("LA", (40, 0), (255, 255, 255)),
        ("LA", (40, 255), (40, 40, 40)),
        ("RGBA", (255, 0, 0, 0), (255, 255, 255)),
        ("RGBA", (0, 0, 255, 255), (0, 0, 255)),
    ],
)
def test_modes_become_rgb(tmp_path, mode, colour, expected):
    path = tmp_path / f"{mode}.{'jpg' if mode == 'CMYK' else 'png'}"
    Image.new(mode, (40, 36), colour).save(path)
    rgb = load_image(path)
    assert rgb.shape == (36, 40, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb.astype(int) - expected).max() <= 2


def test_rgba_half_transparent_is_composited_over_white(tmp_path):
    path = tmp_path / "half.png"
    Image.new("RGBA", (40, 40), (0, 0, 0, 128)).save(path)
    assert np.abs(load_image(path).astype(int) - 127).max() <= 1


def test_palette_with_and_without_transparency(tmp_path):
    palette = [255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 6)
    image = Image.new("P", (40, 40), 0)
    image.putpalette(palette)
    image.paste(1, (0, 0, 20, 40))
    image.save(tmp_path / "p.png")
    rgb = load_image(tmp_path / "p.png")
    assert tuple(rgb[0, 0]) == (0, 255, 0) and tuple(rgb[0, 39]) == RED
    image.save(tmp_path / "pt.png", transparency=0)
    rgb = load_image(tmp_path / "pt.png")
    assert tuple(rgb[0, 0]) == (0, 255, 0) and tuple(rgb[0, 39]) == (255, 255, 255)


def test_sixteen_bit_greyscale_and_colour(tmp_path):
    Image.new("I;16", (40, 40), 0x8000).save(tmp_path / "i16.png")
    assert np.all(load_image(tmp_path / "i16.png") == 128)
    Image.new("I;16", (40, 40), 65535).save(tmp_path / "i16.tif")
    assert np.all(load_image(tmp_path / "i16.tif") == 255)
    bgr16 = np.zeros((40, 50, 3), np.uint16)
    bgr16[..., 2] = 65535  # red in OpenCV's BGR order
    bgr16[..., 1] = 0x8080
    assert cv2.imwrite(str(tmp_path / "rgb16.png"), bgr16)
    rgb = load_image(tmp_path / "rgb16.png")
    assert rgb.dtype == np.uint8 and np.all(rgb[..., 0] == 255) and np.all(rgb[..., 1] == 128)
    assert np.all(rgb[..., 2] == 0)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (40, 40), colour) for colour in (RED, (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(path).n_frames == 2
    assert tuple(load_image(path)[20, 20]) == RED


def test_arrays_of_each_layout_and_dtype():
    grey = np.full((40, 50), 0.5)
    assert np.all(load_image(grey) == 128)
    assert np.all(load_image(np.full((40, 50, 1), 65535, np.uint16)) == 255)
    rgba = np.zeros((40, 50, 4), np.uint8)
    assert np.all(load_image(rgba) == 255)
    rgba[..., 3] = 255
    assert np.all(load_image(rgba) == 0)
    rgb = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    out = load_image(rgb)
    assert np.array_equal(out, rgb) and not np.shares_memory(out, rgb)
    assert np.array_equal(load_image(rgb[:, ::-1]), rgb[:, ::-1])
    assert np.array_equal(load_image(rgb.astype(np.float32) / 255), rgb)
    assert np.array_equal(load_image(Image.fromarray(rgb)), rgb)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((40, 50, 2), np.uint8), r"shape \(40, 50, 2\)"),
        (np.zeros((2, 40, 50, 3), np.uint8), r"shape \(2, 40, 50, 3\)"),
        (np.zeros((40, 50, 3), np.int64), "dtype int64"),
        (np.full((40, 50, 3), 2.0), r"values in \[2, 2\].*\[0, 1\]"),
        (np.full((40, 50, 3), np.nan), "NaN"),
        (np.zeros((31, 50, 3), np.uint8), f"50 x 31 pixels.*at least {MIN_SIDE} x {MIN_SIDE}"),
    ],
)
def test_bad_arrays(array, message):
    with pytest.raises(ImageError, match=message):
        load_image(array)


def test_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="got list"):
        load_image([[0, 1]])


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageError, match=r"not found: .*nothing\.jpg"):
        load_image(tmp_path / "nothing.jpg")
    with pytest.raises(ImageError, match="is a folder"):
        load_image(tmp_path)


def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.png"
    Image.fromarray(_marker_photo()).save(path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("this user (root) can read files without read permission")
        with pytest.raises(ImageError, match=r"Cannot read .*secret\.png: permission denied"):
            load_image(path)
    finally:
        path.chmod(0o600)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.jpg is empty \(0 bytes\)"):
        load_image(path)


def test_text_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a photo\n" * 20)
    with pytest.raises(ImageError, match=r"notes\.jpg is not an image file .*convert it to JPEG or PNG"):
        load_image(path)


@pytest.mark.parametrize("brand", [b"heic", b"mif1", b"avif"])
def test_heic_and_avif_are_refused_with_advice(tmp_path, brand):
    path = tmp_path / "phone.heic"
    path.write_bytes(b"\x00\x00\x00\x18ftyp" + brand + b"\x00" * 100)
    with pytest.raises(ImageError, match=r"phone\.heic is a (HEIC|HEIF|AVIF) image.*Convert it to JPEG or PNG"):
        load_image(path)


@pytest.mark.parametrize("suffix", ["jpg", "png"])
def test_truncated_files(tmp_path, suffix):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    path = tmp_path / f"cut.{suffix}"
    Image.open(sample_image_path()).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=rf"cut\.{suffix} is truncated or damaged"):
        load_image(path)


def test_too_small_file(tmp_path):
    path = tmp_path / "dot.png"
    Image.new("RGB", (1, 1)).save(path)
    with pytest.raises(ImageError, match=r"dot\.png is 1 x 1 pixels; photos must be at least 32 x 32"):
        load_image(path)


@pytest.mark.parametrize(("width", "height"), [(12_000, 9_000), (30_000, 30_000)])
def test_huge_header_is_refused_before_decoding(tmp_path, width, height):
    path = _png_header_only(tmp_path / "bomb.png", width, height)
    assert path.stat().st_size < 200
    with pytest.raises(ImageError, match=r"bomb\.png is .*(limit of 100 megapixels|too large)"):
        load_image(path)


def test_max_pixels_is_configurable(tmp_path):
    path = tmp_path / "photo.png"
    Image.new("RGB", (100, 100)).save(path)
    with pytest.raises(ImageError, match=r"100 x 100 pixels \(0\.0 megapixels\), above the limit of 0\.005"):
        load_image(path, max_pixels=5_000)
    assert load_image(path, max_pixels=10_000).shape == (100, 100, 3)


def test_fifty_megapixel_photo_loads(tmp_path):
    assert MAX_PIXELS == 100_000_000
    width, height = 8_660, 5_774  # 50.0 megapixels
    row = np.zeros((1, width, 3), np.uint8)
    row[0, -1] = RED
    path = tmp_path / "big.png"
    Image.fromarray(np.broadcast_to(row, (height, width, 3))).save(path, compress_level=1)
    rgb = load_image(path)
    assert rgb.shape == (height, width, 3)
    assert tuple(rgb[-1, -1]) == RED and not rgb[:, :-1].any()


def test_permission_denied_message_without_root(tmp_path, monkeypatch):
    path = tmp_path / "locked.png"
    Image.fromarray(_marker_photo()).save(path)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("vrn_studio.image.open", denied, raising=False)
    with pytest.raises(ImageError, match=r"Cannot read .*locked\.png: permission denied"):
        load_image(path)


def test_float_and_premultiplied_pil_modes(tmp_path):
    Image.new("F", (40, 40), 0.5).save(tmp_path / "f.tif")
    assert np.all(load_image(tmp_path / "f.tif") == 128)
    Image.new("F", (40, 40), 200.0).save(tmp_path / "f255.tif")
    with pytest.raises(ImageError, match=r"f255\.tif has float values in \[200, 200\]; float images must lie in \[0, 1\]"):
        load_image(tmp_path / "f255.tif")
    assert np.all(load_image(Image.new("RGBa", (40, 40), (0, 0, 0, 0))) == 255)
    with pytest.raises(ImageError, match="The given PIL image has colour mode La, which cannot be converted"):
        load_image(Image.new("La", (40, 40), (40, 128)))


def test_pil_image_with_exif_orientation_is_turned_upright():
    stored = Image.fromarray(_marker_photo())
    stored.getexif()[0x0112] = 6
    loaded = load_image(stored)
    assert loaded.shape == (60, 40, 3)
    assert np.allclose(_marker_centre(loaded), _marker_centre(ORIENTATIONS[6](_marker_photo())))


def test_list_images_keeps_photos_sorted(tmp_path):
    from vrn_studio.image import list_images

    for name in ("b.PNG", "a.jpg", "notes.txt", "c.jpeg"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "d.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.jpeg"]
