#!/bin/sh
# Outputs are never lost: sdpa/mha write each output to a temporary file in its directory and rename it
# into place only when the whole run succeeded. A failed or interrupted run leaves an existing file
# byte-identical and no temporary file behind; bad output paths fail before any computation; two
# options naming one file are a usage error (2). usage: cli_outputs.sh CLATTN WORKDIR MINILM_DIR
CLATTN=$1
W=$2
D=$3
export CLATTN_DEVICE=host
T="$W/outputs"
rm -rf "$T" "$W/outputs_check"
mkdir -p "$T" "$W/outputs_check"
CHECK_DIR="$W/outputs_check"
. "$(dirname "$0")/cli_check.sh"

QKV="--query $D/layer0_q.npy --key $D/layer0_k.npy --value $D/layer0_v.npy"
E="$T/exist.npy"
printf 'precious contents\n' >"$E"
cp "$E" "$T/exist.orig"

no_temps() { # no_temps WHAT: no temporary output file is left in $T
    left=$(ls -A "$T" | grep '\.clattn-' || true)
    [ -z "$left" ] || fail "$1: temporary files left: $left"
}
intact() { # intact WHAT: the existing output is byte-identical
    cmp -s "$E" "$T/exist.orig" || fail "$1: $E was changed"
    no_temps "$1"
}

# a write that fails (file-size limit: the temporary file hits RLIMIT_FSIZE; 4 blocks < the 67 KB output)
check 1 "write failed: File too large" sh -c 'ulimit -f 4; exec "$@"' sh "$CLATTN" sdpa $QKV --out "$E"
intact "RLIMIT_FSIZE"
# --probs unwritable: found before anything is computed or --out touched
check 1 "--probs: $T/no-such-dir/p.npy: cannot open for writing" "$CLATTN" sdpa $QKV --out "$E" --probs "$T/no-such-dir/p.npy"
intact "--probs in a missing directory"
# a directory as an output
check 1 "--out: $T: cannot open for writing: is a directory" "$CLATTN" sdpa $QKV --out "$T"
check 1 "is a directory" "$CLATTN" sdpa $QKV --out "$E" --probs "$T/"
intact "directory as --probs"
# an unwritable directory. Root writes to a mode-555 directory anyway, so as root the run drops to
# nobody (setpriv, util-linux); the binary, its libraries and the inputs must be readable by nobody,
# which the probe checks (--version through the same setpriv) before the real check.
mkdir "$T/ro"
chmod 555 "$T/ro"
AS=""
if [ "$(id -u)" -eq 0 ]; then
    AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
    if ! command -v setpriv >/dev/null 2>&1 || ! $AS "$CLATTN" --version >/dev/null 2>&1 ||
        ! $AS test -r "$D/layer0_q.npy" || ! $AS test -x "$T"; then
        AS="skip"
    fi
fi
if [ "$AS" = skip ]; then
    echo "SKIP: unwritable directory (root, and nobody cannot run $CLATTN on $D here)"
else
    check 1 "--out: $T/ro/o.npy: cannot open for writing: Permission denied" $AS "$CLATTN" sdpa $QKV --out "$T/ro/o.npy"
    [ -z "$(ls -A "$T/ro")" ] || fail "unwritable directory: $T/ro is not empty"
fi
chmod 755 "$T/ro"
# the same file twice: spelled differently, through a symlinked directory, through a symlink to the file
ln -s . "$T/again"
ln -s exist.npy "$T/link.npy"
check 2 "--out and --probs name the same file" "$CLATTN" sdpa $QKV --out "$E" --probs "$T/./exist.npy"
check 2 "--out and --probs name the same file" "$CLATTN" sdpa $QKV --out "$T/new.npy" --probs "$T/again/new.npy"
check 2 "--out and --probs name the same file" "$CLATTN" mha --params "$D/layer0_mha_torch.safetensors" --num-heads 12 --query "$D/layer0_x.npy" --out "$T/link.npy" --probs "$E"
intact "same file twice"
[ ! -e "$T/new.npy" ] || fail "same file twice: $T/new.npy was created"
# a run that fails after computing (--expect over --tol) leaves the existing file as it was
check 1 "exceeds --tol" "$CLATTN" sdpa $QKV --out "$E" --expect "$D/layer0_q.npy"
intact "--expect over --tol"
# ENOSPC: a full device is written directly (never renamed over or removed) and the error reported. As
# root, a private node of /dev/full in $T (a tool that replaced or removed it must not break /dev/full);
# otherwise /dev/full itself, which a non-root process cannot replace.
FULL=/dev/full
if [ "$(id -u)" -eq 0 ]; then
    FULL="$T/full"
    mknod -m 666 "$FULL" c 1 7 2>/dev/null || FULL=""
fi
# (a node on a nodev mount cannot be opened: probe that writing gives ENOSPC)
if [ -n "$FULL" ] && [ -c "$FULL" ] && dd if=/dev/zero of="$FULL" bs=1 count=1 2>&1 | grep -q 'No space left'; then
    check 1 "$FULL: write failed: No space left on device" "$CLATTN" sdpa $QKV --out "$FULL"
    [ -c "$FULL" ] || fail "$FULL is no longer a character device"
    [ "$FULL" = /dev/full ] || rm -f "$FULL"
else
    echo "SKIP: ENOSPC (no full device that can be written)"
    [ "$FULL" = /dev/full ] || rm -f "$FULL"
fi
# success: both outputs in place, the mode follows the umask, no temporary file left
check 0 "" sh -c 'umask 027; exec "$@"' sh "$CLATTN" sdpa $QKV --out "$E" --probs "$T/p.npy" --kv-lengths "$(cat "$D/kv_lengths.txt")" --expect "$D/layer0_context.npy"
[ "$(stat -c %a "$E")" = 640 ] && [ "$(stat -c %a "$T/p.npy")" = 640 ] ||
    fail "umask 027: modes $(stat -c %a "$E") $(stat -c %a "$T/p.npy"), expected 640"
no_temps "success"
cp "$E" "$T/exist.orig"

# SIGTERM / SIGINT / SIGHUP during a long run: dies of the signal (128 + its number), no temporary file,
# the file intact. A background job of a non-interactive shell starts with SIGINT ignored (and the tool
# keeps an ignored signal ignored, as under nohup), so env --default-signal gives it the default first.
[ -f "$W/big_qkv.npy" ] || fail "$W/big_qkv.npy is missing (fixture tool.cli.inputs)"
B="$W/big_qkv.npy"
for signum in TERM:15 INT:2 HUP:1; do
    sig=${signum%:*}
    env --default-signal="$sig" "$CLATTN" sdpa --query "$B" --key "$B" --value "$B" --repeat 1000 --out "$E" \
        --probs "$T/p_sig.npy" >/dev/null 2>&1 &
    pid=$!
    i=0
    while [ $i -lt 100 ] && [ "$(ls -A "$T" | grep -c '\.clattn-')" -lt 2 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    [ $i -lt 100 ] || fail "SIG$sig: the two temporary files did not appear within 10 s"
    kill -"$sig" "$pid"
    wait "$pid"
    rc=$?
    count=$((count + 1))
    want=$((128 + ${signum#*:}))
    [ "$rc" -eq "$want" ] || fail "SIG$sig: exit status $rc, expected $want (killed by SIG$sig)"
    intact "SIG$sig"
    [ ! -e "$T/p_sig.npy" ] || fail "SIG$sig: $T/p_sig.npy was created"
done

echo "$count checks, $failures failures"
[ "$failures" -eq 0 ]
