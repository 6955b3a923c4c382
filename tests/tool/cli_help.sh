#!/bin/sh
# Help and docs: every option in a command's table in tools/clattn.c (what the parser accepts) appears
# in that command's --help; clattn --help lists --version and the exit codes; docs/clattn.md is exactly
# `clattn help --markdown`. usage: cli_help.sh CLATTN SOURCE_DIR WORKDIR
CLATTN=$1
SRC=$2
W=$3
failures=0
fail() { failures=$((failures + 1)); echo "FAIL: $*"; }
for cmd in devices kernels sdpa mha; do
    # the table "static opt <cmd>_opts[] = { ... };" (sdpa/mha also ATTN_OPTIONS)
    names=$(sed -n "/^static opt ${cmd}_opts\[\] = {/,/^};/p" "$SRC/tools/clattn.c" | grep -o '{"[a-z-]*"' | tr -d '{"')
    if sed -n "/^static opt ${cmd}_opts\[\] = {/,/^};/p" "$SRC/tools/clattn.c" | grep -q ATTN_OPTIONS; then
        names="$names $(sed -n '/^#define ATTN_OPTIONS/,/^$/p' "$SRC/tools/clattn.c" | grep -o '{"[a-z-]*"' | tr -d '{"')"
    fi
    [ -n "$names" ] || fail "$cmd: no option table found in tools/clattn.c"
    "$CLATTN" "$cmd" --help >"$W/help_$cmd.txt" || fail "$cmd --help exited non-zero"
    for n in $names help; do
        grep -qE -- "^  --$n( |\$)" "$W/help_$cmd.txt" || fail "$cmd --help does not describe --$n"
    done
done
"$CLATTN" --help >"$W/help_main.txt" || fail "clattn --help exited non-zero"
for w in "--version" "Exit codes: 0 success; 1 input or runtime error" "2 bad command line"; do
    grep -qF -- "$w" "$W/help_main.txt" || fail "clattn --help lacks '$w'"
done
if grep -q 77 "$W/help_main.txt"; then fail "clattn --help mentions 77"; fi
"$CLATTN" help --markdown >"$W/clattn.md" || fail "clattn help --markdown exited non-zero"
if ! diff -u "$SRC/docs/clattn.md" "$W/clattn.md"; then
    fail "docs/clattn.md differs from 'clattn help --markdown': regenerate it with" \
         "build/tools/clattn help --markdown > docs/clattn.md"
fi
echo "$failures failures"
[ "$failures" -eq 0 ]
