"""Photos in: every supported input becomes one (H, W, 3) uint8 RGB array, once, at the edge.

:func:`load_image` accepts a file path, a NumPy array or a PIL image and either returns
an RGB array or raises :class:`~vrn_studio.errors.ImageError` with a message that names
the input and says what to do next. :func:`sample_image_path` finds the bundled photos.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vrn_studio.errors import ImageError

ImageSource = str | os.PathLike | np.ndarray | Image.Image
"""Anything :func:`load_image` accepts."""

MIN_SIDE = 32
"""Smallest accepted width and height, in pixels."""

MAX_PIXELS = 100_000_000
"""Largest accepted image area, in pixels (100 megapixels), checked before decoding."""

SAMPLES = {"astronaut": "astronaut.png", "grace_hopper": "grace_hopper.jpg"}
"""Bundled sample photos by name (see ``resources/README.md`` for their provenance)."""

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"
"""The repository's ``resources/`` folder, beside the package."""

# ISO base media files (HEIF/HEIC, AVIF) start with a box size then b"ftyp" + a brand.
_ISOBMFF_BRANDS = {
    b"heic": "HEIC", b"heix": "HEIC", b"hevc": "HEIC", b"heim": "HEIC", b"heis": "HEIC",
    b"mif1": "HEIF", b"msf1": "HEIF", b"avif": "AVIF", b"avis": "AVIF",
}
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


