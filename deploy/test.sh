#!/usr/bin/env bash
# The test command: installs what is missing, builds everything, runs the whole GoogleTest suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/build.sh
ctest --test-dir "${LAYERSCOPE_BUILD_DIR:-build}" --output-on-failure -j "${LAYERSCOPE_JOBS:-$(nproc)}" \
  --label-exclude gpu
