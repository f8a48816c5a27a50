#!/usr/bin/env bash
# Mock benchmark on loopback: a mocked route of valet-dataplane (an app in mock mode) against
# nginx answering a static file of the same size, measured with the same wrk run in the same
# invocation. See bench/README.md.
#
# usage: bench/mock_bench.sh [options] [BUILD_DIR]
#   --duration D      wrk duration per target (default 10s; wrk syntax: 10s, 1m)
#   --workers W       worker processes/threads of nginx and valet (default 2)
#   --connections C   wrk connections (default 64)
#   --wrk-threads T   wrk threads (default 2)
#   --body-bytes N    answer body size (default 1024)
#   BUILD_DIR         Valet build dir (default: build/release, else build/dev, under the repo)
set -euo pipefail

DURATION=10s
WORKERS=2
CONNECTIONS=64
WRK_THREADS=2
BODY_BYTES=1024
BUILD_DIR=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --wrk-threads) WRK_THREADS="$2"; shift 2 ;;
    --body-bytes) BODY_BYTES="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) BUILD_DIR="$1"; shift ;;
  esac
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
BUILD_DIR="${BUILD_DIR:-$(default_build_dir "$REPO")}"
require_build_dir
VALET_BIN="$(find_bin valet-dataplane)"
[[ -n "$VALET_BIN" ]] || { echo "valet-dataplane not built in $BUILD_DIR" >&2; exit 2; }
NGINX_BIN="${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}"
[[ -x "$NGINX_BIN" ]] || { echo "nginx is not installed" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }
DURATION_S="$(duration_seconds "$DURATION")"

# The body both answer: BODY_BYTES of JSON text ({"data":"xxx..."}).
BODY="$(python3 -c "import sys; n=int(sys.argv[1]); print('{\"data\":\"' + 'x' * max(0, n - 11) + '\"}', end='')" "$BODY_BYTES")"

declare -A RPS P50 P99 ERR
# measure NAME URL: a 1 s warm-up, then the measured run.
measure() {
  local name="$1" url="$2" line
  wrk_warm_up "$url"
  line="$(wrk_result "$url")" || { echo "  $name: wrk failed (above)" >&2; return 1; }
  # shellcheck disable=SC2086
  set -- $line
  RPS[$name]="$1"; P50[$name]="$2"; P99[$name]="$3"; ERR[$name]=$(( $4 + $5 ))
  printf '  %-6s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  errors+non-2xx %d\n' "$name" "$1" "$2" "$3" "${ERR[$name]}"
}

echo "Valet mock benchmark: $(nproc) CPUs, wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION," \
     "$BODY_BYTES-byte answers, $WORKERS workers, build $BUILD_DIR"

# nginx: the same bytes from a static file.
port="$(free_port)"
mkdir -p "$WORK/nginx/html/bench/items"
printf '%s' "$BODY" >"$WORK/nginx/html/bench/items/1"
# nginx's workers drop to an unprivileged user when started as root: they must reach the file.
chmod a+x "$WORK" "$WORK/nginx"
chmod -R a+rX "$WORK/nginx/html"
pid="$(start_nginx "$WORK/nginx" "$WORKERS" "
  default_type application/json;
  server {
    listen 127.0.0.1:$port;
    root $WORK/nginx/html;
  }")"
PIDS+=("$pid")
wait_http "http://127.0.0.1:$port/bench/items/1" || { echo "nginx did not start" >&2; cat "$WORK/nginx/out.log" "$WORK/nginx/error.log" >&2; exit 1; }
measure nginx "http://127.0.0.1:$port/bench/items/1"
stop_pid "$pid"

# valet: an app in mock mode whose mock answers the same bytes (its endpoint is never called).
mkdir -p "$WORK/valet/conf"
python3 - "$WORK/valet/conf/bench.json" "$BODY" <<'EOF'
import json, sys
json.dump({"name": "bench", "endpoints": [{"host": "127.0.0.1", "port": 9}], "mockMode": True,
           "mocks": [{"method": "GET", "path": "/items/{id}", "json": json.loads(sys.argv[2])}]},
          open(sys.argv[1], "w"))
EOF
"$VALET_BIN" --conf-dir "$WORK/valet/conf" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  --workers "$WORKERS" --port-file "$WORK/valet/ports" >"$WORK/valet/out.log" 2>&1 &
pid=$!
PIDS+=("$pid")
addr="$(wait_port_file "$WORK/valet/ports" listen)" && wait_http "http://$addr/bench/items/1" ||
  { echo "valet did not start" >&2; cat "$WORK/valet/out.log" >&2; exit 1; }
measure valet "http://$addr/bench/items/1"
stop_pid "$pid"

echo
awk -v v="${RPS[valet]}" -v n="${RPS[nginx]}" -v vp="${P99[valet]}" -v np="${P99[nginx]}" \
  'BEGIN {printf "valet mock / nginx static: throughput %.2fx, p99 %.2fx\n", v / n, vp / np}'