def load_image(source: ImageSource, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read a photo as an (H, W, 3) uint8 RGB array.

    Parameters
    ----------
    source : str, os.PathLike, np.ndarray or PIL.Image.Image
        A path to an image file (any format Pillow reads: JPEG, PNG, BMP, TIFF, WebP, GIF,
        ...); or an array of shape (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA with
        dtype uint8, uint16 or float (values in [0, 1]); or a PIL image.
    max_pixels : int, default: MAX_PIXELS
        Largest accepted width x height (100 megapixels by default). Larger images are
        refused before they are decoded, which also stops decompression bombs.

    Returns
    -------
    np.ndarray, shape (H, W, 3), uint8
        The photo in RGB order, C-contiguous, never sharing memory with ``source``.

    Raises
    ------
    ImageError
        The file is missing, a folder, unreadable, empty, truncated or damaged, not an
        image, in an unsupported format (HEIC, AVIF), smaller than ``MIN_SIDE`` (32 px) on
        a side, or larger than ``max_pixels``; or the array has an unusable shape, dtype or
        value range. The message names the file (or says "The given array").
    TypeError
        ``source`` is none of the accepted types.

    Notes
    -----
    - The EXIF orientation tag (values 2 to 8) of files and PIL images is applied, so the
      array is upright as photo viewers show it.
    - Transparency (RGBA, LA, palette images with a transparent colour, (H, W, 4) arrays)
      is composited over a **white** background.
    - Greyscale, palette, CMYK and other modes are converted to RGB with Pillow; 32-bit
      float images (mode ``F``) must hold values in [0, 1], like float arrays.
    - 16-bit greyscale (``I;16``) and uint16 arrays are scaled by 255/65535 and rounded;
      16-bit colour PNGs are reduced to 8 bits by Pillow, which keeps the high byte.
    - Animated GIFs and multi-page TIFFs give their first frame.
    - Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left False: a truncated file is an
      error, never a half-grey photo.
    - Arrays with 3 channels are taken as RGB; convert OpenCV's BGR arrays first.

    Examples
    --------
    >>> import numpy as np
    >>> load_image(np.zeros((48, 64), dtype=np.uint16)).shape
    (48, 64, 3)
    """
    if isinstance(source, (str, os.PathLike)):
        name = str(source)
        with _open_file(Path(source)) as image:
            rgb = _pil_to_rgb(image, name, max_pixels)
    elif isinstance(source, Image.Image):
        name = "The given PIL image"
        rgb = _pil_to_rgb(source, name, max_pixels)
    elif isinstance(source, np.ndarray):
        name = "The given array"
        rgb = _array_to_rgb(source, name)
    else:
        raise TypeError(
            f"load_image takes a file path, a NumPy array or a PIL image; got {type(source).__name__}"
        )
    _check_size(rgb.shape[1], rgb.shape[0], name, max_pixels)
    return np.array(rgb, dtype=np.uint8, order="C", copy=True)


IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"})
"""File suffixes treated as photos when a folder is listed."""


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The photo files directly inside ``folder`` (by suffix, case-insensitive), sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def sample_image_path(name: str = "astronaut") -> Path:
    """Path of a bundled sample photo.

    Parameters
    ----------
    name : str, default: "astronaut"
        One of ``SAMPLES``: ``"astronaut"`` (NASA, Eileen Collins, 512 x 512) or
        ``"grace_hopper"`` (U.S. Navy portrait, 512 x 600); both public domain.

    Returns
    -------
    pathlib.Path
        The file in the repository's ``resources/`` folder.

    Raises
    ------
    ValueError
        ``name`` is not a known sample.
    ImageError
        The file is not there (for example an installation without ``resources/``).
    """
    if name not in SAMPLES:
        raise ValueError(f"Unknown sample image {name!r}. Available: {', '.join(SAMPLES)}")
    path = RESOURCES_DIR / SAMPLES[name]
    if not path.is_file():
        raise ImageError(
            f"Sample image {name!r} is missing: expected {path}. Run from a source checkout "
            "of VRN Studio, or pass your own photo."
        )
    return path


def _open_file(path: Path) -> Image.Image:
    """Open ``path`` with Pillow (header only), turning every failure into ImageError."""
    if not path.exists():
        raise ImageError(f"Image file not found: {path}")
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except PermissionError as exc:
        raise ImageError(f"Cannot read {path}: permission denied") from exc
    except OSError as exc:
        raise ImageError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    if not head:
        raise ImageError(f"{path} is empty (0 bytes); it is not an image")
    brand = _ISOBMFF_BRANDS.get(head[8:12]) if head[4:8] == b"ftyp" else None
    if brand is not None:
        raise ImageError(
            f"{path} is a {brand} image, which VRN Studio does not read. "
            "Convert it to JPEG or PNG first (most photo apps can export it)."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except UnidentifiedImageError as exc:
        raise ImageError(
            f"{path} is not an image file VRN Studio can read (supported: JPEG, PNG, BMP, TIFF, "
            "WebP, GIF). Check that the file is really a photo, or convert it to JPEG or PNG."
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path} is too large to open safely ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path} is damaged and cannot be read ({exc})") from exc


def _pil_to_rgb(image: Image.Image, name: str, max_pixels: int) -> np.ndarray:
    """Decode a PIL image fully (first frame), upright, as (H, W, 3) uint8 RGB."""
    _check_size(image.width, image.height, name, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name} is too large to decode safely ({exc})") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(
            f"{name} is truncated or damaged and cannot be decoded ({exc}). "
            "Re-download or re-export the photo."
        ) from exc
    if image.mode in _SIXTEEN_BIT_MODES:
        return _array_to_rgb(np.asarray(image).clip(0, 65535).astype(np.uint16), name)
    if image.mode == "F":
        return _array_to_rgb(np.asarray(image), name)
    try:
        if image.has_transparency_data:
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        return np.asarray(image.convert("RGB"))
    except ValueError as exc:
        raise ImageError(
            f"{name} has colour mode {image.mode}, which cannot be converted to RGB ({exc}); "
            "save it as an 8-bit RGB JPEG or PNG"
        ) from exc


def _array_to_rgb(array: np.ndarray, name: str) -> np.ndarray:
    """Convert an accepted array layout and dtype to (H, W, 3) uint8 RGB; ``name`` is for messages."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ImageError(
            f"{name} has shape {array.shape}; expected (H, W), (H, W, 1), (H, W, 3) RGB "
            "or (H, W, 4) RGBA"
        )
    values = _to_unit_float(array, name) if array.dtype != np.uint8 else None
    if array.shape[2] == 4:
        unit = values if values is not None else array.astype(np.float32) / 255.0
        alpha = unit[:, :, 3:]
        values = unit[:, :, :3] * alpha + (1.0 - alpha)
    if values is not None:
        array = np.rint(values * 255.0).astype(np.uint8)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return array


def _to_unit_float(array: np.ndarray, name: str) -> np.ndarray:
    """uint16 or float array to float32 in [0, 1]; other dtypes are refused."""
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if np.issubdtype(array.dtype, np.floating):
        if array.size and not np.isfinite(array).all():
            raise ImageError(f"{name} contains NaN or infinite values")
        if array.size and (array.min() < 0.0 or array.max() > 1.0):
            raise ImageError(
                f"{name} has float values in [{array.min():g}, {array.max():g}]; "
                "float images must lie in [0, 1] (divide 8-bit data by 255)"
            )
        return array.astype(np.float32)
    raise ImageError(f"{name} has dtype {array.dtype}; expected uint8, uint16 or float in [0, 1]")


def _check_size(width: int, height: int, name: str, max_pixels: int) -> None:
    """Refuse images below MIN_SIDE on a side or above ``max_pixels`` in area."""
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageError(
            f"{name} is {width} x {height} pixels; photos must be at least {MIN_SIDE} x {MIN_SIDE}"
        )
    if width * height > max_pixels:
        raise ImageError(
            f"{name} is {width} x {height} pixels ({width * height / 1e6:.1f} megapixels), above "
            f"the limit of {max_pixels / 1e6:g} megapixels; downscale it first"
        )

