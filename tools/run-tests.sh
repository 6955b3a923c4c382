#!/usr/bin/env bash
# Installs what is needed, builds clattn (Release, build/) and runs every CTest test:
# host path, PoCL and Mesa rusticl (whichever exist), the tool and the install test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j2
ctest --preset release -j2 "$@"
