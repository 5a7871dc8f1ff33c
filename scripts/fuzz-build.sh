#!/usr/bin/env bash
# Configures and builds the libFuzzer targets (tests/fuzz, clang + ASan/UBSan) into
# ${ACCORD_BUILD_DIR:-build}/fuzz, where the main build's ctest entries fuzz.* look for them.
# Run it after scripts/build.sh; it builds with at most 2 jobs (FUZZ_JOBS to change).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${ACCORD_BUILD_DIR:-$here/build}/fuzz"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"

for tool in clang clang++ ninja; do
  command -v "$tool" >/dev/null || { echo "fuzz-build: $tool not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
done
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

CC=clang CXX=clang++ cmake -S "$here/tests/fuzz" -B "$build_dir" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" >/dev/null
cmake --build "$build_dir" -j"${FUZZ_JOBS:-2}"
