"""Regenerate the marching-cubes case table of vrn_studio/mesh/torch_meshing.py from VTK.

Usage: python scripts/make_mc_table.py [--check]

Runs VTK's flying edges (``vtkFlyingEdges3D``, the project's default marcher) on each of the
256 configurations of a single 2 x 2 x 2 cube, with the corners above the level at 1 and the
others at 0, meshed at 0.5: every vertex then lies at the middle of the cube edge it was
interpolated on, which names the edge. The triangles are read back in VTK's order and winding,
so the torch marcher triangulates every cell as flying edges does. ``--check`` only reports
whether the stored table matches (exit status 1 when it does not).

Corner ``k`` of a cube is the voxel at offset (dx, dy, dz) = (k & 1, k >> 1 & 1, k >> 2) along
(x, y, depth); a case's bit ``k`` is set when corner ``k`` is at or above the level. Edge ids:
0-3 run along x from (dy, dz) = (0, 0), (1, 0), (0, 1), (1, 1); 4-7 along y from
(dx, dz) = (0, 0), (1, 0), (0, 1), (1, 1); 8-11 along depth from (dx, dy) = (0, 0), (1, 0),
(0, 1), (1, 1) (VTK's flying-edges numbering).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

MODULE = Path(__file__).resolve().parents[1] / "vrn_studio" / "mesh" / "torch_meshing.py"
BLOCK = re.compile(r'(_CASES = """\n)(.*?)(""")', re.DOTALL)
CASES_PER_LINE = 8


def vtk_case_table() -> list[list[tuple[int, int, int]]]:
    """For each of the 256 cases, its triangles as triples of edge ids in VTK's order and winding."""
    from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D

    table = []
    for case in range(256):
        cube = np.zeros((2, 2, 2), np.float32)  # (depth, y, x)
        for k in range(8):
            cube[k >> 2, k >> 1 & 1, k & 1] = case >> k & 1
        grid = vtkImageData()
        grid.SetDimensions(2, 2, 2)
        grid.GetPointData().SetScalars(numpy_to_vtk(cube.ravel(), deep=True))
        marcher = vtkFlyingEdges3D()
        marcher.SetInputData(grid)
        marcher.SetValue(0, 0.5)
        marcher.ComputeNormalsOff()
        marcher.ComputeScalarsOff()
        marcher.Update()
        surface = marcher.GetOutput()
        if surface.GetNumberOfPoints() == 0:
            table.append([])
            continue
        points = vtk_to_numpy(surface.GetPoints().GetData())  # (x, y, z): edge midpoints
        triangles = vtk_to_numpy(surface.GetPolys().GetConnectivityArray()).reshape(-1, 3)
        edges = [_edge_id(point) for point in points]
        table.append([(edges[a], edges[b], edges[c]) for a, b, c in triangles.tolist()])
    return table


def _edge_id(midpoint: np.ndarray) -> int:
    """Edge id of the cube edge whose middle is ``midpoint`` (x, y, z), each 0, 0.5 or 1."""
    axis = int(np.flatnonzero(midpoint == 0.5)[0])
    others = [int(midpoint[i]) for i in range(3) if i != axis]
    return 4 * axis + others[0] + 2 * others[1]


def format_table(table: list[list[tuple[int, int, int]]]) -> str:
    """The table as the module stores it: one token per case, three hex digits per triangle."""
    tokens = ["".join(f"{e:x}" for tri in tris for e in tri) or "-" for tris in table]
    lines = [" ".join(tokens[i : i + CASES_PER_LINE]) for i in range(0, len(tokens), CASES_PER_LINE)]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare the stored table with VTK's")
    args = parser.parse_args()
    source = MODULE.read_text()
    stored = BLOCK.search(source)
    if stored is None:
        raise SystemExit(f"No _CASES block in {MODULE}")
    fresh = format_table(vtk_case_table())
    if args.check:
        print("The stored table matches VTK's." if stored.group(2) == fresh else "The stored table differs.")
        return int(stored.group(2) != fresh)
    MODULE.write_text(source[: stored.start(2)] + fresh + source[stored.end(2) :])
    print(f"Wrote the case table into {MODULE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
