#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined).
#
#   bash fuzz/build.sh [BUILD_DIR]          (default: build-fuzz next to the source tree)
#
# The library is not built through CMake here: src/<layer>/*.c, the embedded kernels (generated with
# cmake/embed_kernels.cmake, as src/CMakeLists.txt does) and tools/{npy,safetensors,half}.c are
# compiled directly with -fsanitize=fuzzer-no-link,address,undefined so that coverage feedback and
# the sanitizers reach the library code; each fuzz/fuzz_*.c is linked with -fsanitize=fuzzer.
# Binaries: BUILD_DIR/fuzz_npy, fuzz_safetensors, fuzz_selector, fuzz_sdpa_desc.
# Environment: CC (default clang), FUZZ_CFLAGS (extra flags), JOBS (parallel compiles, default 2).
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$SRC/../build-fuzz}"
CC="${CC:-clang}"
JOBS="${JOBS:-2}"
mkdir -p "$OUT/obj"
OUT="$(cd "$OUT" && pwd)"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS="-std=c11 -O2 -g -fno-omit-frame-pointer -D_POSIX_C_SOURCE=200809L -DCL_TARGET_OPENCL_VERSION=120 \
  -Wall -Wno-unused-parameter -I$SRC/include -I/usr/include/openblas ${FUZZ_CFLAGS:-}"
# Each layer of src/ sees its own folder and the layers below it (as src/CMakeLists.txt sets them).
layer_includes() {
  case "$1" in
    common) echo "-I$SRC/src/common" ;;
    core) echo "-I$SRC/src/core -I$SRC/src/common" ;;
    host | opencl) echo "-I$SRC/src/$1 -I$SRC/src/core -I$SRC/src/common" ;;
  esac
}

# Objects built with other flags (or another compiler) are rebuilt.
stamp="$OUT/obj/flags.txt"
if [ "$(cat "$stamp" 2>/dev/null)" != "$CC $CFLAGS" ]; then
  rm -f "$OUT"/obj/*.o
  printf '%s' "$CC $CFLAGS" >"$stamp"
fi

# Embedded kernels, regenerated only when a .cl file changed (the script writes ONLY_IF_DIFFERENT).
names=""
for f in "$SRC"/kernels/*.cl; do names="${names:+$names;}$(basename "$f")"; done
cmake -DOUT="$OUT/kernels_embedded.c" -DKERNEL_DIR="$SRC/kernels" "-DNAMES=$names" \
  -P "$SRC/cmake/embed_kernels.cmake"

# Compiles $1 to $2 unless the object is newer than the source and every header it may include.
compile() {
  local src="$1" obj="$2" flags="$3"
  if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ "$obj" -nt "$0" ] &&
     [ -z "$(find "$SRC/include" "$SRC/src" "$SRC/tools" \( -name '*.h' -o -name 'fused_kernel.c' \) -newer "$obj" -print -quit)" ]; then
    return 0
  fi
  # shellcheck disable=SC2086
  "$CC" $CFLAGS $flags -c "$src" -o "$obj.tmp.o" && mv "$obj.tmp.o" "$obj"
}

LIB_OBJS=()
TOOL_OBJS=()
pids=()
wait_some() { # keeps at most JOBS compiles running; fails the build if one fails
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
}
for layer in common core host opencl; do
  srcs=("$SRC"/src/$layer/*.c)
  [ "$layer" = opencl ] && srcs+=("$OUT/kernels_embedded.c")
  for s in "${srcs[@]}"; do
    o="$OUT/obj/lib_${layer}_$(basename "${s%.c}").o"
    LIB_OBJS+=("$o")
    wait_some
    compile "$s" "$o" "-fsanitize=fuzzer-no-link $SAN $(layer_includes $layer)" & pids+=($!)
  done
done
for s in npy safetensors half; do
  o="$OUT/obj/tool_$s.o"
  TOOL_OBJS+=("$o")
  wait_some
  compile "$SRC/tools/$s.c" "$o" "-fsanitize=fuzzer-no-link $SAN -I$SRC/tools -I$SRC/src/common" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

LIBS_CLATTN="-lOpenCL -lclblast -lopenblas -lpthread -lm"
link() { # name, extra objects..., then libs in $LIBS
  local name="$1"; shift
  # shellcheck disable=SC2086
  "$CC" $CFLAGS $FUZZ_INCLUDES -fsanitize=fuzzer $SAN "$SRC/fuzz/$name.c" "$@" $LIBS -o "$OUT/$name"
}
FUZZ_INCLUDES="-I$SRC/tools" LIBS="-lcjson -lm" link fuzz_npy "${TOOL_OBJS[@]}"
FUZZ_INCLUDES="-I$SRC/tools" LIBS="-lcjson -lm" link fuzz_safetensors "${TOOL_OBJS[@]}"
# fuzz_selector calls the OpenCL backend's selector parser (src/opencl/opencl.h) directly.
FUZZ_INCLUDES="$(layer_includes opencl)" LIBS="$LIBS_CLATTN" link fuzz_selector "${LIB_OBJS[@]}"
FUZZ_INCLUDES="" LIBS="$LIBS_CLATTN" link fuzz_sdpa_desc "${LIB_OBJS[@]}"
echo "fuzz: built $OUT/fuzz_npy $OUT/fuzz_safetensors $OUT/fuzz_selector $OUT/fuzz_sdpa_desc"
