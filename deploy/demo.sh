#!/usr/bin/env bash
# The main job on the embedded default model: installs what is missing, builds the server and the client, starts
# layerscoped on a free loopback port, runs `layerscope compare-all` (every mode against fp32) and prints the
# tables, then stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh layerscoped layerscope >/dev/null
BUILD_DIR=${LAYERSCOPE_BUILD_DIR:-build}

work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$BUILD_DIR/server/layerscoped" --listen 127.0.0.1:0 --data-dir "$work/data" --log-level warn \
  >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
address=""
for _ in $(seq 1 600); do
  address=$(sed -n 's/^layerscoped listening on //p' "$work/server.out")
  [ -n "$address" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.err" >&2; exit 1; }
  sleep 0.1
done
[ -n "$address" ] || { echo "layerscoped did not start" >&2; cat "$work/server.err" >&2; exit 1; }

LAYERSCOPE_SERVER="$address" "$BUILD_DIR/client/layerscope" compare-all "$@"
