#!/usr/bin/env bash
# Configures and builds layerscope into ./build (or $LAYERSCOPE_BUILD_DIR). Extra arguments name targets.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${LAYERSCOPE_BUILD_DIR:-build}
JOBS=${LAYERSCOPE_JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} ${LAYERSCOPE_CMAKE_ARGS:-} >/dev/null
if [ $# -gt 0 ]; then
  cmake --build "$BUILD_DIR" -j "$JOBS" --target "$@"
else
  cmake --build "$BUILD_DIR" -j "$JOBS"
fi
