#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs the whole test suite (XCTest).
set -euo pipefail
cd "$(dirname "$0")/.."
source Recipes/setup.sh
swift build -c release --build-tests
mkdir -p .build
set +e
swift test -c release --disable-swift-testing 2>&1 | tee .build/test.log
status=${PIPESTATUS[0]}
set -e
# One plain summary line from XCTest's own count ("Executed N tests, with F failures").
summary=$(grep -E "Executed [0-9]+ tests?, with [0-9]+ failures?" .build/test.log | tail -1)
total=$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')
failed=$(echo "$summary" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')
if [ -n "$summary" ]; then
  echo "tests: $((total - failed)) passed, $failed failed"
fi
exit "$status"
