#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the desktop app and its tests need (scripts/debian-packages.txt):
# only the missing ones, as root or through sudo. Where that is not possible (no apt-get, no root, no
# sudo) it says what to install and exits 0: the library and the command line work without them, and
# the test run then skips the GUI tests with one line naming this script.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t wanted < <(grep -v '^#' scripts/debian-packages.txt | grep .)

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  echo "Not a Debian/Ubuntu system: install Xvfb and the GL/XCB libraries of Qt 6 yourself for the app and its tests (Debian names: ${wanted[*]})."
  exit 0
fi
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "Debian packages for the app and its tests: all installed."
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "Cannot install the Debian packages the app and its tests need (not root, no sudo); as root run:"
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  exit 0
fi
echo "Installing Debian packages for the app and its tests: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
