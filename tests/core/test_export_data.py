"""Volume (.npz), landmarks (JSON) and depth (16-bit PNG) exporters."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from volumes import small_head

from vrn_studio.crop import CropTransform
from vrn_studio.errors import ExportError
from vrn_studio.export import DEPTH_PNG_SCALE, export_depth_png, export_landmarks, export_volume, load_volume
from vrn_studio.mesh import DEFAULT_LEVEL, depth_map, volume_to_mesh

TRANSFORM = CropTransform(scale=0.75, tx=-12.5, ty=3.25)


def test_volume_round_trip(tmp_path: Path) -> None:
    volume = small_head()
    path = export_volume(volume, tmp_path / "v.npz", level=DEFAULT_LEVEL, z_scale=0.5, transform=TRANSFORM)
    loaded, meta = load_volume(path)
    assert loaded.dtype == np.float32 and loaded.shape == volume.shape
    np.testing.assert_allclose(loaded, volume, atol=0.5 / 255 + 1e-7)
    np.testing.assert_array_equal(np.rint(loaded * 255), np.rint(volume * 255))
    assert meta == {"level": DEFAULT_LEVEL, "z_scale": 0.5, "transform": TRANSFORM}
    with np.load(path, allow_pickle=False) as archive:
        assert archive["volume"].dtype == np.uint8
    a, b = volume_to_mesh(volume), volume_to_mesh(loaded)
    assert abs(a.n_vertices - b.n_vertices) < 0.02 * a.n_vertices


def test_volume_full_size_is_small_on_disk(tmp_path: Path) -> None:
    volume = np.zeros((200, 192, 192), np.float32)
    volume[50:150, 40:150, 50:140] = 1.0
    path = export_volume(volume, tmp_path / "v.npz")
    assert path.stat().st_size < 200_000
    np.testing.assert_array_equal(load_volume(path)[0], volume)


def test_volume_accepts_uint8_and_rejects_bad_input(tmp_path: Path) -> None:
    raw = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    loaded, meta = load_volume(export_volume(raw, tmp_path / "v.npz"))
    np.testing.assert_array_equal(np.rint(loaded * 255), raw)
    assert meta == {}
    _, meta = load_volume(export_volume(raw, tmp_path / "n.npz", shift=np.array([1.5, 2]), size=np.int64(3)))
    assert meta == {"shift": [1.5, 2.0], "size": 3}
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        export_volume(np.zeros((3, 4)), tmp_path / "w.npz")
    with pytest.raises(ValueError, match="JSON"):
        export_volume(raw, tmp_path / "w.npz", when=object())
    with pytest.raises(ExportError, match="already exists"):
        export_volume(raw, tmp_path / "v.npz")
    (tmp_path / "other.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a VRN Studio volume"):
        load_volume(tmp_path / "other.npz")
    np.savez(tmp_path / "foreign.npz", volume=raw, metadata=np.array('{"format": "x"}'))
    with pytest.raises(ValueError, match="not a VRN Studio volume"):
        load_volume(tmp_path / "foreign.npz")
    with pytest.raises(FileNotFoundError):
        load_volume(tmp_path / "missing.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.npz", "n.npz", "other.npz", "v.npz"]


def landmarks() -> tuple[np.ndarray, np.ndarray]:
    photo = np.random.default_rng(0).uniform(100, 400, (68, 2))
    return photo, TRANSFORM.to_crop(photo)


def test_landmarks_json_schema(tmp_path: Path) -> None:
    photo, crop = landmarks()
    path = export_landmarks(
        tmp_path / "face.json",
        landmarks_photo=photo,
        landmarks_crop=crop,
        transform=TRANSFORM,
        box=np.array([90, 95, 410, 420]),
        score=np.float32(0.875),
    )
    document = json.loads(path.read_text())
    assert document["format"] == "vrn-studio-landmarks/1"
    assert (document["scheme"], document["index_base"]) == ("iBUG-68", 0)
    np.testing.assert_array_equal(document["landmarks_photo"], photo)
    np.testing.assert_array_equal(document["landmarks_crop"], crop)
    assert document["transform"] == {"scale": 0.75, "tx": -12.5, "ty": 3.25, "size": 192}
    assert CropTransform(**document["transform"]) == TRANSFORM
    assert document["box"] == [90.0, 95.0, 410.0, 420.0] and document["score"] == 0.875
    bare = export_landmarks(
        tmp_path / "bare.json", landmarks_photo=photo, landmarks_crop=crop, transform=TRANSFORM
    )
    assert json.loads(bare.read_text())["box"] is None


def test_landmarks_validation(tmp_path: Path) -> None:
    photo, crop = landmarks()
    with pytest.raises(ValueError, match=r"landmarks_crop.*\(5, 2\)"):
        export_landmarks(
            tmp_path / "f.json", landmarks_photo=photo, landmarks_crop=crop[:5], transform=TRANSFORM
        )
    with pytest.raises(ValueError, match="finite"):
        bad = photo.copy()
        bad[3, 0] = np.nan
        export_landmarks(tmp_path / "f.json", landmarks_photo=bad, landmarks_crop=crop, transform=TRANSFORM)
    with pytest.raises(ValueError, match="box"):
        export_landmarks(
            tmp_path / "f.json", landmarks_photo=photo, landmarks_crop=crop, transform=TRANSFORM, box=[1, 2]
        )
    assert list(tmp_path.iterdir()) == []


def test_depth_png_round_trip(tmp_path: Path) -> None:
    depth = depth_map(small_head())
    path = export_depth_png(depth, tmp_path / "depth.png")
    png = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.shape == depth.shape
    np.testing.assert_array_equal(png == 0, np.isnan(depth))
    surface = png > 0
    np.testing.assert_allclose(png[surface] / DEPTH_PNG_SCALE, depth[surface], atol=0.5 / DEPTH_PNG_SCALE)


def test_depth_png_scale_and_limits(tmp_path: Path) -> None:
    depth = np.array([[0.0, 1e-4, 300.0, np.nan]])
    with pytest.raises(ValueError, match="exceeds 255.996.*smaller scale"):
        export_depth_png(depth, tmp_path / "d.png")
    png = cv2.imread(str(export_depth_png(depth, tmp_path / "d.png", scale=100)), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(png, [[1, 1, 30000, 0]])
    with pytest.raises(ValueError, match="non-negative"):
        export_depth_png(np.array([[-1.0]]), tmp_path / "e.png")
    with pytest.raises(ValueError, match=r"\(2, 2, 2\)"):
        export_depth_png(np.zeros((2, 2, 2)), tmp_path / "e.png")


@pytest.mark.parametrize("kind", ["volume", "landmarks", "depth"])
def test_data_exports_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    path = tmp_path / f"result.{kind}"
    path.write_bytes(b"precious")

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    photo, crop = landmarks()
    write = {
        "volume": lambda: export_volume(small_head(), path, overwrite=True),
        "landmarks": lambda: export_landmarks(
            path, landmarks_photo=photo, landmarks_crop=crop, transform=TRANSFORM, overwrite=True
        ),
        "depth": lambda: export_depth_png(np.ones((4, 4)), path, overwrite=True),
    }[kind]
    with pytest.raises(ExportError, match="No space left"):
        write()
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
