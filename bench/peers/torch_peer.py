#!/usr/bin/env python3
"""PyTorch peer: torch.nn.functional.scaled_dot_product_attention on the CPU, float32.

Causal with Lq = Lk uses is_causal=True; with Lq != Lk a bottom-right boolean mask is passed (PyTorch's
is_causal is top-left aligned). Grouped-query attention uses enable_gqa=True (PyTorch >= 2.5).
Threads: torch.set_num_threads(--threads). Runs under torch.inference_mode().
Usage: python torch_peer.py [--quick] [--json] ...  (same options as clattn-bench; see common.py)
"""
import numpy as np
import torch
import torch.nn.functional as F

import common


def prepare(s, causal, q, k, v):
    B, Hq, Hkv, Lq, Lk, D, Dv = s
    kw = {}
    if causal and Lq == Lk:
        kw["is_causal"] = True
    elif causal:
        kw["attn_mask"] = torch.from_numpy(common.causal_bool_mask(Lq, Lk))
    if Hq != Hkv:
        kw["enable_gqa"] = True
    return torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v), kw


def run(state):
    q, k, v, kw = state
    with torch.inference_mode():
        return F.scaled_dot_product_attention(q, k, v, **kw).numpy()


def main():
    a = common.parse_args(__doc__.splitlines()[0])
    torch.set_num_threads(a.threads)
    common.run_all("torch", common.cpu_name(), f"torch {torch.__version__} F.scaled_dot_product_attention", a,
                   prepare, run)


if __name__ == "__main__":
    main()
