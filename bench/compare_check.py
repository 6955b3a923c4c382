#!/usr/bin/env python3
"""bench.compare.dtypes: compare.py keeps dtypes apart.

  compare_check.py CLATTN_BENCH WORK_DIR

Runs `clattn-bench --tag bench-tiny --dtype f32,bf16 --json` on the host path, adds a made-up PyTorch record in
float32 and one in bfloat16 for each of its cases (ms = 3x and 5x clattn's median of the same dtype), runs
compare.py on the lot and checks: one table per dtype; the bf16 table sets clattn-host-bf16 beside torch-bf16 only
(no float32 implementation and no cross-dtype ratio there, and no bf16 one in the float32 table); each ratio is
the peer's ms over clattn's ms of the same dtype (3.00 and 5.00, as written). Standard library only (no plot).
"""
import json
import os
import subprocess
import sys


def fail(msg):
    print(f"compare_check: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    bench, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    out = subprocess.run([bench, "--tag", "bench-tiny", "--device", "host", "--repeat", "3", "--warmup", "0",
                          "--dtype", "f32,bf16", "--json"], check=True, capture_output=True, text=True).stdout
    recs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    recs = [r for r in recs if r.get("record") == "case" and r.get("ms") is not None]
    if not any(r["dtype"] == "bf16" for r in recs) or not any(r["dtype"] == "f32" for r in recs):
        fail("clattn-bench wrote no f32 or no bf16 case")
    peers = []
    for r in recs:
        factor = 3.0 if r["dtype"] == "f32" else 5.0
        p = {k: r[k] for k in ("B", "Hq", "Hkv", "Lq", "Lk", "D", "Dv", "causal", "flops", "dtype")}
        p.update(record="case", impl="torch" if r["dtype"] == "f32" else "torch-bf16", ms=r["ms"] * factor,
                 ms_min=r["ms_min"] * factor, status="ok")
        peers.append(p)
    with open(os.path.join(work, "clattn.jsonl"), "w") as f:
        f.write("\n".join(json.dumps(r) for r in recs) + "\n")
    with open(os.path.join(work, "torch.jsonl"), "w") as f:
        f.write("\n".join(json.dumps(r) for r in peers) + "\n")
    compare = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compare.py")
    text = subprocess.run([sys.executable, compare, os.path.join(work, "clattn.jsonl"),
                           os.path.join(work, "torch.jsonl")], check=True, capture_output=True, text=True).stdout
    print(text)
    if "== f32 ==" not in text or "== bf16 ==" not in text:
        fail("expected one section per dtype (== f32 == and == bf16 ==)")
    f32_part, bf16_part = text.split("== bf16 ==")
    header32 = next(line for line in f32_part.splitlines() if line.startswith("case "))
    header16 = next(line for line in bf16_part.splitlines() if line.startswith("case "))
    if "bf16" in header32:
        fail(f"a bf16 implementation in the f32 table: {header32}")
    if header16.split() != ["case", "clattn-host-bf16", "GFLOP/s", "torch-bf16", "GFLOP/s", "host-bf16/torch-bf16"]:
        fail(f"the bf16 table's columns: {header16}")
    for part, want in ((f32_part, "3.00"), (bf16_part, "5.00")):
        rows = [line for line in part.splitlines() if line.startswith("1,2,17x33,8 ")]
        if not rows or any(row.split()[-1] != want for row in rows):
            fail(f"ratio column, expected {want} on every bench-tiny row: {rows}")
    print("compare_check: ok")


if __name__ == "__main__":
    main()
