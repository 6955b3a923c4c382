#!/bin/sh
# Install-and-link test (CTest: install.example, label install).
#   run.sh <build dir> <source dir> <work dir> [cmake] [cc]
# Installs the built clattn into <work dir>/prefix (cmake --install), then builds the examples against it
# and runs them (sdpa_example with CLATTN_DEVICE=host; opencl_example on the first OpenCL device):
#   1. CMake: find_package(clattn REQUIRED) via CMAKE_PREFIX_PATH (shared and static targets;
#      sdpa_example with clattn.h alone, opencl_example with clattn_opencl.h + OpenCL::OpenCL)
#   2. pkg-config: cc ... $(pkg-config --cflags --libs clattn) via PKG_CONFIG_PATH (sdpa_example; and
#      opencl_example with $(pkg-config --cflags --libs clattn OpenCL))
# Needs the library built first (cmake --build). Exit 0 = pass, 77 = skipped (no pkg-config).
set -eu

BUILD=${1:?build dir}
SRC=${2:?source dir}
WORK=${3:?work dir}
CMAKE=${4:-cmake}
CC=${5:-cc}

fail() { echo "FAIL: $*" >&2; exit 1; }
run_example() { # <label> <binary> [name]: runs it and wants "<name>: OK" (name: sdpa_example)
  name=${3:-sdpa_example}
  rc=0
  out=$(CLATTN_DEVICE=host "$2" 2>&1) || rc=$?
  echo "$out"
  if [ "$rc" -eq 77 ] && [ "$name" = opencl_example ] && echo "$out" | grep -q "^$name: SKIPPED"; then
    return 0 # no OpenCL device on this machine: said so, not counted as a pass of the interop
  fi
  [ "$rc" -eq 0 ] || fail "$1: $2 exited with $rc"
  echo "$out" | grep -q "^$name: OK" || fail "$1: no '$name: OK' in the output"
}

rm -rf "$WORK"
mkdir -p "$WORK"
PREFIX="$WORK/prefix"

echo "== cmake --install $BUILD --prefix $PREFIX"
"$CMAKE" --install "$BUILD" --prefix "$PREFIX" > "$WORK/install.log" 2>&1 ||
  { cat "$WORK/install.log" >&2; fail "cmake --install (is the library built?)"; }
test -f "$PREFIX/include/clattn.h" || fail "clattn.h not installed"
test -f "$PREFIX/include/clattn_opencl.h" || fail "clattn_opencl.h not installed"
PC=$(find "$PREFIX" -name clattn.pc | head -n 1)
CONFIG=$(find "$PREFIX" -name clattnConfig.cmake | head -n 1)
test -n "$PC" || fail "clattn.pc not installed"
test -n "$CONFIG" || fail "clattnConfig.cmake not installed"
LIBDIR=$(dirname "$(dirname "$PC")")
echo "   libdir $LIBDIR"

echo "== find_package(clattn) with CMAKE_PREFIX_PATH"
"$CMAKE" -S "$SRC/examples" -B "$WORK/ex-cmake" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER="$CC" > "$WORK/ex-cmake.log" 2>&1 || { cat "$WORK/ex-cmake.log" >&2; fail "configure examples"; }
"$CMAKE" --build "$WORK/ex-cmake" >> "$WORK/ex-cmake.log" 2>&1 || { cat "$WORK/ex-cmake.log" >&2; fail "build examples"; }
# The shared library must come from the prefix, not from the build tree.
LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" run_example "find_package (shared)" "$WORK/ex-cmake/sdpa_example"
LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" run_example "find_package (split KV + merge)" \
  "$WORK/ex-cmake/split_kv_example" split_kv_example
LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" run_example "find_package (OpenCL interop)" \
  "$WORK/ex-cmake/opencl_example" opencl_example
test -x "$WORK/ex-cmake/sdpa_example_static" || fail "clattn::clattn_static example not built"
run_example "find_package (static)" "$WORK/ex-cmake/sdpa_example_static"

echo "== pkg-config with PKG_CONFIG_PATH"
command -v pkg-config > /dev/null 2>&1 || { echo "SKIP: no pkg-config"; exit 77; }
PKG_CONFIG_PATH="$(dirname "$PC")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
FLAGS=$(pkg-config --cflags --libs clattn) || fail "pkg-config --cflags --libs clattn"
echo "   pkg-config: $FLAGS"
mkdir -p "$WORK/ex-pc"
# shellcheck disable=SC2086
"$CC" -std=c11 -o "$WORK/ex-pc/sdpa_example" "$SRC/examples/sdpa_example.c" $FLAGS -lm ||
  fail "cc ... \$(pkg-config --cflags --libs clattn)"
LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" run_example "pkg-config" "$WORK/ex-pc/sdpa_example"
FLAGS_CL=$(pkg-config --cflags --libs clattn OpenCL) || fail "pkg-config --cflags --libs clattn OpenCL"
# shellcheck disable=SC2086
"$CC" -std=c11 -o "$WORK/ex-pc/opencl_example" "$SRC/examples/opencl_example.c" $FLAGS_CL -lm ||
  fail "cc ... \$(pkg-config --cflags --libs clattn OpenCL)"
LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" run_example "pkg-config (OpenCL interop)" \
  "$WORK/ex-pc/opencl_example" opencl_example
if command -v ldd > /dev/null 2>&1; then
  USED=$(LD_LIBRARY_PATH="$LIBDIR" ldd "$WORK/ex-pc/sdpa_example" | grep libclattn || true)
  echo "   uses: $USED"
  case "$USED" in
    *"$LIBDIR"/libclattn*) ;;
    *) fail "the pkg-config build does not load the installed libclattn: $USED" ;;
  esac
fi
echo "install.example: OK"
