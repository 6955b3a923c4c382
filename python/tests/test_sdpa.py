"""clattn.sdpa against the float64 reference in reference.py, on the host path and PoCL."""
import numpy as np
import pytest

import clattn
from reference import sdpa_ref

TOL = dict(rtol=2e-4, atol=2e-5)


def rand(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def qkv(rng, B=2, Hq=3, Hkv=None, Lq=7, Lk=67, D=16, Dv=None, dtype=np.float32):
    Hkv = Hq if Hkv is None else Hkv
    Dv = D if Dv is None else Dv
    return rand(rng, B, Hq, Lq, D, dtype=dtype), rand(rng, B, Hkv, Lk, D, dtype=dtype), \
        rand(rng, B, Hkv, Lk, Dv, dtype=dtype)


@pytest.mark.parametrize("Lq,Lk", [(1, 1), (1, 67), (7, 7), (67, 7), (7, 67), (67, 67)])
def test_plain_odd_sizes(device, rng, Lq, Lk):
    q, k, v = qkv(rng, Lq=Lq, Lk=Lk, D=7, Dv=5)
    out = clattn.sdpa(q, k, v, device=device)
    assert out.shape == (2, 3, Lq, 5) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, sdpa_ref(q, k, v)[0], **TOL)


@pytest.mark.parametrize("alignment", ["top-left", "bottom-right"])
@pytest.mark.parametrize("Lq,Lk", [(7, 67), (67, 7), (7, 7)])
def test_causal(device, rng, alignment, Lq, Lk):
    q, k, v = qkv(rng, Lq=Lq, Lk=Lk)
    out, probs = clattn.sdpa(q, k, v, is_causal=True, causal_alignment=alignment, return_probs=True,
                             device=device)
    ro, rp = sdpa_ref(q, k, v, causal=alignment)
    np.testing.assert_allclose(out, ro, **TOL)
    np.testing.assert_allclose(probs, rp, **TOL)


@pytest.mark.parametrize("mshape", [(67,), (7, 67), (1, 3, 1, 67), (2, 1, 7, 67), (2, 3, 7, 67), (7, 1)])
def test_bool_mask_broadcast(device, rng, mshape):
    q, k, v = qkv(rng)
    mask = rng.random(mshape) < 0.6
    out, probs = clattn.sdpa(q, k, v, attn_mask=mask, return_probs=True, device=device)
    ro, rp = sdpa_ref(q, k, v, bool_mask=mask.reshape((1,) * (4 - mask.ndim) + mask.shape))
    np.testing.assert_allclose(out, ro, **TOL)
    np.testing.assert_allclose(probs, rp, **TOL)


def test_bool_mask_fully_masked_rows_are_zero(device, rng):
    q, k, v = qkv(rng)
    mask = np.ones((7, 67), dtype=bool)
    mask[3] = False
    out, probs = clattn.sdpa(q, k, v, attn_mask=mask, return_probs=True, device=device)
    assert not out[:, :, 3].any() and not probs[:, :, 3].any()
    np.testing.assert_allclose(out, sdpa_ref(q, k, v, bool_mask=mask)[0], **TOL)


@pytest.mark.parametrize("mshape", [(7, 67), (2, 1, 1, 67), (2, 3, 7, 67)])
@pytest.mark.parametrize("mdtype", [np.float32, np.float64])
def test_additive_mask(device, rng, mshape, mdtype):
    q, k, v = qkv(rng)
    mask = rng.standard_normal(mshape).astype(mdtype)
    mask[rng.random(mshape) < 0.3] = -np.inf
    out = clattn.sdpa(q, k, v, attn_mask=mask, device=device)
    np.testing.assert_allclose(out, sdpa_ref(q, k, v, add_mask=mask)[0], **TOL)


@pytest.mark.parametrize("mshape", [(7, 67), (2, 1, 1, 67), (2, 3, 7, 67)])
def test_additive_mask_float16_in_place(device, rng, mshape):
    """A float16 mask is read as binary16 (mask_data_type F16, no cast): the same bits as its float32 copy,
    with -inf entries and a row with no allowed key; a transposed (strided) view works too."""
    q, k, v = qkv(rng)
    mask = rng.standard_normal(mshape).astype(np.float16)
    mask[rng.random(mshape) < 0.3] = -np.inf
    if mask.shape[-2] > 2:
        mask[..., 2, :] = -np.inf  # query row 2 sees no key: zeros
    out16 = clattn.sdpa(q, k, v, attn_mask=mask, device=device)
    out32 = clattn.sdpa(q, k, v, attn_mask=mask.astype(np.float32), device=device)
    np.testing.assert_array_equal(out16, out32)
    np.testing.assert_allclose(out16, sdpa_ref(q, k, v, add_mask=mask.astype(np.float64))[0], **TOL)
    mt = np.ascontiguousarray(np.swapaxes(mask, -1, -2)).swapaxes(-1, -2)  # strided view (last-dim stride != 1)
    np.testing.assert_array_equal(clattn.sdpa(q, k, v, attn_mask=mt, device=device), out32)


