#!/usr/bin/env bash
# Cost of auth and rate limiting on the request path: one valet-dataplane attached to a
# valet-controlplane serves two apps pointing at the same echo backend, an open app and a
# rate-limited app (a limit high enough never to refuse, so every request spends quota granted
# over the attach stream). The same wrk load runs against each, alternating, in the same run; the
# script prints throughput and p99 of each and the ratios limited / open. See bench/README.md.
#
# usage: bench/limit_bench.sh [options] [BUILD_DIR]
#   --duration D      wrk duration per run (default 10s)
#   --rounds N        open/limited pairs, alternating (default 2); the best of each is kept
#   --workers W       data plane workers (default 2)
#   --connections C   wrk connections (default 64)
#   --wrk-threads T   wrk threads (default 2)
#   BUILD_DIR         Valet build dir (default: build/release, else build/dev, under the repo)
set -euo pipefail

DURATION=10s
ROUNDS=2
WORKERS=2
CONNECTIONS=64
WRK_THREADS=2
BUILD_DIR=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --wrk-threads) WRK_THREADS="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
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
DP_BIN="$(find_bin valet-dataplane)"
CP_BIN="$(find_bin valet-controlplane)"
for b in ECHO_BIN DP_BIN CP_BIN; do
  [[ -n "${!b}" ]] || { echo "$b: not built in $BUILD_DIR" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }
DURATION_S="$(duration_seconds "$DURATION")"


"$ECHO_BIN" --listen 127.0.0.1:0 --port-file "$WORK/backend.port" --threads 2 --body-bytes 1024 \
  >"$WORK/backend.log" 2>&1 &
PIDS+=("$!")
BACKEND="$(wait_port_file "$WORK/backend.port" listen)" || { echo "backend did not start" >&2; exit 1; }
BACKEND_PORT="${BACKEND##*:}"

mkdir -p "$WORK/conf"
cat >"$WORK/conf/open.json" <<JSON
{"name": "open", "endpoints": [{"host": "127.0.0.1", "path": "", "port": $BACKEND_PORT}]}
JSON
# authorize: the auth stage (when built) checks the key on every request.
cat >"$WORK/conf/limited.json" <<JSON
{"name": "limited", "authorize": true, "authKey": "bench-key", "rateLimit": true,
 "limitValue": 4000000000, "limitPeriodSeconds": 60,
 "endpoints": [{"host": "127.0.0.1", "path": "", "port": $BACKEND_PORT}]}
JSON

"$CP_BIN" --conf-dir "$WORK/conf" --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  --port-file "$WORK/cp.ports" >"$WORK/cp.log" 2>&1 &
PIDS+=("$!")
CP="$(wait_port_file "$WORK/cp.ports" grpc)" || { echo "control plane did not start" >&2; cat "$WORK/cp.log" >&2; exit 1; }

"$DP_BIN" --control-plane "$CP" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  --port-file "$WORK/dp.ports" --workers "$WORKERS" >"$WORK/dp.log" 2>&1 &
DP_PID=$!
PIDS+=("$DP_PID")
DP="$(wait_port_file "$WORK/dp.ports" listen)" || { echo "data plane did not start" >&2; cat "$WORK/dp.log" >&2; exit 1; }
DP_ADMIN="$(wait_port_file "$WORK/dp.ports" admin)"
wait_http "http://$DP/open/x" || { echo "data plane does not serve" >&2; cat "$WORK/dp.log" >&2; exit 1; }
for _ in $(seq 100); do
  curl -s "http://$DP_ADMIN/metrics" | grep -q '^valet_ratelimit_mode{mode="global"} 1' && break
  sleep 0.1
done

# run NAME: one wrk run against /NAME/x; prints "RPS P50_MS P99_MS ERRORS NON2XX REQUESTS".
run() {
  wrk_result "http://$DP/$1/x" -H "X-Valet-Auth: bench-key" || echo "0 0 0 0 0 0"
}

echo "Valet rate-limit benchmark: $(nproc) CPUs, wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION," \
     "$WORKERS data plane workers, attached to a control plane, build $BUILD_DIR"
for app in open limited; do wrk_warm_up "http://$DP/$app/x" -H "X-Valet-Auth: bench-key"; done
best_open="0 0 0 0 0 0"; best_limited="0 0 0 0 0 0"
for round in $(seq "$ROUNDS"); do
  for app in open limited; do
    r="$(run "$app")"
    # shellcheck disable=SC2086
    set -- $r
    printf '  round %d %-8s %10.0f req/s  p99 %7.3f ms  errors %d  non-2xx %d\n' "$round" "$app" \
      "$1" "$3" "$4" "$5"
    if [[ "$app" == open ]]; then
      best_open="$(awk -v a="$best_open" -v b="$r" 'BEGIN {split(a,x," "); split(b,y," "); print (y[1] > x[1] ? b : a)}')"
    else
      best_limited="$(awk -v a="$best_limited" -v b="$r" 'BEGIN {split(a,x," "); split(b,y," "); print (y[1] > x[1] ? b : a)}')"
    fi
  done
done
awk -v o="$best_open" -v l="$best_limited" 'BEGIN {
  split(o, a, " "); split(l, b, " ");
  printf "limited / open (best of each): throughput %.3fx (target >= 0.9), p99 %.2fx (target <= 1.2)\n",
    (a[1] > 0 ? b[1] / a[1] : 0), (a[3] > 0 ? b[3] / a[3] : 0) }'
curl -s "http://$DP_ADMIN/metrics" | grep -E '^valet_ratelimit_(admitted|refused)_total|^valet_ratelimit_mode' || true
