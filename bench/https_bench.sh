#!/usr/bin/env bash
# HTTPS proxy benchmark on loopback: nginx and valet-dataplane terminating TLS with the same
# certificate (a self-signed one made with openssl at run time, in a temp dir) in front of the
# same plain echo backend, measured with the same wrk run over keep-alive connections. Reports
# the valet / nginx ratio of throughput, p99 latency and CPU per request. See bench/README.md.
#
# usage: bench/https_bench.sh [options] [BUILD_DIR]
#   --duration D      wrk duration per target (default 10s)
#   --workers W       worker processes/threads for both proxies (default 2)
#   --connections C   wrk connections (default 64)
#   --wrk-threads T   wrk threads (default 2)
#   --body-bytes N    response body size (default 1024)
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
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
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
[[ -n "$VALET_BIN" ]] || { echo "valet-dataplane not built in $BUILD_DIR" >&2; exit 2; }
NGINX_BIN="${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}"
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }
command -v openssl >/dev/null || { echo "openssl is not installed" >&2; exit 2; }
DURATION_S="$(duration_seconds "$DURATION")"
CLK_TCK="$(getconf CLK_TCK)"

# One certificate for both proxies (ECDSA P-256, as a modern site would serve).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=bench.test -addext subjectAltName=DNS:bench.test,IP:127.0.0.1 \
  -keyout "$WORK/bench.key" -out "$WORK/bench.pem" >/dev/null 2>&1 ||
  { echo "openssl could not make the certificate" >&2; exit 1; }

RESULTS=()  # "name rps p50 p99 errors non2xx requests cpu_us_per_request"
measure() {
  local name="$1" url="$2" pid="$3" line cpu_before cpu
  wrk_warm_up "$url"
  cpu_before="$(cpu_ticks "$pid")"
  line="$(wrk_result "$url")" || { echo "  $name: wrk failed (above)" >&2; return; }
  cpu="$(awk -v t="$(( $(cpu_ticks "$pid") - cpu_before ))" -v hz="$CLK_TCK" \
    -v n="$(awk '{print $6}' <<<"$line")" 'BEGIN {printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0)}')"
  # shellcheck disable=SC2086
  set -- $line
  RESULTS+=("$name $1 $2 $3 $4 $5 $6 $cpu")
  printf '  %-8s %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms\n' "$name" "$1" "$2" "$3"
}

echo "Valet HTTPS benchmark: $(nproc) CPUs, wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION" \
     "(keep-alive), $BODY_BYTES-byte responses, $WORKERS proxy workers, build $BUILD_DIR"

"$ECHO_BIN" --listen 127.0.0.1:0 --port-file "$WORK/backend.port" --threads 2 \
  --body-bytes "$BODY_BYTES" >"$WORK/backend.log" 2>&1 &
PIDS+=("$!")
BACKEND="$(wait_port_file "$WORK/backend.port" listen)" || { echo "backend did not start" >&2; exit 1; }
BACKEND_PORT="${BACKEND##*:}"
wait_http "http://$BACKEND/bench/x" || { echo "backend does not answer" >&2; exit 1; }

if [[ -x "$NGINX_BIN" ]]; then
  port="$(free_port)"
  pid="$(start_nginx "$WORK/nginx" "$WORKERS" "
  upstream backend {
    server $BACKEND;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $WORK/bench.pem;
    ssl_certificate_key $WORK/bench.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
  }")"
  PIDS+=("$pid")
  if wait_http "https://127.0.0.1:$port/bench/x"; then
    measure nginx "https://127.0.0.1:$port/bench/x" "$pid"
  else
    echo "  nginx did not start:" >&2; cat "$WORK/nginx/out.log" "$WORK/nginx/error.log" >&2 || true
  fi
  stop_pid "$pid"
else
  echo "  nginx: not installed, skipped"
fi

mkdir -p "$WORK/valet/conf"
cat >"$WORK/valet/conf/bench.json" <<EOF
{"name":"bench","description":"benchmark","endpoints":[{"host":"127.0.0.1","path":"","port":$BACKEND_PORT}]}
EOF
"$VALET_BIN" --conf-dir "$WORK/valet/conf" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  --tls-listen 127.0.0.1:0 --tls-cert "$WORK/bench.pem" --tls-key "$WORK/bench.key" \
  --workers "$WORKERS" --port-file "$WORK/valet/ports" >"$WORK/valet/out.log" 2>&1 &
pid=$!
PIDS+=("$pid")
if addr="$(wait_port_file "$WORK/valet/ports" tls)" && [[ -n "$addr" ]] &&
   wait_http "https://$addr/bench/x"; then
  measure valet "https://$addr/bench/x" "$pid"
else
  echo "  valet did not start:" >&2; cat "$WORK/valet/out.log" >&2 || true
fi
stop_pid "$pid"

echo
printf '%-8s %12s %10s %10s %8s %8s %12s\n' target 'req/s' 'p50 ms' 'p99 ms' errors non-2xx \
  'CPU us/req'
for r in "${RESULTS[@]+"${RESULTS[@]}"}"; do
  # shellcheck disable=SC2086
  set -- $r
  printf '%-8s %12.0f %10.3f %10.3f %8d %8d %12s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$8"
done
echo "(both proxies terminate TLS with the same certificate and talk plain HTTP to the backend;"
echo " CPU us/req: the proxy's user + system CPU time during the measured run per request)"

nginx_row=""; valet_row=""
for r in "${RESULTS[@]+"${RESULTS[@]}"}"; do
  case "$r" in nginx\ *) nginx_row="$r" ;; valet\ *) valet_row="$r" ;; esac
done
if [[ -n "$nginx_row" && -n "$valet_row" ]]; then
  awk -v n="$nginx_row" -v v="$valet_row" 'BEGIN {
    split(n, a, " "); split(v, b, " ");
    printf "valet / nginx over HTTPS: throughput %.2fx, p99 latency %.2fx, CPU per request %.2fx\n",
      b[2] / a[2], (a[4] > 0 ? b[4] / a[4] : 0), (a[8] > 0 ? b[8] / a[8] : 0);
  }'
else
  echo "valet / nginx over HTTPS: n/a (both must have run)"
fi
