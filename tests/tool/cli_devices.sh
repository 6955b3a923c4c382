#!/bin/sh
# `clattn devices`: parses the listing and checks that exactly the device chosen by CLATTN_DEVICE
# (or --device) is marked '*'. Backends absent here are reported and skipped inside the test.
# usage: cli_devices.sh CLATTN WORKDIR
CLATTN=$1
W=$2
failures=0
# Under LeakSanitizer (the asan step of .ci/reliability.sh): Mesa's Clover leaks from a static
# initializer of a library it loads and unloads again, so the fast unwinder's one frame names no module
# and tests/reliability/lsan.supp's libMesaOpenCL.so line cannot match; the full unwinder reaches
# libMesaOpenCL.so. Only this script's few short runs pay for it.
if [ -n "${LSAN_OPTIONS:-}" ]; then
    LSAN_OPTIONS="$LSAN_OPTIONS:fast_unwind_on_malloc=0"
    export LSAN_OPTIONS
fi

fail() {
    failures=$((failures + 1))
    echo "FAIL: $*"
    sed 's/^/      stdout: /' "$W/dev_out.txt"
    sed 's/^/      stderr: /' "$W/dev_err.txt"
}

run() { # run ENV-ASSIGNMENTS... -- ARGS...
    env "$@" "$CLATTN" devices >"$W/dev_out.txt" 2>"$W/dev_err.txt"
}

marked() { grep -c '^\* ' "$W/dev_out.txt"; }

# platform line above the marked device line
marked_platform() {
    awk '/^platform /{p=$0} /^\* device /{print p}' "$W/dev_out.txt"
}

check_fields() {
    grep '^. device ' "$W/dev_out.txt" | while read -r line; do
        for k in type= name= vendor= driver= opencl_c= global_mem= local_mem= max_work_group_size=; do
            case "$line" in *"$k"*) ;; *) echo "missing $k in: $line"; return 1 ;; esac
        done
    done
}

# host
if ! run CLATTN_DEVICE=host; then fail "CLATTN_DEVICE=host exited non-zero"; fi
[ "$(marked)" -eq 1 ] || fail "host: $(marked) marked lines"
grep -q '^\* host ' "$W/dev_out.txt" || fail "host: the host line is not marked"
grep -q '^selected: host' "$W/dev_out.txt" || fail "host: no 'selected: host'"
check_fields || fail "device lines lack fields"

# default rule: exactly one marked line
if ! run CLATTN_DEVICE=; then fail "default selector exited non-zero"; fi
[ "$(marked)" -eq 1 ] || fail "default: $(marked) marked lines"

# --device overrides the environment
env CLATTN_DEVICE=no-such-device "$CLATTN" devices --device host >"$W/dev_out.txt" 2>"$W/dev_err.txt" || fail "--device host exited non-zero"
grep -q '^\* host ' "$W/dev_out.txt" || fail "--device host: host not marked"

# each OpenCL backend, when present
for spec in "portable:Portable Computing Language" "rusticl:rusticl"; do
    sel=${spec%%:*}
    plat=${spec#*:}
    if run CLATTN_DEVICE="$sel" RUSTICL_ENABLE=llvmpipe; then
        [ "$(marked)" -eq 1 ] || fail "$sel: $(marked) marked lines"
        grep -q '^\* device ' "$W/dev_out.txt" || fail "$sel: no device line marked"
        marked_platform | grep -qF "\"$plat\"" || fail "$sel: marked device is not on platform '$plat'"
        grep -q '^selected: opencl ' "$W/dev_out.txt" || fail "$sel: no 'selected: opencl'"
        echo "ok: $sel -> $(grep '^\* ' "$W/dev_out.txt")"
    elif grep -q 'device not found' "$W/dev_err.txt"; then
        echo "skip: no '$sel' device here"
    else
        fail "$sel: exited non-zero"
    fi
done

# a selector matching nothing: listing printed, nothing marked, one error line, exit 1
run CLATTN_DEVICE=no-such-device
rc=$?
[ "$rc" -eq 1 ] || fail "no-such-device: exit $rc, expected 1"
[ "$(marked)" -eq 0 ] || fail "no-such-device: a line is marked"
[ "$(wc -l <"$W/dev_err.txt")" -eq 1 ] || fail "no-such-device: stderr is not one line"
grep -q '^clattn: error: device not found' "$W/dev_err.txt" || fail "no-such-device: no 'device not found'"
grep -q '^selected: none' "$W/dev_out.txt" || fail "no-such-device: no 'selected: none'"

# ICDs that list a platform with no devices (issue #5 item 7). Mesa's Clover (mesa.icd) has no device
# on a machine without a GPU; rusticl (rusticl.icd) has none unless RUSTICL_ENABLE names a driver.
# Only that ICD loaded (OCL_ICD_VENDORS for ocl-icd, OCL_ICD_FILENAMES for the Khronos loader): the listing
# shows the empty platform, the default rule falls back to the host (README, "Choosing the device"), and
# selectors naming that platform or any GPU fail with 'device not found'. Where the platform does have a
# device (a GPU driven by Clover), the case is skipped.
VENDORS=${OCL_ICD_VENDORS_DIR:-/etc/OpenCL/vendors}
for spec in mesa:clover rusticl:rusticl; do
    icd=${spec%%:*}
    plat=${spec#*:}
    f=$VENDORS/$icd.icd
    if [ ! -f "$f" ]; then echo "skip: no $f"; continue; fi
    only="OCL_ICD_VENDORS=$f OCL_ICD_FILENAMES=$(cat "$f") RUSTICL_ENABLE="
    # shellcheck disable=SC2086 # $only is a list of assignments
    if ! run $only CLATTN_DEVICE=; then
        fail "$icd only: default selector exited non-zero"
        continue
    fi
    if ! grep -q '^platform ' "$W/dev_out.txt"; then echo "skip: $f lists no platform here"; continue; fi
    if grep '^platform ' "$W/dev_out.txt" | grep -qv '(no devices)'; then
        echo "skip: the platform of $f has devices here"
        continue
    fi
    grep -q '^\* host ' "$W/dev_out.txt" || fail "$icd only: default did not fall back to the host"
    grep -q '^selected: host' "$W/dev_out.txt" || fail "$icd only: no 'selected: host'"
    for sel in "$plat" ":gpu:"; do
        # shellcheck disable=SC2086
        run $only CLATTN_DEVICE="$sel"
        rc=$?
        [ "$rc" -eq 1 ] || fail "$icd only, CLATTN_DEVICE=$sel: exit $rc, expected 1"
        grep -q '^clattn: error: device not found' "$W/dev_err.txt" || fail "$icd only, $sel: no 'device not found'"
    done
    echo "ok: $icd.icd only -> empty platform listed, default = host, '$plat' and ':gpu:' = device not found"
done

echo "$failures failures"
[ "$failures" -eq 0 ]
