#!/usr/bin/env bash
# Built-in model v2, stage 2 (issue 14): train training/v2/stage2.toml and, for the loss ablation,
# training/v2/stage2-surface.toml to its epoch 2; export the networks and measure them beside
# v1 and v2's stage 1 into training/results/v2-stage2/: the fixed ICT test set (30 faces per
# |yaw|, no smoothing, as the model cards report) with the NME by part, its oracle and
# references, v1's MediaPipe-template set, the real photos (checks and stage times), side views
# and the loss curves; then print the README's tables. Each step is skipped when its output
# exists, so the script resumes where it stopped (training resumes from its last checkpoint).
# About 2.5 hours on a 2-core CPU; in the background:
#   nohup bash training/v2/stage2.sh > runs/v2-stage2-chain.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../.."
. .venv/bin/activate
out=training/results/v2-stage2
mkdir -p "$out" runs/weights runs/stage1
for file in vrn-studio-guided-v2.safetensors vrn-studio-guided-v2.json; do  # stage 1, replaced by stage 2
  [ -f "runs/stage1/$file" ] || git show "38e9bbb:weights/$file" > "runs/stage1/$file"
done
stage1=runs/stage1/vrn-studio-guided-v2.safetensors
train() {  # recipe, run folder, last epoch
  [ -f "$2/checkpoints/epoch-$(printf %04d "$3").json" ] && return
  local resume=()
  compgen -G "$2/checkpoints/epoch-*.json" > /dev/null && resume=(--resume "$2")
  vrn-studio train "$1" --device cpu --no-progress --until-epoch "$3" "${resume[@]}"
}
export_epoch() {  # run folder, epoch, name
  [ -f "runs/weights/$3.safetensors" ] ||
    vrn-studio weights import "$1/checkpoints/epoch-$(printf %04d "$2").json" --name "$3" --out runs/weights --licence MIT
}
evaluate() {  # report, model, options...
  [ -f "$out/$1" ] || python scripts/evaluate_ict_testset.py --model "$2" "${@:3}" --out "$out/$1"
}
train training/v2/stage2.toml runs/v2-stage2 5
train training/v2/stage2-surface.toml runs/v2-stage2-surface 2
export_epoch runs/v2-stage2 2 v2-stage2-plain-e2
export_epoch runs/v2-stage2 4 v2-stage2-plain-e4
export_epoch runs/v2-stage2 5 v2-stage2
export_epoch runs/v2-stage2-surface 2 v2-stage2-surface-e2
evaluate v1-ict.json vrn-studio-guided --no-oracle
evaluate v2-stage1-ict.json "$stage1" --no-oracle
for name in v2-stage2-plain-e2 v2-stage2-plain-e4 v2-stage2-surface-e2 v2-stage2; do
  evaluate "$name-ict.json" "runs/weights/$name.safetensors" --no-oracle
done
[ -f "$out/oracle-ict.json" ] || python scripts/evaluate_ict_testset.py --oracle-only --out "$out/oracle-ict.json"
evaluate v2-stage2-mediapipe.json runs/weights/v2-stage2.safetensors --set mediapipe --no-oracle
for model in vrn-studio-guided "$stage1" runs/weights/v2-stage2.safetensors; do
  name=$(basename "$model" .safetensors)
  [ -f "$out/$name-photos.json" ] || python scripts/evaluate_model.py --model "$model" --count 0 --out "$out/$name-photos.json"
done
[ -f "$out/views.png" ] || xvfb-run -a python scripts/render_views.py --model vrn-studio-guided \
  --model "$stage1" --model runs/weights/v2-stage2.safetensors --smooth 60 --out "$out/views.png"
python scripts/plot_training.py runs/v2-stage2 runs/v2-stage2-surface --out "$out/loss.png"
python training/v2/tables.py "$out"
