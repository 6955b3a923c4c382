#!/usr/bin/env python3
"""NumPy peer: softmax(Q·Kᵀ·scale + causal mask)·V with np.matmul (BLAS) and in-place elementwise ops.

Grouped-query heads are handled without copies: the g = Hq/Hkv query heads of one KV head are
contiguous, so Q is viewed as [B, Hkv, g·Lq, D] and multiplied by K [B, Hkv, D, Lk]. Causal is
bottom-right (key j allowed iff j <= i + Lk - Lq), added as a 0/-inf [Lq, Lk] matrix. BLAS threads are
set with threadpoolctl (--threads); NumPy's elementwise ops run on one thread, as NumPy does.
Usage: python numpy_peer.py [--quick] [--json] ...  (same options as clattn-bench; see common.py)
"""
import math

import numpy as np

import common


def prepare(s, causal, q, k, v):
    B, Hq, Hkv, Lq, Lk, D, Dv = s
    g = Hq // Hkv
    bias = None
    if causal:
        bias = np.where(common.causal_bool_mask(Lq, Lk), 0.0, -np.inf).astype(np.float32)
    return (s, q.reshape(B, Hkv, g * Lq, D), np.ascontiguousarray(k.swapaxes(-1, -2)), v, bias,
            np.float32(1.0 / math.sqrt(D)))


def run(state):
    s, q, kt, v, bias, scale = state
    B, Hq, Hkv, Lq, Lk, D, Dv = s
    g = Hq // Hkv
    sc = np.matmul(q, kt)  # [B, Hkv, g·Lq, Lk]
    sc *= scale
    if bias is not None:
        sc.reshape(B, Hkv, g, Lq, Lk)[...] += bias
    sc -= sc.max(axis=-1, keepdims=True)
    np.exp(sc, out=sc)
    sc /= sc.sum(axis=-1, keepdims=True)
    return np.matmul(sc, v).reshape(B, Hq, Lq, Dv)


def main():
    a = common.parse_args(__doc__.splitlines()[0])
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
        threadpool_limits(a.threads, user_api="blas")
        blas = ", ".join(f"{i['internal_api']} {i['version']} {i.get('architecture', '')}" for i in threadpool_info()
                         if i["user_api"] == "blas")
    except ImportError:
        blas = "BLAS threads not set (no threadpoolctl)"
    common.run_all("numpy", f"{common.cpu_name()}", f"numpy {np.__version__} matmul ({blas})", a, prepare, run)


if __name__ == "__main__":
    main()
