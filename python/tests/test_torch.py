"""clattn against PyTorch itself (skipped when torch is not importable: it is not a dependency).

torch.nn.functional.scaled_dot_product_attention and torch.nn.MultiheadAttention on the same inputs,
torch CPU tensors passed straight to clattn (DLPack, no copy). Masks follow each library's convention:
a bool attn_mask is True = may attend for SDPA, True = masked for nn.MultiheadAttention.
"""
import numpy as np
import pytest

import clattn

torch = pytest.importorskip("torch")

TOL = dict(rtol=2e-4, atol=2e-5)


def test_sdpa_matches_torch(device):
    g = torch.Generator().manual_seed(7)
    q = torch.randn(2, 8, 67, 16, generator=g)
    k = torch.randn(2, 2, 129, 16, generator=g)
    v = torch.randn(2, 2, 129, 24, generator=g)
    mask = torch.rand(2, 1, 67, 129, generator=g) < 0.8
    # enable_gqa exists from torch 2.5; repeat the kv heads for older versions
    kr, vr = k.repeat_interleave(4, dim=1), v.repeat_interleave(4, dim=1)
    ref = torch.nn.functional.scaled_dot_product_attention(q, kr, vr, attn_mask=mask)
    out = clattn.sdpa(q, k, v, attn_mask=mask.numpy(), enable_gqa=True, device=device)
    np.testing.assert_allclose(out, ref.numpy(), **TOL)
    ref_c = torch.nn.functional.scaled_dot_product_attention(q, kr, vr, is_causal=True)
    out_c = clattn.sdpa(q, k, v, is_causal=True, enable_gqa=True, device=device)  # top-left, as torch
    np.testing.assert_allclose(out_c, ref_c.numpy(), **TOL)


def test_multihead_attention_matches_torch(device):
    torch.manual_seed(3)
    E, H = 32, 4
    mha = torch.nn.MultiheadAttention(E, H, batch_first=True).eval()
    x = torch.randn(2, 11, E)
    kpm = torch.zeros(2, 11, dtype=torch.bool)
    kpm[1, 7:] = True
    with torch.no_grad():
        ref, ref_w = mha(x, x, x, key_padding_mask=kpm, need_weights=True)
    sd = {k: v.detach().numpy() for k, v in mha.state_dict().items()}
    m = clattn.MultiheadAttention(sd, H, device=device)
    out, w = m(x.numpy(), key_padding_mask=kpm.numpy())
    np.testing.assert_allclose(out, ref.numpy(), **TOL)
    np.testing.assert_allclose(w, ref_w.numpy(), **TOL)
