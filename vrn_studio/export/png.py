"""PNG encoding of RGB pictures (textures, crops, overlays)."""

from __future__ import annotations

import cv2
import numpy as np

from vrn_studio.errors import ExportError


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 RGB picture.

    Raises
    ------
    ExportError
        When OpenCV cannot encode it (empty picture, wrong type).

    Examples
    --------
    >>> encode_png(np.zeros((2, 3, 3), np.uint8))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    ok, data = cv2.imencode(".png", np.ascontiguousarray(np.asarray(rgb)[..., ::-1]))
    if not ok:
        raise ExportError(f"Could not encode a {np.shape(rgb)} picture as PNG")
    return data.tobytes()
