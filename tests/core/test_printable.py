"""Printable meshes: watertight, flat-backed, at real size; holes repaired or refused; STL and 3MF
files that trimesh reads as closed solids."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ElementTree
import zipfile

import numpy as np
import pytest
import trimesh
from fakes import pinched
from volumes import head, with_blobs

from vrn_studio.errors import ExportError
from vrn_studio.export import export_3mf, export_stl
from vrn_studio.mesh import (
    ADULT_OUTER_INTEROCULAR_MM,
    Mesh,
    PrintableMesh,
    decimate_mesh,
    face_normals,
    printable_mesh,
    volume_to_mesh,
)

NOSE_TIP = (96.0, 100.0)  # crop (x, y) of the synthetic nose's front
CHEEK = (155.0, 100.0)


def landmarks(first: tuple[float, float], second: tuple[float, float]) -> np.ndarray:
    """68 landmarks in crop pixels with the outer eye corners (36, 45) at the given points."""
    marks = np.full((68, 2), 96.0)
    marks[36], marks[45] = first, second
    return marks


EYES = landmarks((61.0, 80.0), (131.0, 80.0))


@pytest.fixture(scope="module")
def face() -> Mesh:
    """A VRN-like face: a head with a nose, extruded to the back of the grid as VRN's training
    volumes are, meshed (the padded grid border closes the back), then decimated."""
    volume = with_blobs(np.asarray(head()), [(160.0, 100.0, 96.0)], [10.0])
    extruded = np.maximum.accumulate(volume[::-1], axis=0)[::-1]
    return decimate_mesh(volume_to_mesh(extruded), 30_000)


@pytest.fixture(scope="module")
def prints(face: Mesh) -> dict[float, PrintableMesh]:
    return {base: printable_mesh(face, EYES, base_mm=base) for base in (0.0, 4.0)}


def as_trimesh(mesh: Mesh) -> trimesh.Trimesh:
    return trimesh.Trimesh(mesh.vertices, mesh.faces)  # merges coincident vertices, as readers do


def front_depth(mesh: Mesh, x: float, y: float) -> float:
    """Largest z of the surface over (x, y): the z of the front-most triangle hit by a ray along -z."""
    tri = mesh.vertices[mesh.faces].astype(np.float64)
    a, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    det = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    ok = np.abs(det) > 1e-12
    dx, dy = x - a[ok, 0], y - a[ok, 1]
    u = (dx * e2[ok, 1] - e2[ok, 0] * dy) / det[ok]
    v = (e1[ok, 0] * dy - dx * e1[ok, 1]) / det[ok]
    hit = (u >= 0) & (v >= 0) & (u + v <= 1)
    return float((a[ok, 2] + u * e1[ok, 2] + v * e2[ok, 2])[hit].max())


def assert_solid(mesh: Mesh) -> None:
    solid = as_trimesh(mesh)
    assert solid.is_watertight and solid.is_winding_consistent
    assert solid.volume > 0
    assert len(solid.vertices) == mesh.n_vertices  # no coincident vertices for a reader to merge


# ---------------------------------------------------------------- the solid


@pytest.mark.parametrize("base", [0.0, 4.0])
def test_printable_is_a_closed_outward_solid(prints: dict[float, PrintableMesh], base: float) -> None:
    printable = prints[base]
    assert_solid(printable.mesh)
    assert len(as_trimesh(printable.mesh).split()) == 1


@pytest.mark.parametrize("base", [0.0, 4.0])
def test_back_is_flat_and_size_is_the_bounding_box(prints: dict[float, PrintableMesh], base: float) -> None:
    printable = prints[base]
    v = printable.mesh.vertices
    np.testing.assert_allclose(v.min(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(v.max(axis=0), printable.size_mm, rtol=1e-6)
    normals = face_normals(printable.mesh)
    on_back = (v[printable.mesh.faces][:, :, 2] == 0).all(axis=1)
    np.testing.assert_allclose(normals[on_back], [[0, 0, -1]] * int(on_back.sum()), atol=1e-5)
    facing_back = normals[:, 2] < -0.9999
    assert (on_back == facing_back).all()  # the whole back, and only it, lies flat on z = 0
    back_area = as_trimesh(printable.mesh).area_faces[on_back].sum()
    assert back_area > 0.3 * printable.size_mm[0] * printable.size_mm[1]
    if base:
        assert printable.base_mm == base
        assert on_back.sum() == 2  # the base's bottom: one rectangle
        lid = (v[printable.mesh.faces][:, :, 2] == np.float32(base)).all(axis=1)
        assert (normals[lid, 2] > 0.9999).all() and lid.sum() > 4  # the cut fused into the base's top


def test_scale_sets_the_lifted_interocular_distance(face: Mesh) -> None:
    marks = landmarks(NOSE_TIP, CHEEK)  # far apart in depth: the 3D distance matters
    printable = printable_mesh(face, marks, interocular_mm=63.0, cut_fraction=0.7)
    corners = printable.from_crop(np.column_stack([marks[[36, 45]], [0.0, 0.0]]))
    for corner in corners:
        corner[2] = front_depth(printable.mesh, corner[0], corner[1])
    assert np.linalg.norm(corners[0] - corners[1]) == pytest.approx(63.0, rel=0.01)
    flat = np.linalg.norm(np.subtract(CHEEK, NOSE_TIP)) * printable.mm_per_pixel
    assert flat < 0.97 * 63.0  # the 2D distance would have given another scale


@pytest.mark.parametrize(("base", "euler"), [(0.0, 0), (2.0, 2)])
def test_a_ring_keeps_its_hole(base: float, euler: int) -> None:
    """A ring lying face-on cuts to an annulus: the cap keeps its hole (a solid torus, Euler
    number 0); on a base the hole is the base's top, and the whole is one ball (Euler number 2)."""
    d, y, x = np.mgrid[:40, :48, :48].astype(np.float32)
    ring = ((np.hypot(x - 24, y - 24) - 13) ** 2 + (d - 20) ** 2 < 36).astype(np.float32)
    marks = landmarks((11.0, 24.0), (37.0, 24.0))  # on the ring's front, 26 px apart
    mesh = volume_to_mesh(ring, level=0.5, z_scale=1.0)
    printable = printable_mesh(mesh, marks, interocular_mm=26.0, base_mm=base)
    assert_solid(printable.mesh)
    solid = as_trimesh(printable.mesh)
    assert solid.euler_number == euler
    half_torus = np.pi**2 * 13 * 6**2  # mm^3 at 1 mm per pixel
    slab = printable.size_mm[0] * printable.size_mm[1] * base
    assert solid.volume == pytest.approx(half_torus + slab, rel=0.01)


