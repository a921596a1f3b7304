"""Comparing a mesh with a scan (``vrn_studio.eval.compare`` and ``vrn-studio compare``).

The scans are made from a face-like height field (and once from a face of the synthetic
generator) by a known similarity transform and, in some tests, a known displacement of d along
the normals of a cheek patch, so the expected transform, distances and NME are known exactly.
Tolerances: with no displacement the transform comes back to 1e-4 (entries of order 30) and the
distances to 1e-4 (vertices are float32); with the displacement the distances inside the patch
are d within 1%, those outside it below 0.1% of d, and the NME is the patch's share of scan
vertices times d over the interocular distance, within 1%.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh

from vrn_studio.cli.main import main
from vrn_studio.eval import face_region_mask, outer_interocular
from vrn_studio.eval.compare import (
    HEAT_COLORMAP,
    CompareError,
    Comparison,
    compare_meshes,
    heatmap_colors,
    heatmap_picture,
    load_landmarks_3d,
    load_mesh_file,
)
from vrn_studio.export import export_mesh
from vrn_studio.mesh import Mesh, euler_rotation, vertex_normals
from vrn_studio.train.synthetic import SyntheticFaces

SCALE = 1.7
SHIFT = np.array([30.0, -10.0, 5.0])
CHEEK = np.array([20.0, -12.0])
"""Centre (x, y) of the displaced patch on the face, in the face's own frame."""
CHEEK_RADIUS = 12.0
INTEROCULAR = 95.0


def face_mesh(step: float = 2.0) -> Mesh:
    """An open face-like height field, 80 x 100 units (x right, y up, facing +z): a dome with a
    nose, eye sockets and a chin ridge, two triangles per grid cell (2091 vertices)."""
    ys, xs = np.mgrid[-50:50 + step / 2:step, -40:40 + step / 2:step]
    z = 30 * np.sqrt(np.clip(1 - (xs / 45) ** 2 - (ys / 60) ** 2, 0, None))
    z += 14 * np.exp(-(xs**2 + (ys + 2) ** 2 / 4) / (2 * 5**2))
    for eye in (-17, 17):
        z -= 5 * np.exp(-((xs - eye) ** 2 + (ys - 12) ** 2) / (2 * 6**2))
    z += 4 * np.exp(-(xs**2 + (ys + 28) ** 2 / 0.3) / (2 * 8**2))
    rows, cols = xs.shape
    i = (np.arange(rows - 1)[:, None] * cols + np.arange(cols - 1)[None]).ravel()
    faces = np.concatenate([
        np.column_stack([i, i + 1, i + cols + 1]), np.column_stack([i, i + cols + 1, i + cols])
    ])
    return Mesh(np.column_stack([xs.ravel(), ys.ravel(), z.ravel()]), faces)


def similarity(degrees: float, scale: float = SCALE) -> np.ndarray:
    """(4, 4) similarity: a rotation about all three axes (largest ``degrees``), ``scale``, SHIFT."""
    transform = np.eye(4)
    transform[:3, :3] = scale * euler_rotation(*np.radians([degrees / 2, -degrees, degrees / 4]))
    transform[:3, 3] = SHIFT
    return transform


def make_scan(mesh: Mesh, transform: np.ndarray, depth: float = 0.0) -> tuple[Mesh, np.ndarray]:
    """``mesh`` moved by ``transform``, the cheek patch pushed ``depth`` along its normals (scan
    units); also the patch's vertex mask."""
    vertices = mesh.vertices.astype(np.float64) @ transform[:3, :3].T + transform[:3, 3]
    normals = vertex_normals(Mesh(vertices, mesh.faces)).astype(np.float64)
    patch = np.linalg.norm(mesh.vertices[:, :2] - CHEEK, axis=1) < CHEEK_RADIUS
    return Mesh(vertices + depth * normals * patch[:, None], mesh.faces), patch


@pytest.fixture(scope="module")
def synthetic_face() -> Mesh:
    """A face of the project's synthetic generator (11k vertices, about 50 x 63 x 44 units)."""
    face = SyntheticFaces(seed=8, size=48).sample(0)
    return Mesh(face.vertices, face.faces)


