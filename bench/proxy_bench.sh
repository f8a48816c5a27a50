#!/usr/bin/env bash
# Valet load benchmark on loopback: the echo backend alone, then behind nginx, haproxy and
# valet-dataplane, each measured with the same wrk run. See bench/README.md.
#
# usage: bench/proxy_bench.sh [options] [BUILD_DIR]
#   --duration D      wrk duration per target (default 10s; wrk syntax: 10s, 1m)
#   --workers W       worker processes/threads for every proxy (default 2)
#   --connections C   wrk connections (default 64)
#   --wrk-threads T   wrk threads (default 2)
#   --backend-threads N  echo backend threads (default 2)
#   --body-bytes N    response body size (default 1024)
#   --only LIST       comma-separated subset of direct,nginx,haproxy,valet
#   --compare DIR     also measure the valet-dataplane of another build dir (e.g. of the commit
#                     before a change) as "valet-b", in the same run, and print valet / valet-b
#   BUILD_DIR         Valet build dir (default: build/release, else build/dev, under the repo)
#
# Besides throughput, latency and peak RSS, each row shows how many connections the proxy opened
# to the backend during its runs (the backend counts its accepts): a pool that keeps its
# connections opens about as many as it has concurrent requests, once.
set -euo pipefail

DURATION=10s
WORKERS=2
CONNECTIONS=64
WRK_THREADS=2
BACKEND_THREADS=2
BODY_BYTES=1024
ONLY=direct,nginx,haproxy,valet
BUILD_DIR=""
COMPARE_DIR=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --wrk-threads) WRK_THREADS="$2"; shift 2 ;;
    --backend-threads) BACKEND_THREADS="$2"; shift 2 ;;
    --body-bytes) BODY_BYTES="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --compare) COMPARE_DIR="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
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
[[ -n "$ECHO_BIN" ]] || { echo "valet-echo-backend not built in $BUILD_DIR" >&2; exit 2; }
COMPARE_BIN=""
if [[ -n "$COMPARE_DIR" ]]; then
  COMPARE_BIN="$(find_bin valet-dataplane "$COMPARE_DIR")"
  [[ -n "$COMPARE_BIN" ]] || { echo "valet-dataplane not built in $COMPARE_DIR" >&2; exit 2; }
fi
NGINX_BIN="${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}"
HAPROXY_BIN="${HAPROXY_BIN:-$(command -v haproxy || echo /usr/sbin/haproxy)}"
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }

DURATION_S="$(duration_seconds "$DURATION")"

RESULTS=()  # "name rps p50 p99 errors non2xx rss_kb new_backend_connections cpu_us_per_request"
CLK_TCK="$(getconf CLK_TCK)"

# Connections the backend has accepted so far.
backend_accepted() {
  curl -s --max-time 2 "http://$BACKEND/_echo/stats" | sed -n 's/.*"accepted":\([0-9]*\).*/\1/p'
}

# measure NAME URL PID: a 1 s warm-up, then the measured run; PID's peak RSS is read after it.
measure() {
  local name="$1" url="$2" pid="$3" line rss before after cpu_before=0 cpu="-"
  before="$(backend_accepted)"
  wrk_warm_up "$url"
  [[ -n "$pid" ]] && cpu_before="$(cpu_ticks "$pid")"
  line="$(wrk_result "$url")" || { echo "  $name: wrk failed (above)" >&2; return; }
  rss="-"
  [[ -n "$pid" ]] && rss="$(peak_rss_kb "$pid")"
  if [[ -n "$pid" ]]; then
    # CPU per request is steadier than req/s on a shared machine: it does not depend on how the
    # scheduler splits the CPUs between wrk, the backend and the proxy.
    cpu="$(awk -v t="$(( $(cpu_ticks "$pid") - cpu_before ))" -v hz="$CLK_TCK" \
      -v n="$(awk '{print $6}' <<<"$line")" 'BEGIN {printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0)}')"
  fi
  after="$(backend_accepted)"
  # The second stats query's own connection is counted in `after`.
  local opened=$(( ${after:-0} - ${before:-0} - 1 ))
  # shellcheck disable=SC2086
  set -- $line
  RESULTS+=("$name $1 $2 $3 $4 $5 $rss $opened $cpu")
  printf '  %-8s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms\n' "$name" "$1" "$2" "$3"
}

wants() { [[ ",$ONLY," == *",$1,"* ]]; }

echo "Valet proxy benchmark: $(nproc) CPUs, wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION," \
     "$BODY_BYTES-byte responses, $WORKERS proxy workers, build $BUILD_DIR"

# The backend, shared by every target.
"$ECHO_BIN" --listen 127.0.0.1:0 --port-file "$WORK/backend.port" --threads "$BACKEND_THREADS" \
  --body-bytes "$BODY_BYTES" >"$WORK/backend.log" 2>&1 &
BACKEND_PID=$!
PIDS+=("$BACKEND_PID")
BACKEND="$(wait_port_file "$WORK/backend.port" listen)" || { echo "backend did not start" >&2; cat "$WORK/backend.log" >&2; exit 1; }
BACKEND_PORT="${BACKEND##*:}"
wait_http "http://$BACKEND/bench/x" || { echo "backend does not answer" >&2; exit 1; }