@pytest.mark.parametrize("Hq,Hkv", [(6, 2), (4, 1)])
def test_gqa(device, rng, Hq, Hkv):
    q, k, v = qkv(rng, Hq=Hq, Hkv=Hkv)
    with pytest.raises(ValueError, match="enable_gqa"):
        clattn.sdpa(q, k, v, device=device)
    out = clattn.sdpa(q, k, v, enable_gqa=True, device=device)
    np.testing.assert_allclose(out, sdpa_ref(q, k, v)[0], **TOL)


@pytest.mark.parametrize("alignment", [None, "bottom-right"])
def test_kv_lengths(device, rng, alignment):
    q, k, v = qkv(rng, B=3)
    lengths = np.array([67, 5, 0], dtype=np.int32)
    out = clattn.sdpa(q, k, v, kv_lengths=lengths, is_causal=alignment is not None,
                      causal_alignment=alignment or "top-left", device=device)
    np.testing.assert_allclose(out, sdpa_ref(q, k, v, kv_lengths=lengths, causal=alignment)[0], **TOL)
    assert not out[2].any()


@pytest.mark.parametrize("window", [(3, 0), (None, 2), (5, None), (0, 0)])
def test_window(device, rng, window):
    q, k, v = qkv(rng, Lq=67, Lk=67)
    out = clattn.sdpa(q, k, v, window=window, device=device)
    np.testing.assert_allclose(out, sdpa_ref(q, k, v, window=window)[0], **TOL)


def test_softcap_and_scale(device, rng):
    q, k, v = qkv(rng)
    q *= 4
    out, probs = clattn.sdpa(q, k, v, softcap=5.0, scale=0.7, return_probs=True, device=device)
    ro, rp = sdpa_ref(q, k, v, softcap=5.0, scale=0.7)
    np.testing.assert_allclose(out, ro, **TOL)
    np.testing.assert_allclose(probs, rp, **TOL)
    assert probs.shape == (2, 3, 7, 67) and probs.dtype == np.float32


def test_strided_views_without_copy(device, rng):
    # [B, L, H, D] buffers permuted to [B, H, L, D]: non-contiguous views passed by strides.
    qb, kb, vb = rand(rng, 2, 7, 3, 16), rand(rng, 2, 67, 3, 16), rand(rng, 2, 67, 3, 24)
    q, k, v = (x.transpose(0, 2, 1, 3) for x in (qb, kb, vb))
    assert not q.flags.c_contiguous
    v = v[..., ::2]  # and a step in the last dim
    out = clattn.sdpa(q, k, v, device=device)
    assert out.flags.c_contiguous and out.shape == (2, 3, 7, 12)
    np.testing.assert_allclose(out, sdpa_ref(q, k, v)[0], **TOL)


def test_negative_strides_are_copied(device, rng):
    q, k, v = qkv(rng)
    out = clattn.sdpa(q[:, :, ::-1], k, v[:, ::-1], device=device)
    np.testing.assert_allclose(out, sdpa_ref(q[:, :, ::-1], k, v[:, ::-1])[0], **TOL)


def test_array_interface_objects(device, rng):
    q, k, v = qkv(rng)

    class Wrapped:
        def __init__(self, a):
            self.__array_interface__ = a.__array_interface__
            self._keep = a

    out = clattn.sdpa(Wrapped(q), Wrapped(k), Wrapped(v), device=device)
    np.testing.assert_allclose(out, sdpa_ref(q, k, v)[0], **TOL)


