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
#   BUILD_DIR         Valet build dir (default: build/release, else build/dev, under the repo)
set -euo pipefail

DURATION=10s
WORKERS=2
CONNECTIONS=64
WRK_THREADS=2
BACKEND_THREADS=2
BODY_BYTES=1024
ONLY=direct,nginx,haproxy,valet
BUILD_DIR=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --workers) WORKERS="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --wrk-threads) WRK_THREADS="$2"; shift 2 ;;
    --backend-threads) BACKEND_THREADS="$2"; shift 2 ;;
    --body-bytes) BODY_BYTES="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) BUILD_DIR="$1"; shift ;;
  esac
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "$BUILD_DIR" ]]; then
  for d in "$REPO/build/release" "$REPO/build/dev"; do
    if [[ -x "$d/tools/valet-echo-backend" ]]; then BUILD_DIR="$d"; break; fi
  done
fi
[[ -n "$BUILD_DIR" && -d "$BUILD_DIR" ]] || { echo "no build dir (build/release or build/dev); pass one" >&2; exit 2; }

find_bin() {  # find_bin NAME: the first executable file NAME under the build dir.
  find "$BUILD_DIR" -maxdepth 3 -type f -name "$1" -perm -u+x 2>/dev/null | head -n1
}
ECHO_BIN="$(find_bin valet-echo-backend)"
VALET_BIN="$(find_bin valet-dataplane)"
[[ -n "$ECHO_BIN" ]] || { echo "valet-echo-backend not built in $BUILD_DIR" >&2; exit 2; }
NGINX_BIN="${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}"
HAPROXY_BIN="${HAPROXY_BIN:-$(command -v haproxy || echo /usr/sbin/haproxy)}"
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }

# Seconds in a wrk duration (10s, 2m, 1h, 30), to bound every wrk run in time.
duration_seconds() {
  local d="$1"
  case "$d" in
    *h) echo $(( ${d%h} * 3600 )) ;;
    *m) echo $(( ${d%m} * 60 )) ;;
    *s) echo "${d%s}" ;;
    *) echo "$d" ;;
  esac
}
DURATION_S="$(duration_seconds "$DURATION")"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/valet-bench.XXXXXX")"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops one server started by this script (TERM, then KILL after 5 s).
stop_pid() {
  local pid="$1" keep=() p
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [[ "$p" == "$pid" ]] || keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_port_file FILE NAME: prints HOST:PORT of listener NAME once FILE exists (10 s at most).
wait_port_file() {
  for _ in $(seq 100); do
    if [[ -s "$1" ]]; then awk -v n="$2" '$1 == n {print $2}' "$1"; return 0; fi
    sleep 0.1
  done
  return 1
}

# wait_http URL: waits (10 s at most) until URL answers 200.
wait_http() {
  for _ in $(seq 100); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1")" == 200 ]]; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Peak RSS in KB (VmHWM) of PID plus its direct children (nginx workers).
peak_rss_kb() {
  local total=0 p v
  for p in "$1" $(pgrep -P "$1" 2>/dev/null || true); do
    v="$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)"
    total=$(( total + ${v:-0} ))
  done
  echo "$total"
}

cat >"$WORK/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status))
end
EOF

RESULTS=()  # "name rps p50 p99 errors non2xx rss_kb"

# measure NAME URL PID: a 1 s warm-up, then the measured run; PID's peak RSS is read after it.
measure() {
  local name="$1" url="$2" pid="$3" out line rss
  timeout 30 wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d1s "$url" >/dev/null 2>&1 || true
  out="$(timeout $(( DURATION_S + 30 )) wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" \
         --timeout 5s -s "$WORK/report.lua" "$url" 2>&1)" || true
  line="$(grep '^RESULT' <<<"$out" || true)"
  if [[ -z "$line" ]]; then
    echo "  $name: wrk failed:" >&2; echo "$out" >&2
    return
  fi
  rss="-"
  [[ -n "$pid" ]] && rss="$(peak_rss_kb "$pid")"
  # shellcheck disable=SC2086
  set -- ${line#RESULT }
  RESULTS+=("$name $1 $2 $3 $4 $5 $rss")
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
    mkdir -p "$WORK/nginx/tmp"
    cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes $WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  keepalive_requests 1000000;
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
      proxy_set_header Connection "";
    }
  }
}
EOF
    "$NGINX_BIN" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" \
      -g 'daemon off;' >"$WORK/nginx/out.log" 2>&1 &
    pid=$!
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

if wants valet; then
  if [[ -n "$VALET_BIN" ]]; then
    mkdir -p "$WORK/valet/conf"
    cat >"$WORK/valet/conf/bench.json" <<EOF
{"name":"bench","description":"benchmark","authorize":false,"authKey":"","authHeader":"X-Valet-Auth","rateLimit":false,"limitValue":0,"endpoints":[{"host":"127.0.0.1","path":"","port":$BACKEND_PORT}]}
EOF
    "$VALET_BIN" --conf-dir "$WORK/valet/conf" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
      --workers "$WORKERS" --port-file "$WORK/valet/ports" >"$WORK/valet/out.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    if addr="$(wait_port_file "$WORK/valet/ports" listen)" && [[ -n "$addr" ]] &&
       wait_http "http://$addr/bench/x"; then
      measure valet "http://$addr/bench/x" "$pid"
    else
      echo "  valet-dataplane did not start:" >&2; cat "$WORK/valet/out.log" >&2 || true
    fi
    stop_pid "$pid"
  else
    echo "  valet: valet-dataplane not built in $BUILD_DIR, skipped"
  fi
fi

echo
printf '%-8s %12s %10s %10s %8s %8s %14s\n' target 'req/s' 'p50 ms' 'p99 ms' errors non-2xx 'peak RSS MB'
for r in "${RESULTS[@]+"${RESULTS[@]}"}"; do
  # shellcheck disable=SC2086
  set -- $r
  rss="$7"; [[ "$rss" != "-" ]] && rss="$(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}')"
  printf '%-8s %12.0f %10.3f %10.3f %8d %8d %14s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$rss"
done
echo "(peak RSS: VmHWM of the proxy, summed over nginx's master and workers; direct: no proxy)"

nginx_row=""; valet_row=""
for r in "${RESULTS[@]+"${RESULTS[@]}"}"; do
  case "$r" in nginx\ *) nginx_row="$r" ;; valet\ *) valet_row="$r" ;; esac
done
if [[ -n "$nginx_row" && -n "$valet_row" ]]; then
  awk -v n="$nginx_row" -v v="$valet_row" 'BEGIN {
    split(n, a, " "); split(v, b, " ");
    printf "valet / nginx: throughput %.2fx, p99 latency %.2fx\n", b[2] / a[2], (a[4] > 0 ? b[4] / a[4] : 0);
  }'
else
  echo "valet / nginx: n/a (both must have run)"
fi
