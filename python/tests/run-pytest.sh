#!/bin/sh
# Runs the Python package's tests with interpreter $1 (else $CLATTN_PYTHON, else the first of python3 on
# PATH and /usr/bin/python3 that has numpy and pytest: tools/deps.sh installs Debian's python3-numpy and
# python3-pytest, while PATH may lead to another Python first, e.g. a pyenv one).
# Exit 77 (CTest's skip) when no such interpreter exists.
py=${1:-${CLATTN_PYTHON:-}}
if [ -z "$py" ]; then
  for cand in python3 /usr/bin/python3; do
    if "$cand" -c 'import numpy, pytest' 2>/dev/null; then py=$cand; break; fi
  done
  if [ -z "$py" ]; then
    echo "skipped: neither python3 nor /usr/bin/python3 has numpy and pytest (bash tools/deps.sh installs them;"
    echo "or set CLATTN_PYTHON to an interpreter that has them)"
    exit 77
  fi
elif ! "$py" -c 'import numpy, pytest' 2>/dev/null; then
  echo "skipped: $py lacks numpy or pytest (set CLATTN_PYTHON to one that has them)"
  exit 77
fi
echo "python: $py"
cd "$(dirname "$0")/.." || exit 1
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m pytest -q -p no:cacheprovider tests
