#!/usr/bin/env bash
# CI fuzzing: installs clang + libFuzzer (Debian clang, libclang-rt-14-dev) if missing, builds the
# targets of fuzz/ with fuzz/build.sh, and runs each for FUZZ_SECONDS (default 30) starting from a
# temporary copy of its committed corpus (fuzz/corpus/<target>/, which is never modified). Fails on
# any crash, sanitizer report, failed check, leak or timeout, and prints the reproducer (hex, base64).
#
#   bash .ci/fuzz.sh                       # all four targets, 30 s each (about 2.5 min with the build)
#   FUZZ_SECONDS=300 bash .ci/fuzz.sh      # longer session
#   FUZZ_TARGETS="npy selector" bash .ci/fuzz.sh
#
# Environment: FUZZ_SECONDS, FUZZ_TARGETS (npy safetensors selector sdpa_desc), FUZZ_BUILD_DIR (default
# a temporary folder), FUZZ_ARTIFACTS (a folder to keep crash inputs in; by default they are only
# printed, as hex and base64),
# FUZZ_SKIP_DEPS=1 (do not check/install packages).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"
TARGETS="${FUZZ_TARGETS:-npy safetensors selector sdpa_desc}"

# ---- packages (idempotent, like tools/deps.sh) ----------------------------------------------------
if [ "${FUZZ_SKIP_DEPS:-0}" != 1 ]; then
  bash "$(dirname "$0")/../tools/deps.sh" clang libclang-rt-14-dev
fi

# ---- build ------------------------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/clattn-fuzz.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
BUILD="${FUZZ_BUILD_DIR:-$WORK/build}"
ARTIFACTS="${FUZZ_ARTIFACTS:-$WORK/artifacts}"
bash "$ROOT/fuzz/build.sh" "$BUILD"

# ---- run ----------------------------------------------------------------------------------------------
export OPENBLAS_NUM_THREADS=1
failed=()
for t in $TARGETS; do
  bin="$BUILD/fuzz_$t"
  [ -x "$bin" ] || { echo "fuzz: no target '$t'" >&2; exit 2; }
  corpus="$WORK/corpus_$t"
  mkdir -p "$corpus" "$ARTIFACTS"
  cp "$ROOT/fuzz/corpus/$t/"* "$corpus/"
  dict=()
  [ -f "$ROOT/fuzz/$t.dict" ] && dict=("-dict=$ROOT/fuzz/$t.dict")
  log="$WORK/$t.log"
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s"
  set +e
  # -timeout: one input may take at most 25 s; -rss_limit_mb: the libFuzzer default, stated.
  "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$ARTIFACTS/$t-" "${dict[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | sed "s/^/  /" || true
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit $rc); last lines of the log:" >&2
    grep -v 'AddressSanitizer failed to allocate' "$log" | tail -60 >&2
    for a in "$ARTIFACTS/$t-"*; do
      [ -f "$a" ] || continue
      echo "fuzz: reproducer $a ($(wc -c <"$a") bytes): $bin $a" >&2
      od -An -tx1 -v "$a" | head -40 >&2
      echo "  base64: $(base64 -w0 "$a")" >&2
    done
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failures in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all targets passed (${SECONDS_PER_TARGET}s each)"