def test_dlpack_objects(device, rng):
    """Objects that only speak DLPack (as PyTorch tensors do) go in as views of their memory."""
    q, k, v = qkv(rng)
    qt = q.transpose(0, 2, 1, 3).copy().transpose(0, 2, 1, 3)  # a strided [B, H, L, D] view

    class DLPackOnly:
        def __init__(self, a):
            self._a = a

        def __dlpack__(self, stream=None):
            return self._a.__dlpack__()

        def __dlpack_device__(self):
            return self._a.__dlpack_device__()

    assert not hasattr(DLPackOnly(q), "__array_interface__")
    out = clattn.sdpa(DLPackOnly(qt), DLPackOnly(k), DLPackOnly(v), device=device)
    np.testing.assert_allclose(out, sdpa_ref(qt, k, v)[0], **TOL)


def test_float16(device, rng):
    q, k, v = qkv(rng, dtype=np.float16)
    out = clattn.sdpa(q, k, v, is_causal=True, causal_alignment="bottom-right", device=device)
    assert out.dtype == np.float16 and out.shape == (2, 3, 7, 16)
    ref = sdpa_ref(q, k, v, causal="bottom-right")[0]
    np.testing.assert_allclose(out.astype(np.float64), ref, rtol=2e-3, atol=2e-3)


def test_error_mapping(device, rng):
    q, k, v = qkv(rng)
    with pytest.raises(clattn.Error) as ei:
        clattn.sdpa(q, k[..., :5], v, device=device)
    e = ei.value
    assert e.status_name == "CLATTN_ERROR_INVALID_ARGUMENT" and e.status == 1
    assert "k: dim 3 is 5, expected 16" in e.message and e.message in str(e)
    with pytest.raises(clattn.Error, match=r"mask: dim 1 is 2, expected 1 or 3"):
        clattn.sdpa(q, k, v, attn_mask=np.ones((1, 2, 1, 67), dtype=bool), device=device)
    with pytest.raises(clattn.Error, match=r"q: ndim is 5, expected 4"):
        clattn.sdpa(q[None], k, v, device=device)
    with pytest.raises(clattn.Error, match="kv_lengths"):
        clattn.sdpa(q, k, v, kv_lengths=np.array([68, 1], dtype=np.int32), device=device)


def test_wrapper_checks(rng):
    q, k, v = qkv(rng)
    with pytest.raises(TypeError, match="float32"):
        clattn.sdpa(q.astype(np.float64), k, v, device="host")
    with pytest.raises(ValueError, match="causal_alignment"):
        clattn.sdpa(q, k, v, is_causal=True, causal_alignment="middle", device="host")


def test_devices_and_version():
    assert clattn.version().count(".") == 2
    infos = clattn.devices()
    assert any(d["backend"] == "host" for d in infos)
    assert clattn.device_info("host")["platform_name"] == "host"
    with pytest.raises(clattn.Error) as ei:
        clattn.device_info("no-such-platform-xyz:gpu:0")
    assert ei.value.status_name == "CLATTN_ERROR_DEVICE_NOT_FOUND"


def test_devices_lists_every_device():
    """devices() is the library's enumeration: every OpenCL device, then the host path; each selector opens a
    context on exactly the device it describes; one default device, the one selector None picks."""
    infos = clattn.devices()
    assert infos[-1]["backend"] == "host" and infos[-1]["selector"] == "host" and infos[-1]["type"] == "cpu"
    assert [d["index"] for d in infos] == list(range(len(infos)))
    assert len({d["selector"] for d in infos}) == len(infos)
    assert sum(d["flags"]["default"] for d in infos) == 1
    for d in infos:
        assert d["device_name"] and d["compute_units"] >= 1 and isinstance(d["extensions"], list)
        if d["backend"] == "opencl":
            assert d["max_work_group_size"] >= 1 and d["local_mem_bytes"] >= 1 and d["max_alloc_bytes"] >= 1
            assert d["flags"]["fp64"] == ("cl_khr_fp64" in d["extensions"]) or d["flags"]["extensions_truncated"]
        if not d["flags"]["available"]:
            continue
        got = clattn.device_info(d["selector"])
        assert (got["backend"], got["platform_name"], got["device_name"]) == (
            d["backend"], d["platform_name"], d["device_name"])
    pocl = [d for d in infos if "Portable Computing Language" in d["platform_name"]]
    if clattn.devices("pocl"):
        assert pocl, "PoCL opens a context but is not in devices()"
    # selectors still select
    assert [d["backend"] for d in clattn.devices("host")] == ["host"]
    assert clattn.devices("no-such-platform-xyz:gpu:0") == []


