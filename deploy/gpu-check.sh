#!/usr/bin/env bash
# On the GPU machine (../shared/docs/GPU.md): unpacks the carried Debian packages, builds layerscope with the
# machine's LibTorch + CUDA, runs every test (GPU ones included), checks the FP model at the mamba-130m shape
# against transformers in the same run, and times the comparison service there. Logs go to $OUT (or ./gpu-out).
#   deploy/gpu-check.sh DEBS_DIR [STEP...]     steps: build test mamba130m bench serve (default: all)
set -uo pipefail
cd "$(dirname "$0")/.."
DEBS=${1:?usage: deploy/gpu-check.sh DEBS_DIR [STEP...]}
shift
STEPS=${*:-build test mamba130m bench serve}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
DD=/opt/dd
BUILD=build-gpu
M130=/tmp/mamba130m

mkdir -p $DD
for f in "$DEBS"/*.deb; do dpkg -x "$f" $DD; done
# Debian's -dev packages link some libraries absolutely (libz.so -> /lib/x86_64-linux-gnu/libz.so.1.2.13), which
# dangles under $DD: point each such link at the machine's own copy of that library.
for link in $(find $DD -xtype l -name 'lib*.so'); do
  own=$(ls /usr/lib/x86_64-linux-gnu/$(basename "$link").[0-9]* 2>/dev/null | head -1)
  [ -n "$own" ] && ln -sf "$own" "$link"
done
export LD_LIBRARY_PATH=$DD/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PATH=$DD/usr/bin:$PATH
export PKG_CONFIG_SYSROOT_DIR=$DD
export PKG_CONFIG_PATH=$DD/usr/lib/x86_64-linux-gnu/pkgconfig:$DD/usr/share/pkgconfig
TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')

has() { [[ " $STEPS " == *" $1 "* ]]; }
{
  date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'
} 2>&1 | tee "$OUT/machine.txt"

if has build; then
  start=$(date +%s)
  cmake -S . -B $BUILD -G Ninja -DCMAKE_BUILD_TYPE=Release -DLAYERSCOPE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$DD/usr" >"$OUT/configure.log" 2>&1 || { tail -40 "$OUT/configure.log"; exit 1; }
  cmake --build $BUILD -j 16 ${LAYERSCOPE_TARGETS:+--target $LAYERSCOPE_TARGETS} >"$OUT/build.log" 2>&1 || { grep -B2 -A12 'error' "$OUT/build.log" | head -80; exit 1; }
  echo "build: $(( $(date +%s) - start )) s"
fi

if has mamba130m; then
  PYTHONUNBUFFERED=1 python3 tests/fixtures/hf/make_fixtures.py mamba130m --out $M130 >"$OUT/mamba130m-fixture.log" 2>&1 \
    || { tail -20 "$OUT/mamba130m-fixture.log"; exit 1; }
  LAYERSCOPE_MAMBA130M_DIR=$M130 $BUILD/tests/gpu/mamba130m_gpu_test 2>&1 | tee "$OUT/mamba130m.log" | grep -E 'mamba130m |PASSED|FAILED|OK \]'
fi

if has test; then
  # 8 tests at a time, each LibTorch process held to 2 threads: 16 cores, no oversubscription.
  # The deploy linters (shellcheck, yamllint, systemd-analyze) are installed in CI, not on the GPU machine.
  OMP_NUM_THREADS=2 ctest --test-dir $BUILD --output-on-failure -j 8 --label-exclude deploy >"$OUT/ctest.log" 2>&1
  grep -E 'tests passed|tests failed|Failed|\*\*\*' "$OUT/ctest.log" | tail -30
  $BUILD/tests/kernels/kernels_gpu_test 2>&1 | tail -3
fi

if has bench; then
  $BUILD/bench/metrics_reduce_bench 2>&1 | tee "$OUT/metrics_reduce_bench.txt"
fi

# serve: the service on CUDA, timed end to end. Server time is the summary's server_seconds; client time is the wall
# time of the `layerscope` process. The embedded model runs every mode; the mamba-130m-shaped model (random
# weights, no tokenizer, so no calibration text) the float modes, unless it was given calibration data.
serve() {  # serve NAME SERVER_ARGS...
  local name=$1; shift
  $BUILD/server/layerscoped --device cuda --listen 127.0.0.1:0 --data-dir /tmp/ls-data-$name --log-level info "$@" \
    >/tmp/server-$name.out 2>"$OUT/server-$name.log" &
  local pid=$!
  for _ in $(seq 1 900); do grep -q 'listening on' /tmp/server-$name.out && break; sleep 0.2; done
  export LAYERSCOPE_SERVER=$(sed -n 's/^layerscoped listening on //p' /tmp/server-$name.out)
  $BUILD/client/layerscope models >/dev/null  # waits until the model is resident
  for run in 1 2; do
    local start=$(date +%s%N)
    $BUILD/client/layerscope compare-all --json "$OUT/compare-all-$name-$run.json" >"$OUT/compare-all-$name.txt" 2>&1
    local rc=$? wall=$(( ($(date +%s%N) - start) / 1000000 ))
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); s=d.get('summary') or {}; print('$name run $run: rc=$rc client wall $wall ms, server', s.get('server_seconds'), 's, modes', s.get('modes'))" \
      "$OUT/compare-all-$name-$run.json" 2>&1 | tee -a "$OUT/serve.txt"
  done
  python3 -c "import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); print('$name: rows of runs 1 and 2', 'bit-identical' if a['rows']==b['rows'] else 'DIFFER', '(%d rows)' % len(a['rows']))" \
    "$OUT/compare-all-$name-1.json" "$OUT/compare-all-$name-2.json" 2>&1 | tee -a "$OUT/serve.txt"
  head -30 "$OUT/compare-all-$name.txt"
  kill $pid; wait $pid
}

if has serve; then
  serve embedded
  [ -d $M130/model ] && serve mamba130m --model $M130/model --calibration-data $M130/calibration-ids.npy
fi
