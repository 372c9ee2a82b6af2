#!/usr/bin/env bash
# Installs every Debian package the project needs (DESIGN.md §4), idempotently
# and quietly. Safe to run repeatedly; does nothing when all are present.
set -euo pipefail

packages=(
  cmake ninja-build ccache clang-22 libomp-22-dev clang-format-22 clang-tidy-22
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libgtest-dev libgmock-dev nlohmann-json3-dev zlib1g-dev
  python3 python3-numpy python3-torch python3-torchvision libtorch-dev
  libopenblas0-openmp python3-matplotlib dataset-fashion-mnist
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp)
  # Quiet on success; the whole log on failure.
  if ! { "${sudo_cmd[@]}" apt-get update -qq &&
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: apt-get failed (see above)" >&2
    exit 1
  fi
  rm -f "$log"
fi
echo "setup: all packages present"