@pytest.mark.parametrize(
    ("shape", "degrees"), [("height field", 10.0), ("height field", 30.0), ("synthetic", 30.0)]
)
def test_a_similarity_is_undone(shape: str, degrees: float, request: pytest.FixtureRequest) -> None:
    mesh = request.getfixturevalue("synthetic_face") if shape == "synthetic" else face_mesh()
    truth = similarity(degrees)
    scan, _ = make_scan(mesh, truth)
    result = compare_meshes(mesh, scan, interocular=INTEROCULAR)
    assert np.allclose(result.transform, truth, atol=1e-4)
    assert result.scale == pytest.approx(SCALE, rel=1e-6)
    assert result.distances.shape == (mesh.n_vertices,) and result.distances.max() < 1e-4
    assert result.nme < 1e-6 and result.icp_rmse < 1e-4
    assert (result.normaliser, result.normaliser_kind) == (INTEROCULAR, "interocular")
    assert np.allclose(result.aligned.vertices, scan.vertices, atol=1e-4)


def test_rigid_alignment_keeps_the_size() -> None:
    mesh = face_mesh()
    truth = similarity(15.0, scale=1.0)
    result = compare_meshes(mesh, make_scan(mesh, truth)[0], scale=False, interocular=INTEROCULAR)
    assert result.scale == pytest.approx(1.0, abs=1e-9)
    assert np.allclose(result.transform, truth, atol=1e-4) and result.distances.max() < 1e-4
    bigger = compare_meshes(mesh, make_scan(mesh, similarity(15.0))[0], scale=False)
    assert bigger.scale == pytest.approx(1.0, abs=1e-9) and bigger.distances.mean() > 1.0


def test_a_displaced_patch_shows_in_the_distances_and_the_nme() -> None:
    mesh, depth = face_mesh(), 2.0
    truth = similarity(15.0)
    scan, patch = make_scan(mesh, truth, depth)
    result = compare_meshes(mesh, scan, interocular=INTEROCULAR)
    assert np.allclose(result.transform, truth, atol=1e-4)
    inside = np.linalg.norm(mesh.vertices[:, :2] - CHEEK, axis=1) < CHEEK_RADIUS - 3  # away from its rim
    assert result.distances[inside] == pytest.approx(depth, rel=0.01)
    assert result.distances[~patch].max() < 1e-3 * depth
    assert result.distances[patch].max() <= depth * 1.01
    assert result.nme == pytest.approx(depth * patch.mean() / INTEROCULAR, rel=0.01)
    summary = result.summary()
    assert summary["max"] == pytest.approx(depth, rel=0.01) and summary["vertices"] == mesh.n_vertices
    assert summary["region_vertices"] == scan.n_vertices
    assert result.vmax == pytest.approx(np.percentile(result.distances, 95))
    assert np.array_equal(result.aligned.colors, heatmap_colors(result.distances, result.vmax))


def test_landmarks_give_the_face_region_and_the_interocular_distance() -> None:
    mesh = face_mesh()
    truth = similarity(10.0)
    scan, _ = make_scan(mesh, truth)
    landmarks = np.zeros((68, 3))
    landmarks[36], landmarks[45], landmarks[30] = [-30, 12, 20], [30, 12, 20], [0, -2, 44]
    landmarks = landmarks @ truth[:3, :3].T + truth[:3, 3]
    result = compare_meshes(mesh, scan, landmarks_3d=landmarks)
    assert result.normaliser_kind == "interocular"
    assert result.normaliser == pytest.approx(outer_interocular(landmarks)) == pytest.approx(60 * SCALE)
    assert np.array_equal(result.region, face_region_mask(scan.vertices, landmarks))
    assert 0 < result.region.sum() < scan.n_vertices and result.nme < 1e-6


def test_without_landmarks_the_nme_is_over_the_bounding_box_diagonal() -> None:
    mesh = face_mesh()
    scan, _ = make_scan(mesh, similarity(10.0), 2.0)
    result = compare_meshes(mesh, scan)
    diagonal = np.linalg.norm(scan.vertices.max(axis=0) - scan.vertices.min(axis=0))
    assert result.normaliser_kind == "bbox-diagonal"
    assert result.normaliser == pytest.approx(diagonal, rel=1e-6)
    assert result.region.all()
    assert result.nme == pytest.approx(compare_meshes(mesh, scan, interocular=diagonal).nme)


