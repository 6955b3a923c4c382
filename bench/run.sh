#!/usr/bin/env bash
# One command: build clattn-bench, run it on the default device and on the host path, run the peers
# (ONNX Runtime, PyTorch, NumPy) on the same cases, and compare.
#
#   bench/run.sh [--quick] [--rounds N] [--repeat N] [--warmup N] [--max-seconds S] [--no-peak]
#                [--shape B,Hq,Hkv,Lq,Lk,D[,Dv]]... [--both] [--precision fp32|reduced|both] [--peers LIST]
#                [--dtype f32|f16|bf16[,...]]
#
# --shape/--both: those cases instead of the grid (every implementation). --precision: clattn-bench's (reduced
# and both also run PyTorch with --dtype bf16, "torch-bf16", and add bf16 to --dtype, so that compare.py's bf16
# table sets clattn's bf16 inputs with reduced products beside PyTorch's bf16 SDPA). --peers: comma-separated subset of
# onnxruntime,torch,numpy (default all; torch-bf16 comes with torch). --dtype: clattn-bench's (each case in each
# listed type), and PyTorch and ONNX Runtime run again in each 16-bit type listed ("torch-f16", "onnxruntime-bf16";
# a peer without the kernel reports n/a); NumPy stays float32. compare.py writes one table and one plot per dtype
# (gflops.png for f32, gflops-f16.png, gflops-bf16.png).
#
# Environment: BUILD_DIR (default <repo>/build-bench), OUT_DIR (default $BUILD_DIR/bench-results/<time>),
# BENCH_VENV (default $BUILD_DIR/venv; created from bench/requirements.txt when it lacks onnxruntime),
# TORCH_PYTHON (a python with torch; default: the bench venv's if it has torch, else
# /opt/clattn-data-venv/bin/python if present, else the torch peer is skipped), CLATTN_DEVICE (the
# default device), CLATTN_THREADS (threads for the host path and every peer; default: online CPUs).
# --rounds N runs everything N times, interleaved; compare.py keeps each implementation's best median.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
BENCH_VENV=${BENCH_VENV:-$BUILD_DIR/venv}
ROUNDS=1
PRECISION=fp32
DTYPE=f32
PEERS=onnxruntime,torch,numpy
PEAK=(--peak)
COMMON=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) COMMON+=(--quick) ;;
    --rounds) ROUNDS=$2; shift ;;
    --repeat|--warmup|--max-seconds) COMMON+=("$1" "$2"); shift ;;
    --no-peak) PEAK=() ;;
    --shape) COMMON+=(--shape "$2"); shift ;;
    --both) COMMON+=(--both) ;;
    --precision) PRECISION=$2; shift ;;
    --dtype) DTYPE=$2; shift ;;
    --peers) PEERS=$2; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$PRECISION" != fp32 ] && [[ ",$DTYPE," != *,bf16,* ]]; then
  DTYPE=$DTYPE,bf16 # reduced products are compared with PyTorch's bf16 SDPA on bf16 inputs
