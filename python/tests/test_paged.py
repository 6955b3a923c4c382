"""clattn.sdpa over a paged KV cache (block_table) and clattn.kv_append, against the float64 reference on the
gathered contiguous keys, on the host path and PoCL."""
import numpy as np
import pytest

import clattn
from reference import sdpa_ref

TOL = dict(rtol=2e-4, atol=2e-5)


def paged_cache(rng, lengths, Hkv, D, Dv, bs, device, spare=3, dtype=np.float32):
    """Pools with every sequence's blocks at shuffled places (unused blocks NaN, so a wrong address shows),
    filled through kv_append; returns (k_pool, v_pool, block_table, contiguous k, contiguous v)."""
    B = len(lengths)
    mb = max(1, -(-max(lengths) // bs))
    nblocks = B * mb + spare
    perm = rng.permutation(nblocks)[: B * mb].astype(np.int32).reshape(B, mb)
    kp = np.full((nblocks, bs, Hkv, D), np.nan, dtype=dtype)
    vp = np.full((nblocks, bs, Hkv, Dv), np.nan, dtype=dtype)
    Lmax = mb * bs
    k = rng.standard_normal((B, Hkv, Lmax, D)).astype(dtype)
    v = rng.standard_normal((B, Hkv, Lmax, Dv)).astype(dtype)
    # two appends per sequence: the first part, then the rest (positions cross block boundaries)
    first = max(n // 3 for n in lengths)
    pos0 = np.zeros(B, np.int32)
    clattn.kv_append(k[:, :, :first], v[:, :, :first], kp, vp, perm, pos0, device=device)
    clattn.kv_append(k[:, :, first:], v[:, :, first:], kp, vp, perm, np.full(B, first, np.int32), device=device)
    return kp, vp, perm, k, v


@pytest.mark.parametrize("bs", [16, 32])
@pytest.mark.parametrize("Lq,causal", [(1, False), (7, True), (7, False)])
def test_paged_matches_reference(device, rng, bs, Lq, causal):
    lengths = [67, 1, 129, 40][: 3 if Lq == 1 else 4]
    lengths = [max(n, Lq) if causal else n for n in lengths]
    B, Hq, Hkv, D, Dv = len(lengths), 4, 2, 16, 8
    kp, vp, bt, k, v = paged_cache(rng, lengths, Hkv, D, Dv, bs, device)
    q = rng.standard_normal((B, Hq, Lq, D)).astype(np.float32)
    kl = np.array(lengths, np.int32)
    out, lse = clattn.sdpa(q, kp, vp, block_table=bt, kv_lengths=kl, enable_gqa=True, is_causal=causal,
                           causal_alignment="bottom-right", return_lse=True, device=device)
    ref, _ = sdpa_ref(q, k, v, kv_lengths=kl, causal="bottom-right" if causal else None)
    np.testing.assert_allclose(out, ref, **TOL)
    # the same call over contiguous keys gives the same lse
    _, lse_c = clattn.sdpa(q, k, v, kv_lengths=kl, enable_gqa=True, is_causal=causal,
                           causal_alignment="bottom-right", return_lse=True, device=device)
    np.testing.assert_allclose(lse, lse_c, rtol=1e-5, atol=1e-5)


def test_paged_head_major_view(device, rng):
    """FlashInfer's head-major pools [num_blocks, Hkv, block_size, D] passed as a transposed view."""
    lengths, Hkv, D, bs = [50, 17], 2, 8, 16
    kp, vp, bt, k, v = paged_cache(rng, lengths, Hkv, D, D, bs, device)
    kh, vh = np.ascontiguousarray(kp.transpose(0, 2, 1, 3)), np.ascontiguousarray(vp.transpose(0, 2, 1, 3))
    q = rng.standard_normal((2, 2, 1, D)).astype(np.float32)
    kl = np.array(lengths, np.int32)
    out = clattn.sdpa(q, kh.transpose(0, 2, 1, 3), vh.transpose(0, 2, 1, 3), block_table=bt, kv_lengths=kl,
                      device=device)
    np.testing.assert_allclose(out, sdpa_ref(q, k, v, kv_lengths=kl)[0], **TOL)


def test_kv_append_writes_only_its_rows(device, rng):
    Hkv, D, bs = 1, 4, 16
    kp = np.full((4, bs, Hkv, D), -7.0, np.float32)
    vp = np.full((4, bs, Hkv, D), -7.0, np.float32)
    bt = np.array([[2, 0]], np.int32)
    kn = rng.standard_normal((1, Hkv, 5, D)).astype(np.float32)
    clattn.kv_append(kn, kn, kp, vp, bt, np.array([14], np.int32), device=device)  # rows 14, 15 of block 2, 0..2 of block 0
    np.testing.assert_array_equal(kp[2, 14:, 0], kn[0, 0, :2])
    np.testing.assert_array_equal(kp[0, :3, 0], kn[0, 0, 2:])
    touched = np.zeros(kp.shape, bool)
    touched[2, 14:] = touched[0, :3] = True
    assert np.all(kp[~touched] == -7.0) and np.all(vp[~touched] == -7.0)


def test_errors():
    kp = np.zeros((2, 16, 1, 4), np.float32)
    q = np.ones((1, 1, 1, 4), np.float32)
    with pytest.raises(ValueError, match="kv_lengths"):
        clattn.sdpa(q, kp, kp, block_table=np.zeros((1, 1), np.int32))
    with pytest.raises(clattn.Error) as e:  # table entry 5 of 2 blocks
        clattn.sdpa(q, kp, kp, block_table=np.array([[5]], np.int32), kv_lengths=np.array([3], np.int32),
                    device="host")
    assert e.value.status_name == "CLATTN_ERROR_INVALID_ARGUMENT" and "block_table" in e.value.message
    with pytest.raises(clattn.Error) as e:  # position 20 needs block 1 of a 1-block table
        clattn.kv_append(np.ones((1, 1, 1, 4), np.float32), np.ones((1, 1, 1, 4), np.float32), kp, kp.copy(),
                         np.array([[0]], np.int32), np.array([20], np.int32), device="host")
    assert e.value.status_name == "CLATTN_ERROR_INVALID_ARGUMENT"
    with pytest.raises(TypeError, match="writable"):
        clattn.kv_append(np.ones((1, 1, 1, 4), np.float32), np.ones((1, 1, 1, 4), np.float32),
                         np.broadcast_to(kp, kp.shape), kp, np.array([[0]], np.int32), np.array([0], np.int32))
