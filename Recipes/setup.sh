#!/usr/bin/env bash
# Installs what Timbre needs on Debian 12 (run as root; idempotent and quick when all is present).
# Sourced by Recipes/quickstart.sh, Recipes/test.sh and .ci/run, so they all install the same set.
set -euo pipefail

TIMBRE_APT_PACKAGES=(
  pkg-config
  libopenblas-dev   # BLAS (cblas_sgemm) for every matrix product
  libsndfile1-dev   # audio I/O
  libhdf5-dev       # HDF5 shards (the serial build, pkg-config name hdf5-serial)
  libssl-dev        # SHA-256 (libcrypto) for checkpoint and shard hashes
  libsoxr-dev       # resampling
  libebur128-dev    # loudness (EBU R 128)
  libfftw3-dev      # FFTs for STFT losses and metrics
  libpng-dev        # spectrogram images in evaluation reports
  libopenmpi-dev openmpi-bin   # MPI: training on many processes and machines (mpirun)
  espeak-ng sox     # corpus building: synthetic voices and effect chains (the tests build Datasets/tiny.json)
  flite festival festvox-kallpc16k   # more synthetic voices (Datasets/small.json)
)
# Python: pip fetches the speaker-encoder weights once (below); the tests' cross-checks use
# reference Python libraries. Training and generation never run Python.
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
  TIMBRE_APT_PACKAGES+=(python3 python3-venv)
fi

missing=()
for p in "${TIMBRE_APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "setup: no Swift toolchain on PATH (Timbre needs Swift 6.0 or newer; https://www.swift.org/install/linux/)" >&2
  exit 1
fi

# A private Python environment for the test suite's reference checks (numpy, safetensors, …):
# .build/python, created once, updated when Tests/python/requirements.txt changes.
if [ "${TIMBRE_SETUP_PYTHON:-1}" = 1 ]; then
  venv=.build/python
  stamp="$venv/.requirements"
  if [ ! -x "$venv/bin/python" ] || ! cmp -s Tests/python/requirements.txt "$stamp"; then
    echo "setup: Python reference packages into $venv"
    mkdir -p .build
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r Tests/python/requirements.txt
    cp Tests/python/requirements.txt "$stamp"
  fi
  export TIMBRE_PYTHON="$PWD/$venv/bin/python"
fi

# The GE2E speaker encoder's weights (docs/design.md §6, Apache-2.0) for the identity metric: fetched once
# from the PyPI wheel resemblyzer==0.1.4 and converted from its legacy torch file to safetensors
# by a standard-library script. Nothing of the wheel is kept.
enc=Checkpoints/speaker-encoder/ge2e.safetensors
if [ ! -f "$enc" ]; then
  echo "setup: speaker-encoder weights (pip download resemblyzer==0.1.4) into $enc"
  [ -x .build/python/bin/python ] || { mkdir -p .build && python3 -m venv .build/python; }
  tmp=$(mktemp -d)
  .build/python/bin/python -m pip download --quiet --disable-pip-version-check --no-deps resemblyzer==0.1.4 -d "$tmp"
  .build/python/bin/python -m zipfile -e "$tmp"/*.whl "$tmp/wheel"
  mkdir -p "$(dirname "$enc")"
  .build/python/bin/python Datasets/tools/torch_legacy_to_safetensors.py "$tmp/wheel/resemblyzer/pretrained.pt" "$enc"
  rm -rf "$tmp"
fi
