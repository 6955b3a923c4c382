"""clattn.MultiheadAttention from a torch-style state dict, against a float64 NumPy reference."""
import numpy as np
import pytest

import clattn
from reference import sdpa_ref

TOL = dict(rtol=2e-4, atol=2e-5)


def state_dict(rng, E, kdim=None, vdim=None, bias=True):
    kdim, vdim = kdim or E, vdim or E
    sd = {"out_proj.weight": rng.standard_normal((E, E)) / np.sqrt(E)}
    if kdim == E and vdim == E:
        sd["in_proj_weight"] = rng.standard_normal((3 * E, E)) / np.sqrt(E)
    else:
        sd["q_proj_weight"] = rng.standard_normal((E, E)) / np.sqrt(E)
        sd["k_proj_weight"] = rng.standard_normal((E, kdim)) / np.sqrt(kdim)
        sd["v_proj_weight"] = rng.standard_normal((E, vdim)) / np.sqrt(vdim)
    if bias:
        sd["in_proj_bias"] = rng.standard_normal(3 * E) * 0.1
        sd["out_proj.bias"] = rng.standard_normal(E) * 0.1
    return {k: v.astype(np.float32) for k, v in sd.items()}


def mha_ref(sd, H, query, key, value, **masks):
    E = sd["out_proj.weight"].shape[0]
    if "in_proj_weight" in sd:
        wq, wk, wv = np.split(sd["in_proj_weight"].astype(np.float64), 3)
    else:
        wq, wk, wv = (sd[n].astype(np.float64) for n in ("q_proj_weight", "k_proj_weight", "v_proj_weight"))
    bq, bk, bv = np.split(sd["in_proj_bias"].astype(np.float64), 3) if "in_proj_bias" in sd else (0, 0, 0)

    def heads(x, w, b):
        y = x.astype(np.float64) @ w.T + b
        return y.reshape(y.shape[0], y.shape[1], H, E // H).transpose(0, 2, 1, 3)

    o, p = sdpa_ref(heads(query, wq, bq), heads(key, wk, bk), heads(value, wv, bv), **masks)
    o = o.transpose(0, 2, 1, 3).reshape(query.shape[0], query.shape[1], E)
    return o @ sd["out_proj.weight"].T.astype(np.float64) + sd.get("out_proj.bias", 0), p


def test_self_attention_weights_averaged(device, rng):
    sd = state_dict(rng, 24)
    x = rng.standard_normal((2, 7, 24)).astype(np.float32)
    m = clattn.MultiheadAttention(sd, 4, device=device)
    out, w = m(x, need_weights=True)
    ro, rp = mha_ref(sd, 4, x, x, x)
    np.testing.assert_allclose(out, ro, **TOL)
    np.testing.assert_allclose(w, rp.mean(axis=1), **TOL)


def test_cross_attention_masks(device, rng):
    sd = state_dict(rng, 16, kdim=5, vdim=9, bias=False)
    q = rng.standard_normal((2, 7, 16)).astype(np.float32)
    k = rng.standard_normal((2, 67, 5)).astype(np.float32)
    v = rng.standard_normal((2, 67, 9)).astype(np.float32)
    attn_mask = rng.random((7, 67)) < 0.3           # torch: True = not allowed
    kpm = np.zeros((2, 67), dtype=bool)
    kpm[1, 40:] = True
    m = clattn.MultiheadAttention(sd, 2, device=device)
    out, w = m(q, k, v, attn_mask=attn_mask, key_padding_mask=kpm, average_attn_weights=False)
    allowed = ~attn_mask[None, None] & ~kpm[:, None, None, :]
    ro, rp = mha_ref(sd, 2, q, k, v, bool_mask=allowed)
    np.testing.assert_allclose(out, ro, **TOL)
    np.testing.assert_allclose(w, rp, **TOL)
    # float key_padding_mask combined with a bool attn_mask, and causal
    fk = np.where(kpm, -np.inf, 0.5).astype(np.float32)
    out, _ = m(q, k, v, attn_mask=attn_mask, key_padding_mask=fk, is_causal=True, need_weights=False)
    add = np.where(attn_mask[None, None], -np.inf, 0) + fk[:, None, None, :]
    np.testing.assert_allclose(out, mha_ref(sd, 2, q, k, v, add_mask=add, causal="top-left")[0], **TOL)


def test_kv_lengths_and_errors(device, rng):
    sd = state_dict(rng, 8)
    x = rng.standard_normal((2, 7, 8)).astype(np.float32)
    m = clattn.MultiheadAttention(sd, 2, device=device)
    out, _ = m(x, kv_lengths=np.array([7, 3], dtype=np.int32), need_weights=False)
    np.testing.assert_allclose(out, mha_ref(sd, 2, x, x, x, kv_lengths=[7, 3])[0], **TOL)
    with pytest.raises(clattn.Error) as ei:
        clattn.MultiheadAttention(sd, 3, device=device)  # embed_dim 8 is not a multiple of 3
    assert ei.value.status_name == "CLATTN_ERROR_INVALID_ARGUMENT" and "num_heads: 3" in ei.value.message
    m.close()


def test_from_bert_weights(device, rng):
    """Hugging Face BertAttention names under a prefix, kdim/vdim != E included, against the reference."""
    E, kdim, vdim, H = 16, 6, 10, 4
    sd = state_dict(rng, E, kdim=kdim, vdim=vdim)
    bq, bk, bv = np.split(sd["in_proj_bias"], 3)
    pre = "encoder.layer.0.attention."
    bert = {pre + "self.query.weight": sd["q_proj_weight"], pre + "self.query.bias": bq,
            pre + "self.key.weight": sd["k_proj_weight"], pre + "self.key.bias": bk,
            pre + "self.value.weight": sd["v_proj_weight"], pre + "self.value.bias": bv,
            pre + "output.dense.weight": sd["out_proj.weight"], pre + "output.dense.bias": sd["out_proj.bias"],
            pre + "output.LayerNorm.weight": np.ones(E, np.float32)}  # present in BERT, not attention
    q = rng.standard_normal((2, 5, E)).astype(np.float32)
    k = rng.standard_normal((2, 7, kdim)).astype(np.float32)
    v = rng.standard_normal((2, 7, vdim)).astype(np.float32)
    m = clattn.MultiheadAttention.from_bert(bert, H, prefix=pre, device=device)
    out, _ = m(q, k, v, need_weights=False)
    np.testing.assert_allclose(out, mha_ref(sd, H, q, k, v)[0], **TOL)
    with pytest.raises(KeyError, match="self.key.weight"):
        clattn.MultiheadAttention.from_bert({pre + "self.query.weight": bq}, H, prefix=pre, device=device)