def lse_ref(q, k, *, causal=None, kv_lengths=None):
    """log of the softmax denominator over the allowed keys, float64 [B, Hq, Lq] (-inf: no allowed key)."""
    q, k = np.asarray(q, dtype=np.float64), np.asarray(k, dtype=np.float64)
    B, Hq, Lq, D = q.shape
    Lk = k.shape[2]
    k = np.repeat(k, Hq // k.shape[1], axis=1)
    s = np.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(D)
    i, j = np.arange(Lq)[:, None], np.arange(Lk)[None, :]
    out = np.empty((B, Hq, Lq))
    for b in range(B):
        lk = Lk if kv_lengths is None else int(kv_lengths[b])
        a = j < lk
        if causal == "bottom-right":
            a = a & (j <= i + lk - Lq)
        sb = np.where(a, s[b], -np.inf)
        m = sb.max(axis=-1, keepdims=True)
        mm = np.where(np.isfinite(m), m, 0.0)
        tot = np.exp(sb - mm).sum(axis=-1)
        with np.errstate(divide="ignore"):
            out[b] = np.where(tot > 0, mm[..., 0] + np.log(tot), -np.inf)
    return out


def test_return_lse(device, rng):
    q, k, v = qkv(rng, B=3, Hq=4, Hkv=2, Lq=5, Lk=67)
    kvl = np.array([67, 0, 30], dtype=np.int32)
    out, lse = clattn.sdpa(q, k, v, is_causal=True, causal_alignment="bottom-right", kv_lengths=kvl,
                           enable_gqa=True, return_lse=True, device=device)
    assert lse.shape == (3, 4, 5) and lse.dtype == np.float32
    ref = lse_ref(q, k, causal="bottom-right", kv_lengths=kvl)
    assert np.all(np.isneginf(lse[1])) and np.all(np.isneginf(ref[1]))  # batch item 1 sees no key
    np.testing.assert_allclose(lse[[0, 2]], ref[[0, 2]], **TOL)
    out2, probs, lse2 = clattn.sdpa(q, k, v, is_causal=True, causal_alignment="bottom-right", kv_lengths=kvl,
                                    enable_gqa=True, return_probs=True, return_lse=True, device=device)
    np.testing.assert_allclose(out2, out, **TOL)
    np.testing.assert_allclose(lse2[[0, 2]], lse[[0, 2]], **TOL)


def test_merge_states_equals_one_call(device, rng):
    q, k, v = qkv(rng, B=2, Hq=4, Hkv=2, Lq=3, Lk=100)
    full, full_lse = clattn.sdpa(q, k, v, enable_gqa=True, return_lse=True, device=device)
    cuts = [0, 17, 60, 100]
    parts = [clattn.sdpa(q, k[:, :, a:e], v[:, :, a:e], enable_gqa=True, return_lse=True, device=device)
             for a, e in zip(cuts[:-1], cuts[1:])]
    out, lse = clattn.merge_states(np.stack([p[0] for p in parts]), np.stack([p[1] for p in parts]), device=device)
    np.testing.assert_allclose(out, full, **TOL)
    np.testing.assert_allclose(lse, full_lse, **TOL)
    # a part whose rows saw no key (lse -inf, NaN outputs) is never read
    po = np.stack([parts[0][0], np.full_like(parts[0][0], np.nan)])
    pl = np.stack([parts[0][1], np.full_like(parts[0][1], -np.inf)])
    out1, lse1 = clattn.merge_states(po, pl, device=device)
    np.testing.assert_allclose(out1, parts[0][0], **TOL)
    np.testing.assert_allclose(lse1, parts[0][1], **TOL)


@pytest.mark.parametrize("causal", [False, True])
def test_precision_reduced(device, rng, causal):
    """precision="reduced": bf16 products where the CPU has them (else float32); within the bf16 error of the
    float64 reference (inputs of unit variance, 129 keys), and fp32 unchanged."""
    q, k, v = qkv(rng, Hq=4, Hkv=2, Lq=67, Lk=129, D=64)
    ref = sdpa_ref(q, k, v, causal="top-left" if causal else None)[0]
    out = clattn.sdpa(q, k, v, is_causal=causal, enable_gqa=True, precision="reduced", device=device)
    np.testing.assert_allclose(out, ref, rtol=0, atol=3e-2 * np.abs(v).max())
    out32 = clattn.sdpa(q, k, v, is_causal=causal, enable_gqa=True, device=device)
    np.testing.assert_allclose(out32, ref, **TOL)
    with pytest.raises(ValueError, match="precision"):
        clattn.sdpa(q, k, v, enable_gqa=True, precision="bf16", device=device)

