#!/usr/bin/env python3
"""clattn's attention-family commands against the PyTorch-ecosystem modules they follow (issue #11), run when
those modules are importable (skip 77 otherwise: torch is not a dependency; its PyPI wheels are ~6 GB).

usage: cross_torch.py CLATTN WORKDIR [DEVICE ...]
  - channel attention vs torchvision.ops.SqueezeExcitation (random weights, its fc1/fc2 1x1 conv weights
    passed as they are): max |clattn - torchvision| <= 1e-5 (relative to max(1, max|ref|)).
  - global-local attention vs Hugging Face transformers' LongformerSelfAttention (random weights, no download):
    its query/key/value and *_global projections of the same hidden states are given to `clattn global-local`
    (one-sided window = attention_window / 2, the global indices), and its output (before the output dense
    layer) reshaped to [B, H, L, D] is the reference: tolerance 1e-5.
  - area attention vs ultralytics' AAttn (YOLO12's A2 module, random weights): its qkv convolution's output is
    split into the per-head q, k, v views AAttn uses, `clattn area` computes the attention, and AAttn's own pe
    and proj convolutions finish the module: equal to AAttn(x) within 1e-5 (relative to max(1, max|ref|)).
"""
import os
import subprocess
import sys

try:
    import numpy as np
    import torch
    import torchvision
except ImportError as e:
    print(f"SKIP: {e}")
    sys.exit(77)

clattn, work = sys.argv[1], sys.argv[2]
devices = sys.argv[3:] or ["host"]
os.makedirs(work, exist_ok=True)
failures = 0
torch.manual_seed(11)
for (B, C, H, W, R) in ((2, 64, 7, 9, 16), (1, 3, 1, 1, 1), (3, 130, 5, 4, 33)):
    se = torchvision.ops.SqueezeExcitation(C, R).eval()
    for p in se.parameters():  # default init has zero biases: make every term matter
        torch.nn.init.uniform_(p, -0.5, 0.5)
    x = torch.randn(B, C, H, W)
    with torch.no_grad():
        ref = se(x).numpy()
    files = {"x": x.numpy(), "w1": se.fc1.weight.detach().numpy(), "b1": se.fc1.bias.detach().numpy(),
             "w2": se.fc2.weight.detach().numpy(), "b2": se.fc2.bias.detach().numpy(), "ref": ref}
    for n, a in files.items():
        np.save(os.path.join(work, n + ".npy"), a.astype(np.float32))
    f = {n: os.path.join(work, n + ".npy") for n in files}
    for dev in devices:
        cmd = [clattn, "channel", "--input", f["x"], "--w1", f["w1"], "--b1", f["b1"], "--w2", f["w2"], "--b2",
               f["b2"], "--out", os.path.join(work, "out.npy"), "--expect", f["ref"], "--tol", "1e-5",
               "--device", dev]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        ok = r.returncode == 0
        print(("ok   " if ok else "FAIL ") + f"SqueezeExcitation [{B},{C},{H},{W}] r={R} on {dev}: "
              + (r.stdout.strip().splitlines() or [""])[-1] + (r.stderr.strip() if not ok else ""))
        failures += not ok

try:
    import transformers
    from transformers import LongformerConfig
    from transformers.models.longformer.modeling_longformer import LongformerSelfAttention
except ImportError as e:
    transformers = None
    print(f"not run: Longformer (transformers is not importable: {e})")
