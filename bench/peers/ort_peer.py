#!/usr/bin/env python3
"""ONNX Runtime peer: a one-node model with the ONNX `Attention` operator (opset 23) on the CPU provider.

Inputs Q [B, Hq, Lq, D], K [B, Hkv, Lk, D], V [B, Hkv, Lk, Dv] (4-D, so GQA comes from the head counts).
Causal with Lq = Lk uses is_causal=1; with Lq != Lk a bottom-right boolean attn_mask is fed instead.
If this onnxruntime lacks opset-23 Attention (or with --op mha), the contrib operator
com.microsoft.MultiHeadAttention is used: 3-D [B, L, H·D] inputs prepared outside the timing, KV heads
repeated for GQA, causal as an additive attention_bias. Threads: SessionOptions.intra_op_num_threads.
plan_ms is the session creation; first_call_ms adds the first run.
--dtype f16: the Attention node and Q, K, V, O in FLOAT16 (inputs converted from the float32 ones, out compared in
float32; impl "onnxruntime-f16"). --dtype bf16: BFLOAT16, where this onnxruntime has a CPU kernel for it; otherwise
every case is reported "n/a" (onnxruntime 1.31 has none: NOT_IMPLEMENTED).
Usage: python ort_peer.py [--quick] [--json] ...  (same options as clattn-bench; see common.py)
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

import common

THREADS = 1
DTYPES = {"f32": (TensorProto.FLOAT, np.float32), "f16": (TensorProto.FLOAT16, np.float16),
          "bf16": (TensorProto.BFLOAT16, None)}  # bf16: ml_dtypes.bfloat16 when present
DTYPE = "f32"


def np_type(name):
    if name == "bf16":
        import ml_dtypes  # the numpy bfloat16 onnx uses
        return ml_dtypes.bfloat16
    return DTYPES[name][1]


def session(model):
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def tensor(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def prepare_attention(s, causal, q, k, v):
    B, Hq, Hkv, Lq, Lk, D, Dv = s
    tp = DTYPES[DTYPE][0]
    inputs = [tensor("Q", [B, Hq, Lq, D], tp), tensor("K", [B, Hkv, Lk, D], tp), tensor("V", [B, Hkv, Lk, Dv], tp)]
    names = ["Q", "K", "V"]
    nt = np_type(DTYPE)
    feeds = {"Q": q.astype(nt), "K": k.astype(nt), "V": v.astype(nt)}
    attrs = {}
    if causal and Lq == Lk:
        attrs["is_causal"] = 1
    elif causal:
        inputs.append(tensor("M", [Lq, Lk], TensorProto.BOOL))
        names.append("M")
        feeds["M"] = common.causal_bool_mask(Lq, Lk)
    node = helper.make_node("Attention", names, ["O"], **attrs)
    graph = helper.make_graph([node], "attention", inputs, [tensor("O", [B, Hq, Lq, Dv], tp)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    model.ir_version = 10
    return session(model), feeds, None


def prepare_mha(s, causal, q, k, v):
    B, Hq, Hkv, Lq, Lk, D, Dv = s
    g = Hq // Hkv
    if g > 1:
        k, v = np.repeat(k, g, axis=1), np.repeat(v, g, axis=1)
    feeds = {"Q": np.ascontiguousarray(q.transpose(0, 2, 1, 3).reshape(B, Lq, Hq * D)),
             "K": np.ascontiguousarray(k.transpose(0, 2, 1, 3).reshape(B, Lk, Hq * D)),
             "V": np.ascontiguousarray(v.transpose(0, 2, 1, 3).reshape(B, Lk, Hq * Dv))}
    inputs = [tensor("Q", [B, Lq, Hq * D]), tensor("K", [B, Lk, Hq * D]), tensor("V", [B, Lk, Hq * Dv])]
    names = ["Q", "K", "V"]
    if causal:
        names += ["", "", "AB"]  # bias, key_padding_mask, attention_bias
        inputs.append(tensor("AB", [1, 1, Lq, Lk]))
        feeds["AB"] = np.where(common.causal_bool_mask(Lq, Lk), 0.0, -np.inf).astype(np.float32)[None, None]
    node = helper.make_node("MultiHeadAttention", names, ["O"], domain="com.microsoft", num_heads=Hq)
    graph = helper.make_graph([node], "mha", inputs, [tensor("O", [B, Lq, Hq * Dv])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 9
    return session(model), feeds, (B, Lq, Hq, Dv)


def run(state):
    sess, feeds, mha_shape = state
    out = sess.run(["O"], feeds)[0]
    if DTYPE != "f32":
        out = out.astype(np.float32)
    if mha_shape:
        B, Lq, Hq, Dv = mha_shape
        out = out.reshape(B, Lq, Hq, Dv).transpose(0, 2, 1, 3)
    return out


def attention_available():
    try:
        s = (1, 2, 1, 4, 4, 8, 8)
        run(prepare_attention(s, True, *common.make_inputs(s)))
        return True
    except Exception as e:  # NOT_IMPLEMENTED / unknown op in an older onnxruntime
        print(f"# ort: opset-23 Attention unavailable ({str(e).splitlines()[0][:200]}); "
              "using com.microsoft.MultiHeadAttention", file=sys.stderr)
        return False


def main():
    global THREADS
    op = "attention"
    if "--op" in sys.argv:  # --op attention|mha, for testing the fallback
        i = sys.argv.index("--op")
        op = sys.argv[i + 1]
        del sys.argv[i:i + 2]
    global DTYPE
    a = common.parse_args(__doc__.splitlines()[0], dtypes=tuple(DTYPES))
    THREADS = a.threads
    DTYPE = a.dtype
    if DTYPE != "f32":  # 16-bit: the opset-23 Attention node only (no MultiHeadAttention fallback)
        impl = f"onnxruntime-{DTYPE}"
        path = f"onnxruntime {ort.__version__} Attention (opset 23) {DTYPE}"
        try:
            run(prepare_attention((1, 2, 1, 4, 4, 8, 8), True, *common.make_inputs((1, 2, 1, 4, 4, 8, 8))))
        except Exception as e:  # NOT_IMPLEMENTED: no CPU kernel for this type
            why = f"onnxruntime {ort.__version__} has no CPU {DTYPE} Attention ({str(e).splitlines()[0][:120]})"
            print(f"# {impl}: {why}", file=sys.stderr)
            common.run_unavailable(impl, common.cpu_name(), path, a, why)
            return
        common.run_all(impl, common.cpu_name(), path, a, prepare_attention, run)
        return
    if op == "attention" and attention_available():
        prepare, path = prepare_attention, "Attention (opset 23)"
    else:
        prepare, path = prepare_mha, "com.microsoft.MultiHeadAttention"
    common.run_all("onnxruntime", common.cpu_name(), f"onnxruntime {ort.__version__} {path}", a, prepare, run)


if __name__ == "__main__":
    main()
