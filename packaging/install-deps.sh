#!/usr/bin/env bash
# Installs every Debian 12 package the build and the tests need.
# Non-interactive and idempotent: packages already present are left as they are.
# Optional: --with-bench also installs what tests/bench/ needs (the PyTorch peer, and
# OpenBLAS and BLIS for the GEMM library comparison); the tests do not need them.
set -euo pipefail
pkgs=(
  cmake ninja-build g++ clang pkg-config
  libtomlplusplus-dev libcli11-dev libspdlog-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libsqlite3-dev sqlite3
  libdnnl-dev
  qt6-base-dev qt6-svg-dev libqcustomplot-dev libqcustomplot2.1-qt6
  xvfb xauth imagemagick fonts-dejavu-core dpkg-dev
)
if [[ "${1:-}" == "--with-bench" ]]; then
  pkgs+=(python3-torch libopenblas0-pthread libopenblas-openmp-dev libblis-dev)
elif [[ -n "${1:-}" ]]; then
  echo "install-deps: unknown option '$1' (the only option is --with-bench)" >&2
  exit 2
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all ${#pkgs[@]} packages present"
