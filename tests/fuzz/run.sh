#!/usr/bin/env bash
# Builds the libFuzzer targets (CMakeLists.txt here, with clang++-14) and runs them for a fixed time each.
#   run.sh build MAIN_BUILD_DIR             configure and build into MAIN_BUILD_DIR/fuzz
#   run.sh run MAIN_BUILD_DIR NAME SECONDS  run NAME (e.g. safetensors_fuzzer) for SECONDS on its seed corpus
# A run fails on any crash, sanitizer report, input slower than 10 s (a hang) or allocation past 2 GiB (libFuzzer's
# -rss_limit_mb also limits single mallocs). New inputs go to a scratch corpus, the seeds are never written; a
# failing input is kept as MAIN_BUILD_DIR/fuzz/artifacts/NAME-crash-... to reproduce with `NAME FILE`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mode=${1:?build or run}
build=$(cd "${2:?main build folder}" && pwd)/fuzz

if [ "$mode" = build ]; then
  cmake -S "$here" -B "$build" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_C_COMPILER=clang-14 \
    -DCMAKE_BUILD_TYPE=None -DLAYERSCOPE_MAIN_BUILD="$(dirname "$build")" >/dev/null
  cmake --build "$build" -j "${LAYERSCOPE_JOBS:-$(nproc)}"
  exit 0
fi

name=${3:?fuzzer name}
seconds=${4:?seconds}
seeds=$build/seeds/$name
rm -rf "$seeds" "$build/scratch/$name"
mkdir -p "$seeds" "$build/scratch/$name" "$build/artifacts"
# Seeds: the repository's fixtures of each input kind, and the small hand-made ones in corpus/.
max_len=65536  # large enough for the seeds' structure (JSON, pickles), small enough to mutate quickly
case $name in
  safetensors_fuzzer)
    cp "$root"/tests/fixtures/hf/random.safetensors "$root"/tests/fixtures/hf/random-hf-sharded/*.safetensors \
      "$root"/tests/fixtures/metrics/pairs.safetensors "$seeds/"
    max_len=262144 ;;
  torch_bin_fuzzer)
    cp "$root"/tests/fixtures/hf/pickle-cases/*.bin "$root"/tests/fixtures/hf/random-ss/pytorch_model.bin "$seeds/"
    max_len=262144 ;;
  tokenizer_json_fuzzer)
    cp "$root"/tests/fixtures/tokenizer/neox.json "$root"/tests/fixtures/tokenizer/split.json "$seeds/" ;;
  text_tokens_fuzzer | dataset_fuzzer)
    cp "$here"/corpus/"${name%_fuzzer}"/* "$seeds/" ;;
  request_fuzzer)
    proto=$root/proto
    for text in "$here"/corpus/request/*.txtpb; do
      encoded=$seeds/$(basename "$text" .txtpb).bin
      protoc --proto_path="$proto" --encode=layerscope.v1.SubmitJobRequest layerscope/v1/layerscope.proto \
        <"$text" >"$encoded"
    done ;;
  *) echo "run.sh: unknown fuzzer $name" >&2; exit 2 ;;
esac

cd "$build/artifacts"
exec "$build/$name" "$build/scratch/$name" "$seeds" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len="$max_len" -artifact_prefix="$build/artifacts/$name-" -print_final_stats=1
