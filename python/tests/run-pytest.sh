#!/bin/sh
# Runs the Python package's tests with interpreter $1 (else $CLATTN_PYTHON, else python3).
# Exit 77 (CTest's skip) when that interpreter lacks numpy or pytest.
py=${1:-${CLATTN_PYTHON:-python3}}
if ! "$py" -c 'import numpy, pytest' 2>/dev/null; then
  echo "skipped: $py lacks numpy or pytest (set CLATTN_PYTHON to one that has them)"
  exit 77
fi
cd "$(dirname "$0")/.." || exit 1
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m pytest -q -p no:cacheprovider tests