def test_default_interocular_and_the_2d_fallback(face: Mesh) -> None:
    assert 85.0 < ADULT_OUTER_INTEROCULAR_MM < 95.0
    off_the_face = landmarks((2.0, 2.0), (12.0, 2.0))  # over no triangle: nothing to lift onto
    assert printable_mesh(face, off_the_face).mm_per_pixel == pytest.approx(ADULT_OUTER_INTEROCULAR_MM / 10)


def test_cut_fraction_sets_the_depth(face: Mesh, prints: dict[float, PrintableMesh]) -> None:
    z = face.vertices[:, 2]
    printable = prints[0.0]
    depth_px = printable.size_mm[2] / printable.mm_per_pixel
    assert depth_px == pytest.approx(0.5 * (z.max() - z.min()), abs=0.3)
    with_base = prints[4.0]
    assert with_base.size_mm[2] == pytest.approx(printable.size_mm[2] + 4.0, abs=1e-3)


# ---------------------------------------------------------------- holes and bad input


def test_a_mesh_with_a_hole_is_repaired(face: Mesh) -> None:
    centres = face.vertices[face.faces].mean(axis=1)
    patch = np.linalg.norm(centres[:, :2] - CHEEK, axis=1) < 6.0
    patch &= centres[:, 2] > np.median(centres[:, 2])  # on the front, not the back
    holed = Mesh(face.vertices, face.faces[~patch])
    assert not as_trimesh(holed).is_watertight
    printable = printable_mesh(holed, EYES)
    assert_solid(printable.mesh)
    reference = printable_mesh(face, EYES)
    assert as_trimesh(printable.mesh).volume == pytest.approx(as_trimesh(reference.mesh).volume, rel=0.02)
    stl = trimesh.load(io.BytesIO(export_stl(printable.mesh, header=printable.title)), file_type="stl")
    assert stl.is_watertight and stl.is_winding_consistent and stl.volume > 0


