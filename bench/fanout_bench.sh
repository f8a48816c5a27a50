#!/usr/bin/env bash
# Fan-out latency on loopback: a fan-out route over three backends that each answer in DELAY ms,
# against a single-backend route to the same kind of backend, with the same wrk load, in the same
# run, through the same valet-dataplane. The fan-out's legs run at once, so its p50 should be
# within 10% of the single route's (the slowest leg, not the sum). See bench/README.md.
#
# usage: bench/fanout_bench.sh [options] [BUILD_DIR]
#   --duration D      wrk duration per route (default 10s)
#   --connections C   wrk connections (default 64)
#   --wrk-threads T   wrk threads (default 2)
#   --workers W       data plane workers (default 2)
#   --delay-ms N      every backend answers this late (default 50)
#   --body-bytes N    each backend's answer size (default 256)
#   BUILD_DIR         Valet build dir (default: build/release, else build/dev, under the repo)
set -euo pipefail

DURATION=10s
CONNECTIONS=64
WRK_THREADS=2
WORKERS=2
DELAY_MS=50
BODY_BYTES=256
BUILD_DIR=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --wrk-threads) WRK_THREADS="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --delay-ms) DELAY_MS="$2"; shift 2 ;;
    --body-bytes) BODY_BYTES="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) BUILD_DIR="$1"; shift ;;
  esac
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
BUILD_DIR="${BUILD_DIR:-$(default_build_dir "$REPO")}"
require_build_dir
ECHO_BIN="$(find_bin valet-echo-backend)"
VALET_BIN="$(find_bin valet-dataplane)"
[[ -x "$ECHO_BIN" && -x "$VALET_BIN" ]] || { echo "valet-echo-backend or valet-dataplane not built in $BUILD_DIR" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }
DURATION_S="$(duration_seconds "$DURATION")"


echo "Valet fan-out benchmark: $(nproc) CPUs, wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION," \
     "3 backends answering in $DELAY_MS ms ($BODY_BYTES bytes), $WORKERS data plane workers"

BACKENDS=()
for i in 1 2 3; do
  "$ECHO_BIN" --listen 127.0.0.1:0 --port-file "$WORK/backend$i.port" --threads 2 \
    --delay-ms "$DELAY_MS" --body-bytes "$BODY_BYTES" >"$WORK/backend$i.log" 2>&1 &
  PIDS+=($!)
  b="$(wait_port_file "$WORK/backend$i.port" listen)" || { echo "backend $i did not start" >&2; exit 1; }
  BACKENDS+=("$b")
done

mkdir -p "$WORK/conf"
b1="${BACKENDS[0]}"
cat >"$WORK/conf/single.json" <<JSON
{"name": "single", "endpoints": [{"host": "${b1%:*}", "port": ${b1##*:}}]}
JSON
cat >"$WORK/conf/fan.json" <<JSON
{"name": "fan", "endpoints": [{"host": "${b1%:*}", "port": ${b1##*:}}],
 "routes": [{"method": "GET", "path": "/x", "backends": [
   {"url": "http://${BACKENDS[0]}", "name": "one", "group": "one"},
   {"url": "http://${BACKENDS[1]}", "name": "two", "group": "two"},
   {"url": "http://${BACKENDS[2]}", "name": "three", "group": "three"}]}]}
JSON
"$VALET_BIN" --conf-dir "$WORK/conf" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  --port-file "$WORK/valet.port" --workers "$WORKERS" >"$WORK/valet.log" 2>&1 &
VALET_PID=$!
PIDS+=("$VALET_PID")
VALET="$(wait_port_file "$WORK/valet.port" listen)" || { echo "valet did not start" >&2; cat "$WORK/valet.log" >&2; exit 1; }
wait_http "http://$VALET/single/x" || { echo "valet does not answer /single/x" >&2; exit 1; }
wait_http "http://$VALET/fan/x" || { echo "valet does not answer /fan/x" >&2; curl -s "http://$VALET/fan/x" >&2; exit 1; }

declare -A P50 P99
measure() {  # measure NAME URL
  local line
  wrk_warm_up "$2"
  line="$(wrk_result "$2")" || { echo "  $1: wrk failed (above)" >&2; exit 1; }
  # shellcheck disable=SC2086
  set -- "$1" $line
  P50[$1]="$3"
  P99[$1]="$4"
  printf '  %-8s %9.0f req/s  p50 %8.3f ms  p99 %8.3f ms  errors %d  non-2xx %d\n' \
    "$1" "$2" "$3" "$4" "$5" "$6"
}

measure single "http://$VALET/single/x"
measure fanout "http://$VALET/fan/x"
awk -v f="${P50[fanout]}" -v s="${P50[single]}" -v f99="${P99[fanout]}" -v s99="${P99[single]}" \
  'BEGIN {
     printf "fan-out / single: p50 %.3f, p99 %.3f (target: p50 within 1.10)\n", f / s, f99 / s99
     exit (f / s <= 1.10 ? 0 : 1)
   }'
