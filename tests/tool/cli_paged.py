#!/usr/bin/env python3
"""tool.cli.paged.<backend>: `clattn sdpa --block-table T.npy --seq-lens L.npy` (a paged KV cache: --key/--value are
pools [num_blocks, block_size, Hkv, D]) on random pools with shuffled blocks against a NumPy reference that gathers
each sequence's keys through the table (vLLM / FlashAttention block_table convention), with --expect at 1e-4:
decode and bottom-right causal chunked prefill, GQA, block sizes 16 and 32, lengths 0 and 1 among them, and
--kv-lengths instead of --seq-lens; plus the usage errors (no lengths, both, a table of the wrong dtype, an
out-of-range entry). Exit 77 without numpy.

usage: cli_paged.py CLATTN_BINARY WORK_DIR   (the device comes from CLATTN_DEVICE)
"""
import os
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("numpy is not importable: skipped")
    sys.exit(77)

CLI, WORK = sys.argv[1], sys.argv[2]
os.makedirs(WORK, exist_ok=True)
rng = np.random.default_rng(20261205)
failures = 0


def path(name):
    return os.path.join(WORK, name)


def run(args):
    return subprocess.run([CLI, "sdpa"] + args, capture_output=True, text=True)


def reference(q, kp, vp, table, lens, causal):
    B, Hq, Lq, D = q.shape
    bs, Hkv = kp.shape[1], kp.shape[2]
    out = np.zeros((B, Hq, Lq, vp.shape[3]))
    for b in range(B):
        L = int(lens[b])
        if L == 0:
            continue
        K = np.stack([kp[table[b, j // bs], j % bs] for j in range(L)]).astype(np.float64)
        V = np.stack([vp[table[b, j // bs], j % bs] for j in range(L)]).astype(np.float64)
        for h in range(Hq):
            hk = h // (Hq // Hkv)
            for i in range(Lq):
                last = L - Lq + i if causal else L - 1
                if last < 0:
                    continue
                s = K[: last + 1, hk] @ q[b, h, i].astype(np.float64) / np.sqrt(D)
                p = np.exp(s - s.max())
                out[b, h, i] = (p / p.sum()) @ V[: last + 1, hk]
    return out.astype(np.float32)


def case(name, B, Hq, Hkv, Lq, D, bs, mb, lens, causal, use_kv_lengths=False):
    global failures
    lens = np.array(lens, np.int32)
    used = int(sum((int(l) + bs - 1) // bs for l in lens))
    nb = used + 2
    perm = rng.permutation(nb).astype(np.int32)
    table = np.full((B, mb), 12345, np.int32)  # entries past a sequence's blocks are never read
    k = 0
    for b in range(B):
        for i in range((int(lens[b]) + bs - 1) // bs):
            table[b, i] = perm[k]
            k += 1
    kp = rng.standard_normal((nb, bs, Hkv, D)).astype(np.float32)
    vp = rng.standard_normal((nb, bs, Hkv, D)).astype(np.float32)
    q = rng.standard_normal((B, Hq, Lq, D)).astype(np.float32)
    for n, a in (("q", q), ("kp", kp), ("vp", vp), ("bt", table), ("lens", lens)):
        np.save(path(f"{name}_{n}.npy"), a)
    np.save(path(f"{name}_ref.npy"), reference(q, kp, vp, table, lens, causal))
    args = ["--query", path(f"{name}_q.npy"), "--key", path(f"{name}_kp.npy"), "--value", path(f"{name}_vp.npy"),
            "--block-table", path(f"{name}_bt.npy"), "--out", path(f"{name}_out.npy"),
            "--expect", path(f"{name}_ref.npy"), "--tol", "1e-4"]
    args += ["--kv-lengths", ",".join(str(int(l)) for l in lens)] if use_kv_lengths else ["--seq-lens", path(f"{name}_lens.npy")]
    if causal:
        args += ["--causal", "bottom-right"]
    r = run(args)
    if r.returncode != 0 or "max_abs_err=" not in r.stdout:
        print(f"FAIL {name}: exit {r.returncode}\n{r.stdout}{r.stderr}")
        failures += 1
    else:
        print(f"ok   {name}: {r.stdout.strip().splitlines()[-1]}")
    return args


args = case("decode", 4, 8, 2, 1, 32, 16, 5, [0, 1, 80, 37], False)
case("prefill", 2, 4, 4, 9, 16, 32, 3, [70, 9], True)
case("kvl", 3, 2, 1, 2, 8, 16, 2, [17, 32, 2], True, use_kv_lengths=True)

# the ASan run may hide the backend: no device, skip (77) as the C tests do
probe = run(args)
if "device not found" in probe.stderr.lower() or "matches no device" in probe.stderr:
    print("device absent: skipped")
    sys.exit(77)

# usage errors: exit 2 (no lengths, both lengths) and 1 (bad table file, out-of-range entry)
base = [a for a in args if True]
i = base.index("--kv-lengths") if "--kv-lengths" in base else base.index("--seq-lens")
no_lens = base[:i] + base[i + 2:]
for what, a, want, needle in (
    ("no lengths", no_lens, 2, "needs the sequence lengths"),
    ("both lengths", no_lens + ["--seq-lens", path("decode_lens.npy"), "--kv-lengths", "0,1,80,37"], 2, "give one"),
    ("table dtype", [x if x != path("decode_bt.npy") else path("decode_kp.npy") for x in base], 1, "must be int32"),
):
    r = run(a)
    if r.returncode != want or needle not in r.stderr:
        print(f"FAIL error '{what}': exit {r.returncode} (want {want}), stderr {r.stderr.strip()!r} (want {needle!r})")
        failures += 1
    else:
        print(f"ok   error '{what}': {r.stderr.strip()}")
bt = np.load(path("decode_bt.npy"))
bt[2, 1] = 99  # sequence 2 (length 80) reads block 1
np.save(path("decode_bad_bt.npy"), bt)
r = run([x if x != path("decode_bt.npy") else path("decode_bad_bt.npy") for x in base])
if r.returncode != 1 or "block_table[2][1] is 99" not in r.stderr:
    print(f"FAIL error 'entry': exit {r.returncode}, stderr {r.stderr.strip()!r}")
    failures += 1
else:
    print(f"ok   error 'entry': {r.stderr.strip()}")

print("cli_paged: %s" % ("OK" if failures == 0 else f"{failures} FAILED"))
sys.exit(1 if failures else 0)
