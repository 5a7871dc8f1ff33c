#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit, integration, conformance,
# fuzz, proto lint).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/install-deps.sh"
"$here/scripts/build.sh"
"$here/scripts/fuzz-build.sh"
cd "${ACCORD_BUILD_DIR:-$here/build}"
ctest --output-on-failure -j"$(nproc)" "$@"
