#!/bin/sh
# Fails when the binary $1 loads LibTorch, c10 or layerscope_core: ldd lists every shared library it would load.
set -eu
libs=$(ldd "$1")
echo "$libs"
# A binary that ldd cannot resolve, or not the client at all, would pass the check below vacuously.
echo "$libs" | grep -q 'libgrpc++' || { echo "FAIL: ldd shows no libgrpc++ for $1" >&2; exit 1; }
if echo "$libs" | grep -Ei 'torch|libc10|layerscope_core'; then
  echo "FAIL: $1 loads LibTorch or the core library" >&2
  exit 1
fi
