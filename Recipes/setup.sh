#!/usr/bin/env bash
# Installs what Timbre needs on Debian 12 (run as root; idempotent and quick when all is present).
# Sourced by Recipes/quickstart.sh, Recipes/test.sh and .ci/run, so they all install the same set.
set -euo pipefail

TIMBRE_APT_PACKAGES=(
  pkg-config
  libopenblas-dev   # BLAS (cblas_sgemm) for every matrix product
  libsndfile1-dev   # audio I/O
  libhdf5-dev       # HDF5 shards (the serial build, pkg-config name hdf5-serial)
)

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
