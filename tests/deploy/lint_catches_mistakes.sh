#!/usr/bin/env bash
# Breaks copies of the deployment files one mistake at a time and expects the matching linter of deploy/lint.sh to
# fail on each, so that a linter that stopped checking something shows up here.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # keep __pycache__ out of the source tree
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# expect_failure NAME SED_SCRIPT FILE COMMAND...: COMMAND must fail on FILE edited by SED_SCRIPT ({} in COMMAND is
# the edited copy, or the folder holding it for k8s files).
expect_failure() {
  local name=$1 script=$2 file=$3
  shift 3
  rm -rf "$work/case"
  mkdir -p "$work/case"
  cp -r "$(dirname "$file")"/. "$work/case/"
  sed -i "$script" "$work/case/$(basename "$file")"
  cmp -s "$file" "$work/case/$(basename "$file")" && { echo "FAIL  $name: the edit changed nothing" >&2; failures=$((failures + 1)); return; }
  local args=("${@//\{\}/$work/case/$(basename "$file")}")
  args=("${args[@]//\{dir\}/$work/case}")
  if "${args[@]}" >/dev/null 2>&1; then
    echo "FAIL  $name: not caught" >&2
    failures=$((failures + 1))
  else
    echo "ok    $name"
  fi
}

k8s=(python3 deploy/lint/check_k8s.py "{dir}")
expect_failure "misspelt probe key" 's/readinessProbe:/readinesProbe:/' deploy/k8s/deployment.yaml "${k8s[@]}"
expect_failure "tcp startup probe" '0,/grpc:/s//tcpSocket:/' deploy/k8s/deployment.yaml "${k8s[@]}"
expect_failure "no GPU" '/nvidia.com\/gpu: 1/d' deploy/k8s/deployment.yaml "${k8s[@]}"
expect_failure "unknown ConfigMap" 's/name: layerscoped-config/name: other-config/' deploy/k8s/deployment.yaml "${k8s[@]}"
expect_failure "mount without volume" '0,/- name: tmp$/s//- name: scratch/' deploy/k8s/deployment.yaml "${k8s[@]}"
expect_failure "service selects nothing" 's/app.kubernetes.io\/name: layerscoped$/app.kubernetes.io\/name: other/' \
  deploy/k8s/service.yaml "${k8s[@]}"
expect_failure "service port name" 's/targetPort: grpc/targetPort: http/' deploy/k8s/service.yaml "${k8s[@]}"
expect_failure "config key not a flag" 's/"log-level"/"loglevel"/' deploy/k8s/configmap.yaml "${k8s[@]}"
expect_failure "config listens elsewhere" 's/0.0.0.0:50051/0.0.0.0:8080/' deploy/k8s/configmap.yaml "${k8s[@]}"
expect_failure "kustomization misses a file" '/- pvc.yaml/d' deploy/k8s/kustomization.yaml "${k8s[@]}"
expect_failure "bad YAML" 's/^spec:/spec: [/' deploy/k8s/pvc.yaml "${k8s[@]}"

expect_failure "example config key" 's/"data-dir"/"datadir"/' deploy/config/layerscoped.example.json \
  python3 deploy/lint/check_config.py "{}"

docker=(python3 deploy/lint/check_dockerfile.py "{}")
expect_failure "runs as root" 's/^USER .*/USER root/' deploy/container/Dockerfile "${docker[@]}"
expect_failure "no healthcheck" '/^HEALTHCHECK/,+1d' deploy/container/Dockerfile "${docker[@]}"
expect_failure "untagged base" 's/^FROM nvidia\/cuda:[^ ]*/FROM nvidia\/cuda/' deploy/container/Dockerfile "${docker[@]}"
expect_failure "recommends" 's/--no-install-recommends//' deploy/container/Dockerfile "${docker[@]}"
expect_failure "shell-form entrypoint" 's/^ENTRYPOINT .*/ENTRYPOINT layerscoped/' deploy/container/Dockerfile "${docker[@]}"
expect_failure "copy from unknown stage" 's/--from=build/--from=builder/' deploy/container/Dockerfile "${docker[@]}"

unit_verify() {
  local dir
  dir=$(mktemp -d)
  printf '#!/bin/sh\n' >"$dir/layerscoped"
  chmod +x "$dir/layerscoped"
  sed "s|/usr/local/bin/layerscoped|$dir/layerscoped|" "$1" >"$dir/layerscoped.service"
  local out
  out=$(systemd-analyze verify "$dir/layerscoped.service" 2>&1) || true
  rm -rf "$dir"
  [ -z "$out" ]
}
expect_failure "unit restart value" 's/^Restart=on-failure/Restart=sometimes/' deploy/systemd/layerscoped.service \
  unit_verify "{}"
expect_failure "unit hardening removed" '/^ProtectSystem=/d;/^ProtectHome=/d;/^NoNewPrivileges=/d;/^PrivateUsers=/d;/^CapabilityBoundingSet=/d;/^SystemCallFilter=/d' \
  deploy/systemd/layerscoped.service systemd-analyze security --offline=yes --threshold=25 "{}"

[ "$failures" -eq 0 ] || { echo "$failures mistake(s) not caught" >&2; exit 1; }
