#!/usr/bin/env python3
"""PyTorch peer: torch.nn.functional.scaled_dot_product_attention on the CPU, float32 (--dtype bf16 / f16: q, k, v
converted from the same float32 inputs, out compared in float32; impl "torch-bf16" / "torch-f16").

Causal with Lq = Lk uses is_causal=True; with Lq != Lk a bottom-right boolean mask is passed (PyTorch's
is_causal is top-left aligned). Grouped-query attention uses enable_gqa=True (PyTorch >= 2.5).
Threads: torch.set_num_threads(--threads). Runs under torch.inference_mode().
Usage: python torch_peer.py [--quick] [--json] ...  (same options as clattn-bench; see common.py)
"""
import numpy as np
import torch
import torch.nn.functional as F

import common

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
DTYPE = torch.float32


def prepare(s, causal, q, k, v):
    B, Hq, Hkv, Lq, Lk, D, Dv = s
    kw = {}
    if causal and Lq == Lk:
        kw["is_causal"] = True
    elif causal:
        kw["attn_mask"] = torch.from_numpy(common.causal_bool_mask(Lq, Lk))
    if Hq != Hkv:
        kw["enable_gqa"] = True
    t = lambda x: torch.from_numpy(x).to(DTYPE)
    return t(q), t(k), t(v), kw


def run(state):
    q, k, v, kw = state
    with torch.inference_mode():
        return F.scaled_dot_product_attention(q, k, v, **kw).float().numpy()


def main():
    global DTYPE
    a = common.parse_args(__doc__.splitlines()[0], dtypes=tuple(DTYPES))
    DTYPE = DTYPES[a.dtype]
    torch.set_num_threads(a.threads)
    impl = "torch" if a.dtype == "f32" else f"torch-{a.dtype}"
    common.run_all(impl, common.cpu_name(), f"torch {torch.__version__} F.scaled_dot_product_attention {a.dtype}", a,
                   prepare, run)


if __name__ == "__main__":
    main()
