#!/bin/sh
# CLI error handling: each bad invocation exits non-zero (2 = bad command line incl. bad option values, 1 = input or runtime error) with
# exactly one line "clattn: error: ..." on stderr; malformed files never crash the tool. A few
# option-syntax cases must succeed. usage: cli_errors.sh CLATTN WORKDIR MINILM_DIR
CLATTN=$1
W=$2
D=$3
export CLATTN_DEVICE=host
CHECK_DIR=$W
. "$(dirname "$0")/cli_check.sh"

O="$W/cli_o.npy"
# command line
check 2 "unknown command" "$CLATTN" frobnicate
check 2 "no command given" "$CLATTN"
check 1 "is a directory" "$CLATTN" sdpa --query "$W" --key x --value x --out "$O"
check 1 "not a regular file" "$CLATTN" sdpa --query /dev/zero --key x --value x --out "$O"
check 1 "cannot open for writing" "$CLATTN" sdpa --query "$W/small_q4.npy" --key "$W/small_q4.npy" --value "$W/small_q4.npy" --out "$W/no-such-dir/o.npy"
check 2 "unknown option '--bogus'" "$CLATTN" sdpa --bogus 1
check 2 "unknown option '--bogus'" "$CLATTN" mha --bogus
check 2 "--backend 'gpu' is not opencl or host" "$CLATTN" kernels --backend gpu
check 2 "option --json takes no value" "$CLATTN" kernels --json=yes
check 2 "unexpected argument 'extra'" "$CLATTN" kernels extra
check 0 "" "$CLATTN" kernels --help
check 0 "" "$CLATTN" kernels --json --backend host
check 2 "unknown option '--query'" "$CLATTN" devices --query x
check 2 "needs a value" "$CLATTN" sdpa --query
check 2 "given twice" "$CLATTN" sdpa --out a --out b
check 2 "missing required option --key" "$CLATTN" sdpa --query q.npy --value v.npy --out o.npy
check 2 "unexpected argument" "$CLATTN" sdpa stray
check 2 "--causal" "$CLATTN" sdpa --query q --key k --value v --out o --causal sideways
check 2 "below -1" "$CLATTN" sdpa --query q --key k --value v --out o --window -2,0
check 2 "LEFT,RIGHT" "$CLATTN" sdpa --query q --key k --value v --out o --window 3
check 2 "not an integer" "$CLATTN" sdpa --query q --key k --value v --out o --window 1,x
check 2 "not a finite number" "$CLATTN" sdpa --query q --key k --value v --out o --scale abc
check 2 "non-zero" "$CLATTN" sdpa --query q --key k --value v --out o --scale 0
check 2 ">= 0" "$CLATTN" sdpa --query q --key k --value v --out o --softcap -1
check 2 "together" "$CLATTN" mha --params p --num-heads 2 --query x --key k --out o
check 2 "positive integer" "$CLATTN" mha --params p --num-heads 0 --query x --out o
check 0 "" "$CLATTN" --help
check 0 "" "$CLATTN" sdpa --help
check 0 "" "$CLATTN" --version
check 0 "" "$CLATTN" help mha
check 2 "expected a command" "$CLATTN" help frobnicate

# missing files
check 1 "cannot open" "$CLATTN" sdpa --query "$W/nonexistent.npy" --key x --value x --out "$O"
check 1 "cannot open" "$CLATTN" mha --params "$W/nonexistent.safetensors" --num-heads 2 --query x --out "$O"

# the malformed-file corpus: every file refused, naming it
for f in "$W"/npy_*.npy; do
    check 1 "$(basename "$f")" "$CLATTN" sdpa --query "$f" --key "$f" --value "$f" --out "$O"
    check 1 "$(basename "$f")" "$CLATTN" sdpa --query "$W/small_q4.npy" --key "$W/small_q4.npy" --value "$W/small_q4.npy" --mask "$f" --out "$O"
done
for f in "$W"/st_*.safetensors; do
    check 1 "$(basename "$f")" "$CLATTN" mha --params "$f" --num-heads 2 --query "$W/small_x.npy" --out "$O"
done

