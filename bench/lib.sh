# Helpers shared by the load benchmarks (sourced, not run): bounded waits, free ports, peak
# memory, and a cleanup that stops every server a benchmark started and removes its temp dir.
# shellcheck shell=bash

# The build dir to use when none is given: build/release, else build/dev, under REPO.
default_build_dir() {
  local d
  for d in "$1/build/release" "$1/build/dev"; do
    if [[ -x "$d/dataplane/valet-dataplane" ]]; then echo "$d"; return; fi
  done
}

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
# Every server a script starts goes into PIDS; cleanup stops them and removes $WORK.
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

# wait_http URL: waits (10 s at most) until URL answers 200 (https: the benchmarks' own
# self-signed certificates are not checked).
wait_http() {
  for _ in $(seq 100); do
    if [[ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 1 "$1")" == 200 ]]; then return 0; fi
    sleep 0.1
  done
  return 1
}

# sum_children PID FUNC: FUNC P summed over PID and its direct children (nginx's workers).
sum_children() {
  local total=0 p v
  for p in "$1" $(pgrep -P "$1" 2>/dev/null || true); do
    v="$("$2" "$p")"
    total=$(( total + ${v:-0} ))
  done
  echo "$total"
}

vm_hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }
# Fields 14 and 15 of /proc/PID/stat (user and system ticks), counted after the ")" that ends the
# command name.
cpu_ticks_of() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}' || true; }

# Peak RSS in KB (VmHWM) of PID plus its direct children.
peak_rss_kb() { sum_children "$1" vm_hwm_kb; }

# CPU time (user + system) in clock ticks used so far by PID plus its direct children.
cpu_ticks() { sum_children "$1" cpu_ticks_of; }

# require_build_dir: exits 2 unless $BUILD_DIR is a directory.
require_build_dir() {
  [[ -n "$BUILD_DIR" && -d "$BUILD_DIR" ]] || { echo "no build dir (build/release or build/dev); pass one" >&2; exit 2; }
}

# find_bin NAME [DIR]: the first executable file NAME under DIR (default $BUILD_DIR).
find_bin() {
  find "${2:-$BUILD_DIR}" -maxdepth 3 -type f -name "$1" -perm -u+x 2>/dev/null | head -n1
}

# wrk_result URL [wrk options...]: one measured wrk run of WRK_THREADS threads (default 2) and
# CONNECTIONS connections for DURATION (DURATION_S seconds), WRK_TIMEOUT per request (default
# 5s), bounded in time. Prints "RPS P50_MS P99_MS ERRORS NON2XX REQUESTS" (errors: connect, read,
# write and timeout); prints nothing, with wrk's output on stderr, and fails if wrk did not finish.
wrk_result() {
  local url="$1" lua="$WORK/wrk_report.lua" out line
  shift
  [[ -f "$lua" ]] || cat >"$lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout, e.status, summary.requests))
end
LUA
  out="$(timeout $(( DURATION_S + 60 )) wrk -t"${WRK_THREADS:-2}" -c"$CONNECTIONS" -d"$DURATION" \
         --timeout "${WRK_TIMEOUT:-5s}" -s "$lua" "$@" "$url" 2>&1)" || true
  line="$(grep '^RESULT' <<<"$out" || true)"
  [[ -n "$line" ]] || { echo "$out" >&2; return 1; }
  echo "${line#RESULT }"
}

# wrk_warm_up URL [wrk options...]: one second of the same load, not measured.
wrk_warm_up() {
  local url="$1"
  shift
  timeout 30 wrk -t"${WRK_THREADS:-2}" -c"$CONNECTIONS" -d1s "$@" "$url" >/dev/null 2>&1 || true
}

# start_nginx DIR WORKERS HTTP-BLOCK: an nginx with its own prefix DIR (config, pid, logs, temp
# paths), WORKERS worker processes, room for CONNECTIONS clients and as many upstream
# connections, no access log, and HTTP-BLOCK inside `http { }`. Prints its PID (add it to PIDS).
start_nginx() {
  local dir="$1" workers="$2" http_block="$3"
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<CONF
worker_processes $workers;
worker_rlimit_nofile $(( ${CONNECTIONS:-64} * 2 + 1024 ));
pid $dir/nginx.pid;
error_log $dir/error.log crit;
events { worker_connections $(( ${CONNECTIONS:-64} * 2 + 4096 )); }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_requests 1000000;
$http_block
}
CONF
  "${NGINX_BIN:-nginx}" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' \
    >"$dir/out.log" 2>&1 &
  echo $!
}
