#!/usr/bin/env bash
# Installs the Debian 12 packages layerscope builds with, only those missing, quietly. Safe to run again.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ccache
  libtorch-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev libsqlite3-dev libssl-dev
  libgtest-dev libgmock-dev
  libpcre2-dev libicu-dev zlib1g-dev
  shellcheck yamllint python3-yaml systemd
  chromium  # renders the HTML report in the report_e2e_test (headless)
  clang-14 libclang-rt-14-dev  # libFuzzer and the sanitizers, for tests/fuzz
  python3-numpy  # the e2e tests read saved .npy files and JSON arrays back with numpy
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "layerscope: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
