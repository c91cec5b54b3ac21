#!/usr/bin/env bash
# The main job. For now (the models land in later issues): install dependencies, build in
# release mode, check this machine's BLAS, prove every layer's gradients, and benchmark the
# layers against this machine's sgemm rate.
set -euo pipefail
cd "$(dirname "$0")/.."
TIMBRE_SETUP_PYTHON=0 source Recipes/setup.sh
echo "== build (release)"
swift build -c release
bin="$(swift build -c release --show-bin-path)/timbre"
echo "== timbre doctor"
"$bin" doctor
echo "== timbre selfcheck (layer gradients vs finite differences)"
"$bin" selfcheck
echo "== timbre bench layers"
"$bin" bench layers
