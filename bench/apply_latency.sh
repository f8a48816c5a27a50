#!/usr/bin/env bash
# Apply-to-ACK latency: time from ApplyApps to every data plane ACKing the new version, with 1, 100
# and 1,000 apps configured and 2 data planes attached; p50 / p99 / max over N applies each.
#
#   bench/apply_latency.sh [--build-dir build/release] [--applies 200] [--apps 1,100,1000]
#                          [--fake-dataplanes]
#
# Starts valet-controlplane (temp conf dir, port 0, port file) and 2 valet-dataplane attached to it
# (--control-plane), then runs valet-bench-apply, which waits with WaitForVersion (the mechanism of
# `valetctl apply --wait`). --fake-dataplanes attaches 2 in-process ACKing attach-stream clients
# instead of real data planes: the control plane's share of the latency alone.
# Needs the targets valet-controlplane, valet-dataplane (unless --fake-dataplanes), valet-bench-apply.
set -euo pipefail

build_dir=build/release
applies=200
apps=1,100,1000
fake=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --applies) applies=$2; shift 2 ;;
    --apps) apps=$2; shift 2 ;;
    --fake-dataplanes) fake=1; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument $1" >&2; exit 2 ;;
  esac
done

cp_bin=$build_dir/controlplane/valet-controlplane
dp_bin=$build_dir/dataplane/valet-dataplane
bench_bin=$build_dir/bench/valet-bench-apply
for bin in "$cp_bin" "$bench_bin"; do
  [[ -x $bin ]] || { echo "error: $bin not built" >&2; exit 2; }
done
if [[ $fake == 0 && ! -x $dp_bin ]]; then
  echo "error: $dp_bin not built (or use --fake-dataplanes)" >&2
  exit 2
fi

work=$(mktemp -d /tmp/valet_apply_bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Waits (at most 20 s) for port file $1 to have a line "$2 HOST:PORT"; prints HOST:PORT.
wait_port() {
  local file=$1 name=$2
  for _ in $(seq 1 400); do
    if [[ -s $file ]] && grep -q "^$name " "$file"; then
      awk -v n="$name" '$1 == n { print $2 }' "$file"
      return 0
    fi
    sleep 0.05
  done
  echo "error: no '$name' line in $file; logs in $work" >&2
  return 1
}

mkdir -p "$work/conf"
"$cp_bin" --conf-dir "$work/conf" --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  --port-file "$work/cp.ports" 2>"$work/cp.log" &
pids+=($!)
server=$(wait_port "$work/cp.ports" grpc)

if [[ $fake == 1 ]]; then
  dp_flags=(--dataplanes 0 --fake-dataplanes 2)
  kind="in-process fake"
else
  for i in 1 2; do
    "$dp_bin" --control-plane "$server" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
      --port-file "$work/dp$i.ports" 2>"$work/dp$i.log" &
    pids+=($!)
    wait_port "$work/dp$i.ports" listen >/dev/null
  done
  dp_flags=(--dataplanes 2)
  kind="valet-dataplane"
fi

echo "apply-to-ACK latency: control plane $server, 2 data planes ($kind), $applies applies per size"
"$bench_bin" --server "$server" --apps "$apps" --applies "$applies" "${dp_flags[@]}"