def test_unusable_meshes_are_refused() -> None:
    mesh = face_mesh()
    with pytest.raises(CompareError, match="scan has no triangles"):
        compare_meshes(mesh, Mesh.empty())
    with pytest.raises(CompareError, match="same point"):
        compare_meshes(Mesh(np.zeros((3, 3)), [[0, 1, 2]]), mesh)
    with pytest.raises(CompareError, match="colour range"):
        compare_meshes(mesh, mesh, vmax=0.0)


def test_heatmap_colors_run_along_the_colour_map() -> None:
    colors = heatmap_colors(np.array([0.0, 0.5, 1.0, 7.0, -1.0]), vmax=1.0)
    assert colors.dtype == np.uint8 and colors.shape == (5, 3)
    assert colors[0].tolist() == HEAT_COLORMAP[0].tolist() == colors[4].tolist()
    assert colors[2].tolist() == HEAT_COLORMAP[-1].tolist() == colors[3].tolist()
    assert colors[1].tolist() == HEAT_COLORMAP[len(HEAT_COLORMAP) // 2].tolist()
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="vmax"):
            heatmap_colors(np.zeros(2), bad)


def comparison() -> Comparison:
    mesh = face_mesh()
    return compare_meshes(mesh, make_scan(mesh, similarity(10.0), 2.0)[0], interocular=INTEROCULAR)


def colour_bar(picture: np.ndarray) -> np.ndarray:
    """The coloured pixels (greys left out), top to bottom, of the picture's column with the most
    distinct colours: the colour bar's, which runs from the colour map's top to its bottom."""
    counts = [len(np.unique(picture[:, c], axis=0)) for c in range(picture.shape[1])]
    column = picture[:, int(np.argmax(counts))].astype(int)
    painted = column[~(column == column[:, :1]).all(axis=1)]
    assert np.abs(painted[0] - HEAT_COLORMAP[-1]).max() <= 2  # the top of the map at the top
    assert np.abs(painted[-1] - HEAT_COLORMAP[0]).max() <= 2
    return painted


def test_heatmap_picture_draws_the_mesh_and_a_colour_bar() -> None:
    result = comparison()
    picture = heatmap_picture(result.aligned, result.distances, result.vmax, label="distance (mm)", size=256)
    assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[0] == 256
    view = picture[:, : picture.shape[1] // 2]
    assert (view != 255).any(axis=2).mean() > 0.3  # the face covers a good part of its side
    assert len(np.unique(colour_bar(picture), axis=0)) > 100
    with pytest.raises(ValueError, match="distances"):
        heatmap_picture(result.aligned, result.distances[:-1], result.vmax)


@pytest.mark.parametrize("ext", ["obj", "ply", "stl", "off", "glb"])
def test_load_mesh_file_reads_every_format(tmp_path: Path, ext: str) -> None:
    mesh = face_mesh()
    path = tmp_path / f"face.{ext}"
    trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).export(path)
    loaded = load_mesh_file(path)
    assert loaded.n_faces == mesh.n_faces
    assert np.allclose(loaded.vertices[loaded.faces], mesh.vertices[mesh.faces], atol=1e-4)


def test_load_mesh_file_concatenates_a_scene(tmp_path: Path) -> None:
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.creation.box(extents=(1, 1, 1)))
    shifted = trimesh.transformations.translation_matrix([5, 0, 0])
    scene.add_geometry(trimesh.creation.box(extents=(1, 1, 1)), transform=shifted)
    scene.export(tmp_path / "two.glb")
    loaded = load_mesh_file(tmp_path / "two.glb")
    assert loaded.n_faces == 24
    assert np.allclose(loaded.vertices.min(axis=0), [-0.5, -0.5, -0.5])
    assert np.allclose(loaded.vertices.max(axis=0), [5.5, 0.5, 0.5])


POINT_CLOUD = (
    "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
    "end_header\n0 0 0\n1 0 0\n0 1 0\n"
)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.obj", None, "does not exist"),
        ("empty.ply", b"", "empty"),
        ("notes.txt", b"hello\n", "not a mesh file"),
        ("photo.png", None, "not a mesh file"),
        ("points.ply", POINT_CLOUD.encode(), "no triangles"),
        ("garbage.obj", b"this is not an obj file\n", "no triangles"),
    ],
)
def test_load_mesh_file_says_what_is_wrong(
    tmp_path: Path, name: str, content: bytes | None, reason: str
) -> None:
    path = tmp_path / name
    if name.endswith(".png"):
        cv2.imwrite(str(path), np.zeros((8, 8, 3), np.uint8))
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(CompareError, match=reason) as caught:
        load_mesh_file(path)
    assert str(path) in str(caught.value)


