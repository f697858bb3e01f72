#!/usr/bin/env bash
# Example CI step for a team's pipeline: after a kernel or recipe change, ask the team's layerscoped to compare the
# quantized modes with fp32 and fail the pipeline when a gate trips. Keeps the full results as a JSON artifact.
#   LAYERSCOPE_SERVER=gpu-box:50051 LAYERSCOPE_TOKEN=... deploy/ci/quantization-gate.sh [MODE...]
# Exit codes are layerscope's: 0 pass, 4 a gate matched (the rows are named on stderr), 2 bad request,
# 3 server unreachable, 1 other failure.
set -euo pipefail
LAYERSCOPE=${LAYERSCOPE:-layerscope}
ARTIFACTS=${ARTIFACTS:-layerscope-artifacts}
GATE=${LAYERSCOPE_GATE:-"(layer==first and (mse > 1e-4 or corr < 0.999)) or (layer==last and (corr < 0.9999 or rel_mae > 0.01))"}
mkdir -p "$ARTIFACTS"
modes=("$@")
if [ ${#modes[@]} -eq 0 ]; then
  "$LAYERSCOPE" --json "$ARTIFACTS/compare-all.json" compare-all --fail-if "$GATE"
else
  "$LAYERSCOPE" --json "$ARTIFACTS/compare.json" compare "${modes[@]}" --fail-if "$GATE"
fi