# weights: dtype refused naming the tensor; float16 weights with kdim/vdim != E accepted and correct
check 1 "tensor 'in_proj_weight' has dtype I32" "$CLATTN" mha --params "$W/params_i32.safetensors" --num-heads 2 --query "$W/small_x.npy" --out "$O"
check 1 "no attention weights under prefix ''" "$CLATTN" mha --params "$W/small_mha_f16.safetensors" --num-heads 2 --query "$W/small_x.npy" --out "$O"
check 2 "--key and --value" "$CLATTN" mha --params "$W/small_mha_f16.safetensors" --prefix attn. --num-heads 2 --query "$W/small_x.npy" --out "$O"
check 2 "--key and --value" "$CLATTN" mha --params "$W/small_bert_f16.safetensors" --prefix bert. --num-heads 2 --query "$W/small_x.npy" --out "$O"
check 2 "does not divide" "$CLATTN" mha --params "$W/small_mha_f16.safetensors" --prefix attn. --num-heads 3 --query "$W/small_x.npy" --key "$W/small_key.npy" --value "$W/small_value.npy" --out "$O"
check 1 "kdim" "$CLATTN" mha --params "$W/small_mha_f16.safetensors" --prefix attn. --num-heads 2 --query "$W/small_x.npy" --key "$W/small_value.npy" --value "$W/small_value.npy" --out "$O"
check 0 "" "$CLATTN" mha --params "$W/small_mha_f16.safetensors" --prefix attn. --num-heads 2 --query "$W/small_x.npy" --key "$W/small_key.npy" --value "$W/small_value.npy" --out "$O" --expect "$W/small_out_ref.npy" --tol 1e-5
check 1 "must have 4 dimensions" "$CLATTN" sdpa --query "$W/small_x.npy" --key "$W/small_x.npy" --value "$W/small_x.npy" --out "$O"

if [ -f "$D/layer0_q.npy" ] && [ -f "$W/k_bad_d16.npy" ]; then
    Q="$D/layer0_q.npy" K="$D/layer0_k.npy" V="$D/layer0_v.npy"
    check 1 "shape mismatch" "$CLATTN" sdpa --query "$Q" --key "$W/k_bad_d16.npy" --value "$V" --out "$O"
    check 1 "dtype mismatch" "$CLATTN" sdpa --query "$Q" --key "$D/layer0_k_f16.npy" --value "$V" --out "$O"
    check 1 "dtype int32" "$CLATTN" sdpa --query "$D/kv_lengths.npy" --key "$K" --value "$V" --out "$O"
    check 1 "dtype int32" "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O" --mask "$D/kv_lengths.npy"
    check 1 "does not broadcast" "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O" --mask "$W/mask_bad_3k.npy"
    check 1 "does not broadcast" "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O" --mask "$W/mask_rank3_b1k.npy"
    check 2 "outside [0, Lk = 11]" "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O" --kv-lengths 9,12,5,7
    check 2 "outside [0, Lk = 11]" "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O" --kv-lengths 9,-1,5,7
    check 2 "3 values given" "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O" --kv-lengths 9,11,5
    check 1 "does not match the output shape" "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O" --expect "$D/layer0_probs.npy"
    check 1 "exceeds --tol" "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O" --expect "$D/layer0_q.npy"
    check 1 "device not found: device selector 'no-such-platform' matched no device" "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O" --device "no-such-platform"
    check 1 "(selector from --device)" "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O" --device "no-such-platform"
    check 1 "(selector from CLATTN_DEVICE)" env CLATTN_DEVICE=no-such-platform "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O"
    check 1 "try RUSTICL_ENABLE=llvmpipe" env -u RUSTICL_ENABLE "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O" --device rusticl
    check 1 "CLATTN_THREADS: 'abc'" env CLATTN_THREADS=abc "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O"
    # the selector is named once
    "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O" --device no-such-platform 2>"$W/sel_err.txt"
    [ "$(grep -o "'no-such-platform'" "$W/sel_err.txt" | wc -l)" -eq 1 ] || fail "the selector is repeated: $(cat "$W/sel_err.txt")"
    check 1 "did you mean --prefix 'encoder.layer.0.attention.'" "$CLATTN" mha --params "$D/layer0_attn.safetensors" --num-heads 12 --query "$D/layer0_x.npy" --out "$O"
    check 1 "embedding size 384" "$CLATTN" mha --params "$D/layer0_mha_torch.safetensors" --num-heads 12 --query "$W/small_x.npy" --out "$O"
    # option values that begin with '-', "--opt=value", kv-length 0, causal + window together
    check 0 "" "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O" --window -1,4 --causal bottom-right
    check 0 "" "$CLATTN" sdpa --query="$Q" --key="$K" --value="$V" --out="$O" --window=-1,-1 --scale=-0.125
    check 0 "" "$CLATTN" sdpa --query "$Q" --key "$K" --value "$V" --out "$O" --kv-lengths 0,11,0,1 --softcap 30
fi

echo "$count checks, $failures failures"
[ "$failures" -eq 0 ]
