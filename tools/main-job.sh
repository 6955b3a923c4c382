#!/usr/bin/env bash
# The main job: installs what is needed, builds clattn, and runs multi-head attention of a real
# all-MiniLM-L6-v2 layer (tests/data/minilm) on the default device (CLATTN_DEVICE, else first GPU,
# else first OpenCL CPU, else the host path), printing the device, the time and the max abs error
# against PyTorch's output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target clattn_cli >/dev/null
D=tests/data/minilm
for layer in 0 3; do
  ${CLATTN_BUILD_DIR:-build}/tools/clattn mha --params "$D/layer${layer}_attn.safetensors" \
    --prefix "encoder.layer.${layer}.attention." --num-heads 12 \
    --query "$D/layer${layer}_x.npy" --kv-lengths "$(cat $D/kv_lengths.txt)" \
    --out "${TMPDIR:-/tmp}/clattn_layer${layer}_out.npy" --expect "$D/layer${layer}_out.npy" --tol 1e-4 --repeat 5
done
echo "time_ms: first call (on OpenCL it includes kernel compilation the driver has not cached yet);" \
     "warm_ms: median of the next 4 calls. max_abs_err: against PyTorch's output (tolerance 1e-4)."
