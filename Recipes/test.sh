#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source Recipes/setup.sh
swift build --build-tests
swift test 2>&1 | tee .build/test.log