def test_an_inward_wound_mesh_is_flipped(face: Mesh) -> None:
    printable = printable_mesh(Mesh(face.vertices, face.faces[:, ::-1]), EYES)
    assert_solid(printable.mesh)


def test_a_non_manifold_mesh_raises_a_clear_error(face: Mesh) -> None:
    doubled = Mesh(face.vertices, np.concatenate([face.faces, face.faces[:1]]))
    with pytest.raises(ExportError, match="non-manifold"):
        printable_mesh(doubled, EYES)


def test_a_pinched_hole_raises_a_clear_error(face: Mesh) -> None:
    with pytest.raises(ExportError, match="pinched"):
        printable_mesh(pinched(face), EYES)


def test_cli_stl_of_a_mesh_with_a_pinched_hole_is_a_one_line_error(tmp_path, monkeypatch, capsys) -> None:
    from fakes import EllipsoidNet

    from vrn_studio.cli.main import main
    from vrn_studio.pipeline import Reconstructor

    monkeypatch.setattr("vrn_studio.cli.reconstruct_cmd.Reconstructor", lambda *a, **k: Reconstructor(
        EllipsoidNet(), landmarker="dlib", device="cpu"))
    monkeypatch.setattr("vrn_studio.pipeline.save.printable_mesh",
                        lambda mesh, *a, **k: printable_mesh(pinched(mesh), *a, **k))
    out = tmp_path / "out"
    assert main(["reconstruct", "-o", str(out), "-f", "print-stl"]) != 0
    captured = capsys.readouterr()
    assert "pinched" in captured.err and "Traceback" not in captured.err + captured.out
    assert not list(out.glob("*.stl")) and not list(out.glob("*.tmp*"))  # nothing under a final name


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"interocular_mm": 0.0}, "interocular"),
        ({"base_mm": -1.0}, "base"),
        ({"cut_fraction": 1.0}, "cut fraction"),
    ],
)
def test_bad_options_raise_export_errors(face: Mesh, options: dict, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        printable_mesh(face, EYES, **options)


def test_an_empty_mesh_raises() -> None:
    with pytest.raises(ExportError, match="no triangles"):
        printable_mesh(Mesh.empty(), EYES)


# ---------------------------------------------------------------- files


def test_stl_header_carries_the_size(prints: dict[float, PrintableMesh]) -> None:
    printable = prints[4.0]
    width, height, depth = printable.size_mm
    data = export_stl(printable.mesh, header=printable.title)
    title = f"VRN Studio printable face, {width:.1f} x {height:.1f} x {depth:.1f} mm"
    assert data[:80].decode("ascii").rstrip() == title
    loaded = trimesh.load(io.BytesIO(data), file_type="stl")
    assert loaded.is_watertight and loaded.is_winding_consistent and loaded.volume > 0
    assert len(loaded.faces) == printable.mesh.n_faces
    np.testing.assert_allclose(loaded.extents, printable.size_mm, rtol=1e-5)
    assert export_stl(printable.mesh)[:80].rstrip() == b"VRN Studio binary STL"
    with pytest.raises(ValueError, match="80"):
        export_stl(printable.mesh, header="x" * 81)


def read_3mf(data: bytes) -> tuple[dict, np.ndarray, np.ndarray]:
    """A minimal reader from the 3MF core spec: (model attributes, vertices, triangles)."""
    package = zipfile.ZipFile(io.BytesIO(data))
    assert {"[Content_Types].xml", "_rels/.rels", "3D/3dmodel.model"} <= set(package.namelist())
    rels = ElementTree.fromstring(package.read("_rels/.rels"))
    assert [r.get("Target") for r in rels] == ["/3D/3dmodel.model"]
    ns = {"m": "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"}
    model = ElementTree.fromstring(package.read("3D/3dmodel.model"))
    vertices = [[float(v.get(k)) for k in "xyz"] for v in model.iterfind(".//m:vertex", ns)]
    triangles = [[int(t.get(k)) for k in ("v1", "v2", "v3")] for t in model.iterfind(".//m:triangle", ns)]
    titles = [m.text for m in model.iterfind("m:metadata", ns) if m.get("name") == "Title"]
    return {**model.attrib, "title": titles[0]}, np.array(vertices, np.float32), np.array(triangles)


def test_3mf_reads_back_in_millimetres_and_watertight(prints: dict[float, PrintableMesh]) -> None:
    printable = prints[4.0]
    data = export_3mf(printable.mesh, title=printable.title)
    attributes, vertices, triangles = read_3mf(data)
    assert attributes["unit"] == "millimeter" and attributes["title"] == printable.title
    np.testing.assert_array_equal(vertices, printable.mesh.vertices)  # 9 digits: float32 exactly
    np.testing.assert_array_equal(triangles, printable.mesh.faces)
    assert export_3mf(printable.mesh, title=printable.title) == data  # deterministic
    pytest.importorskip("lxml")  # trimesh's own 3MF reader needs it
    loaded = trimesh.load(io.BytesIO(data), file_type="3mf", force="mesh")
    assert (len(loaded.vertices), len(loaded.faces)) == (printable.mesh.n_vertices, printable.mesh.n_faces)
    assert loaded.is_watertight and loaded.is_winding_consistent and loaded.volume > 0


def test_3mf_refuses_an_empty_mesh() -> None:
    with pytest.raises(ExportError, match="no triangles"):
        export_3mf(Mesh.empty())


def test_cli_writes_printable_files_at_the_asked_size(tmp_path, monkeypatch) -> None:
    from fakes import EllipsoidNet

    from vrn_studio.cli.main import main
    from vrn_studio.pipeline import Reconstructor

    monkeypatch.setattr("vrn_studio.cli.reconstruct_cmd.Reconstructor", lambda *a, **k: Reconstructor(
        EllipsoidNet(), landmarker="dlib", device="cpu"))
    sizes = {}
    for mm in (62.0, 93.0):
        out = tmp_path / f"iod{mm:.0f}"
        assert main(["reconstruct", "-o", str(out), "-f", "print-stl,print-3mf", "--interocular-mm", str(mm),
                     "--base-mm", "3"]) == 0
        stl = out / "astronaut_print.stl"
        solid = trimesh.load(stl)
        assert solid.is_watertight and solid.is_winding_consistent and solid.volume > 0
        header = stl.read_bytes()[:80].decode("ascii")
        w, h, d = solid.extents
        assert header.startswith(f"VRN Studio printable face, {w:.1f} x {h:.1f} x {d:.1f} mm")
        assert solid.bounds[0, 2] == pytest.approx(0.0, abs=1e-4)  # lies on its back
        model = zipfile.ZipFile(out / "astronaut_print.3mf").read("3D/3dmodel.model")
        assert b'unit="millimeter"' in model
        sizes[mm] = solid.extents
    # Width and height (less the base's 2 mm margins) scale with the eye-corner distance asked for.
    np.testing.assert_allclose(sizes[93.0][:2] - 2 * 2.0, (sizes[62.0][:2] - 2 * 2.0) * 93 / 62, rtol=1e-3)


def test_cli_refuses_a_negative_size(capsys) -> None:
    from vrn_studio.cli.main import main

    with pytest.raises(SystemExit) as stop:
        main(["reconstruct", "-f", "print-stl", "--interocular-mm", "-5"])
    assert stop.value.code == 2 and "must be a number >= 0" in capsys.readouterr().err
