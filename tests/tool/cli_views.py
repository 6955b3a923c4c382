#!/usr/bin/env python3
"""tool.cli.views.<backend>: `clattn axial | temporal | area | channel | additive | global-local | sinkhorn` on random .npy arrays against NumPy
references written from the papers' definitions (independent of the library's views), with --expect /
--expect-probs / --expect-scales at 1e-4, plus the usage errors (N not a multiple of --area, a bad --axis).
channel follows torchvision.ops.SqueezeExcitation's forward (avgpool, fc1 1x1 conv, ReLU, fc2, sigmoid,
scale * input) with its [R, C, 1, 1] conv weights, and CBAM's shared MLP over avg and max pools. torchvision
itself is not run here (no CPU-only torch wheel on PyPI). Exit 77 without numpy.

usage: cli_views.py CLATTN_BINARY WORK_DIR   (the device comes from CLATTN_DEVICE)
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
rng = np.random.default_rng(20240607)
failures = 0

# The backend from CLATTN_DEVICE may be absent here (the ASan run hides rusticl): skip (77) as the C tests do
# when the selector matches no device, never a pass.
_probe = os.path.join(WORK, "probe.npy")
np.save(_probe, np.ones((1, 2, 2), np.float32))
_r = subprocess.run([CLI, "axial", "--axis", "0", "--query", _probe, "--key", _probe, "--value", _probe, "--out",
                     os.path.join(WORK, "probe_out.npy")], capture_output=True, text=True)
if _r.returncode != 0 and "device not found" in _r.stderr:
    print("SKIP: " + _r.stderr.strip())
    sys.exit(77)


def attn(q, k, v, causal=False, scale=None):
    """softmax(q k^T * scale) v over the last two axes (..., L, D)."""
    s = (q.astype(np.float64) @ np.swapaxes(k.astype(np.float64), -1, -2)) * (
        scale if scale else 1.0 / np.sqrt(q.shape[-1]))
    if causal:
        L = s.shape[-1]
        s = np.where(np.tril(np.ones((L, L), bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return p @ v.astype(np.float64), p


def save(name, a):
    path = os.path.join(WORK, name)
    np.save(path, a.astype(np.float32))
    return path


def run(name, args, expect_rc=0, needle=None):
    global failures
    r = subprocess.run([CLI] + args, capture_output=True, text=True)
    ok = r.returncode == expect_rc and (needle is None or needle in r.stderr)
    print(("ok   " if ok else "FAIL ") + name + ": rc=%d %s %s" % (r.returncode, r.stdout.strip(), r.stderr.strip()))
    if not ok:
        failures += 1


def io(prefix, q, k, v, o, p):
    return ["--query", save(prefix + "_q.npy", q), "--key", save(prefix + "_k.npy", k), "--value",
            save(prefix + "_v.npy", v), "--out", os.path.join(WORK, prefix + "_o.npy"), "--probs",
            os.path.join(WORK, prefix + "_p.npy"), "--expect", save(prefix + "_oref.npy", o), "--expect-probs",
            save(prefix + "_pref.npy", p)]


# axial [B, H, X, Y, D] along X (causal) and Y, Dv != D
B, H, X, Y, D, Dv = 2, 3, 7, 5, 8, 6
q, k = rng.standard_normal((2, B, H, X, Y, D))
v = rng.standard_normal((B, H, X, Y, Dv))
sw = lambda a: np.swapaxes(a, 2, 3)  # [B, H, Y, X, .]
o, p = attn(sw(q), sw(k), sw(v), causal=True)
run("axial along X, causal", ["axial"] + io("ax", q, k, v, sw(o), p) + ["--axis", "2", "--causal", "top-left"])
o, p = attn(q, k, v)
run("axial along Y (--axis -1)", ["axial"] + io("ay", q, k, v, o, p) + ["--axis", "-1"])

# temporal [B, T, S, C], C = heads * Dh: per (b, s, h) along T
B, T, S, Hh, Dh = 2, 6, 5, 3, 8
q, k, v = rng.standard_normal((3, B, T, S, Hh * Dh))
split = lambda a: a.reshape(B, T, S, Hh, Dh).transpose(0, 2, 3, 1, 4)  # [B, S, H, T, Dh]
o, p = attn(split(q), split(k), split(v), causal=True)
o = o.transpose(0, 3, 1, 2, 4).reshape(B, T, S, Hh * Dh)
run("temporal causal", ["temporal"] + io("tm", q, k, v, o, p) + ["--num-heads", str(Hh), "--causal", "top-left"])

# area [B, N, C]: N = 24 positions in 4 segments, as ultralytics' AAttn reshapes (B*area, N/area, C)
B, N, Hh, Dh, A = 2, 24, 2, 8, 4
q, k, v = rng.standard_normal((3, B, N, Hh * Dh))
seg = lambda a: a.reshape(B, A, N // A, Hh, Dh).transpose(0, 1, 3, 2, 4)  # [B, A, H, N/A, Dh]
o, p = attn(seg(q), seg(k), seg(v))
o = o.transpose(0, 1, 3, 2, 4).reshape(B, N, Hh * Dh)
run("area 4", ["area"] + io("ar", q, k, v, o, p) + ["--num-heads", str(Hh), "--area", str(A)])

# channel attention: torchvision SqueezeExcitation (conv 1x1 weights [R, C, 1, 1] with biases) and CBAM
B, C, H, W, R = 2, 24, 7, 5, 6
x = rng.standard_normal((B, C, H, W))
w1, w2 = rng.standard_normal((R, C, 1, 1)) / np.sqrt(C), rng.standard_normal((C, R, 1, 1)) / np.sqrt(R)
b1, b2 = rng.standard_normal(R) * 0.5, rng.standard_normal(C) * 0.5
mlp = lambda p: np.maximum(p @ w1[:, :, 0, 0].T + b1, 0) @ w2[:, :, 0, 0].T + b2  # p: [B, C]
sig = lambda z: 1 / (1 + np.exp(-z))
ch_args = ["--input", save("ch_x.npy", x), "--w1", save("ch_w1.npy", w1), "--b1", save("ch_b1.npy", b1), "--w2",
           save("ch_w2.npy", w2), "--b2", save("ch_b2.npy", b2), "--out", os.path.join(WORK, "ch_o.npy"),
           "--scales", os.path.join(WORK, "ch_s.npy")]
s_se = sig(mlp(x.mean(axis=(2, 3))))
run("channel SE", ["channel"] + ch_args + ["--expect", save("ch_oref.npy", x * s_se[:, :, None, None]),
    "--expect-scales", save("ch_sref.npy", s_se)])
s_cb = sig(mlp(x.mean(axis=(2, 3))) + mlp(x.max(axis=(2, 3))))
run("channel CBAM avg-max", ["channel"] + ch_args + ["--pool", "avg-max", "--expect",
    save("cb_oref.npy", x * s_cb[:, :, None, None]), "--expect-scales", save("cb_sref.npy", s_cb)])

# additive (Bahdanau) attention with a bool mask [B, Lq, Lk], bottom-right causal and key lengths
B, Lq, Lk, Dq, Dk, Dv, A = 2, 5, 9, 6, 7, 4, 8
q, k, v = rng.standard_normal((B, Lq, Dq)), rng.standard_normal((B, Lk, Dk)), rng.standard_normal((B, Lk, Dv))
wq, wk = rng.standard_normal((A, Dq)) / np.sqrt(Dq), rng.standard_normal((A, Dk)) / np.sqrt(Dk)
we, bb = rng.standard_normal(A), rng.standard_normal(A) * 0.5
mask = rng.random((B, Lq, Lk)) < 0.8
kvl = [6, 9]
e = np.tanh((q @ wq.T)[:, :, None, :] + (k @ wk.T + bb)[:, None, :, :]) @ we  # [B, Lq, Lk] (small here)
allowed = mask.copy()
for b in range(B):
    for i in range(Lq):
        for j in range(Lk):
            allowed[b, i, j] &= j < kvl[b] and j <= i + kvl[b] - Lq
e = np.where(allowed, e, -np.inf)
mx = np.max(np.where(allowed, e, -1e300), axis=-1, keepdims=True)
w = np.where(allowed, np.exp(e - mx), 0)
s = w.sum(-1, keepdims=True)
p = np.divide(w, s, out=np.zeros_like(w), where=s > 0)
o = p @ v
np.save(os.path.join(WORK, "ad_mask.npy"), mask)
run("additive bool mask, causal bottom-right, kv-lengths", ["additive", "--query", save("ad_q.npy", q), "--key",
    save("ad_k.npy", k), "--value", save("ad_v.npy", v), "--w-q", save("ad_wq.npy", wq), "--w-k", save("ad_wk.npy", wk),
    "--w-e", save("ad_we.npy", we), "--bias", save("ad_b.npy", bb), "--mask", os.path.join(WORK, "ad_mask.npy"),
    "--causal", "bottom-right", "--kv-lengths", "6,9", "--out", os.path.join(WORK, "ad_o.npy"), "--probs",
    os.path.join(WORK, "ad_p.npy"), "--expect", save("ad_oref.npy", o), "--expect-probs", save("ad_pref.npy", p)])

# global-local (Longformer) attention: window 2, globals {0, 7}, separate global projections
B, H, L, D, W = 2, 2, 11, 8, 2
glob = [0, 7]
q, k, v, qg, kg, vg = rng.standard_normal((6, B, H, L, D))
isg = np.zeros(L, bool)
isg[glob] = True
idx = np.arange(L)
allowed = (np.abs(idx[:, None] - idx[None, :]) <= W) | isg[None, :] | isg[:, None]
o_l, p_l = attn(q, k, v)  # unmasked, replaced below
s = (q @ np.swapaxes(k, -1, -2)) / np.sqrt(D)
s = np.where(allowed, s, -np.inf)
p = np.exp(s - s.max(-1, keepdims=True))
p /= p.sum(-1, keepdims=True)
o = p @ v
og, pg = attn(qg, kg, vg)  # global rows: every key, the global projections
o[:, :, glob] = og[:, :, glob]
p[:, :, glob] = pg[:, :, glob]
run("global-local window 2, globals 0,7, global projections", ["global-local", "--query", save("gl_q.npy", q),
    "--key", save("gl_k.npy", k), "--value", save("gl_v.npy", v), "--global-query", save("gl_qg.npy", qg),
    "--global-key", save("gl_kg.npy", kg), "--global-value", save("gl_vg.npy", vg), "--local-window", "2", "--globals",
    "0,7", "--out", os.path.join(WORK, "gl_o.npy"), "--probs", os.path.join(WORK, "gl_p.npy"), "--expect",
    save("gl_oref.npy", o), "--expect-probs", save("gl_pref.npy", p)])

# sparse Sinkhorn attention: L 12 in blocks of 4, tau 0.5, 5 iterations, soft permutation written
B, H, L, D, Dv, b, tau, iters = 2, 3, 12, 8, 5, 4, 0.5, 5
nb = L // b
q, k = rng.standard_normal((2, B, H, L, D))
v = rng.standard_normal((B, H, L, Dv))
R = rng.standard_normal((B, H, nb, nb))
S = R.astype(np.float32).astype(np.float64) / np.float64(np.float32(tau))
for _ in range(iters):
    m = S.max(-1, keepdims=True)
    S = S - (m + np.log(np.exp(S - m).sum(-1, keepdims=True)))
    m = S.max(-2, keepdims=True)
    S = S - (m + np.log(np.exp(S - m).sum(-2, keepdims=True)))
P = np.exp(S)
q32, k32, v32 = (a.astype(np.float32).astype(np.float64) for a in (q, k, v))
kb, vb = k32.reshape(B, H, nb, b, D), v32.reshape(B, H, nb, b, Dv)
ks, vs = np.einsum("bhij,bhjrd->bhird", P, kb), np.einsum("bhij,bhjrd->bhird", P, vb)
o, _ = attn(q32.reshape(B, H, nb, b, D), np.concatenate([kb, ks], 3), np.concatenate([vb, vs], 3))
run("sinkhorn b 4, tau 0.5, 5 iterations, perm", ["sinkhorn", "--query", save("sk_q.npy", q), "--key",
    save("sk_k.npy", k), "--value", save("sk_v.npy", v), "--sort-logits", save("sk_r.npy", R), "--block-size", "4",
    "--tau", "0.5", "--iters", "5", "--out", os.path.join(WORK, "sk_o.npy"), "--perm", os.path.join(WORK, "sk_p.npy"),
    "--expect", save("sk_oref.npy", o.reshape(B, H, L, Dv)), "--expect-perm", save("sk_pref.npy", P)])
run("sinkhorn: --block-size not dividing L", ["sinkhorn", "--query", save("sk_q.npy", q), "--key",
    save("sk_k.npy", k), "--value", save("sk_v.npy", v), "--sort-logits", save("sk_r.npy", R), "--block-size", "5",
    "--out", os.path.join(WORK, "sk_o2.npy")], 1, "--block-size does not divide L")

# usage errors
qa = save("bad_q.npy", rng.standard_normal((1, 10, 16)))
run("area: N not a multiple of --area", ["area", "--query", qa, "--key", qa, "--value", qa, "--out",
    os.path.join(WORK, "bad_o.npy"), "--num-heads", "2", "--area", "4"], 1, "is not a multiple of area 4")
run("axial: --axis out of range", ["axial", "--query", qa, "--key", qa, "--value", qa, "--out",
    os.path.join(WORK, "bad_o.npy"), "--axis", "2"], 2, "--axis: 2, expected 0..1")
sys.exit(1 if failures else 0)
