#!/usr/bin/env bash
# Builds a corpus from Datasets/NAME.json into Datasets/out/NAME on a fresh machine:
#   Recipes/corpus.sh tiny|small|full
# Installs what it needs (apt packages, release build); downloads speech packages into
# Datasets/cache. Prints `timbre corpus info` at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-tiny}"
[ -f "Datasets/$name.json" ] || { echo "no recipe Datasets/$name.json" >&2; exit 2; }
TIMBRE_SETUP_PYTHON=0 source Recipes/setup.sh
# apt-get download needs package lists even when nothing had to be installed
[ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] || apt-get update -q
swift build -c release
bin="$(swift build -c release --show-bin-path)/timbre"
mkdir -p Datasets/out
"$bin" corpus build --recipe "Datasets/$name.json" --out "Datasets/out/$name" --cache Datasets/cache --force
