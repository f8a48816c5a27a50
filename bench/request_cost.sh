#!/usr/bin/env bash
# Instructions per proxied request, counted by Valgrind's callgrind: a deterministic measure of the
# request path's CPU cost that, unlike req/s, does not move with the scheduler or the neighbours
# of a shared machine. Use it beside proxy_bench.sh to tell a real change from noise.
#
# usage: bench/request_cost.sh [--requests N] [--compare DIR] [BUILD_DIR]
#   --requests N   keep-alive GETs in the long run (default 5000; the short run sends N/5)
#   --compare DIR  also count the valet-dataplane of another build dir and print the ratio
#   BUILD_DIR      Valet build dir (default: build/release, else build/dev, under the repo)
#
# One data plane worker under callgrind serves the same GETs (4 keep-alive connections, 1 KB
# answers from valet-echo-backend) twice, N/5 and N; the difference of the two totals divided by
# the difference of the counts is the cost of one request, start-up and shutdown cancelled out.
set -euo pipefail

REQUESTS=5000
COMPARE_DIR=""
BUILD_DIR=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --requests) REQUESTS="$2"; shift 2 ;;
    --compare) COMPARE_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) BUILD_DIR="$1"; shift ;;
  esac
done
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
BUILD_DIR="${BUILD_DIR:-$(default_build_dir "$REPO")}"
[[ -x "$BUILD_DIR/dataplane/valet-dataplane" ]] || { echo "no valet-dataplane in '$BUILD_DIR'" >&2; exit 2; }
[[ -z "$COMPARE_DIR" || -x "$COMPARE_DIR/dataplane/valet-dataplane" ]] ||
  { echo "no valet-dataplane in '$COMPARE_DIR'" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
(( REQUESTS >= 50 )) || { echo "--requests must be at least 50" >&2; exit 2; }

"$BUILD_DIR/tools/valet-echo-backend" --listen 127.0.0.1:0 --port-file "$WORK/backend.port" \
  --threads 1 >"$WORK/backend.log" 2>&1 &
PIDS+=($!)
BACKEND="$(wait_port_file "$WORK/backend.port" listen)" || { echo "backend did not start" >&2; exit 1; }
mkdir -p "$WORK/conf"
cat >"$WORK/conf/bench.json" <<JSON
{"name":"bench","description":"benchmark","endpoints":[{"host":"127.0.0.1","path":"","port":${BACKEND##*:}}]}
JSON

# instructions BIN N: callgrind's instruction total for a data plane that served N GETs.
instructions() {
  local bin="$1" n="$2" dir="$WORK/run-$RANDOM" pid addr
  mkdir -p "$dir"
  valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" "$bin" \
    --conf-dir "$WORK/conf" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --workers 1 \
    --port-file "$dir/ports" >"$dir/log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 600); do [[ -s "$dir/ports" ]] && break; sleep 0.1; done
  addr="$(awk '$1 == "listen" {print $2}' "$dir/ports")"
  [[ -n "$addr" ]] || { echo "valet-dataplane did not start under valgrind:" >&2; cat "$dir/log" >&2; exit 1; }
  timeout 600 /usr/bin/python3 - "$addr" "$n" <<'PY'
import http.client, sys
host, port = sys.argv[1].rsplit(":", 1)
n = int(sys.argv[2])
conns = [http.client.HTTPConnection(host, int(port), timeout=60) for _ in range(4)]
for i in range(n):
    c = conns[i % 4]
    c.request("GET", "/bench/x")
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"request {i}: status {r.status}")
PY
  stop_pid "$pid"
  awk '/^totals:/ {print $2}' "$dir/callgrind.out"
}

# per_request BIN: instructions per request (difference of a long and a short run).
per_request() {
  local short=$(( REQUESTS / 5 )) a b
  a="$(instructions "$1" "$short")"
  b="$(instructions "$1" "$REQUESTS")"
  awk -v a="$a" -v b="$b" -v n=$(( REQUESTS - short )) 'BEGIN {printf "%.0f", (b - a) / n}'
}

echo "Instructions per proxied GET (callgrind, 1 worker, 4 keep-alive connections, 1 KB answers)"
VALET="$(per_request "$BUILD_DIR/dataplane/valet-dataplane")"
printf '  %-8s %10s  (%s)\n' valet "$VALET" "$BUILD_DIR"
if [[ -n "$COMPARE_DIR" ]]; then
  OTHER="$(per_request "$COMPARE_DIR/dataplane/valet-dataplane")"
  printf '  %-8s %10s  (%s)\n' valet-b "$OTHER" "$COMPARE_DIR"
  awk -v v="$VALET" -v b="$OTHER" 'BEGIN {printf "valet / valet-b: instructions per request %.3fx\n", v / b}'
fi
