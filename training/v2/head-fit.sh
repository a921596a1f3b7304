#!/usr/bin/env bash
# The ICT head fit (vrn_studio.headfit, the default of the app and the command line): measure v1
# and v2, each with and without the fitted head, on issue 14's fixed ICT test set and on v1's
# MediaPipe-template set (30 faces per |yaw|, no smoothing), the fit's ablation (what the network's
# surface adds, exact and noisy landmarks), the sample photos (the real-photo checks and the
# photo-to-mesh time, run alone so that the times compare), the side views; then print the model
# card's tables. Each step is skipped when its output exists, so the script resumes where it
# stopped. About 50 minutes on a 2-core CPU; in the background:
#   nohup bash training/v2/head-fit.sh > runs/head-fit.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../.."
. .venv/bin/activate
out=training/results/head-fit
mkdir -p "$out"
evaluate() {  # report, model, options...
  [ -f "$out/$1" ] || python scripts/evaluate_ict_testset.py --model "$2" "${@:3}" --no-oracle --out "$out/$1"
}
for set in ict mediapipe; do
  evaluate "v1-$set.json" vrn-studio-guided --set "$set"
  evaluate "v1-fit-$set.json" vrn-studio-guided --set "$set" --head-fit ict
  evaluate "v2-$set.json" vrn-studio-guided-v2 --set "$set"
  evaluate "v2-fit-$set.json" vrn-studio-guided-v2 --set "$set" --head-fit ict
done
[ -f "$out/ablation-v2-ict.json" ] ||
  python scripts/ablate_head_fit.py --model vrn-studio-guided-v2 --out "$out/ablation-v2-ict.json"
photos() {  # report, model, head fit
  [ -f "$out/$1-photos.json" ] ||
    python scripts/evaluate_model.py --model "$2" --head-fit "$3" --count 0 --repeat 15 --out "$out/$1-photos.json"
}
photos v1 vrn-studio-guided none
photos v1-fit vrn-studio-guided ict
photos v2 vrn-studio-guided-v2 none
photos v2-fit vrn-studio-guided-v2 ict
[ -f "$out/views.png" ] || xvfb-run -a python scripts/render_views.py --model vrn-studio-guided \
  --model vrn-studio-guided-v2 --head-fit both --smooth 60 --out "$out/views.png"
python training/v2/tables.py "$out"
python training/v2/tables.py "$out" --set mediapipe
