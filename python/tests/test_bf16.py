"""bfloat16 through the Python binding: uint16 bits with dtype="bfloat16" (NumPy only, what CI runs), and the
torch.bfloat16 / ml_dtypes.bfloat16 inputs where those libraries are importable (skipped otherwise).

The library reads bf16 q, k, v in place (clattn_dtype BF16) and computes in float32, so the reference is the
float64 one on the widened inputs; the output is rounded to bfloat16 (8 significant bits): tolerance
2^-8 * max|ref| + the float32 tolerance.
"""
import numpy as np
import pytest

import clattn
from reference import sdpa_ref


def to_bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even (finite inputs)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16_bits(b):
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def bf16_qkv(rng, B=2, Hq=4, Hkv=2, Lq=7, Lk=67, D=32, Dv=24):
    shapes = [(B, Hq, Lq, D), (B, Hkv, Lk, D), (B, Hkv, Lk, Dv)]
    return [to_bf16_bits(rng.standard_normal(s).astype(np.float32)) for s in shapes]


def check(out_bits, q, k, v, **ref_kw):
    ref = sdpa_ref(from_bf16_bits(q), from_bf16_bits(k), from_bf16_bits(v), **ref_kw)[0]
    got = from_bf16_bits(out_bits)
    tol = 2.0 ** -8 * max(1.0, float(np.max(np.abs(ref)))) + 2e-5
    np.testing.assert_allclose(got, ref, rtol=0, atol=tol)


@pytest.mark.parametrize("Lq", [1, 7, 67])
def test_bits_match_reference(device, rng, Lq):
    q, k, v = bf16_qkv(rng, Lq=Lq)
    out = clattn.sdpa(q, k, v, enable_gqa=True, is_causal=Lq > 1, causal_alignment="bottom-right",
                      dtype="bfloat16", device=device)
    assert out.dtype == np.uint16 and out.shape == (2, 4, Lq, 24)
    kr, vr = np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1)
    check(out, q, kr, vr, causal="bottom-right" if Lq > 1 else None)


def test_strided_views_and_lse(device, rng):
    """A [B, L, H, D] view (BLHD, no copy) and the lse output (float32) in bf16."""
    q, k, v = bf16_qkv(rng, Hq=2, Hkv=2)
    qb = np.ascontiguousarray(q.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)  # a strided view of BLHD memory
    out, lse = clattn.sdpa(qb, k, v, return_lse=True, dtype="bfloat16", device=device)
    check(out, q, k, v)
    s = np.einsum("bhid,bhjd->bhij", from_bf16_bits(q).astype(np.float64),
                  from_bf16_bits(k).astype(np.float64)) / np.sqrt(32)
    m = s.max(-1)
    np.testing.assert_allclose(lse, m + np.log(np.exp(s - m[..., None]).sum(-1)), rtol=1e-5, atol=1e-5)


def test_kv_append_bits(device, rng):
    """Appended bf16 rows land bit for bit in a uint16 pool; other slots keep their bits."""
    B, Hkv, Lnew, D, bs, nb = 2, 2, 5, 16, 16, 5
    kn = to_bf16_bits(rng.standard_normal((B, Hkv, Lnew, D)).astype(np.float32))
    vn = to_bf16_bits(rng.standard_normal((B, Hkv, Lnew, D)).astype(np.float32))
    kc = np.full((nb, bs, Hkv, D), 0x7FC1, dtype=np.uint16)
    vc = np.full((nb, bs, Hkv, D), 0x7FC1, dtype=np.uint16)
    table = np.array([[3, 1], [0, 4]], dtype=np.int32)
    pos = np.array([13, 0], dtype=np.int32)  # sequence 0 crosses from block 3 into block 1
    clattn.kv_append(kn, vn, kc, vc, table, pos, dtype="bfloat16", device=device)
    want_k = np.full_like(kc, 0x7FC1)
    want_v = np.full_like(vc, 0x7FC1)
    for b in range(B):
        for t in range(Lnew):
            j = pos[b] + t
            want_k[table[b, j // bs], j % bs] = kn[b, :, t]
            want_v[table[b, j // bs], j % bs] = vn[b, :, t]
    np.testing.assert_array_equal(kc, want_k)
    np.testing.assert_array_equal(vc, want_v)


def test_errors(rng):
    q, k, v = bf16_qkv(rng, Hq=2, Hkv=2)
    with pytest.raises(TypeError, match="uint16 arrays of bfloat16 bits"):
        clattn.sdpa(from_bf16_bits(q), from_bf16_bits(k), from_bf16_bits(v), dtype="bfloat16", device="host")
    with pytest.raises(TypeError, match="uint16 is not float32, float16 or bfloat16"):
        clattn.sdpa(q, k, v, device="host")  # bits without dtype="bfloat16" are not guessed
    with pytest.raises(TypeError, match="one element type"):
        clattn.sdpa(from_bf16_bits(q), from_bf16_bits(k).astype(np.float16), from_bf16_bits(v), device="host")
    with pytest.raises(ValueError, match="dtype: 'int8'"):
        clattn.sdpa(q, k, v, dtype="int8", device="host")


def test_torch_bfloat16(device):
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(3)
    q = torch.randn(2, 4, 9, 32, generator=g).bfloat16()
    k = torch.randn(2, 2, 67, 32, generator=g).bfloat16()
    v = torch.randn(2, 2, 67, 16, generator=g).bfloat16()
    mask = (torch.randn(2, 1, 9, 67, generator=g) * 2).bfloat16()  # an additive bf16 mask, read in place
    out = clattn.sdpa(q, k, v, attn_mask=mask, enable_gqa=True, device=device)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.bfloat16 and out.shape == (2, 4, 9, 16)
    kr, vr = k.float().repeat_interleave(2, dim=1), v.float().repeat_interleave(2, dim=1)
    ref = torch.nn.functional.scaled_dot_product_attention(q.float(), kr, vr, attn_mask=mask.float())
    tol = 2.0 ** -8 * max(1.0, ref.abs().max().item()) + 2e-5
    assert (out.float() - ref).abs().max().item() <= tol


def test_ml_dtypes_bfloat16(device, rng):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    q, k, v = bf16_qkv(rng, Hq=2, Hkv=2)
    out = clattn.sdpa(q.view(ml_dtypes.bfloat16), k.view(ml_dtypes.bfloat16), v.view(ml_dtypes.bfloat16),
                      device=device)
    assert out.dtype == ml_dtypes.bfloat16
    check(out.view(np.uint16), q, k, v)
