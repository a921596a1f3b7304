"""Marching cubes and body labelling in torch: VTK's table, flying edges' mesh, scipy's bodies.

Tolerance: on the same volume ``method="torch"`` gives flying edges' vertices and triangles
in the same order, vertices equal to 1e-4 px (float32 rounding of the interpolation), normals
to 1e-4 and colours to one level.
"""

from __future__ import annotations

import importlib.util
import re
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
from volumes import ellipsoid, small_head, with_blobs

from vrn_studio.bench.synthetic import head_volume
from vrn_studio.mesh import (
    Mesh,
    face_normals,
    mesh_on_device,
    remove_bumps,
    signed_volume,
    torch_meshing,
    volume_to_mesh,
)
from vrn_studio.mesh.bumps import _label_fast
from vrn_studio.mesh.torch_meshing import label_bodies, marching_cubes

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_mc_table.py"
VERTEX_PX = 1e-4
NORMAL = 1e-4

vtk = pytest.mark.skipif(importlib.util.find_spec("vtkmodules") is None, reason="needs VTK (the fast extra)")


def assert_same_mesh(a: Mesh, b: Mesh) -> None:
    """Same triangles in the same order, vertices, normals and colours equal to the tolerance."""
    np.testing.assert_array_equal(a.faces, b.faces)
    np.testing.assert_allclose(a.vertices, b.vertices, rtol=0, atol=VERTEX_PX)
    np.testing.assert_allclose(a.normals, b.normals, rtol=0, atol=NORMAL)
    if a.colors is not None or b.colors is not None:
        assert np.abs(a.colors.astype(int) - b.colors).max() <= 1


def ball(shape: tuple[int, int, int] = (24, 22, 20), radius: float = 7.0) -> np.ndarray:
    return ellipsoid(shape, tuple((n - 1) / 2 for n in shape), (radius,) * 3)


