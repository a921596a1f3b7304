"""Mesh exporters read back by minimal parsers written from each format's spec, the registry,
and atomic writing. trimesh (a test-only dependency) cross-checks that others read them too."""

from __future__ import annotations

import errno
import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from volumes import small_head

from vrn_studio.errors import ExportError
from vrn_studio.export import EXPORTERS, export_glb, export_mesh, mesh_formats, register_exporter
from vrn_studio.export.glb import CHUNK_BIN, CHUNK_JSON, GLB_MAGIC, srgb_to_linear
from vrn_studio.mesh import Mesh, face_normals, to_viewer_frame, volume_to_mesh


def coloured_head() -> Mesh:
    volume = small_head((24, 20, 20))
    image = np.random.default_rng(3).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    return to_viewer_frame(volume_to_mesh(volume, image=image), 20)


MESHES = {
    "coloured": coloured_head(),
    "plain": Mesh(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.5]]), [[0, 2, 1], [0, 1, 3]]),
    "empty": Mesh.empty(),
}


# ---------------------------------------------------------------- minimal readers


def read_obj(data: bytes) -> dict:
    v, vn, f = [], [], []
    for line in data.decode("ascii").splitlines():
        tag, *rest = line.split() or [""]
        if tag == "v":
            v.append([float(x) for x in rest])
        elif tag == "vn":
            vn.append([float(x) for x in rest])
        elif tag == "f":
            corners = [c.split("//") for c in rest]
            assert all(len(c) == 1 or c[0] == c[1] for c in corners)
            f.append([int(c[0]) - 1 for c in corners])
    v = np.array(v).reshape(len(v), -1 if v else 3)
    return {
        "vertices": v[:, :3].astype(np.float32),  # written with 9 significant digits: exact
        "colors": np.rint(v[:, 3:] * 255) if v.shape[1] == 6 else None,
        "normals": np.array(vn, np.float32) if vn else None,
        "faces": np.array(f, int).reshape(-1, 3),
    }


def read_ply(data: bytes) -> dict:
    head, body = data.split(b"end_header\n", 1)
    lines = head.decode("ascii").splitlines()
    assert lines[:2] == ["ply", "format binary_little_endian 1.0"]
    elements, kinds = {}, {"float": "<f4", "uchar": "u1", "int": "<i4"}
    for line in lines:
        words = line.split()
        if words[0] == "element":
            current = words[1]
            elements[current] = (int(words[2]), [])
        elif words[0] == "property" and words[1] == "list":
            assert words[2:] == ["uchar", "int", "vertex_indices"]
            elements[current][1].extend([("n", "u1"), ("index", "<i4", (3,))])
        elif words[0] == "property":
            elements[current][1].append((words[2], kinds[words[1]]))
    n_v, vertex_fields = elements["vertex"]
    n_f, face_fields = elements["face"]
    vertices = np.frombuffer(body, dtype=vertex_fields, count=n_v)
    faces = np.frombuffer(body, dtype=face_fields, count=n_f, offset=vertices.nbytes)
    assert len(body) == vertices.nbytes + faces.nbytes and (faces["n"] == 3).all()
    names = vertices.dtype.names

    def stack(keys: tuple[str, ...]) -> np.ndarray | None:
        return np.column_stack([vertices[k] for k in keys]) if keys[0] in names else None

    return {
        "vertices": stack(("x", "y", "z")).reshape(-1, 3),
        "normals": stack(("nx", "ny", "nz")),
        "colors": stack(("red", "green", "blue")),
        "faces": faces["index"].astype(int).reshape(-1, 3),
    }


def read_stl(data: bytes) -> dict:
    (count,) = struct.unpack_from("<I", data, 80)
    facet = np.dtype([("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attributes", "<u2")])
    assert len(data) == 84 + count * facet.itemsize == 84 + count * 50
    facets = np.frombuffer(data, dtype=facet, offset=84)
    return {"triangles": facets["vertices"], "face_normals": facets["normal"]}