fi
OUT_DIR=${OUT_DIR:-$BUILD_DIR/bench-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT_DIR"
THREADS=${CLATTN_THREADS:-$(nproc)}

echo "== build ($BUILD_DIR)" >&2
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DCLATTN_BUILD_BENCH=ON >/dev/null
cmake --build "$BUILD_DIR" -j2 --target clattn_bench >/dev/null
BENCH=$BUILD_DIR/bench/clattn-bench

echo "== python environments" >&2
if ! "$BENCH_VENV/bin/python" -c "import onnxruntime, onnx, numpy, matplotlib" 2>/dev/null; then
  python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q -r "$ROOT/bench/requirements.txt"
fi
PY=$BENCH_VENV/bin/python
if [ -z "${TORCH_PYTHON:-}" ]; then
  if "$PY" -c "import torch" 2>/dev/null; then TORCH_PYTHON=$PY
  elif [ -x /opt/clattn-data-venv/bin/python ] && /opt/clattn-data-venv/bin/python -c "import torch" 2>/dev/null; then
    TORCH_PYTHON=/opt/clattn-data-venv/bin/python
  fi
fi
[ -n "${TORCH_PYTHON:-}" ] || echo "run.sh: no python with torch found; skipping the PyTorch peer" >&2

# The peers bring their own BLAS; a machine-wide OPENBLAS_CORETYPE (set for Debian's older OpenBLAS) would
# slow them, so it is cleared for the peers only.
peer() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"; }

{
  echo "commit: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs online; threads used: $THREADS"
  echo "clattn-bench args: ${COMMON[*]:-} ${PEAK[*]:-}; rounds: $ROUNDS; date: $(date -u +%FT%TZ)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT_DIR/machine.txt" >&2

for ((r = 1; r <= ROUNDS; r++)); do
  echo "== round $r/$ROUNDS: clattn-bench on the default device (${CLATTN_DEVICE:-library default})" >&2
  pk=("${PEAK[@]}"); [ "$r" -eq 1 ] || pk=()
  "$BENCH" --json --precision "$PRECISION" --dtype "$DTYPE" "${COMMON[@]}" "${pk[@]}" >>"$OUT_DIR/clattn-default.jsonl" ||
    echo "run.sh: clattn-bench reported a failure" >&2
  if ! grep -q '"device_tag":"host"' "$OUT_DIR/clattn-default.jsonl"; then
    echo "== round $r/$ROUNDS: clattn-bench on the host path" >&2
    "$BENCH" --json --device host --precision "$PRECISION" --dtype "$DTYPE" "${COMMON[@]}" "${pk[@]}" \
      >>"$OUT_DIR/clattn-host.jsonl" ||
      echo "run.sh: clattn-bench reported a failure" >&2
  fi
  if [[ ",$PEERS," == *,onnxruntime,* ]]; then
    echo "== round $r/$ROUNDS: ONNX Runtime" >&2
    peer "$PY" "$ROOT/bench/peers/ort_peer.py" --json --threads "$THREADS" "${COMMON[@]}" >>"$OUT_DIR/onnxruntime.jsonl"
    for dt in f16 bf16; do
      [[ ",$DTYPE," == *,$dt,* ]] || continue
      echo "== round $r/$ROUNDS: ONNX Runtime $dt" >&2
      peer "$PY" "$ROOT/bench/peers/ort_peer.py" --json --dtype "$dt" --threads "$THREADS" "${COMMON[@]}" \
        >>"$OUT_DIR/onnxruntime-$dt.jsonl"
    done
  fi
  if [ -n "${TORCH_PYTHON:-}" ] && [[ ",$PEERS," == *,torch,* ]]; then
    echo "== round $r/$ROUNDS: PyTorch ($TORCH_PYTHON)" >&2
    peer "$TORCH_PYTHON" "$ROOT/bench/peers/torch_peer.py" --json --threads "$THREADS" "${COMMON[@]}" >>"$OUT_DIR/torch.jsonl"
    for dt in f16 bf16; do
      [[ ",$DTYPE," == *,$dt,* ]] || continue
      echo "== round $r/$ROUNDS: PyTorch $dt" >&2
      peer "$TORCH_PYTHON" "$ROOT/bench/peers/torch_peer.py" --json --dtype "$dt" --threads "$THREADS" "${COMMON[@]}" \
        >>"$OUT_DIR/torch-$dt.jsonl"
    done
  fi
  if [[ ",$PEERS," == *,numpy,* ]]; then
    echo "== round $r/$ROUNDS: NumPy" >&2
    peer "$PY" "$ROOT/bench/peers/numpy_peer.py" --json --threads "$THREADS" "${COMMON[@]}" >>"$OUT_DIR/numpy.jsonl"
  fi
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT_DIR/machine.txt" >&2

echo "== compare" >&2
"$PY" "$ROOT/bench/compare.py" "$OUT_DIR"/*.jsonl --plot "$OUT_DIR/gflops.png" | tee "$OUT_DIR/compare.txt"
"$PY" "$ROOT/bench/compare.py" "$OUT_DIR"/*.jsonl --markdown >"$OUT_DIR/compare.md"
echo "results in $OUT_DIR" >&2
