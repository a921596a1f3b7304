#!/usr/bin/env bash
# The README's compare picture: a synthetic ICT test face (seed 2000, the fixed test set's first
# face, 30 degrees of yaw) reconstructed by the default model, then compared with its exact mesh.
# Usage: bash scripts/make_compare_example.sh [WORK_DIR]   (writes docs/screenshots/compare-heatmap.png)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-$(mktemp -d)}"
vrn-studio synthesize "$work/face" -n 1 --seed 2000 --yaw 30 --overwrite
photo="$(ls "$work"/face/*.png | head -1)"
stem="$(basename "${photo%.*}")"
vrn-studio reconstruct "$photo" -o "$work/out" -f ply --smooth 60 --overwrite
# The exact mesh and landmarks are in photo pixels, y down; the exports are y up (docs/frames.md).
python - "$work/face/$stem" "$photo" <<'PY'
import json, sys
import numpy as np
import trimesh
from PIL import Image
from vrn_studio.eval.dataset import read_mesh
from vrn_studio.mesh import to_viewer_frame
base, photo = sys.argv[1], sys.argv[2]
height = Image.open(photo).height
mesh = to_viewer_frame(read_mesh(base + ".obj"), height)
trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).export(base + "_scan.ply")
marks = np.array(json.load(open(base + ".landmarks.json"))["landmarks_3d"], float)
marks[:, 1] = height - 1 - marks[:, 1]
json.dump({"landmarks_3d": marks.tolist()}, open(base + "_scan.landmarks.json", "w"))
PY
vrn-studio compare "$work/out/$stem.ply" "$work/face/${stem}_scan.ply" --landmarks "$work/face/${stem}_scan.landmarks.json" \
  --units px -o "$work/compare" --overwrite
cp "$work/compare/${stem}_heatmap.png" docs/screenshots/compare-heatmap.png
echo "wrote docs/screenshots/compare-heatmap.png"
