#!/usr/bin/env bash
# On a machine with an NVIDIA GPU (driver, CMake, a C++17 compiler, PyTorch;
# no LLVM/MLIR): builds the runtime (nsl-run, without MLIR, LibTorch or
# GoogleTest), checks every artifact that scripts/gpu-prepare.sh compiled
# against the reference interpreter (nsl-run check --device cuda), times
# the benchmark layers (nsl-run bench --device cuda) and their PyTorch peers
# (scripts/gpu_peers.py), and prints the table. Meant to finish in < 5 min.
#
# usage: scripts/gpu-check.sh [ARTIFACTS] (default gpu-artifacts/)
# env:   NSL_GPU_BUILD_DIR (default build-gpu-runtime/), PYTHON (python3),
#        NSL_CHECK_TOLERANCE (default 1e-4), NSL_SKIP_PEERS=1,
#        NSL_SKIP_COMPILE=1 (no torch.compile)
set -euo pipefail
shopt -s nullglob
root=$(cd "$(dirname "$0")/.." && pwd)
arts=${1:-$root/gpu-artifacts}
build=${NSL_GPU_BUILD_DIR:-$root/build-gpu-runtime}
python=${PYTHON:-python3}
tolerance=${NSL_CHECK_TOLERANCE:-1e-4}
start=$(date +%s)

die() { echo "gpu-check: error: $*" >&2; exit 1; }
step() { echo "== gpu-check [$(( $(date +%s) - start ))s]: $*"; }
[ -d "$arts/models" ] && [ -d "$arts/ops" ] ||
  die "no artifacts in '$arts' (run scripts/gpu-prepare.sh where nslc is, and copy the folder here)"
command -v cmake >/dev/null || die "cmake not found"
command -v timeout >/dev/null || die "timeout (coreutils) not found"

# --- 1. The runtime alone: a standalone CMake project over runtime/ and
# tools/nsl-run (the top-level project also wants GoogleTest).
step "building nsl-run in $build"
mkdir -p "$build/src"
cat > "$build/src/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(nsl_gpu_runtime CXX)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release)
endif()
find_package(Threads REQUIRED)
file(GLOB runtime_sources
  $root/runtime/support/*.cpp $root/runtime/reference/*.cpp
  $root/runtime/artifact/*.cpp $root/runtime/cuda/*.cpp)
add_library(nslrt STATIC \${runtime_sources})
target_include_directories(nslrt PUBLIC $root)
target_link_libraries(nslrt PUBLIC Threads::Threads \${CMAKE_DL_LIBS})
add_executable(nsl-run $root/tools/nsl-run/main.cpp)
target_link_libraries(nsl-run PRIVATE nslrt)
add_executable(nsl-cuda-info $root/tools/nsl-cuda-info/main.cpp)
target_link_libraries(nsl-cuda-info PRIVATE nslrt)
CMAKE
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
timeout 120 cmake "${generator[@]}" -S "$build/src" -B "$build/out" \
  -DCMAKE_BUILD_TYPE=Release >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; die "cmake configure failed"; }
timeout 300 cmake --build "$build/out" -j "$(nproc)" >"$build/build.log" 2>&1 ||
  { tail -40 "$build/build.log" >&2; die "building the runtime failed"; }
nslrun=$build/out/nsl-run
"$build/out/nsl-cuda-info" || die "nsl-cuda-info: no usable CUDA device"

# --- 2. Every network and op against the reference.
step "checking every artifact against the reference (tolerance $tolerance)"
passed=0; failed=()
for art in "$arts"/models/*.nslm "$arts"/ops/*.nslm; do
  name=${art#"$arts"/}
  if out=$(timeout 120 "$nslrun" check "$art" --device cuda --tolerance "$tolerance" 2>&1); then
    passed=$((passed + 1))
    echo "  ok    $name: $(echo "$out" | tail -1)"
  else
    failed+=("$name")
    echo "  FAIL  $name:"; echo "$out" | sed 's/^/        /'
  fi
done
step "$passed passed, ${#failed[@]} failed"

# --- 3. The benchmark layers: NSL, then the PyTorch peers, one table.
times=$build/nsl-times.txt
: > "$times"
if [ -d "$arts/bench" ]; then
  step "nsl-run bench --device cuda (batch 128)"
  for art in "$arts"/bench/*.nslm; do
    base=$(basename "$art" .nslm)          # conv_64x32, dns_64x32
    layer=${base%%_*}; size=${base#*_}
    if out=$(timeout 120 "$nslrun" bench "$art" --device cuda --warmup 3 --repeats 10 2>&1); then
      ms=$(echo "$out" | sed -n 's/^kernels (CUDA events): median \([0-9.]*\) ms.*/\1/p')
      echo "  $base: $(echo "$out" | tail -1)"
      [ -n "$ms" ] && echo "$layer $size $ms" >> "$times"
    else
      echo "  FAIL  bench $base:"; echo "$out" | sed 's/^/        /'
      failed+=("bench/$base")
    fi
  done
fi
if [ "${NSL_SKIP_PEERS:-0}" != 1 ]; then
  step "PyTorch peers (scripts/gpu_peers.py)"
  peer_args=()
  [ "${NSL_SKIP_COMPILE:-0}" = 1 ] && peer_args+=(--no-compile)
  timeout 240 "$python" "$root/scripts/gpu_peers.py" --nsl-times "$times" "${peer_args[@]}" ||
    echo "gpu-check: warning: the PyTorch peers failed or timed out" >&2
fi
step "done"
if [ "${#failed[@]}" -gt 0 ]; then
  die "${#failed[@]} failed: ${failed[*]}"
fi
