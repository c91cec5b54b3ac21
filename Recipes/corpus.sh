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
# Opt-in sources (the recipe says "opt_in": true on them): enable contrib/non-free and install the
# voices and tools they need. Only ever for recipes that ask for them.
if grep -q '"opt_in": *true' "Datasets/$name.json"; then
  echo "corpus: $name uses opt-in sources (contrib/non-free, non-commercial audio); enabling them"
  src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ] && ! grep -q "non-free" "$src"; then
    sed -i '0,/^Components: main$/s//Components: main contrib non-free non-free-firmware/' "$src"
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 rhvoice rhvoice-english libttspico-utils unzip
fi
# apt-get download needs package lists even when nothing had to be installed
[ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] || apt-get update -q
swift build -c release
bin="$(swift build -c release --show-bin-path)/timbre"
mkdir -p Datasets/out
"$bin" corpus build --recipe "Datasets/$name.json" --out "Datasets/out/$name" --cache Datasets/cache --force
