#!/usr/bin/env bash
# Installs what is missing, builds Valet and runs it on the example configs in conf/:
#   - two demo backends (valet-echo-backend) on 127.0.0.1:9050 and :9051,
#   - valet-controlplane (gRPC :9090, REST admin :9091) owning a copy of conf/apps,
#   - valet-dataplane on :8000 (admin :8001) attached to it.
# Ctrl-C stops everything. State (the control plane's conf dir, the snapshot cache, logs) lives in
# build/run/; delete it to start again from conf/apps.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

bash scripts/install-deps.sh
cmake --preset release
cmake --build --preset release -j "$(nproc)"
bin="$root/build/release"

state="$root/build/run"
mkdir -p "$state/logs"
if [ ! -d "$state/conf" ]; then
  mkdir -p "$state/conf"
  cp conf/apps/*.json "$state/conf/"
fi

pids=()
cleanup() {
  trap - EXIT INT TERM
  echo "stopping Valet..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

wait_port_file() {  # wait_port_file FILE: up to 20 s for a listener's port file
  for _ in $(seq 1 200); do [ -s "$1" ] && return 0; sleep 0.1; done
  echo "timed out waiting for $1; see $state/logs" >&2
  exit 1
}

for port in 9050 9051; do
  rm -f "$state/backend-$port.ports"
  "$bin/tools/valet-echo-backend" --listen "127.0.0.1:$port" \
    --port-file "$state/backend-$port.ports" >"$state/logs/backend-$port.log" 2>&1 &
  pids+=($!)
done
rm -f "$state/controlplane.ports" "$state/dataplane.ports"
"$bin/controlplane/valet-controlplane" --conf-dir "$state/conf" \
  --grpc-listen 127.0.0.1:9090 --http-listen 127.0.0.1:9091 \
  --port-file "$state/controlplane.ports" >"$state/logs/controlplane.log" 2>&1 &
pids+=($!)
wait_port_file "$state/controlplane.ports"
"$bin/dataplane/valet-dataplane" --control-plane 127.0.0.1:9090 --cache-dir "$state/cache" \
  --listen 0.0.0.0:8000 --admin-listen 127.0.0.1:8001 \
  --port-file "$state/dataplane.ports" >"$state/logs/dataplane.log" 2>&1 &
pids+=($!)
wait_port_file "$state/dataplane.ports"
for _ in $(seq 1 200); do
  curl -sf -o /dev/null http://127.0.0.1:8001/readyz && break
  sleep 0.1
done

cat <<MSG

Valet is running (logs in build/run/logs):
  curl localhost:8000/demo/hello                                  # proxied to a demo backend
  curl localhost:8000/profile/user/42                             # fan-out: 3 backends, 1 merged answer
  curl -H 'X-Valet-Auth: thisismyauth' localhost:8000/userauth/me # the seed's example app
  curl -H 'X-Valet-Auth: acme-demo-key' localhost:8000/partners/hi # a consumer's key (-> X-Valet-Consumer)
  curl -i localhost:8000/petstore/pets/1                          # an app in mock mode (docs/mocks.md)
  $bin/valetctl/valetctl mock list petstore                       # its mocks; mock off|on switches it
  $bin/valetctl/valetctl apps list                                # the control API (gRPC :9090)
  curl localhost:9091/v1/apps                                     # the REST admin
  curl localhost:8001/metrics                                     # data plane metrics
Ctrl-C stops it.
MSG
wait -n "${pids[@]}" || true
echo "a Valet process exited; see build/run/logs" >&2
