"""Make ``resources/ict_face_model_subset.npz`` from the packed ICT Face Model (light).

::

    python scripts/make_ict_subset.py ../shared/data/ict-face-model/ict_face_model.npz

The synthetic generator and the head fit (:mod:`vrn_studio.headfit.ict`) need only the skin of the head: the
face (vertices 0-9408) and the head and neck (9409-11247), which are the first 11,248
vertices of the model, so no re-indexing is needed beyond dropping the rest (mouth and eye
sockets, gums, tongue, teeth, eyeballs, lacrimal, blend and occlusion meshes, eyelashes) and
every triangle that uses a dropped vertex. The skin is open at four boundary loops (the two
eyelid rims, the inner lip line and the bottom of the neck); they are stored, ordered, so the
generator can cap them and make the head a closed solid.

Kept: ``neutral`` (float32, cm), ``triangles`` (int32), ``identity_modes`` (all 100) and
``expression_modes`` (all 53) as float16 offsets, their names, ``landmarks68`` and the jaw
contour candidates (all indices already below 11,248), ``loops`` (one ordered vertex ring
per boundary loop, padded with -1). The source file's sha256 is recorded in the output.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

from vrn_studio._io import atomic_open

SKIN_VERTICES = 11248
"""Face (0-9408) plus head and neck (9409-11247) of the ICT Face Model topology."""
SOURCE_COMMIT = "da5f95a"
"""ICT-VGL/ICT-FaceKit commit the packed model was made from (see its README)."""
OUT = Path(__file__).resolve().parents[1] / "resources" / "ict_face_model_subset.npz"


def boundary_loops(triangles: np.ndarray) -> list[np.ndarray]:
    """Ordered vertex rings of the edges used by one triangle only, largest first."""
    edges = np.sort(triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    unique, counts = np.unique(edges, axis=0, return_counts=True)
    neighbours: dict[int, list[int]] = {}
    for a, b in unique[counts == 1].tolist():
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    if any(len(n) != 2 for n in neighbours.values()):
        raise ValueError("a boundary vertex is not on exactly one loop")
    loops, seen = [], set()
    for start in neighbours:
        if start in seen:
            continue
        ring, previous, current = [start], -1, start
        seen.add(start)
        while True:
            following = [n for n in neighbours[current] if n != previous and n not in seen]
            if not following:
                break
            previous, current = current, following[0]
            ring.append(current)
            seen.add(current)
        loops.append(np.asarray(ring, np.int32))
    return sorted(loops, key=len, reverse=True)


def main(argv: list[str] | None = None) -> int:
    """Read the packed model, write the subset, print its size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="ict_face_model.npz (../shared/data/ict-face-model/)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    digest = hashlib.sha256(args.source.read_bytes()).hexdigest()
    with np.load(args.source) as model:
        triangles = model["triangles"]
        triangles = triangles[(triangles < SKIN_VERTICES).all(axis=1)]
        loops = boundary_loops(triangles)
        padded = np.full((len(loops), max(map(len, loops))), -1, np.int32)
        for row, ring in zip(padded, loops, strict=True):
            row[: len(ring)] = ring
        arrays = {
            "neutral": model["neutral"][:SKIN_VERTICES].astype(np.float32),
            "triangles": triangles.astype(np.int32),
            "identity_modes": model["identity_modes"][:, :SKIN_VERTICES].astype(np.float16),
            "identity_names": model["identity_names"],
            "expression_modes": model["expression_modes"][:, :SKIN_VERTICES].astype(np.float16),
            "expression_names": model["expression_names"],
            "loops": padded,
            "source_sha256": np.array(digest),
            "source_commit": np.array(SOURCE_COMMIT),
        }
        for key in ("landmarks68", "jaw_right_substitutes_0_7", "jaw_left_substitutes_9_16",
                    "jaw_right_extended", "jaw_left_extended"):
            if model[key].max() >= SKIN_VERTICES:
                raise ValueError(f"{key} uses a vertex outside the skin")
            arrays[key] = model[key].astype(np.int32)
    with atomic_open(args.out, overwrite=True) as out:
        np.savez_compressed(out, **arrays)
    print(f"wrote {args.out}: {SKIN_VERTICES} vertices, {len(triangles)} triangles, loops of "
          f"{[len(r) for r in loops]} vertices, {args.out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