def read_glb(data: bytes) -> dict:
    """Parse and validate a GLB against the glTF 2.0 binary container rules."""
    magic, version, length = struct.unpack_from("<III", data)
    assert (magic, version, length) == (GLB_MAGIC, 2, len(data)) and length % 4 == 0
    chunks, offset = [], 12
    while offset < length:
        size, kind = struct.unpack_from("<II", data, offset)
        assert size % 4 == 0
        chunks.append((kind, data[offset + 8 : offset + 8 + size]))
        offset += 8 + size
    assert offset == length
    assert chunks[0][0] == CHUNK_JSON and len(chunks) <= 2
    gltf = json.loads(chunks[0][1])  # JSON ignores the trailing space padding
    assert gltf["asset"]["version"] == "2.0"
    assert gltf["scenes"][gltf["scene"]] is not None
    if "meshes" not in gltf:
        assert len(chunks) == 1 and gltf["scenes"][0].get("nodes") is None
        return {"vertices": np.zeros((0, 3)), "faces": np.zeros((0, 3), int), "colors": None, "normals": None}
    assert chunks[1][0] == CHUNK_BIN
    binary = chunks[1][1]
    assert gltf["buffers"][0]["byteLength"] <= len(binary) < gltf["buffers"][0]["byteLength"] + 4
    sizes = {5126: ("<f4", 4), 5125: ("<u4", 4), 5121: ("u1", 1), 5123: ("<u2", 2)}
    widths = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}

    def accessor(index: int) -> tuple[np.ndarray, dict]:
        acc = gltf["accessors"][index]
        view = gltf["bufferViews"][acc["bufferView"]]
        dtype, size = sizes[acc["componentType"]]
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        assert start % size == 0 and start % 4 == 0
        width = widths[acc["type"]]
        assert acc["count"] * width * size <= view["byteLength"]
        array = np.frombuffer(binary, dtype, count=acc["count"] * width, offset=start).reshape(
            acc["count"], width
        )
        return array, acc

    primitive = gltf["meshes"][0]["primitives"][0]
    assert primitive.get("mode", 4) == 4
    material = gltf["materials"][primitive["material"]]
    assert material["pbrMetallicRoughness"]["baseColorFactor"] == [1.0, 1.0, 1.0, 1.0]
    attributes = primitive["attributes"]
    position, acc = accessor(attributes["POSITION"])
    assert acc["componentType"] == 5126 and acc["type"] == "VEC3"
    np.testing.assert_array_equal(acc["min"], position.min(axis=0))
    np.testing.assert_array_equal(acc["max"], position.max(axis=0))
    indices, acc = accessor(primitive["indices"])
    assert acc["componentType"] == 5125 and acc["count"] % 3 == 0 and indices.max() < len(position)
    colors = normals = None
    if "COLOR_0" in attributes:
        linear, acc = accessor(attributes["COLOR_0"])
        assert acc["count"] == len(position) and linear.min() >= 0 and linear.max() <= 1
        srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
        colors = np.rint(srgb * 255)
    if "NORMAL" in attributes:
        normals, acc = accessor(attributes["NORMAL"])
        assert acc["count"] == len(position)
    return {"vertices": position, "faces": indices.reshape(-1, 3), "colors": colors, "normals": normals}


READERS = {"obj": read_obj, "ply": read_ply, "stl": read_stl, "glb": read_glb}


# ---------------------------------------------------------------- round trips


def test_every_registered_format_has_a_reader() -> None:
    assert mesh_formats() == sorted(READERS) == ["glb", "obj", "ply", "stl"]


@pytest.mark.parametrize("name", MESHES)
@pytest.mark.parametrize("ext", sorted(EXPORTERS))
def test_round_trip(ext: str, name: str) -> None:
    mesh = MESHES[name]
    back = READERS[ext](EXPORTERS[ext](mesh))
    if ext == "stl":
        np.testing.assert_array_equal(back["triangles"], mesh.vertices[mesh.faces])
        np.testing.assert_allclose(back["face_normals"], face_normals(mesh), atol=1e-6)
        return
    if ext == "glb" and mesh.is_empty:
        assert back["vertices"].size == 0 and back["faces"].size == 0
        return
    np.testing.assert_array_equal(back["vertices"], mesh.vertices)
    np.testing.assert_array_equal(back["faces"], mesh.faces)
    for key in ("colors", "normals"):
        if getattr(mesh, key) is None or len(mesh.vertices) == 0:
            assert back[key] is None or back[key].size == 0
        else:
            np.testing.assert_array_equal(back[key], getattr(mesh, key))


def test_glb_stores_linear_colours_and_pads_json_with_spaces() -> None:
    mesh = MESHES["coloured"]
    data = export_glb(mesh)
    (json_length,) = struct.unpack_from("<I", data, 12)
    gltf = json.loads(data[20 : 20 + json_length])
    color = gltf["accessors"][gltf["meshes"][0]["primitives"][0]["attributes"]["COLOR_0"]]
    assert (color["componentType"], color["type"], color["count"]) == (5126, "VEC3", mesh.n_vertices)
    assert gltf["accessors"][0]["count"] == mesh.n_vertices
    assert gltf["accessors"][-1]["count"] == 3 * mesh.n_faces
    np.testing.assert_allclose(
        srgb_to_linear(np.array([[0, 255, 188]], np.uint8)), [[0, 1, 0.5029]], atol=1e-4
    )
    raw = data[20 : 20 + json_length]
    assert raw.endswith(b"}" + b" " * (len(raw) - len(raw.rstrip(b" "))))


