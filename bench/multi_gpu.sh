#!/usr/bin/env bash
# One GPU versus every GPU of the machine (issue 9): starts layerscoped on cuda:0, then on all GPUs (--device cuda),
# runs `layerscope compare-all` on the given model at 10 x 512 and 100 x 512 on each, and prints the server time
# (the summary's server_seconds), the peak GPU memory per device (nvidia-smi polled every 200 ms while the server
# runs) and whether the one-GPU and N-GPU rows are identical (the --json rows, compared bit for bit as printed with
# full precision). Builds nothing. Results go to bench/RESULTS.md by hand.
#   bench/multi_gpu.sh BUILD_DIR MODEL_DIR [CALIBRATION_IDS.npy] [OUT_DIR]
# At the mamba-130m shape, as deploy/gpu-check.sh makes it:
#   python3 tests/fixtures/hf/make_fixtures.py mamba130m --out /tmp/mamba130m
#   bench/multi_gpu.sh build-gpu /tmp/mamba130m/model /tmp/mamba130m/calibration-ids.npy
set -euo pipefail
BUILD=${1:?usage: bench/multi_gpu.sh BUILD_DIR MODEL_DIR [CALIBRATION_IDS.npy] [OUT_DIR]}
MODEL=${2:?usage: bench/multi_gpu.sh BUILD_DIR MODEL_DIR [CALIBRATION_IDS.npy] [OUT_DIR]}
CALIBRATION=${3:-}
OUT=${4:-$PWD/multi-gpu-out}
mkdir -p "$OUT"
work=$(mktemp -d)
server_pid=""
smi_pid=""
cleanup() {
  if [ -n "$smi_pid" ]; then kill "$smi_pid" 2>/dev/null || true; fi
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

client="$BUILD/client/layerscope"
gpus=$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)
echo "GPUs: $gpus ($(nvidia-smi --query-gpu=name --format=csv,noheader | sort | uniq -c | xargs))" | tee "$OUT/summary.txt"
# 64 GiB of comparison memory per device keeps 100 x 512 (38 GB of |d| populations a mode) on the GPU.
server_args=(--model "$MODEL" --listen 127.0.0.1:0 --log-level info --compare-device-memory-gib 64)
[ -n "$CALIBRATION" ] && server_args+=(--calibration-data "$CALIBRATION")

run() {  # run NAME DEVICE: one server, a warm-up and both sizes
  local name=$1 device=$2
  nvidia-smi --query-gpu=index,memory.used --format=csv,noheader,nounits -lms 200 >"$OUT/memory-$name.csv" &
  smi_pid=$!
  "$BUILD/server/layerscoped" --device "$device" --data-dir "$work/data-$name" "${server_args[@]}" \
    >"$work/server-$name.out" 2>"$OUT/server-$name.log" &
  server_pid=$!
  for _ in $(seq 1 3000); do grep -q 'listening on' "$work/server-$name.out" && break; sleep 0.2; done
  LAYERSCOPE_SERVER=$(sed -n 's/^layerscoped listening on //p' "$work/server-$name.out")
  export LAYERSCOPE_SERVER
  "$client" models >"$OUT/models-$name.txt"  # waits until the model is resident on every device
  # CUDA and cuBLAS start-up on each device, outside the timed runs (another size: not a cache hit).
  "$client" compare-all --samples 2 --seq-len 64 >/dev/null
  for samples in 10 100; do
    "$client" compare-all --samples "$samples" --seq-len 512 --json "$OUT/$name-$samples.json" \
      >"$OUT/$name-$samples.txt"
    python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['summary']; print('%s %s x 512: server_seconds %.3f on %s' % (sys.argv[2], sys.argv[3], s['server_seconds'], s['device']))" \
      "$OUT/$name-$samples.json" "$name" "$samples" | tee -a "$OUT/summary.txt"
  done
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=""
  kill "$smi_pid" 2>/dev/null || true
  wait "$smi_pid" 2>/dev/null || true
  smi_pid=""
  awk -F', *' -v name="$name" '{ if ($2 > peak[$1]) peak[$1] = $2 }
    END { for (gpu in peak) printf "%s: peak memory.used on GPU %s: %d MiB\n", name, gpu, peak[gpu] }' \
    "$OUT/memory-$name.csv" | sort | tee -a "$OUT/summary.txt"
}

run one-gpu cuda:0
run all-gpus cuda
grep -h "on device" "$OUT/server-all-gpus.log" | sed 's/^.*\] //' | tail -4 | tee -a "$OUT/summary.txt"

for samples in 10 100; do
  python3 - "$OUT/one-gpu-$samples.json" "$OUT/all-gpus-$samples.json" "$samples" <<'PY' | tee -a "$OUT/summary.txt"
import json, sys
one, many = (json.load(open(path)) for path in sys.argv[1:3])
speedup = one["summary"]["server_seconds"] / many["summary"]["server_seconds"]
same = one["rows"] == many["rows"]
print("%s x 512: rows of 1 GPU and all GPUs %s (%d rows); server time %.3f s -> %.3f s (x%.2f)" % (
    sys.argv[3], "bit-identical" if same else "DIFFER", len(one["rows"]), one["summary"]["server_seconds"],
    many["summary"]["server_seconds"], speedup))
sys.exit(0 if same else 1)
PY
done