def noise(seed: int, shape: tuple[int, int, int] = (18, 20, 22)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def crop(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (*shape[1:], 3), dtype=np.uint8)


@vtk
def test_stored_case_table_is_vtks() -> None:
    script = runpy.run_path(str(SCRIPT))
    stored = re.search(
        r'_CASES = """\n(.*?)"""',
        SCRIPT.parents[1].joinpath("vrn_studio", "mesh", "torch_meshing.py").read_text(),
        re.DOTALL,
    )
    assert stored is not None
    assert stored.group(1) == script["format_table"](script["vtk_case_table"]())


def test_every_case_uses_exactly_its_crossed_edges() -> None:
    """So vertices can be made per crossed grid edge and shared by the cells around it."""
    valid, edges, delta = torch_meshing._tables(torch.device("cpu"))
    dz, dy, axis, dx = delta
    start = dx + 2 * dy + 4 * dz  # corner bit of each edge's two ends
    end = start + (1 << axis)
    for case in range(256):
        used = set(edges[case][valid[case]].tolist())
        crossed = {e for e in range(12) if (case >> int(start[e]) & 1) != (case >> int(end[e]) & 1)}
        assert used == crossed, case
        assert valid[case].sum() % 3 == 0


@vtk
@pytest.mark.parametrize(
    "volume",
    [
        pytest.param(ball(), id="ball"),
        pytest.param(
            with_blobs(small_head((48, 40, 44)), [(40, 6, 6), (8, 34, 36)], [3.0, 2.5]), id="head+blobs"
        ),
        pytest.param(ellipsoid((30, 32, 28), (29.0, 0.0, 14.0), (10.0, 12.0, 9.0)), id="touching-border"),
        pytest.param((small_head((30, 24, 26)) * 255).astype(np.uint8), id="uint8"),
        *(pytest.param(noise(seed), id=f"noise-{seed}") for seed in range(3)),
    ],
)
def test_torch_meshes_like_flying_edges(volume: np.ndarray) -> None:
    image = crop(volume.shape)
    for level in (0.5, 0.2):
        for occupied_only in (True, False):
            expected = volume_to_mesh(
                volume, level=level, image=image, method="flying-edges", occupied_only=occupied_only
            )
            got = volume_to_mesh(
                volume, level=level, image=image, method="torch", occupied_only=occupied_only
            )
            assert got.n_faces > 0
            assert_same_mesh(got, expected)


@vtk
def test_torch_meshes_the_benchmark_head_like_flying_edges() -> None:
    volume = head_volume()
    expected = volume_to_mesh(volume, method="flying-edges", image=crop(volume.shape))
    got = volume_to_mesh(torch.from_numpy(volume), method="torch", image=crop(volume.shape))
    assert got.n_vertices > 100_000
    assert_same_mesh(got, expected)
    split = remove_bumps(got, method="torch")
    assert split.n_removed == 2  # the synthetic head's two blobs


@vtk
def test_int8_compat_and_float_tensors_mesh_like_flying_edges() -> None:
    volume = small_head((40, 36, 36))
    expected = volume_to_mesh(volume, int8_compat=True, method="flying-edges")
    assert_same_mesh(volume_to_mesh(torch.from_numpy(volume), int8_compat=True, method="torch"), expected)
    as_uint8 = (volume * 255).astype(np.uint8)
    expected = volume_to_mesh(as_uint8, method="flying-edges")
    assert_same_mesh(volume_to_mesh(torch.from_numpy(as_uint8), method="torch"), expected)
    assert_same_mesh(volume_to_mesh(torch.from_numpy(as_uint8), method="flying-edges"), expected)


def test_sets_of_vertices_and_triangles_are_skimages_on_a_smooth_body() -> None:
    """Independent of VTK: the same vertex set and triangles (as sets of positions) as Lewiner's
    marching cubes, which agrees with the fixed table wherever no cell is ambiguous; normals
    alike (scikit-image estimates its gradients otherwise)."""
    volume = ball()
    a = volume_to_mesh(volume, level=0.5, method="torch")
    b = volume_to_mesh(volume, level=0.5, method="skimage")
    np.testing.assert_allclose(np.sort(a.vertices, axis=0), np.sort(b.vertices, axis=0), atol=VERTEX_PX)

    def triangles(mesh: Mesh) -> set[tuple]:
        corners = np.round(mesh.vertices[mesh.faces] * 1e3).astype(np.int64)
        return {tuple(sorted(map(tuple, t))) for t in corners.tolist()}

    assert triangles(a) == triangles(b)
    _, ia = np.unique(a.vertices, axis=0, return_index=True)
    _, ib = np.unique(b.vertices, axis=0, return_index=True)
    assert (np.einsum("ij,ij->i", a.normals[ia], b.normals[ib]) > 0.9).all()


def test_ball_is_closed_manifold_and_outward() -> None:
    mesh = volume_to_mesh(ball(), level=0.5, method="torch")
    edges = np.sort(mesh.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    unique_edges, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts == 2).all()
    assert mesh.n_vertices - len(unique_edges) + mesh.n_faces == 2  # a sphere
    assert len(np.unique(mesh.vertices, axis=0)) == mesh.n_vertices  # welded: no duplicates
    assert signed_volume(mesh) > 0
    centre = np.array([9.5, 10.5, 11.5 * 0.5], np.float32)
    assert (np.einsum("ij,ij->i", face_normals(mesh), mesh.vertices[mesh.faces].mean(1) - centre) > 0).all()
    assert (np.einsum("ij,ij->i", mesh.normals, mesh.vertices - centre) > 0).all()


def test_marching_cubes_returns_index_space_tensors() -> None:
    vertices, faces, gradients = marching_cubes(torch.from_numpy(ball((12, 12, 12), 4.0)), 0.5)
    assert vertices.dtype == torch.float32 and faces.dtype == torch.int64 and gradients.dtype == torch.float32
    assert vertices.shape == gradients.shape and faces.shape[1] == 3
    assert int(faces.max()) == len(vertices) - 1
    np.testing.assert_allclose(vertices.mean(0).numpy(), [5.5, 5.5, 5.5], atol=1e-4)
    assert ((gradients * (vertices - 5.5)).sum(1) < 0).all()  # the ball's field falls outward


def test_empty_and_tiny_volumes_give_empty_meshes() -> None:
    empty = np.full((10, 12, 14), 0.01, np.float32)
    assert volume_to_mesh(empty, method="torch").is_empty
    assert volume_to_mesh(torch.from_numpy(empty), method="torch", occupied_only=False).is_empty
    mesh, split = mesh_on_device(torch.from_numpy(empty))
    assert mesh.is_empty and split.kept.is_empty and split.n_removed == 0
    for shape in ((1, 5, 5), (0, 3, 3)):
        vertices, faces, gradients = marching_cubes(torch.ones(shape), 0.5)
        assert vertices.shape == (0, 3) and faces.shape == (0, 3) and gradients.shape == (0, 3)
    with pytest.raises(ValueError, match="3-D"):
        marching_cubes(torch.ones(4, 4), 0.5)


def test_tensor_volumes_are_validated_like_arrays() -> None:
    with pytest.raises(ValueError, match=r"got shape \(4, 4\) of dtype torch.float32"):
        volume_to_mesh(torch.zeros(4, 4), method="torch")
    with pytest.raises(ValueError, match="dtype torch.int32"):
        volume_to_mesh(torch.zeros((4, 4, 4), dtype=torch.int32), method="torch")
    with pytest.raises(ValueError, match="Level is a probability"):
        mesh_on_device(torch.zeros(4, 4, 4), level=2)


def test_tensor_volume_reaches_the_marcher_as_a_tensor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the mesh, the box's per-axis occupancy and the labels are copied to numpy."""
    to_numpy = torch.Tensor.numpy

    def numpy(self: torch.Tensor, *args: object, **kwargs: object) -> np.ndarray:
        assert self.ndim < 3, f"a {tuple(self.shape)} tensor was copied to numpy"
        return to_numpy(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "numpy", numpy)
    fields = []
    real = torch_meshing.marching_cubes
    monkeypatch.setattr(torch_meshing, "marching_cubes", lambda f, iso: fields.append(f) or real(f, iso))
    volume = torch.from_numpy(with_blobs(small_head((48, 40, 44)), [(40, 6, 6)], [3.0]))
    mesh = volume_to_mesh(volume, method="torch")
    whole, split = mesh_on_device(volume)
    assert len(fields) == 2 and all(isinstance(f, torch.Tensor) for f in fields)
    assert mesh.n_faces > 0 and whole.n_faces == mesh.n_faces and split.n_removed == 1
    with pytest.raises(AssertionError, match="copied to numpy"):
        volume_to_mesh(volume, method="skimage")  # the other methods do copy it


def test_torch_bodies_are_scipys() -> None:
    volume = with_blobs(
        small_head(), [(8.0, 6.0, 6.0), (40.0, 33.0, 33.0), (8.0, 33.0, 6.0)], [2.5, 3.5, 1.5]
    )
    mesh = volume_to_mesh(volume, image=crop(volume.shape))
    for options in ({}, {"mode": "fraction", "min_fraction": 0.002}, {"mode": "fraction", "min_fraction": 0}):
        fast, got = remove_bumps(mesh, **options), remove_bumps(mesh, method="torch", **options)
        assert got.removed_sizes == fast.removed_sizes
        for a, b in ((got.kept, fast.kept), (got.removed, fast.removed)):
            np.testing.assert_array_equal(a.faces, b.faces)
            np.testing.assert_array_equal(a.vertices, b.vertices)
            np.testing.assert_array_equal(a.colors, b.colors)
            np.testing.assert_array_equal(a.normals, b.normals)
    assert remove_bumps(mesh, method="torch").n_removed == 3


@pytest.mark.parametrize("seed", range(5))
def test_label_bodies_partitions_random_graphs_like_scipy(seed: int) -> None:
    """Many small bodies, vertices in no triangle, and labels in a random order."""
    rng = np.random.default_rng(seed)
    n = 300
    faces = rng.integers(0, n, (120, 3))
    mesh = Mesh(rng.random((n, 3)), faces)
    labels = label_bodies(torch.from_numpy(mesh.faces), n).numpy()
    fast = _label_fast(mesh)
    np.testing.assert_array_equal(labels < 0, fast < 0)
    used = labels >= 0
    pairs = set(zip(labels[used].tolist(), fast[used].tolist(), strict=True))
    assert len(pairs) == len(set(labels[used].tolist())) == len(set(fast[used].tolist()))
    assert (labels[used] <= np.flatnonzero(used)).all()  # each body's smallest vertex
    for mode in ("largest", "fraction"):
        a, b = remove_bumps(mesh, mode=mode, method="torch"), remove_bumps(mesh, mode=mode)
        assert a.removed_sizes == b.removed_sizes
        np.testing.assert_array_equal(a.kept.faces, b.kept.faces)
        np.testing.assert_array_equal(a.removed.faces, b.removed.faces)


def test_tie_goes_to_the_body_of_the_first_triangle() -> None:
    vertices = np.arange(18, dtype=np.float32).reshape(6, 3)
    result = remove_bumps(Mesh(vertices, [[3, 4, 5], [0, 1, 2]]), method="torch")
    np.testing.assert_array_equal(result.kept.vertices, vertices[3:])


def test_mesh_on_device_is_volume_to_mesh_then_remove_bumps() -> None:
    volume = with_blobs(small_head((48, 40, 44)), [(40, 6, 6), (8, 34, 36)], [3.0, 2.5])
    image = crop(volume.shape)
    for options in ({}, {"mode": "fraction", "min_fraction": 0.05}):
        mesh, split = mesh_on_device(torch.from_numpy(volume), image=image, **options)
        expected = volume_to_mesh(volume, image=image, method="torch")
        expected_split = remove_bumps(expected, **options)
        assert_same_mesh(mesh, expected)
        assert split.removed_sizes == expected_split.removed_sizes and split.n_removed >= 1
        assert_same_mesh(split.kept, expected_split.kept)
        assert_same_mesh(split.removed, expected_split.removed)
    with pytest.raises(ValueError, match="Unknown bump removal mode"):
        mesh_on_device(volume, mode="smallest")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_meshes_like_the_cpu() -> None:
    volume = with_blobs(small_head((48, 40, 44)), [(40, 6, 6)], [3.0])
    cpu_mesh, cpu_split = mesh_on_device(torch.from_numpy(volume))
    gpu_mesh, gpu_split = mesh_on_device(torch.from_numpy(volume).cuda())
    assert_same_mesh(gpu_mesh, cpu_mesh)
    assert gpu_split.removed_sizes == cpu_split.removed_sizes
    np.testing.assert_array_equal(gpu_split.kept.faces, cpu_split.kept.faces)


@pytest.fixture(scope="module")
def host_and_device_results() -> tuple:
    from fakes import EllipsoidNet

    from vrn_studio.image import sample_image_path
    from vrn_studio.pipeline import Reconstructor

    photo = sample_image_path("astronaut")
    host = Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu", mesh_on="host", smooth=5)
    device = Reconstructor(EllipsoidNet(), landmarker="dlib", device="cpu", mesh_on="device", smooth=5)
    assert not host.mesh_on_device and device.mesh_on_device
    return host.reconstruct(photo), device.reconstruct(photo), host, device, photo


def _same_result(a, b) -> None:
    np.testing.assert_array_equal(a.volume, b.volume)
    np.testing.assert_array_equal(a.mesh_raw.faces, b.mesh_raw.faces)
    np.testing.assert_allclose(a.mesh_raw.vertices, b.mesh_raw.vertices, atol=1e-4)
    assert a.bumps.removed_sizes == b.bumps.removed_sizes and len(a.bumps.removed_sizes) == 1  # the blob
    np.testing.assert_array_equal(a.bumps.kept.faces, b.bumps.kept.faces)
    np.testing.assert_allclose(a.mesh_photo.vertices, b.mesh_photo.vertices, atol=1e-3)


def test_the_pipeline_meshes_on_the_device_as_on_the_host(host_and_device_results) -> None:
    host, device, *_ = host_and_device_results
    _same_result(host, device)
    assert device.mesh_clean is not None and set(device.timings) == set(host.timings)


def test_every_pipeline_path_meshes_on_the_device(host_and_device_results) -> None:
    host, _, _, device_rec, photo = host_and_device_results
    (every,) = device_rec.reconstruct_faces(photo, faces="all")
    _same_result(host, every)
    ((_, batched),) = list(device_rec.reconstruct_many([photo], batch_size=2))
    _same_result(host, batched)
    unbumped = device_rec.reconstruct(photo, remove_bumps=False)
    assert unbumped.bumps.removed_sizes == () and unbumped.bumps.kept.n_faces == host.mesh_raw.n_faces


def test_mesh_on_is_checked() -> None:
    from fakes import EllipsoidNet

    from vrn_studio.pipeline import Reconstructor

    with pytest.raises(ValueError, match="mesh_on"):
        Reconstructor(EllipsoidNet(), device="cpu", mesh_on="gpu")  # type: ignore[arg-type]
    assert not Reconstructor(EllipsoidNet(), device="cpu").mesh_on_device  # auto: the host on a CPU


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_auto_meshes_on_a_cuda_device() -> None:
    from fakes import EllipsoidNet

    from vrn_studio.image import sample_image_path
    from vrn_studio.pipeline import Reconstructor

    photo = sample_image_path("astronaut")
    gpu = Reconstructor(EllipsoidNet(), landmarker="dlib", device="cuda")
    assert gpu.mesh_on_device
    on_host = Reconstructor(EllipsoidNet(), landmarker="dlib", device="cuda", mesh_on="host")
    _same_result(on_host.reconstruct(photo), gpu.reconstruct(photo))