@pytest.mark.parametrize("ext", sorted(EXPORTERS))
def test_trimesh_reads_our_files(ext: str, tmp_path: Path) -> None:
    trimesh = pytest.importorskip("trimesh")
    mesh = MESHES["coloured"]
    path = export_mesh(mesh, tmp_path / f"head.{ext}")
    loaded = trimesh.load(path, process=False, force="mesh")
    triangles = np.asarray(loaded.vertices)[np.asarray(loaded.faces)]
    np.testing.assert_allclose(triangles, mesh.vertices[mesh.faces], atol=1e-5)
    if ext in ("obj", "ply"):
        np.testing.assert_array_equal(np.asarray(loaded.visual.vertex_colors)[:, :3], mesh.colors)
    assert loaded.volume > 0  # closed and outward wound


# ---------------------------------------------------------------- registry


def test_unknown_extension_lists_supported(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"'\.fbx'.*Supported: \.glb, \.obj, \.ply, \.stl"):
        export_mesh(MESHES["plain"], tmp_path / "head.fbx")
    with pytest.raises(ExportError, match="no extension"):
        export_mesh(MESHES["plain"], tmp_path / "head")
    assert list(tmp_path.iterdir()) == []


def test_file_type_overrides_the_extension(tmp_path: Path) -> None:
    path = export_mesh(MESHES["plain"], tmp_path / "head.bin", file_type=".PLY")
    assert path == tmp_path / "head.bin" and path.read_bytes().startswith(b"ply\n")
    assert export_mesh(MESHES["plain"], tmp_path / "HEAD.OBJ").read_bytes().startswith(b"# VRN")


def test_register_exporter_refuses_silent_replacement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vrn_studio.export.registry.EXPORTERS", dict(EXPORTERS))
    from vrn_studio.export import registry

    with pytest.raises(ValueError, match=r"'\.ply' is already registered.*override=True"):
        register_exporter(".PLY", lambda mesh: b"")
    register_exporter(".PLY", lambda mesh: b"x", override=True)
    register_exporter("off", lambda mesh: b"OFF")
    assert registry.EXPORTERS["ply"](MESHES["plain"]) == b"x"
    assert "off" in registry.mesh_formats()
    with pytest.raises(ValueError, match="empty"):
        register_exporter(".", lambda mesh: b"")
    assert "off" not in EXPORTERS


# ---------------------------------------------------------------- atomic writing


def test_no_overwrite_without_flag(tmp_path: Path) -> None:
    path = tmp_path / "head.ply"
    path.write_bytes(b"precious")
    with pytest.raises(ExportError, match="already exists"):
        export_mesh(MESHES["plain"], path)
    assert path.read_bytes() == b"precious"
    export_mesh(MESHES["plain"], path, overwrite=True)
    assert path.read_bytes().startswith(b"ply\n")
    assert [p.name for p in tmp_path.iterdir()] == ["head.ply"]


def test_failing_exporter_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(mesh: Mesh) -> bytes:
        raise RuntimeError("encoder crashed half way")

    monkeypatch.setitem(EXPORTERS, "ply", broken)
    path = tmp_path / "head.ply"
    path.write_bytes(b"precious")
    with pytest.raises(RuntimeError, match="half way"):
        export_mesh(MESHES["plain"], path, overwrite=True)
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["head.ply"]


class FullDisk(io.RawIOBase):
    """A file object whose writes fail like a full disk after a few bytes."""

    def __init__(self, real: io.BufferedWriter) -> None:
        self.real = real

    def write(self, data: bytes) -> int:
        self.real.write(bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.real.close()


@pytest.mark.parametrize("existing", [True, False])
def test_full_disk_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    import builtins

    def full_disk_open(file: Path, mode: str) -> io.BufferedIOBase:
        handle = builtins.open(file, mode)  # noqa: SIM115 (handed to the code under test, which closes it)
        return FullDisk(handle) if "w" in mode else handle

    monkeypatch.setattr("vrn_studio._io.open", full_disk_open, raising=False)
    path = tmp_path / "head.glb"
    if existing:
        path.write_bytes(b"precious")
    with pytest.raises(ExportError, match="No space left on device"):
        export_mesh(MESHES["coloured"], path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == (["head.glb"] if existing else [])
    if existing:
        assert path.read_bytes() == b"precious"


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="does not exist"):
        export_mesh(MESHES["plain"], tmp_path / "nowhere" / "head.obj")
