#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (the `fuzz` preset: clang, ASan, UBSan) and runs each one
# for SECONDS (default 30) over its corpus. Fails if a target finds a bug; the input that shows it
# is in build/fuzz/artifacts/. See docs/fuzzing.md.
# Usage: bash scripts/fuzz.sh [SECONDS [TARGET...]]
#   TARGET: request_path, app_config_json, snapshot_compile, snapshot_cache (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
if [ $# -gt 0 ]; then shift; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(request_path app_config_json snapshot_compile snapshot_cache)
fi

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

bin=build/fuzz/fuzz
work=build/fuzz/corpus
artifacts=build/fuzz/artifacts
mkdir -p "$artifacts"
# The snapshot seeds are written from the config fixtures, so they follow them.
"$bin/valet-fuzz-seeds" "$work/seeds" conf/apps tests/fixtures/valid tests/fixtures/invalid

failed=()
for t in "${targets[@]}"; do
  # Read-only seed dirs after the first (libFuzzer adds what it finds to the first one only).
  case "$t" in
    request_path) seeds=(fuzz/corpus/request_path) ;;
    app_config_json)
      seeds=(fuzz/corpus/app_config_json conf/apps tests/fixtures/valid tests/fixtures/invalid
             tests/fixtures/invalid_dirs) ;;
    snapshot_compile) seeds=(fuzz/corpus/snapshot_compile "$work/seeds/snapshot_compile") ;;
    snapshot_cache) seeds=(fuzz/corpus/snapshot_cache "$work/seeds/snapshot_cache") ;;
    *) echo "fuzz: unknown target $t" >&2; exit 2 ;;
  esac
  existing=()
  for d in "${seeds[@]}"; do [ -d "$d" ] && existing+=("$d"); done
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  mkdir -p "$work/$t"
  echo "fuzz: $t for ${seconds}s"
  if ! "$bin/${t}_fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$t-" "${dict[@]}" \
      "$work/$t" "${existing[@]}" >"$artifacts/$t.log" 2>&1; then
    tail -n 40 "$artifacts/$t.log" >&2
    failed+=("$t")
  else
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$artifacts/$t.log" | tail -n 2 || true
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs: $artifacts/; logs: $artifacts/TARGET.log)" >&2
  exit 1
fi
echo "fuzz: ${targets[*]}: no finding in ${seconds}s each"
