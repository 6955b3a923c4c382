#!/usr/bin/env bash
# Installs the Debian 12 packages clattn needs to build, test and run, plus any package names given as
# arguments (the reliability and fuzz scripts add theirs). Idempotent and non-interactive: apt-get runs
# only when a package is missing. Usage: bash tools/deps.sh [extra-package ...]
set -euo pipefail
PKGS=(build-essential cmake pkg-config git
      ocl-icd-opencl-dev opencl-c-headers clinfo
      libclblast-dev libopenblas-dev libcjson-dev libcmocka-dev libxxhash-dev
      pocl-opencl-icd mesa-opencl-icd oclgrind python3-numpy python3-pytest
      clang-15 llvm-spirv-15 rocm-device-libs libclc-15-dev
      libopenmpi-dev openmpi-bin "$@")
# clang-15 .. libclc-15-dev: tools/gpu_kernel_report.py (CTest label portability) compiles the planner's
# kernels for AMD (ROCm device libraries), NVIDIA (libclc) and SPIR-V without a GPU.
# libopenmpi-dev, openmpi-bin: libclattn_mpi (ring attention) and its tests under mpirun (label mpi).
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
