"""A float64 NumPy reference of clattn's SDPA semantics (include/clattn.h, README "Semantics")."""
import numpy as np


def sdpa_ref(q, k, v, *, bool_mask=None, add_mask=None, causal=None, scale=None, window=None,
             kv_lengths=None, softcap=None):
    """Returns (out, probs) in float64. causal: None, "top-left" or "bottom-right"."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    B, Hq, Lq, D = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    k = np.repeat(k, Hq // Hkv, axis=1)
    v = np.repeat(v, Hq // Hkv, axis=1)
    scale = 1.0 / np.sqrt(D) if scale is None else scale
    s = np.einsum("bhid,bhjd->bhij", q, k) * scale
    if softcap:
        s = softcap * np.tanh(s / softcap)
    allowed = np.ones((B, Hq, Lq, Lk), dtype=bool)
    i = np.arange(Lq)[:, None]
    j = np.arange(Lk)[None, :]
    for b in range(B):
        lk = Lk if kv_lengths is None else int(kv_lengths[b])
        a = j < lk
        if causal == "top-left":
            a = a & (j <= i)
        elif causal == "bottom-right":
            a = a & (j <= i + lk - Lq)
        if window is not None:
            ip = i + lk - Lq
            left, right = window
            if left is not None:
                a = a & (j >= ip - left)
            if right is not None:
                a = a & (j <= ip + right)
        allowed[b] &= a
    if bool_mask is not None:
        allowed &= np.broadcast_to(np.asarray(bool_mask, dtype=bool), allowed.shape)
    if add_mask is not None:
        am = np.broadcast_to(np.asarray(add_mask, dtype=np.float64), allowed.shape)
        allowed &= am != -np.inf
        s = s + np.where(np.isneginf(am), 0.0, am)
    s = np.where(allowed, s, -np.inf)
    m = np.max(s, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.where(allowed, np.exp(s - m), 0.0)
    tot = e.sum(axis=-1, keepdims=True)
    p = np.divide(e, tot, out=np.zeros_like(e), where=tot > 0)
    return np.einsum("bhij,bhjd->bhid", p, v), p
