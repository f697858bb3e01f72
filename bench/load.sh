#!/usr/bin/env bash
# Load test of the job service (issue 6): CLIENTS concurrent clients each submit JOBS jobs to one layerscoped on
# loopback (embedded model, CPU) and watch each to its end. Every job has its own token samples, so none is answered
# from the result cache. Checks that every job finished exactly once and that the server's memory stays bounded;
# prints throughput and latency percentiles (submit to the end of its watch). Results go to bench/RESULTS.md.
#   bench/load.sh [CLIENTS] [JOBS]        (default 50 10; needs a build: deploy/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${LAYERSCOPE_BUILD_DIR:-build}
CLIENTS=${1:-50}
JOBS=${2:-10}
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$BUILD/server/layerscoped" --listen 127.0.0.1:0 --data-dir "$work/data" --log-level warn \
  --calibration-samples 1 --calibration-seq-len 64 --max-jobs-per-user $((CLIENTS * JOBS)) --max-queued $((CLIENTS * JOBS)) \
  >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 600); do grep -q 'listening on' "$work/server.out" && break; sleep 0.1; done
export LAYERSCOPE_SERVER=$(sed -n 's/^layerscoped listening on //p' "$work/server.out")
client="$BUILD/client/layerscope"
"$client" models >/dev/null
rss() { awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status"; }
rss_start=$(rss)

run_client() {  # run_client C: JOBS jobs, one line "latency_ms" each into $work/latency.C
  local c=$1
  for j in $(seq 1 "$JOBS"); do
    # 16 distinct byte ids per job: (c, j) in the first two positions, so no two jobs share samples.
    echo "$c $j 32 33 34 35 36 37 38 39 40 41 42 43 44 45" >"$work/tokens.$c.$j"
    local t0 id
    t0=$(date +%s%N)
    id=$("$client" submit fp16 --tokens-file "$work/tokens.$c.$j" --samples 1 --seq-len 16 --layers 0 \
      --points mixer_output)
    "$client" watch "$id" >/dev/null
    echo $(( ($(date +%s%N) - t0) / 1000000 )) >>"$work/latency.$c"
    echo "$id" >>"$work/ids.$c"
  done
}

start=$(date +%s%N)
client_pids=()
for c in $(seq 1 "$CLIENTS"); do run_client "$c" & client_pids+=($!); done
for pid in "${client_pids[@]}"; do wait "$pid" || { echo "a client failed" >&2; exit 1; }; done
seconds=$(echo "scale=3; ($(date +%s%N) - $start) / 1000000000" | bc)
rss_end=$(rss)

total=$((CLIENTS * JOBS))
ids=$(cat "$work"/ids.* | sort | uniq | wc -l)
"$client" jobs >"$work/jobs.txt"
# The jobs table: a header, a ruler, one row per job (Id Owner State Steps Rows Created).
listed=$(tail -n +3 "$work/jobs.txt" | awk 'NF' | wc -l)
succeeded=$(tail -n +3 "$work/jobs.txt" | awk '$3 == "succeeded"' | wc -l)
rows_ok=$(tail -n +3 "$work/jobs.txt" | awk '$3 == "succeeded" && $5 == 1' | wc -l)
echo "jobs on the server: $listed listed, $succeeded succeeded, $rows_ok with exactly their 1 row"
if [ "$listed" -ne "$total" ] || [ "$succeeded" -ne "$total" ] || [ "$rows_ok" -ne "$total" ] || [ "$ids" -ne "$total" ]; then
  echo "JOBS LOST, DUPLICATED OR FAILED" >&2
  exit 1
fi
echo "every job finished exactly once"
sort -n "$work"/latency.* >"$work/latency"
pct() { awk -v q="$1" '{v[NR]=$1} END {i=int((NR-1)*q/100)+1; print v[i]}' "$work/latency"; }
echo "clients $CLIENTS x jobs $JOBS = $total jobs, $ids distinct ids, in $seconds s: $(echo "scale=1; $total / $seconds" | bc) jobs/s"
echo "latency submit->end of watch (ms): p50 $(pct 50) p90 $(pct 90) p99 $(pct 99) max $(pct 100)"
echo "server RSS: $rss_start kB before, $rss_end kB after"