def test_load_mesh_file_refuses_a_folder(tmp_path: Path) -> None:
    with pytest.raises(CompareError, match="is a folder"):
        load_mesh_file(tmp_path)


def test_load_landmarks_3d(tmp_path: Path) -> None:
    points = np.arange(68 * 3, dtype=float).reshape(68, 3)
    dataset_file = {"landmarks": [[0, 0]] * 68, "landmarks_3d": points.tolist()}
    (tmp_path / "a.json").write_text(json.dumps(dataset_file))
    (tmp_path / "b.json").write_text(json.dumps(points.tolist()))
    assert np.array_equal(load_landmarks_3d(tmp_path / "a.json"), points)
    assert np.array_equal(load_landmarks_3d(tmp_path / "b.json"), points)
    (tmp_path / "c.json").write_text(json.dumps({"landmarks": [[0, 0]] * 68}))
    (tmp_path / "d.json").write_text("{not json")
    for name in ("c.json", "d.json", "missing.json"):
        with pytest.raises(CompareError, match=name):
            load_landmarks_3d(tmp_path / name)


@pytest.fixture
def mesh_and_scan(tmp_path: Path) -> tuple[Path, Path]:
    """face.obj and a displaced, moved scan.ply of it, written by the project's exporters."""
    mesh = face_mesh()
    export_mesh(mesh, tmp_path / "face.obj")
    export_mesh(make_scan(mesh, similarity(10.0), 2.0)[0], tmp_path / "scan.ply")
    return tmp_path / "face.obj", tmp_path / "scan.ply"


def test_cli_writes_the_coloured_mesh_the_picture_and_the_numbers(
    tmp_path: Path, mesh_and_scan: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    mesh_path, scan_path = mesh_and_scan
    out = tmp_path / "out"
    args = ["compare", str(mesh_path), str(scan_path), "-o", str(out), "--units", "mm", "--interocular", "95"]
    assert main(args) == 0
    said = capsys.readouterr().out
    assert "NME" in said and "(mm)" in said and "scale 1.7" in said

    ply = trimesh.load(out / "face_aligned.ply", process=False)
    assert len(ply.vertices) == face_mesh().n_vertices and len(ply.faces) == face_mesh().n_faces
    expected = compare_meshes(load_mesh_file(mesh_path), load_mesh_file(scan_path), interocular=95.0)
    assert np.array_equal(np.asarray(ply.visual.vertex_colors)[:, :3], expected.aligned.colors)
    assert np.allclose(ply.vertices, expected.aligned.vertices)

    picture = cv2.imread(str(out / "face_heatmap.png"))[..., ::-1]
    assert picture.shape[0] == 512 and picture.std() > 20
    assert len(np.unique(colour_bar(picture), axis=0)) > 100

    report = json.loads((out / "face_compare.json").read_text())
    assert report["units"] == "mm" and report["scale_estimated"] is True
    assert report["scale"] == pytest.approx(SCALE, rel=1e-4)
    assert report["normaliser"] == 95.0 and report["normaliser_kind"] == "interocular"
    assert 0 < report["nme"] < 0.01 and report["max"] == pytest.approx(2.0, rel=0.01)
    assert np.array(report["transform"]).shape == (4, 4)
    assert set(report["outputs"]) == {"ply", "png", "json"}


def test_cli_refuses_to_replace_outputs_without_overwrite(
    tmp_path: Path, mesh_and_scan: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["compare", *map(str, mesh_and_scan), "-o", str(tmp_path / "out")]
    assert main(args) == 0
    before = (tmp_path / "out" / "face_compare.json").read_bytes()
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--overwrite" in err and "face_aligned.ply" in err
    assert (tmp_path / "out" / "face_compare.json").read_bytes() == before
    assert main([*args, "--overwrite"]) == 0
    assert "scan units" in capsys.readouterr().out


def test_cli_bad_scan_is_a_one_line_error(
    tmp_path: Path, mesh_and_scan: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a scan\n")
    assert main(["compare", str(mesh_and_scan[0]), str(notes), "-o", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and str(notes) in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert not (tmp_path / "out").exists()