if wants direct; then
  measure direct "http://$BACKEND/bench/x" ""
fi

if wants nginx; then
  if [[ -x "$NGINX_BIN" ]]; then
    port="$(free_port)"
    pid="$(start_nginx "$WORK/nginx" "$WORKERS" "
  upstream backend {
    server $BACKEND;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
  }")"
    PIDS+=("$pid")
    if wait_http "http://127.0.0.1:$port/bench/x"; then
      measure nginx "http://127.0.0.1:$port/bench/x" "$pid"
    else
      echo "  nginx did not start:" >&2; cat "$WORK/nginx/out.log" "$WORK/nginx/error.log" >&2 || true
    fi
    stop_pid "$pid"
  else
    echo "  nginx: not installed, skipped"
  fi
fi

if wants haproxy; then
  if [[ -x "$HAPROXY_BIN" ]]; then
    port="$(free_port)"
    mkdir -p "$WORK/haproxy"
    cat >"$WORK/haproxy/haproxy.cfg" <<EOF
global
  nbthread $WORKERS
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind 127.0.0.1:$port
  default_backend be
backend be
  server s1 $BACKEND
EOF
    "$HAPROXY_BIN" -f "$WORK/haproxy/haproxy.cfg" -db >"$WORK/haproxy/out.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if wait_http "http://127.0.0.1:$port/bench/x"; then
      measure haproxy "http://127.0.0.1:$port/bench/x" "$pid"
    else
      echo "  haproxy did not start:" >&2; cat "$WORK/haproxy/out.log" >&2 || true
    fi
    stop_pid "$pid"
  else
    echo "  haproxy: not installed, skipped"
  fi
fi

# run_valet NAME BINARY: one valet-dataplane in front of the backend, measured as NAME.
run_valet() {
  local name="$1" bin="$2" dir="$WORK/$1" pid addr
  mkdir -p "$dir/conf"
  cat >"$dir/conf/bench.json" <<EOF
{"name":"bench","description":"benchmark","authorize":false,"authKey":"","authHeader":"X-Valet-Auth","rateLimit":false,"limitValue":0,"endpoints":[{"host":"127.0.0.1","path":"","port":$BACKEND_PORT}]}
EOF
  "$bin" --conf-dir "$dir/conf" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --workers "$WORKERS" --port-file "$dir/ports" >"$dir/out.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  if addr="$(wait_port_file "$dir/ports" listen)" && [[ -n "$addr" ]] &&
     wait_http "http://$addr/bench/x"; then
    measure "$name" "http://$addr/bench/x" "$pid"
  else
    echo "  $name did not start:" >&2; cat "$dir/out.log" >&2 || true
  fi
  stop_pid "$pid"
}

if wants valet; then
  if [[ -n "$VALET_BIN" ]]; then
    run_valet valet "$VALET_BIN"
  else
    echo "  valet: valet-dataplane not built in $BUILD_DIR, skipped"
  fi
  if [[ -n "$COMPARE_BIN" ]]; then run_valet valet-b "$COMPARE_BIN"; fi
fi

echo
printf '%-8s %12s %10s %10s %8s %8s %14s %12s %12s\n' target 'req/s' 'p50 ms' 'p99 ms' errors \
  non-2xx 'peak RSS MB' 'backend conn' 'CPU us/req'
for r in "${RESULTS[@]+"${RESULTS[@]}"}"; do
  # shellcheck disable=SC2086
  set -- $r
  rss="$7"; [[ "$rss" != "-" ]] && rss="$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}')"
  printf '%-8s %12.0f %10.3f %10.3f %8d %8d %14s %12s %12s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$rss" \
    "$8" "$9"
done
echo "(peak RSS: VmHWM of the proxy, summed over nginx's master and workers; direct: no proxy;"
echo " backend conn: connections the backend accepted during the warm-up and the run;"
echo " CPU us/req: the proxy's user + system CPU time during the measured run per request)"

nginx_row=""; valet_row=""; compare_row=""
for r in "${RESULTS[@]+"${RESULTS[@]}"}"; do
  case "$r" in
    nginx\ *) nginx_row="$r" ;; valet\ *) valet_row="$r" ;; valet-b\ *) compare_row="$r" ;;
  esac
done
if [[ -n "$compare_row" && -n "$valet_row" ]]; then
  awk -v b="$compare_row" -v v="$valet_row" 'BEGIN {
    split(b, a, " "); split(v, c, " ");
    printf "valet / valet-b: throughput %.3fx, p99 latency %.2fx, CPU per request %.3fx\n",
      c[2] / a[2], (a[4] > 0 ? c[4] / a[4] : 0), (a[9] > 0 ? c[9] / a[9] : 0);
  }'
fi
if [[ -n "$nginx_row" && -n "$valet_row" ]]; then
  awk -v n="$nginx_row" -v v="$valet_row" 'BEGIN {
    split(n, a, " "); split(v, b, " ");
    printf "valet / nginx: throughput %.2fx, p99 latency %.2fx, CPU per request %.2fx\n",
      b[2] / a[2], (a[4] > 0 ? b[4] / a[4] : 0), (a[9] > 0 ? b[9] / a[9] : 0);
  }'
else
  echo "valet / nginx: n/a (both must have run)"
fi
