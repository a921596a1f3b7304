"""Photo textures: exact UVs, unseen parts, faces at the photo's border, GLB and OBJ that read back."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import trimesh
from fakes import EllipsoidNet
from gltf_validator import validate

from vrn_studio.crop import CropTransform
from vrn_studio.errors import ExportError
from vrn_studio.export import export_textured_glb
from vrn_studio.image import sample_image_path
from vrn_studio.mesh import FILL_ROWS, Mesh, texture_from_photo
from vrn_studio.pipeline import Reconstructor, Result, save_result, textured_mesh


def coded_photo(height: int = 300, width: int = 280) -> np.ndarray:
    """A photo whose every pixel's colour names it: R = x % 256, G = y % 256, B = 64 x//256 + y//256."""
    y, x = np.mgrid[:height, :width]
    return np.stack([x % 256, y % 256, 64 * (x // 256) + y // 256], axis=-1).astype(np.uint8)


def texel(textured, uv: np.ndarray) -> np.ndarray:
    """The texture's texels (N, 3) under UVs (N, 2) (top-left origin), nearest."""
    h, w = textured.texture.shape[:2]
    col = np.clip(np.floor(uv[:, 0] * w).astype(int), 0, w - 1)
    row = np.clip(np.floor(uv[:, 1] * h).astype(int), 0, h - 1)
    return textured.texture[row, col]


def grid_mesh(x0: float, x1: float, y0: float, y1: float, z: float, n: int = 12, flip: bool = False) -> Mesh:
    """A flat square grid at depth ``z``, facing +z (towards the camera), or -z when ``flip``."""
    xs, ys = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    vertices = np.column_stack([xs.ravel(), ys.ravel(), np.full(n * n, z)])
    i = np.arange(n - 1)[:, None] * n + np.arange(n - 1)[None, :]
    a, b, c, d = i.ravel(), i.ravel() + 1, i.ravel() + n, i.ravel() + n + 1
    faces = np.concatenate([np.column_stack([a, b, c]), np.column_stack([b, d, c])])
    if flip:
        faces = faces[:, ::-1]
    return Mesh(vertices, faces)


def join(*meshes: Mesh) -> Mesh:
    offsets = np.cumsum([0] + [m.n_vertices for m in meshes[:-1]])
    return Mesh(np.concatenate([m.vertices for m in meshes]),
                np.concatenate([m.faces + o for m, o in zip(meshes, offsets)]))


# Photo -> crop: crop = 0.8 * photo + (-20, -30); a crop pixel (x, y) is photo ((x + 20) / 0.8, (y + 30) / 0.8).
TRANSFORM = CropTransform(scale=0.8, tx=-20.0, ty=-30.0)


def test_uvs_are_each_vertex_exact_projection_into_the_full_resolution_photo() -> None:
    photo = coded_photo()
    mesh = grid_mesh(40.13, 150.13, 50.07, 160.07, z=60)  # no corner half-way between two photo pixels
    textured = texture_from_photo(mesh, TRANSFORM, photo)
    assert textured.seen.all()
    photo_xy = TRANSFORM.to_photo(textured.mesh.vertices[:, :2].astype(np.float64))
    expected = photo[np.rint(photo_xy[:, 1]).astype(int), np.rint(photo_xy[:, 0]).astype(int)]
    np.testing.assert_array_equal(texel(textured, textured.uv), expected)
    # Full resolution: the texture holds the photo's pixels one to one over the face, not the crop's.
    x0, y0 = textured.origin
    h = textured.texture.shape[0] - FILL_ROWS
    np.testing.assert_array_equal(textured.texture[:h], photo[y0:y0 + h, x0:x0 + textured.texture.shape[1]])
    assert textured.texture.shape[1] >= np.ptp(photo_xy[:, 0]) > 110 / 0.8 - 1


def test_back_faces_and_hidden_faces_map_to_one_skin_colour() -> None:
    photo = coded_photo()
    front = grid_mesh(60, 100, 60, 100, z=80)  # a small plate in front ...
    back = grid_mesh(40, 150, 50, 160, z=40)  # ... of a larger one, partly hidden by it
    away = grid_mesh(40, 150, 50, 160, z=20, flip=True)  # facing away from the camera
    mesh = join(front, back, away)
    textured = texture_from_photo(mesh, TRANSFORM, photo)
    n_front, n_back = front.n_faces, back.n_faces
    assert textured.seen[:n_front].all()
    assert not textured.seen[n_front + n_back:].any()
    centres = back.vertices[back.faces].mean(axis=1)
    hidden = (centres[:, 0] > 62) & (centres[:, 0] < 98) & (centres[:, 1] > 62) & (centres[:, 1] < 98)
    clear = (centres[:, 0] > 110) | (centres[:, 1] > 110)
    assert not textured.seen[n_front:n_front + n_back][hidden].any()
    assert textured.seen[n_front:n_front + n_back][clear].all()
    # Unseen triangles' corners all sit in the band of one colour; seen ones never do.
    unseen_uv = textured.uv[np.unique(textured.mesh.faces[~textured.seen])]
    band = texel(textured, unseen_uv)
    assert (band == band[0]).all()
    h = textured.texture.shape[0]
    assert (unseen_uv[:, 1] * h > h - FILL_ROWS).all()
    seen_uv = textured.uv[np.unique(textured.mesh.faces[textured.seen])]
    assert (seen_uv[:, 1] * h < h - FILL_ROWS).all()
    # Geometry is unchanged: every triangle keeps its corners' positions.
    np.testing.assert_array_equal(textured.mesh.vertices[textured.mesh.faces], mesh.vertices[mesh.faces])
    # Every vertex is used (originals only unseen triangles used are not left behind).
    assert len(np.unique(textured.mesh.faces)) == textured.mesh.n_vertices


def test_a_face_cut_by_the_photo_border_textures_only_what_the_photo_holds() -> None:
    photo = coded_photo(120, 100)  # crop x > 60 or y > 66 lies outside this photo
    mesh = grid_mesh(20, 150, 20, 150, z=60)
    textured = texture_from_photo(mesh, TRANSFORM, photo)
    photo_xy = TRANSFORM.to_photo(mesh.vertices[:, :2].astype(np.float64))
    outside = (photo_xy[:, 0] > 99) | (photo_xy[:, 1] > 119)
    assert not textured.seen[outside[mesh.faces].any(axis=1)].any()
    assert textured.seen[~outside[mesh.faces].any(axis=1)].all()
    assert ((textured.uv >= 0) & (textured.uv <= 1)).all()
    assert textured.texture.shape[0] - FILL_ROWS <= 120 and textured.texture.shape[1] <= 100


def test_a_photo_that_is_not_rgb_is_refused() -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        texture_from_photo(grid_mesh(0, 10, 0, 10, 5), TRANSFORM, np.zeros((10, 10), np.uint8))


@pytest.fixture(scope="module")
def result() -> Result:
    return Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu").reconstruct(sample_image_path("astronaut"))


def read_glb_json(data: bytes) -> dict:
    length, kind = struct.unpack_from("<II", data, 12)
    return json.loads(data[20:20 + length])


def test_textured_glb_reads_back_textured(result: Result, tmp_path: Path) -> None:
    written = save_result(result, tmp_path, outputs=["textured-glb"])
    assert [p.name for p in written] == ["astronaut_textured.glb"]
    data = written[0].read_bytes()
    gltf = read_glb_json(data)
    attributes = gltf["meshes"][0]["primitives"][0]["attributes"]
    assert "TEXCOORD_0" in attributes and "COLOR_0" not in attributes
    assert gltf["images"][0]["mimeType"] == "image/png"
    assert gltf["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"]["index"] == 0
    loaded = trimesh.load(written[0], force="mesh")
    assert loaded.visual.kind == "texture"
    textured = textured_mesh(result)
    image = loaded.visual.material.baseColorTexture
    assert image.size == (textured.texture.shape[1], textured.texture.shape[0])
    np.testing.assert_array_equal(np.asarray(image.convert("RGB")), textured.texture)
    assert len(loaded.vertices) == textured.mesh.n_vertices
    np.testing.assert_allclose(loaded.visual.uv[:, 1], 1.0 - textured.uv[:, 1], atol=1e-6)  # trimesh: OBJ's v


def test_textured_obj_writes_obj_mtl_png_that_read_back(result: Result, tmp_path: Path) -> None:
    written = save_result(result, tmp_path, outputs=["textured-obj"])
    assert [p.name for p in written] == ["astronaut_textured.obj", "astronaut_textured.mtl", "astronaut_textured.png"]
    assert "map_Kd astronaut_textured.png" in (tmp_path / "astronaut_textured.mtl").read_text()
    loaded = trimesh.load(written[0], force="mesh")
    assert loaded.visual.kind == "texture" and loaded.visual.material.image is not None
    textured = textured_mesh(result)
    assert len(loaded.faces) == textured.mesh.n_faces
    # The textured mesh is the cleaned mesh, upright, in the same place as the vertex-colour exports.
    plain = trimesh.load(save_result(result, tmp_path / "plain", outputs=["obj"])[0], force="mesh", process=False)
    np.testing.assert_allclose(loaded.bounds, plain.bounds, atol=1e-4)


def test_textured_obj_refuses_to_overwrite_without_writing_any_file(result: Result, tmp_path: Path) -> None:
    (tmp_path / "astronaut_textured.mtl").write_text("mine")
    with pytest.raises(ExportError, match="already exists"):
        save_result(result, tmp_path, outputs=["textured-obj"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["astronaut_textured.mtl"]
    assert (tmp_path / "astronaut_textured.mtl").read_text() == "mine"


def test_textured_exports_of_a_result_without_a_mesh_write_nothing(tmp_path: Path) -> None:
    crop_only = Reconstructor(None, landmarker="dlib", device="cpu").reconstruct(sample_image_path("astronaut"))
    assert save_result(crop_only, tmp_path, outputs=["textured-glb", "textured-obj"]) == []


def test_glb_files_pass_the_khronos_gltf_validator(result: Result, tmp_path: Path) -> None:
    files = save_result(result, tmp_path, outputs=["glb", "textured-glb"])
    files.append(tmp_path / "empty.glb")
    files[-1].write_bytes(export_textured_glb(texture_from_photo(Mesh.empty(), TRANSFORM, coded_photo())))
    reports = validate(files)
    assert [r["numErrors"] for r in reports] == [0, 0, 0], reports
    assert [r["numWarnings"] for r in reports] == [0, 0, 0], reports