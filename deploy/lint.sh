#!/usr/bin/env bash
# Lints the deployment files without a container engine, a cluster or a running systemd (none of which CI has):
#   shell scripts          shellcheck (all findings for this script, errors for the others)
#   systemd unit           systemd-analyze verify (with a stand-in for the binary it names), and
#                          systemd-analyze security --offline, failing above an exposure of 2.5 (of 10)
#   Kubernetes manifests   yamllint, then deploy/lint/check_k8s.py (structure and cross-references; kubeconform
#                          and the Kubernetes schemas are not in Debian and CI has no network)
#   server configs         deploy/lint/check_config.py (keys are layerscoped's flags)
#   Dockerfile             deploy/lint/check_dockerfile.py (hadolint is not in Debian: the rules that matter here)
# The tools come from deploy/install-deps.sh; a missing one fails the lint rather than skipping its files.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # keep __pycache__ out of the source tree
cd "$(dirname "$0")/.."

failures=0
step() {
  local name=$1
  shift
  if "$@"; then
    echo "ok    $name"
  else
    echo "FAIL  $name" >&2
    failures=$((failures + 1))
  fi
}

for tool in shellcheck systemd-analyze yamllint python3; do
  command -v "$tool" >/dev/null || { echo "deploy/lint.sh: $tool is missing (deploy/install-deps.sh installs it)" >&2; exit 2; }
done
python3 -c 'import yaml' 2>/dev/null || { echo "deploy/lint.sh: python3 lacks PyYAML (python3-yaml)" >&2; exit 2; }

# verify prints problems but exits 0 for most of them, so any output is a failure. It also requires ExecStart's
# binary to exist, which it does not here: a copy of the unit points at an empty stand-in.
verify_unit() {
  local unit=$1 dir out
  dir=$(mktemp -d)
  printf '#!/bin/sh\n' >"$dir/layerscoped"
  chmod +x "$dir/layerscoped"
  sed "s|/usr/local/bin/layerscoped|$dir/layerscoped|" "$unit" >"$dir/$(basename "$unit")"
  out=$(systemd-analyze verify "$dir/$(basename "$unit")" 2>&1) || true
  rm -rf "$dir"
  [ -z "$out" ] || { echo "$out" >&2; return 1; }
}

# The threshold is in tenths: 25 is an exposure level of 2.5.
security_unit() {
  systemd-analyze security --offline=yes --threshold=25 "$1" >/dev/null || {
    systemd-analyze security --offline=yes "$1" | tail -1 >&2
    return 1
  }
}

# The other scripts still carry style findings (quoting, cd without || exit): errors only, until they are fixed.
step "shellcheck deploy/lint.sh" shellcheck deploy/lint.sh
step "shellcheck -S error deploy/*.sh" shellcheck --severity=error deploy/*.sh
step "systemd-analyze verify" verify_unit deploy/systemd/layerscoped.service
step "systemd-analyze security" security_unit deploy/systemd/layerscoped.service
step "yamllint deploy/k8s" yamllint --strict \
  -d '{extends: default, rules: {line-length: {max: 120}, document-start: disable, truthy: {check-keys: false}}}' \
  deploy/k8s
step "check_k8s deploy/k8s" python3 deploy/lint/check_k8s.py deploy/k8s
step "check_config" python3 deploy/lint/check_config.py deploy/config/layerscoped.example.json \
  deploy/container/layerscoped.json
step "check_dockerfile" python3 deploy/lint/check_dockerfile.py deploy/container/Dockerfile

[ "$failures" -eq 0 ] || { echo "deploy/lint.sh: $failures check(s) failed" >&2; exit 1; }