if transformers is not None:
    for (B, L, H, D, w, glob) in ((2, 32, 4, 16, 4, [0, 5]), (1, 48, 2, 8, 6, [47]), (2, 16, 3, 8, 2, [])):
        E = H * D
        cfg = LongformerConfig(hidden_size=E, num_attention_heads=H, attention_window=[2 * w],
                               attention_probs_dropout_prob=0.0)
        att = LongformerSelfAttention(cfg, layer_id=0).eval()
        for p in att.parameters():
            torch.nn.init.uniform_(p, -0.3, 0.3)
        x = torch.randn(B, L, E)
        mask = torch.zeros(B, L)
        mask[:, glob] = 10000.0  # > 0: global attention, 0: local (LongformerSelfAttention's convention)
        with torch.no_grad():
            out = att(x, attention_mask=mask, is_index_masked=mask < 0, is_index_global_attn=mask > 0,
                      is_global_attn=bool(glob))[0]
            ref = out.reshape(B, L, H, D).permute(0, 2, 1, 3).numpy()
            proj = {n: getattr(att, n)(x).reshape(B, L, H, D).permute(0, 2, 1, 3).numpy()
                    for n in ("query", "key", "value", "query_global", "key_global", "value_global")}
        for n, a in list(proj.items()) + [("ref", ref)]:
            np.save(os.path.join(work, "lf_" + n + ".npy"), np.ascontiguousarray(a, dtype=np.float32))
        f = lambda n: os.path.join(work, "lf_" + n + ".npy")
        for dev in devices:
            cmd = [clattn, "global-local", "--query", f("query"), "--key", f("key"), "--value", f("value"),
                   "--out", os.path.join(work, "lf_out.npy"), "--local-window", str(w), "--expect", f("ref"),
                   "--tol", "1e-5", "--device", dev]
            if glob:
                cmd += ["--globals", ",".join(map(str, glob)), "--global-query", f("query_global"),
                        "--global-key", f("key_global"), "--global-value", f("value_global")]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            ok = r.returncode == 0
            print(("ok   " if ok else "FAIL ") + f"Longformer [B {B}, L {L}, H {H}, D {D}], w {w}, globals {glob} on "
                  f"{dev}: " + (r.stdout.strip().splitlines() or [""])[-1] + (r.stderr.strip() if not ok else ""))
            failures += not ok

try:
    from ultralytics.nn.modules.block import AAttn
except ImportError as e:
    AAttn = None
    print(f"not run: AAttn (ultralytics is not importable: {e})")
if AAttn is not None:
    for (B, C, Hh, Ww, heads, area) in ((2, 64, 8, 10, 2, 4), (1, 32, 5, 5, 1, 1), (1, 96, 6, 6, 3, 3)):
        m = AAttn(C, heads, area).eval()
        for p in m.parameters():
            torch.nn.init.uniform_(p, -0.3, 0.3)
        x = torch.randn(B, C, Hh, Ww)
        N, hd = Hh * Ww, m.head_dim
        with torch.no_grad():
            ref = m(x)
            qkv = m.qkv(x).flatten(2).transpose(1, 2).reshape(B, N, heads, 3 * hd).numpy()
        q, k, v = (np.ascontiguousarray(qkv[..., i * hd:(i + 1) * hd]) for i in range(3))  # AAttn's split
        for n, a in (("q", q), ("k", k), ("v", v)):
            np.save(os.path.join(work, "aa_" + n + ".npy"), a.astype(np.float32))
        f = lambda n: os.path.join(work, "aa_" + n + ".npy")
        for dev in devices:
            r = subprocess.run([clattn, "area", "--query", f("q"), "--key", f("k"), "--value", f("v"), "--out",
                                f("out"), "--area", str(area), "--device", dev], capture_output=True, text=True,
                               timeout=300)
            ok = r.returncode == 0
            err = float("nan")
            if ok:
                core = torch.from_numpy(np.load(f("out")).reshape(B, Hh, Ww, heads * hd)).permute(0, 3, 1, 2)
                vmap = torch.from_numpy(v.reshape(B, Hh, Ww, heads * hd)).permute(0, 3, 1, 2).contiguous()
                with torch.no_grad():
                    got = m.proj(core.contiguous() + m.pe(vmap))
                err = float((got - ref).abs().max())
                ok = err <= 1e-5 * max(1.0, float(ref.abs().max()))
            print(("ok   " if ok else "FAIL ") + f"AAttn [{B},{C},{Hh},{Ww}] heads {heads} area {area} on {dev}: "
                  f"max_abs_err={err:.3g}" + (r.stderr.strip() if r.returncode else ""))
            failures += not ok
print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, transformers "
      f"{transformers.__version__ if transformers else '-'}: {failures} failures")
sys.exit(1 if failures else 0)
