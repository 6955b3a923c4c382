#!/usr/bin/env bash
# Reliability checks of clattn (RELIABILITY.md says what each finds and the latest figures):
#   asan      the whole CTest suite (host path + PoCL; not the Oclgrind runs nor the install test) built
#             with the `asan` preset (AddressSanitizer + UBSan + LeakSanitizer). Mesa rusticl is hidden
#             (OCL_ICD_VENDORS=pocl.icd): its driver leaks. Leaks inside PoCL/LLVM are suppressed by
#             tests/reliability/lsan.supp (module names only; nothing of clattn).
#   tsan      the host-path tests and test_threads (8 threads) built with the `tsan` preset
#             (ThreadSanitizer, halt_on_error=1).
#   oclgrind  every OpenCL kernel under the Oclgrind simulator (CTest label `oclgrind`) in the `release`
#             preset's build (the one tools/run-tests.sh builds; reused when it is there).
#   faults    fault injection (CTest label `faults`: test_faults, every host allocation and every OpenCL
#             call of context/plan creation, execution and the MHA module made to fail in turn) in the
#             `release` build, on host, PoCL and rusticl. The asan step runs it too (host and PoCL, with
#             LeakSanitizer); this step adds rusticl, which is hidden under ASan.
# Usage: bash .ci/reliability.sh [asan] [tsan] [oclgrind] [faults]   (no argument: all four, in that order)
# CLATTN_REL_BUILD_PREFIX=/some/dir/build puts the builds in <prefix>-asan, <prefix>-tsan and
# <prefix>-release instead of the presets' build-asan/, build-tsan/ and build/.
# Installs what it needs (Debian packages) when missing, like tools/deps.sh. Exit status: 0 only if every
# step passed; the last lines print each step's time and result.
set -euo pipefail
cd "$(dirname "$0")/.."

# The sanitizer runtimes come with gcc-12 (build-essential); listed so that a missing one is installed.
bash tools/deps.sh oclgrind libasan8 libtsan2 libubsan1

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(asan tsan oclgrind faults)
for s in "${steps[@]}"; do
  case "$s" in asan|tsan|oclgrind|faults) ;;
    *) echo "reliability: unknown step '$s' (asan, tsan, oclgrind, faults)" >&2; exit 2 ;;
  esac
done

# build_dir <preset>: where that preset's build goes.
build_dir() {
  if [ -n "${CLATTN_REL_BUILD_PREFIX:-}" ]; then
    echo "${CLATTN_REL_BUILD_PREFIX}-$1"
  elif [ "$1" = release ]; then
    echo "$PWD/build"
  else
    echo "$PWD/build-$1"
  fi
}

# configure_and_build <preset>
configure_and_build() {
  local dir
  dir="$(build_dir "$1")"
  cmake --preset "$1" -B "$dir" >/dev/null || return $?
  cmake --build "$dir" -j2 || return $?
}

SUPP="$PWD/tests/reliability/lsan.supp"
declare -A took result
status=0
for s in "${steps[@]}"; do
  echo "==== reliability: $s"
  t0=$(date +%s)
  rc=0
  case "$s" in
    asan)
      configure_and_build asan || rc=$?
      if [ $rc -eq 0 ]; then
        # python: ctypes cannot load an ASan-instrumented libclattn into an uninstrumented interpreter.
        # gpu_profile (PoCL planning as a GPU: the same host code as the .pocl runs but for the planner's GPU
        # branch, each run a cold PoCL compile under ASan) and portability (clang on the kernels, no library
        # code) run in the release step only, to keep the CI under its time budget on 2 cores.
        # allocator_may_return_null: the resource-limit tests ask for impossible sizes and check that
        # clattn returns CLATTN_ERROR_OUT_OF_MEMORY, as malloc does without ASan (ASan aborts by default).
        # use_sigaltstack=0: with Debian 12's current PoCL (3.1-3+deb12u1) loaded, ASan's own CHECK fails when
        # a thread exits ("failed to deallocate ... unable to unmap" in UnsetAlternateSignalStack): threads.*
        # failed that way at clattn 0.1 (a4a0781) too. It only costs ASan's stack-overflow reports.
        # --repeat until-pass:2: LeakSanitizer's exit-time tracer itself crashes now and then beside PoCL's
        # threads ("Tracer caught signal 11" then "LeakSanitizer has encountered a fatal error", after every test
        # case had passed: bf16.pocl once, cold, at 80 s; two reruns passed). A test fails the step only when it
        # fails twice, so a deterministic memory error or leak still does.
        # The kernel cache starts as a copy of the release build's (tools/run-tests.sh runs before this in .ci/run):
        # the PoCL kernels are the same sources and build options, so this step checks the library's host code
        # under ASan without compiling every PoCL kernel again inside an ASan process (f16.pocl took 782 s cold
        # here, 3.6 s seeded; the whole step 29 min of a 54-min CI after the 16-bit kernels got their own builds).
        # The compile path itself still runs here wherever a test builds what the release run did not (test_cache
        # uses its own cache directories).
        rel_cache="$(build_dir release)/tests/cache"
        if [ -d "$rel_cache/xdg" ]; then
          mkdir -p "$(build_dir asan)/tests/cache"
          cp -a "$rel_cache/." "$(build_dir asan)/tests/cache/"
        fi
        ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:allocator_may_return_null=1:use_sigaltstack=0" LSAN_OPTIONS="suppressions=$SUPP:print_suppressions=0" \
          UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
          ctest --preset asan --test-dir "$(build_dir asan)" -LE "oclgrind|install|python|mpi|gpu_profile|portability" -j2 \
          --repeat until-pass:2 || rc=$?
        # mpi: the same checks but no leak report. Open MPI 4.1.4 keeps allocations from MPI_Init to exit
        # (ompi_mpi_init, op selection, libopen-pal, libevent, and MCA components it dlopens and unloads at
        # MPI_Finalize, whose frames LSan can only print as "<unknown module>", so no module suppression can
        # match them); a minimal MPI_Init/MPI_Finalize program reports the same. Memory errors still fail.
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:allocator_may_return_null=1:use_sigaltstack=0" \
          UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
          ctest --preset asan --test-dir "$(build_dir asan)" -L mpi -LE "oclgrind|install|python" -j2 || rc=$?
      fi
      ;;
    tsan)
      configure_and_build tsan || rc=$?
      [ $rc -eq 0 ] && { ctest --preset tsan --test-dir "$(build_dir tsan)" || rc=$?; }
      ;;
    oclgrind)
      configure_and_build release || rc=$?
      [ $rc -eq 0 ] && { ctest --preset release --test-dir "$(build_dir release)" -L oclgrind -j2 || rc=$?; }
      ;;
    faults)
      configure_and_build release || rc=$?
      [ $rc -eq 0 ] && { ctest --preset release --test-dir "$(build_dir release)" -L faults -j2 || rc=$?; }
      ;;
  esac
  took[$s]=$(( $(date +%s) - t0 ))
  if [ $rc -eq 0 ]; then result[$s]=passed; else result[$s]="FAILED ($rc)"; status=1; fi
done

echo "==== reliability summary"
passed=0
failed=0
for s in "${steps[@]}"; do
  printf 'reliability %-8s %-12s %4d s\n' "$s" "${result[$s]}" "${took[$s]}"
  if [ "${result[$s]}" = passed ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "reliability: ${passed} passed, ${failed} failed"
exit $status
