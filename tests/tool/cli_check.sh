# Sourced by the CLI shell tests (CHECK_DIR: a folder of their own for the output files): check WANT_RC SUBSTRING cmd... runs cmd and
# counts a failure unless it exits WANT_RC with exactly one stderr line "clattn: error: ...SUBSTRING..."
# (WANT_RC 0: success with stderr empty). The script ends with: echo "$count checks, $failures failures".
failures=0
count=0

check() { # check WANT_RC SUBSTRING cmd...   (WANT_RC 0: success, stderr empty)
    want=$1
    pat=$2
    shift 2
    count=$((count + 1))
    "$@" >"$CHECK_DIR/cli_out.txt" 2>"$CHECK_DIR/cli_err.txt"
    rc=$?
    lines=$(wc -l <"$CHECK_DIR/cli_err.txt")
    why=""
    if [ "$rc" -ne "$want" ]; then
        why="exit code $rc, expected $want"
    elif [ "$want" -ne 0 ]; then
        if [ "$lines" -ne 1 ]; then
            why="$lines stderr lines, expected 1"
        elif ! grep -q '^clattn: error: ' "$CHECK_DIR/cli_err.txt"; then
            why="stderr does not start with 'clattn: error: '"
        elif ! grep -qF -- "$pat" "$CHECK_DIR/cli_err.txt"; then
            why="stderr lacks '$pat'"
        fi
    elif [ "$lines" -ne 0 ]; then
        why="unexpected stderr"
    fi
    if [ -n "$why" ]; then
        failures=$((failures + 1))
        echo "FAIL: $*"
        echo "      $why"
        sed 's/^/      stderr: /' "$CHECK_DIR/cli_err.txt"
    fi
}


fail() { # fail WHAT: counts a failed check that is not a command's exit code and stderr
    count=$((count + 1))
    failures=$((failures + 1))
    echo "FAIL: $*"
}
