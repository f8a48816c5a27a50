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

# wait_http URL: waits (10 s at most) until URL answers 200.
wait_http() {
  for _ in $(seq 100); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1")" == 200 ]]; then return 0; fi
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
