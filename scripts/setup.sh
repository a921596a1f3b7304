#!/usr/bin/env bash
# Set up VRN Studio in this checkout: the Debian/Ubuntu packages the app and its tests need (when they
# can be installed, see scripts/install-system-packages.sh), then the virtual environment .venv with
# the project (every extra) and its test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
bash scripts/install-system-packages.sh
[ -x .venv/bin/python ] || python3 -m venv .venv
# torch pinned: an unpinned torch may pull the multi-GB CUDA build (GPU users: README, Install).
.venv/bin/pip install -q "torch==2.13.0" -e ".[all,test]"
# face-alignment declares opencv-python, which would make a second OpenCV wheel beside the headless one.
.venv/bin/pip install -q --no-deps "face-alignment==1.5.0"
echo "VRN Studio is installed in .venv (activate it with: . .venv/bin/activate)"
