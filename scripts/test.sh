#!/usr/bin/env bash
# Installs what is missing, checks the C++ formatting (scripts/check-format.sh), builds Valet and
# runs every test (unit, integration, e2e).
# Usage: bash scripts/test.sh [PRESET]   (PRESET: dev (default) or asan)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-dev}"

bash scripts/install-deps.sh
bash scripts/check-format.sh
cmake --preset "$preset"
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" -j "$(nproc)" --timeout 300
