#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/corpus/<target>/ (standard library only).

    python3 fuzz/make_seeds.py

npy and safetensors seeds are small valid files in every layout the readers accept (format versions,
dtypes, 0-d and empty arrays, __metadata__), shrunken copies of the MiniLM files in tests/data/minilm
(same headers and tensor names, tiny shapes) and a few truncated or malformed ones. sdpa_desc seeds
are byte strings laid out the way fuzz_sdpa_desc.c's fuzz_decode reads them, one per feature.
Deterministic: running it twice writes the same bytes.
"""
import json
import os
import random
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MINILM = os.path.join(ROOT, "tests", "data", "minilm")
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("latin-1")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- .npy --------------------------------------------------------------------------------------------

def npy(descr, shape, data=None, version=1, fortran=False, pad_to=64, header=None):
    if header is None:
        shp = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shp)
    pre = 10 if version == 1 else 12
    total = pre + len(header) + 1
    header = header + " " * ((pad_to - total % pad_to) % pad_to) + "\n"
    if data is None:
        count = 1
        for s in shape:
            count *= s
        size = int("".join(c for c in descr if c.isdigit()) or "1")
        data = bytes((i * 37 + 11) & 255 for i in range(count * size))
    hl = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + hl + header.encode("latin-1") + data


def npy_seeds():
    t = "npy"
    write(t, "f32_2x3.npy", npy("<f4", (2, 3), struct.pack("<6f", 1, -2, 3.5, 0, float("inf"), -0.0)))
    write(t, "f16_4.npy", npy("<f2", (4,)))
    write(t, "bool_2x2.npy", npy("|b1", (2, 2), bytes([0, 1, 1, 0])))
    write(t, "i4_scalar.npy", npy("<i4", ()))
    write(t, "f32_empty.npy", npy("<f4", (0, 5), b""))
    write(t, "f8_v2.npy", npy("<f8", (1, 2), version=2))
    write(t, "u1_v3.npy", npy("|u1", (3, 1, 2), version=3))
    write(t, "datetime.npy", npy("<M8[ns]", (2,)))
    write(t, "native_eq.npy", npy("=f4", (1,)))
    write(t, "fortran.npy", npy("<f4", (2, 2), fortran=True))
    write(t, "bigendian.npy", npy(">f4", (2,)))
    write(t, "structured.npy", npy("", (), b"", header="{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"))
    write(t, "nul_padded.npy", npy("<f4", (1,), pad_to=16).replace(b" \n", b"\0\0"))
    write(t, "dup_key.npy", npy("", (), b"", header="{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (), }"))
    write(t, "truncated_data.npy", npy("<f4", (4, 4))[:-5])
    write(t, "trailing.npy", npy("<f4", (2,)) + b"xyz")
    write(t, "huge_shape.npy", npy("<f4", (), b"", header="{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 8), }"))
    write(t, "bad_version.npy", b"\x93NUMPY\x04\x00" + npy("<f4", (1,))[8:])
    # MiniLM: the two small files as they are; the big ones with their real header, shrunk shape.
    for f in ("input_ids.npy", "kv_lengths.npy"):
        shutil.copyfile(os.path.join(MINILM, f), os.path.join(CORPUS, t, "minilm_" + f))
    for f in ("layer0_q.npy", "layer0_k_f16.npy", "layer0_probs.npy"):
        with open(os.path.join(MINILM, f), "rb") as fh:
            raw = fh.read(4096)
        hlen = struct.unpack("<H", raw[8:10])[0]
        header = raw[10:10 + hlen].decode("latin-1").rstrip()
        descr = header.split("'descr': '")[1].split("'")[0]
        write(t, "minilm_" + f.replace(".npy", "_1x2x3x2.npy"), npy(descr, (1, 2, 3, 2)))
        write(t, "minilm_" + f.replace(".npy", "_truncated.npy"), raw[:10 + hlen + 40])


# ---- safetensors ----------------------------------------------------------------------------------------

def safetensors(tensors, metadata=None, pad=True, header_override=None):
    """tensors: list of (name, dtype, shape); data is generated and laid out in order."""
    sizes = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
             "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}
    hdr = {}
    if metadata is not None:
        hdr["__metadata__"] = metadata
    pos = 0
    for name, dtype, shape in tensors:
        n = sizes.get(dtype, 4)
        for s in shape:
            n *= s
        hdr[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [pos, pos + n]}
        pos += n
    js = header_override if header_override is not None else json.dumps(hdr, separators=(",", ":"))
    js = js.encode("utf-8")
    if pad:
        js += b" " * ((8 - len(js) % 8) % 8)
    data = bytes((i * 53 + 7) & 255 for i in range(pos))
    return struct.pack("<Q", len(js)) + js + data


def st_seeds():
    t = "safetensors"
    write(t, "f32_f16.safetensors", safetensors([("a", "F32", (2, 3)), ("b", "F16", (3,))], {"format": "pt"}))
    write(t, "all_dtypes.safetensors", safetensors([("t%d" % i, d, (2,)) for i, d in enumerate(
        ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64",
         "U64"])]))
    write(t, "empty.safetensors", safetensors([]))
    write(t, "scalar_and_zero.safetensors", safetensors([("s", "F32", ()), ("z", "F32", (0, 4))]))
    write(t, "unknown_dtype.safetensors", safetensors([("x", "Q4", (2,))]))
    write(t, "dup.safetensors", safetensors([], header_override='{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                                               '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}')
          + b"\0" * 8)
    write(t, "gap.safetensors", safetensors([], header_override='{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}')
          + b"\0" * 8)
    write(t, "overlap.safetensors", safetensors([], header_override='{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},'
                                                                   '"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}')
          + b"\0" * 4)
    write(t, "float_offsets.safetensors", safetensors([], header_override='{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1e300]}}'))
    write(t, "not_object.safetensors", safetensors([], header_override='[1,2,3]'))
    write(t, "trailing_json.safetensors", safetensors([], header_override='{} {}'))
    write(t, "huge_len.safetensors", struct.pack("<Q", 2 ** 63) + b"{}")
    # MiniLM: real tensor names and dtypes with tiny shapes; and the real header cut short.
    for f in ("layer0_attn.safetensors", "layer0_mha_torch.safetensors"):
        with open(os.path.join(MINILM, f), "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            js = fh.read(n)
        hdr = json.loads(js)
        meta = hdr.pop("__metadata__", None)
        items = sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"][0])
        small = [(k, v["dtype"], tuple(min(s, 3) for s in v["shape"])) for k, v in items]
        write(t, "minilm_" + f.replace(".safetensors", "_small.safetensors"), safetensors(small, meta))
        write(t, "minilm_" + f.replace(".safetensors", "_truncated.safetensors"), struct.pack("<Q", n) + js[:n // 2])


# ---- selector -------------------------------------------------------------------------------------------

def selector_seeds():
    t = "selector"
    for i, s in enumerate(["", "host", "  HoSt ", "pocl", "portable", "rusticl::", ":cpu:0", ":gpu:1",
                           "portable:cpu:0", "0:all:0", "1:accelerator:", " NVIDIA : GPU : GeForce ",
                           "a:b:c", "a:b:c:d", "::", ":::", "18446744073709551616:cpu:99999999999999999999",
                           "x" * 255, "y" * 256, "\t:\n:\v", "Portable Computing Language:ALL:cpu-haswell"]):
        write(t, "sel%02d.txt" % i, s)


# ---- sdpa_desc --------------------------------------------------------------------------------------------

def tensor_bytes(mode=0, perm=None, pad=None, zero=None, raw=None, wild=None, offset=0, pert=None):
    """Encodes one rd_tensor(): pert (>= 244 + how + value), mode, extra bytes, offset."""
    b = bytearray()
    if pert is None:
        b.append(0)
    else:
        b += bytes(pert)
    b.append(mode)
    if mode in (3, 4):
        b.append(perm or 0)
    if mode == 4:
        b.append(pad or 0)
    if mode == 5:
        b.append(zero or 0)
    if mode == 6:
        b += bytes(raw or [0, 0, 0, 0])
    if mode == 7:
        mask, vals = wild or (0, [])
        b.append(mask)
        b += bytes(vals)
    if offset == 0:
        b.append(0)
    else:
        b.append(160 + offset)  # 160..239 -> offset % 16
    return bytes(b)


def dim(v):
    return v - 1  # rd_dim: byte b < 216 gives 1 + b % 9


def sdpa_case(isa=1, B=1, Hkv=1, G=1, Lq=4, Lk=4, D=4, Dv=4, kvb=0, q=None, k=None, v=None, out=None,
              seed=12345, scale=0, softcap=0, causal=0, wl=0, wr=0, mask_kind=0, mb=0, mask=None, use_kvl=False,
              probs=False, probs_t=None, kvl=None, flags=0, extra_dims=None):
    b = bytearray([isa])
    b += bytes(extra_dims) if extra_dims is not None else bytes(dim(x) for x in (B, Hkv, G, Lq, Lk, D, Dv))
    b.append(0)  # Hq = Hkv * G
    b.append(kvb)
    for t in (q, k, v, out):
        b += t if t is not None else tensor_bytes()
    b += struct.pack("<Q", seed)
    b.append(scale)    # 0 -> default; 96..231 -> uniform [-3, 3)
    b.append(softcap)  # 0 -> off; 160..231 -> [0.25, 24)
    b += bytes(causal if isinstance(causal, list) else [causal])  # 248 + int32 -> raw value
    b.append(wl)       # < 128 -> unbounded; 128..231 -> b % 12
    b.append(wr)
    b += bytes(mask_kind if isinstance(mask_kind, list) else [mask_kind])
    b.append(mb)
    b += mask if mask is not None else tensor_bytes()
    b.append((1 if use_kvl else 0) | (2 if probs else 0))
    b += probs_t if probs_t is not None else tensor_bytes()
    b += bytes(kvl or [255] * 16)  # 255 -> Lk
    b.append(flags)
    return bytes(b)


def sdpa_seeds():
    t = "sdpa_desc"
    c = sdpa_case(Hkv=3, G=1)
    HQ_NOT_MULTIPLE = c[:8] + bytes([248, dim(4)]) + c[9:]
    cases = {
        "basic": sdpa_case(),
        "basic_fused_avx2": sdpa_case(isa=3, B=2, Hkv=2, G=2, Lq=5, Lk=7, D=8, Dv=3),
        "gqa_probs": sdpa_case(isa=0, B=2, Hkv=2, G=3, Lq=3, Lk=6, D=5, Dv=2, probs=True),
        "causal_tl": sdpa_case(causal=1, Lq=6, Lk=6),
        "causal_br_kvl": sdpa_case(isa=2, causal=2, B=3, Lq=3, Lk=8, use_kvl=True, kvl=[3, 0, 8] + [0] * 13),
        "window": sdpa_case(wl=130, wr=129, Lq=7, Lk=9, probs=True),
        "window_huge": sdpa_case(wl=240, wr=232 + 15, causal=2, Lq=3, Lk=5),
        "bool_mask_bcast": sdpa_case(mask_kind=1, mb=4, Lq=5, Lk=5, flags=0x8, probs=True),
        "add_mask_full": sdpa_case(isa=4, mask_kind=2, mb=7, B=2, Hkv=1, G=2, Lq=4, Lk=6, flags=0x4),
        "add_mask_dense_inf": sdpa_case(mask_kind=2, mb=3, B=2, G=2, flags=0xD),
        "softcap_scale": sdpa_case(scale=200, softcap=200, D=9, Dv=9),
        "nan_q_row": sdpa_case(flags=0x2, probs=True, Lq=5, Lk=3),
        "blhd_layout": sdpa_case(B=2, Hkv=3, Lq=4, Lk=5, q=tensor_bytes(3, perm=2), k=tensor_bytes(3, perm=2),
                                 v=tensor_bytes(3, perm=2), out=tensor_bytes(3, perm=2)),
        "padded_offsets": sdpa_case(B=2, G=2, q=tensor_bytes(4, perm=0, pad=0x9B, offset=5),
                                    k=tensor_bytes(4, perm=7, pad=0x44, offset=3), v=tensor_bytes(4, perm=0, pad=0xFF),
                                    out=tensor_bytes(4, perm=5, pad=0x21, offset=7), probs=True,
                                    probs_t=tensor_bytes(4, perm=11, pad=0x12, offset=9)),
        "broadcast_inputs": sdpa_case(B=3, Hkv=2, Lq=4, Lk=4, kvb=3, q=tensor_bytes(5, zero=0x4),
                                      k=tensor_bytes(5, zero=0x2), v=tensor_bytes(5, zero=0x1)),
        "raw_strides": sdpa_case(q=tensor_bytes(6, raw=[0, 3, 5, 1]), out=tensor_bytes(6, raw=[20, 12, 4, 1])),
        "overlap_out": sdpa_case(out=tensor_bytes(6, raw=[1, 1, 1, 1])),
        # specials[] indexes: 13 INT32_MAX, 12 257, 15 INT64_MAX, 18 INT64_MAX/2, 19 INT64_MAX/4+1, 20 INT64_MAX/3
        "wild_strides": sdpa_case(q=tensor_bytes(7, wild=(0xF, [15, 18, 19, 20]))),
        "wild_offset": sdpa_case(k=bytes([0, 0, 245, 19])),
        "huge_valid_lk": sdpa_case(extra_dims=[0, 0, 0, 3, 224, 13, 3, 3]),
        "lk_257_fused": sdpa_case(isa=4, extra_dims=[0, 0, 1, 8, 224, 12, 3, 3]),
        "zero_dim": sdpa_case(extra_dims=[0, 216, 0, 3, 3, 3, 3]),
        "hq_not_multiple": HQ_NOT_MULTIPLE,
        "kvl_out_of_range": sdpa_case(B=2, use_kvl=True, kvl=[250, 251] + [0] * 14),
        "bad_enums": sdpa_case(causal=[248, 3, 0, 0, 0], mask_kind=[248, 0xff, 0xff, 0xff, 0xff]),
        "dim_perturbed": sdpa_case(v=tensor_bytes(0, pert=[245, 200])),
    }
    for name, data in cases.items():
        write(t, name + ".bin", data)
    rnd = random.Random(20240601)
    for i in range(6):
        write(t, "random%02d.bin" % i, bytes(rnd.randrange(256) for _ in range(96)))


def main():
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    npy_seeds()
    st_seeds()
    selector_seeds()
    sdpa_seeds()
    total = 0
    for dirpath, _, files in os.walk(CORPUS):
        for f in files:
            total += os.path.getsize(os.path.join(dirpath, f))
    print("seeds written to %s (%d bytes)" % (CORPUS, total))


if __name__ == "__main__":
    main()
