#!/usr/bin/env bash
# Installs what is missing, checks the C++ formatting (scripts/check-format.sh), builds Valet and
# runs every test (unit, integration, e2e), then, with the dev preset and clang installed, each fuzz
# target for VALET_FUZZ_SECONDS (default 20; 0 skips them) (scripts/fuzz.sh, docs/fuzzing.md).
# Usage: bash scripts/test.sh [PRESET]   (PRESET: dev (default) or asan)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-dev}"

bash scripts/install-deps.sh
bash scripts/check-format.sh
cmake --preset "$preset"
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" -j "$(nproc)" --timeout 300

fuzz_seconds="${VALET_FUZZ_SECONDS:-20}"
if [ "$preset" != dev ] || [ "$fuzz_seconds" = 0 ]; then
  echo "test: fuzz targets not run (preset $preset, VALET_FUZZ_SECONDS=$fuzz_seconds)"
elif ! command -v clang++ >/dev/null; then
  echo "test: fuzz targets not run: clang++ is not installed (scripts/install-deps.sh installs it)"
else
  bash scripts/fuzz.sh "$fuzz_seconds"
fi
