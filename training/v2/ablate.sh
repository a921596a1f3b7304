#!/usr/bin/env bash
# Ablation of built-in model v2's targets (issue 14): one epoch of each arm (soft, binary), both
# from one rendered cache, then each arm's epoch-1 network measured on the fixed ICT test set
# (10 faces per |yaw|, no oracle), exported calibrated (surface moved to the release's 10/255,
# as the pipeline runs models today) and uncalibrated (meshed at 0.5), into
# training/results/v2-ablation/ARM-epoch1[-level0.5].json. Resumable: an arm whose epoch-1
# checkpoint exists is not trained again. About an hour on the 2-core CPU; in the background:
#   nohup bash training/v2/ablate.sh > runs/v2-ablate.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../.."
. .venv/bin/activate
mkdir -p training/results/v2-ablation runs/weights
for arm in soft binary; do
  [ -f "runs/v2-$arm/checkpoints/epoch-0001.json" ] ||
    vrn-studio train "training/v2/$arm.toml" --device cpu --until-epoch 1 --no-progress
  vrn-studio weights import "runs/v2-$arm/checkpoints/epoch-0001.json" --name "v2-$arm-e1" --out runs/weights \
    --licence MIT --overwrite
  vrn-studio weights import "runs/v2-$arm/checkpoints/epoch-0001.json" --name "v2-$arm-e1-plain" \
    --out runs/weights --licence MIT --uncalibrated --overwrite
done
for arm in soft binary; do
  python scripts/evaluate_ict_testset.py --model "runs/weights/v2-$arm-e1.safetensors" --count 10 --no-oracle \
    --out "training/results/v2-ablation/$arm-epoch1.json"
  python scripts/evaluate_ict_testset.py --model "runs/weights/v2-$arm-e1-plain.safetensors" --count 10 \
    --no-oracle --level 0.5 --out "training/results/v2-ablation/$arm-epoch1-level0.5.json"
done
