"""The voxeliser on meshes whose volume is known, and its round trip through volume_to_mesh."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from vrn_studio.mesh import volume_to_mesh
from vrn_studio.train import is_closed, voxelise


def uv_sphere(
    center: tuple[float, float, float],
    radius: float,
    *,
    rings: int = 48,
    segments: int = 96,
    cap: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """A latitude-longitude sphere with its pole towards the camera (+z); ``cap``: front half only."""
    if cap:
        theta = np.linspace(0, np.pi / 2, rings + 1)[1:]
    else:
        theta = np.linspace(0, np.pi, rings + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], axis=-1).reshape(-1, 3)
    unit = np.vstack([[0.0, 0.0, 1.0], ring] + ([] if cap else [[0.0, 0.0, -1.0]]))
    j = np.arange(segments)
    faces = [np.stack([np.zeros(segments, int), 1 + j, 1 + (j + 1) % segments], axis=1)]
    for i in range(len(theta) - 1):
        a, b = 1 + i * segments + j, 1 + i * segments + (j + 1) % segments
        faces += [np.stack([a, a + segments, b], axis=1), np.stack([b, a + segments, b + segments], axis=1)]
    if not cap:
        last, bottom = 1 + (len(theta) - 1) * segments, len(unit) - 1
        faces.append(np.stack([np.full(segments, bottom), last + (j + 1) % segments, last + j], axis=1))
    return np.asarray(center) + radius * unit, np.vstack(faces)


def patch(x0: float, x1: float, y0: float, y1: float, z: float) -> tuple[np.ndarray, np.ndarray]:
    vertices = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], float)
    return vertices, np.array([[0, 1, 2], [0, 2, 3]])


def box(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """A closed axis-aligned box (12 triangles)."""
    corners = np.array([[(lo, hi)[i >> k & 1][k] for k in range(3)] for i in range(8)], float)
    faces = [
        [0, 2, 1],
        [1, 2, 3],
        [4, 5, 6],
        [5, 7, 6],
        [0, 1, 4],
        [1, 5, 4],
        [2, 6, 3],
        [3, 6, 7],
        [0, 4, 2],
        [2, 4, 6],
        [1, 3, 5],
        [3, 7, 5],
    ]
    return corners, np.array(faces)


def test_flat_patch_fills_its_columns_up_to_its_depth():
    vertices, faces = patch(9.5, 29.5, 4.5, 14.5, z=6.3)  # depth index 12.6
    volume = voxelise(vertices, faces, shape=(30, 20, 40))
    expected = np.zeros((30, 20, 40), bool)
    expected[: 12 + 1, 5:15, 10:30] = True  # voxel centres at or behind the surface
    np.testing.assert_array_equal(volume, expected)


def test_patch_on_pixel_centres_covers_each_column_once():
    # Edges through pixel centres: the half-open rule covers x, y in [10, 30) exactly.
    vertices, faces = patch(10, 30, 10, 30, z=2.0)
    columns = voxelise(vertices, faces, shape=(8, 40, 40)).any(axis=0)
    expected = np.zeros((40, 40), bool)
    expected[10:30, 10:30] = True
    np.testing.assert_array_equal(columns, expected)


def test_closed_box_on_the_pixel_grid_is_exact():
    # Faces, diagonals and vertices all on pixel centres: parity must still see one top and
    # one bottom crossing per column (a doubly counted edge would leave a hollow column).
    vertices, faces = box((10, 10, 2.0), (20, 20, 6.0))
    volume = voxelise(vertices, faces, shape=(16, 32, 32))
    expected = np.zeros((16, 32, 32), bool)
    expected[5:13, 10:20, 10:20] = True  # depth indices in (4, 12]
    np.testing.assert_array_equal(volume, expected)


def test_outside_the_grid_is_clipped():
    shape = (10, 20, 20)
    in_front = voxelise(*patch(-50, 50, -50, 10.5, z=100.0), shape=shape)
    assert in_front[:, :11].all() and not in_front[:, 11:].any()
    assert not voxelise(*patch(-50, 50, -50, 50, z=-1.0), shape=shape).any()
    assert not voxelise(*patch(30, 50, 0, 50, z=3.0), shape=shape).any()


def test_hemisphere_cap_column_heights():
    radius, z0, z_scale = 40.0, 20.0, 0.5
    vertices, faces = uv_sphere((96.0, 96.0, z0), radius, cap=True)
    assert not is_closed(faces)
    heights = voxelise(vertices, faces).sum(axis=0)
    y, x = np.mgrid[:192, :192]
    rho = np.hypot(x - 96.0, y - 96.0)
    under = rho < radius - 1
    front = (z0 + np.sqrt(np.clip(radius**2 - rho**2, 0, None))) / z_scale
    assert np.abs(heights[under] - (np.floor(front[under]) + 1)).max() <= 1
    assert not heights[rho > radius + 1].any()


def test_closed_sphere_volume():
    radius, z_scale = 30.0, 0.5
    vertices, faces = uv_sphere((96.0, 96.0, 50.0), radius)
    assert is_closed(faces)
    volume = voxelise(vertices, faces, z_scale=z_scale)
    expected = 4 / 3 * np.pi * radius**3 / z_scale  # depth stretched x2 doubles the voxel count
    assert volume.sum() == pytest.approx(expected, rel=0.03)
    # Solid: each column is one run of voxels, no hollow between its two crossings.
    filled = volume.reshape(200, -1)[:, volume.any(axis=0).ravel()]
    runs = (np.diff(filled.astype(np.int8), axis=0) == 1).sum(axis=0)
    assert (runs == 1).all()


def test_parity_keeps_the_gap_between_two_shells():
    front = uv_sphere((32.0, 32.0, 30.0), 8.0, rings=24, segments=48)
    back = uv_sphere((32.0, 32.0, 8.0), 6.0, rings=24, segments=48)
    vertices = np.vstack([front[0], back[0]])
    faces = np.vstack([front[1], back[1] + len(front[0])])
    inside = voxelise(vertices, faces, shape=(100, 64, 64))
    behind = voxelise(vertices, faces, shape=(100, 64, 64), fill="behind")
    centre = inside[:, 32, 32]
    assert centre[16 : 2 * 14].all() and not centre[2 * 15 : 2 * 21].any() and centre[2 * 23 : 2 * 37].all()
    assert behind[: 2 * 37, 32, 32].all()
    assert inside.sum() == pytest.approx(4 / 3 * np.pi * (8.0**3 + 6.0**3) / 0.5, rel=0.03)


def test_round_trip_sphere_through_volume_to_mesh():
    z_scale = 0.5
    vertices, faces = uv_sphere((96.0, 90.0, 50.0), 25.0)
    mesh = volume_to_mesh(voxelise(vertices, faces, z_scale=z_scale).astype(np.float32), z_scale=z_scale)
    to_index = np.array([1.0, 1.0, 1 / z_scale])  # distances in voxels
    dense = uv_sphere((96.0, 90.0, 50.0), 25.0, rings=256, segments=512)[0]  # the sphere, 0.3 voxel apart
    original, back = dense * to_index, mesh.vertices * to_index
    assert cKDTree(back).query(original)[0].max() < 1.5
    assert cKDTree(original).query(back)[0].max() < 1.5


def test_round_trip_open_cap_through_volume_to_mesh():
    vertices, faces = uv_sphere((96.0, 96.0, 40.0), 35.0, cap=True)
    mesh = volume_to_mesh(voxelise(vertices, faces).astype(np.float32))
    to_index = np.array([1.0, 1.0, 2.0])
    # One way: the mesh of the volume also has the extruded sides and back.
    assert cKDTree(mesh.vertices * to_index).query(vertices * to_index)[0].max() < 1.5


def test_no_faces_gives_an_empty_volume():
    assert not voxelise(np.zeros((0, 3)), np.zeros((0, 3), int), shape=(2, 3, 4)).any()


@pytest.mark.parametrize(
    ("vertices", "faces", "options", "message"),
    [
        (np.zeros((3, 2)), [[0, 1, 2]], {}, r"mesh_vertices is \(3, 2\)"),
        (
            [[0, 0, 0], [1, 0, np.nan], [0, 1, 0]],
            [[0, 1, 2]],
            {},
            r"NaN or infinite values \(vertices \[1\]\)",
        ),
        (np.zeros((3, 3)), [[0, 1, 3]], {}, r"lie in \[0, 3\); got \[0, 3\]"),
        (np.zeros((3, 3)), [[0.0, 1.0, 2.0]], {}, "integer array"),
        (np.zeros((3, 3)), [0, 1, 2], {}, r"got shape \(3,\)"),
        (np.zeros((3, 3)), [[0, 1, 2]], {"shape": (192, 192)}, r"three positive integers.*\(192, 192\)"),
        (np.zeros((3, 3)), [[0, 1, 2]], {"shape": (200, 0, 192)}, "three positive integers"),
        (np.zeros((3, 3)), [[0, 1, 2]], {"shape": (200.0, 192, 192)}, "three positive integers"),
        (np.zeros((3, 3)), [[0, 1, 2]], {"z_scale": 0.0}, "z_scale must be a positive number; got 0.0"),
        (np.zeros((3, 3)), [[0, 1, 2]], {"fill": "solid"}, "Unknown fill 'solid'"),
    ],
)
def test_bad_input_raises(vertices, faces, options, message):
    with pytest.raises(ValueError, match=message):
        voxelise(np.asarray(vertices, float), np.asarray(faces), **options)
