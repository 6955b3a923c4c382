#!/usr/bin/env python3
"""tool.ring.*: clattn-ring under mpirun on .npy files against a NumPy float64 reference.

usage: cli_ring.py MPIRUN CLATTN_RING WORKDIR NP
Random q/k/v (seeded, printed), the reference computed here (softmax(q k^T / sqrt(D) + masks) v over the whole
sequence), then `mpirun -np NP clattn-ring ... --expect ref.npy` for contiguous and striped sharding, with and
without a causal mask and kv_lengths; plus two failures that must exit 1 (a length not divisible by the ranks)
and 2 (an unknown option). Exits 77 without numpy.
"""
import os
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("SKIP: numpy is not importable")
    sys.exit(77)

mpirun, tool, work, nranks = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
os.makedirs(work, exist_ok=True)
seed = 20261205
rng = np.random.default_rng(seed)
B, Hq, Hkv, D, Dv = 2, 4, 2, 16, 8
L = 6 * nranks
q = rng.uniform(-1, 1, (B, Hq, L, D)).astype(np.float32)
k = rng.uniform(-1, 1, (B, Hkv, L, D)).astype(np.float32)
v = rng.uniform(-1, 1, (B, Hkv, L, Dv)).astype(np.float32)
kvl = [L - 5, L]


def reference(causal, lengths):
    qd, kd, vd = (x.astype(np.float64) for x in (q, k, v))
    kd = np.repeat(kd, Hq // Hkv, axis=1)
    vd = np.repeat(vd, Hq // Hkv, axis=1)
    s = qd @ kd.transpose(0, 1, 3, 2) / np.sqrt(D)
    allowed = np.ones((B, 1, L, L), dtype=bool)
    if causal:
        allowed &= np.tril(np.ones((L, L), dtype=bool))[None, None]
    if lengths:
        for b in range(B):
            allowed[b, :, :, lengths[b]:] = False
    s = np.where(allowed, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    p = np.where(allowed, np.exp(s - np.where(np.isfinite(m), m, 0)), 0)
    den = p.sum(axis=-1, keepdims=True)
    out = np.where(den > 0, (p / np.where(den > 0, den, 1)) @ vd, 0)
    return out.astype(np.float32)


for name, arr in (("q", q), ("k", k), ("v", v)):
    np.save(os.path.join(work, name + ".npy"), arr)
qf, kf, vf = (os.path.join(work, n + ".npy") for n in ("q", "k", "v"))
base = [mpirun, "--oversubscribe", "--allow-run-as-root", "-np", str(nranks), tool, "--query", qf, "--key", kf,
        "--value", vf]
failures = 0
for causal in (False, True):
    for striped in (False, True):
        for lengths in (None, kvl):
            ref = reference(causal, lengths)
            ef = os.path.join(work, "ref.npy")
            np.save(ef, ref)
            of = os.path.join(work, "out.npy")
            if os.path.exists(of):
                os.remove(of)
            cmd = base + ["--expect", ef, "--out", of, "--tol", "2e-5"]
            cmd += ["--causal"] if causal else []
            cmd += ["--striped"] if striped else []
            cmd += ["--kv-lengths", ",".join(map(str, lengths))] if lengths else []
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            what = f"causal={causal} striped={striped} kv_lengths={lengths}"
            ok = r.returncode == 0 and "max_abs_err=" in r.stdout and os.path.exists(of)
            if ok:
                got = np.load(of)
                ok = got.shape == ref.shape and np.max(np.abs(got - ref)) <= 2e-5
            print(("ok   " if ok else "FAIL ") + what + ": " + r.stdout.strip())
            if not ok:
                print(r.stderr, file=sys.stderr)
                failures += 1
# failures the tool must report with its exit codes
np.save(os.path.join(work, "q_odd.npy"), q[:, :, : L - 1])
r = subprocess.run(base[:-6] + ["--query", os.path.join(work, "q_odd.npy"), "--key", kf, "--value", vf],
                   capture_output=True, text=True, timeout=120)
if nranks > 1 and (r.returncode != 1 or "multiples of the" not in r.stderr):
    print(f"FAIL odd length: exit {r.returncode}, stderr {r.stderr!r}")
    failures += 1
r = subprocess.run(base + ["--bogus"], capture_output=True, text=True, timeout=120)
if r.returncode != 2 or "--bogus: unknown option" not in r.stderr:
    print(f"FAIL unknown option: exit {r.returncode}, stderr {r.stderr!r}")
    failures += 1
print(f"seed {seed}, {nranks} ranks, {failures} failures")
sys.exit(1 if failures else 0)
