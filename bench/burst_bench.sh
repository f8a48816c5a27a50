#!/usr/bin/env bash
# A burst of client connections against one backend with a small accept queue: nginx and
# valet-dataplane, one worker each, in front of the same nginx backend, in the same run. Overload
# must make a proxy slower, not turn into gateway errors. See bench/README.md.
#
# usage: bench/burst_bench.sh [options] [BUILD_DIR]
#   --connections C   client connections (default 5000)
#   --duration D      wrk duration (default 10s)
#   --only LIST       comma-separated subset of nginx,valet
#   BUILD_DIR         Valet build dir (default: build/release, else build/dev, under the repo)
#
# Per proxy: requests/s, wrk socket errors, non-2xx answers, peak RSS, and the connections the
# proxy opened to the backend; for valet also its own counts of 503s, ejections and requests that
# waited for a backend connection (from /metrics).
set -euo pipefail

CONNECTIONS=5000
DURATION=10s
ONLY=nginx,valet
BUILD_DIR=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) BUILD_DIR="$1"; shift ;;
  esac
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
BUILD_DIR="${BUILD_DIR:-$(default_build_dir "$REPO")}"
VALET_BIN="$BUILD_DIR/dataplane/valet-dataplane"
NGINX_BIN="${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}"
[[ -x "$VALET_BIN" ]] || { echo "valet-dataplane not built in '$BUILD_DIR'; pass a build dir" >&2; exit 2; }
[[ -x "$NGINX_BIN" ]] || { echo "nginx is not installed (the backend is nginx)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }

# Every connection is a descriptor in wrk, in the proxy (twice) and in the backend.
ulimit -n $(( CONNECTIONS * 2 + 1024 )) 2>/dev/null ||
  { echo "cannot raise the descriptor limit to $(( CONNECTIONS * 2 + 1024 )) (ulimit -n)" >&2; exit 2; }

DURATION_S="$(duration_seconds "$DURATION")"
wants() { [[ ",$ONLY," == *",$1,"* ]]; }

# The backend: nginx's default accept queue (511) and a 1 KB answer; its stub_status counts the
# connections it accepted.
BACKEND_PORT="$(free_port)"
PAD="$(head -c 1000 /dev/zero | tr '\0' 'x')"
BACKEND_PID="$(start_nginx "$WORK/backend" 1 "server { listen 127.0.0.1:$BACKEND_PORT;
  location = /_stats { stub_status; } location / { return 200 '$PAD'; } }")"
PIDS+=("$BACKEND_PID")
wait_http "http://127.0.0.1:$BACKEND_PORT/x" || { echo "backend did not start" >&2; exit 1; }

# Connections the backend has accepted so far (stub_status, line 3: accepts handled requests).
backend_accepted() {
  curl -s --max-time 2 "http://127.0.0.1:$BACKEND_PORT/_stats" | awk 'NR == 3 {print $1}'
}

ROWS=()
# burst NAME URL PID: one wrk run of CONNECTIONS connections.
burst() {
  local name="$1" url="$2" pid="$3" line before after
  before="$(backend_accepted)"
  line="$(WRK_THREADS=1 WRK_TIMEOUT=10s wrk_result "$url")" ||
    { echo "  $name: wrk failed (above)" >&2; return; }
  after="$(backend_accepted)"
  # shellcheck disable=SC2086
  set -- $line
  # The second stats query's own connection is counted in `after`.
  ROWS+=("$name $1 $6 $4 $5 $(peak_rss_kb "$pid") $(( ${after:-0} - ${before:-0} - 1 ))")
}

echo "Valet burst benchmark: $(nproc) CPUs, wrk -t1 -c$CONNECTIONS -d$DURATION, one proxy worker," \
     "nginx backend (accept queue 511)"

if wants nginx; then
  port="$(free_port)"
  pid="$(start_nginx "$WORK/proxy" 1 "upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 64; }
  server { listen 127.0.0.1:$port backlog=65535; location / { proxy_pass http://backend;
    proxy_http_version 1.1; proxy_set_header Connection \"\"; } }")"
  PIDS+=("$pid")
  if wait_http "http://127.0.0.1:$port/x"; then burst nginx "http://127.0.0.1:$port/x" "$pid"; fi
  stop_pid "$pid"
fi

if wants valet; then
  mkdir -p "$WORK/valet/conf"
  cat >"$WORK/valet/conf/burst.json" <<JSON
{"name":"burst","description":"burst benchmark","endpoints":[{"host":"127.0.0.1","path":"","port":$BACKEND_PORT}]}
JSON
  "$VALET_BIN" --conf-dir "$WORK/valet/conf" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --workers 1 --port-file "$WORK/valet/ports" >"$WORK/valet/out.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  if addr="$(wait_port_file "$WORK/valet/ports" listen)" && [[ -n "$addr" ]] &&
     wait_http "http://$addr/burst/x"; then
    admin="$(wait_port_file "$WORK/valet/ports" admin)"
    burst valet "http://$addr/burst/x" "$pid"
    curl -s "http://$admin/metrics" >"$WORK/valet/metrics" || true
  else
    echo "  valet-dataplane did not start:" >&2; cat "$WORK/valet/out.log" >&2
  fi
  stop_pid "$pid"
fi

echo
printf '%-8s %12s %12s %10s %10s %14s %12s\n' proxy 'req/s' requests errors non-2xx \
  'peak RSS MB' 'backend conn'
for r in "${ROWS[@]+"${ROWS[@]}"}"; do
  # shellcheck disable=SC2086
  set -- $r
  printf '%-8s %12.0f %12d %10d %10d %14.1f %12d\n' "$1" "$2" "$3" "$4" "$5" \
    "$(awk -v k="$6" 'BEGIN {print k / 1024}')" "$7"
done
if [[ -s "$WORK/valet/metrics" ]]; then
  echo
  echo "valet /metrics after the burst:"
  grep -E '^valet_(requests_total\{app="burst",class="5xx"\}|upstream_errors_total\{app="burst"|upstream_ejections_total|upstream_panic_total|upstream_connections_opened_total)' \
    "$WORK/valet/metrics" | sed 's/^/  /'
fi
