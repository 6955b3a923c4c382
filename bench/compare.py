#!/usr/bin/env python3
"""Compares clattn-bench with the peers: a ratio table per case and a GFLOP/s plot, per dtype.

  python bench/compare.py RUN_DIR/*.jsonl [--markdown] [--plot out.png]

Records are grouped by their "dtype" (f32, f16, bf16: clattn-bench --dtype, the peers' --dtype): each dtype gets
its own table, geometric means, decode-bound lines (2 bytes per K/V element for f16/bf16) and plot, so a ratio
only ever compares implementations that read and write the same element type. The f32 plot goes to the --plot
path; the others to the same path with "-f16" / "-bf16" before the extension (gflops.png -> gflops-bf16.png).

Reads JSON lines written by `clattn-bench --json` and by bench/peers/*.py --json (records with
"record": "case"; "peak" records are listed). A case is (B, Hq, Hkv, Lq, Lk, D, Dv, causal). An
implementation is "clattn-<device_tag>" (clattn-host, clattn-pocl, ...) or the peer's name. When the same
implementation ran a case more than once (run.sh --rounds N), the smallest median `ms` is kept: on a
shared machine the least disturbed round is the best estimate of what the code can do.

ratio = peer ms / clattn ms = clattn GFLOP/s / peer GFLOP/s, from `ms` (for clattn on OpenCL the
device-resident time, enqueue + clFinish; peers time their call on arrays in memory). > 1: clattn faster.
--stat min uses each implementation's fastest single run (`ms_min`) instead of the median.
"""
import argparse
import json
import math
import sys
from collections import OrderedDict

PEERS = ["onnxruntime", "torch", "numpy"]


def impl_name(r):
    """clattn-<device_tag>, with "-f16"/"-bf16" for clattn-bench --dtype records and "-reduced" for --precision
    reduced ones; else the peer's impl (torch-bf16 for torch_peer.py --dtype bf16, onnxruntime-f16)."""
    if r["impl"] != "clattn":
        return r["impl"]
    name = f"clattn-{r.get('device_tag') or 'unknown'}"
    if r.get("dtype", "f32") != "f32":  # clattn-bench --dtype f16 / bf16 (peers: torch-bf16, onnxruntime-f16)
        name += f"-{r['dtype']}"
    return name + "-reduced" if r.get("precision") == "reduced" else name


def case_key(r):
    return (r["B"], r["Hq"], r["Hkv"], r["Lq"], r["Lk"], r["D"], r["Dv"], bool(r["causal"]))


def case_label(k):
    B, Hq, Hkv, Lq, Lk, D, Dv, causal = k
    heads = f"{Hq}" if Hq == Hkv else f"{Hq}/{Hkv}"
    L = f"{Lq}" if Lq == Lk else f"{Lq}x{Lk}"
    d = f"{D}" if D == Dv else f"{D}/{Dv}"
    return f"{B},{heads},{L},{d} {'causal' if causal else 'full'}"


STAT = "ms"


DTYPES = ["f32", "f16", "bf16"]


def load(paths):
    """-> ({dtype: OrderedDict(case key -> {impl: record})}, peaks, {dtype: {(case key, impl): status}})"""
    groups = OrderedDict()
    peaks, statuses = [], {}
    for p in paths:
        with open(p) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                if r.get("record") == "peak":
                    peaks.append(r)
                    continue
                if r.get("record") != "case":
                    continue
                k, name, dt = case_key(r), impl_name(r), r.get("dtype", "f32")
                slot = groups.setdefault(dt, OrderedDict()).setdefault(k, {})
                if r.get("ms") is None:
                    statuses.setdefault(dt, {}).setdefault((k, name), r.get("status", "?"))
                    continue
                r = dict(r, ms=r[STAT])
                r["gflops"] = r["flops"] / r["ms"] * 1e-6
                if name not in slot or r["ms"] < slot[name]["ms"]:
                    slot[name] = r
    order = sorted(groups, key=lambda d: (DTYPES.index(d) if d in DTYPES else len(DTYPES), d))
    return OrderedDict((d, groups[d]) for d in order), peaks, statuses


def elem_bytes(dtype):
    return 4.0 if dtype == "f32" else 2.0


def fmt(x, spec=".1f"):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def table(cases, statuses, markdown):
    impls = []
    for slot in cases.values():
        for n in slot:
            if n not in impls:
                impls.append(n)
    ours = sorted([n for n in impls if n.startswith("clattn-")], key=lambda n: (not n.startswith("clattn-host"), n))
    peers = [p for p in PEERS if p in impls] + [n for n in impls if n not in ours and n not in PEERS]
    cols = ["case"] + [f"{n} GFLOP/s" for n in ours + peers]
    cols += [f"{o.removeprefix('clattn-')}/{p}" for o in ours for p in peers]
    rows = []
    for k, slot in cases.items():
        row = [case_label(k)]
        for n in ours + peers:
            if n in slot:
                row.append(fmt(slot[n]["gflops"]))
            else:
                st = statuses.get((k, n))
                row.append("skip" if st and st.startswith("skipped") else ("err" if st else "-"))
        for o in ours:
            for p in peers:
                if o in slot and p in slot:
                    row.append(fmt(slot[p]["ms"] / slot[o]["ms"], ".2f"))
                else:
                    row.append("-")
        rows.append(row)
    if markdown:
        out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows]
    else:
        w = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(cols)]
        out = ["  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(cols))]
        out += ["  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(r)) for r in rows]
    return "\n".join(out), ours, peers


def geomean_ratios(cases, ours, peers):
    lines = []
    for o in ours:
        parts = []
        for p in peers:
            rs = [slot[p]["ms"] / slot[o]["ms"] for slot in cases.values() if o in slot and p in slot]
            if rs:
                g = math.exp(sum(math.log(x) for x in rs) / len(rs))
                parts.append(f"{p} {g:.2f} (min {min(rs):.2f}, max {max(rs):.2f}, {len(rs)} cases)")
        if parts:
            lines.append(f"geometric mean ratio {o.removeprefix('clattn-')}/peer: " + "; ".join(parts))
    return "\n".join(lines)


def extras(cases, peaks, ours, markdown, dtype="f32"):
    """Memory (workspace and real peak RSS growth) of every clattn case, and every few-query (decode)
    case against its memory-bandwidth bound: K and V bytes (of this dtype) / the device's measured triad
    bandwidth."""
    bw = {}
    for pk in peaks:
        if pk.get("peak_gbps"):
            bw[pk["device_tag"]] = max(bw.get(pk["device_tag"], 0.0), pk["peak_gbps"])
    lines = []
    sep = " | " if markdown else "  "
    for o in ours:
        tag = base_impl(o).removeprefix("clattn-")  # the device's bandwidth, whatever the dtype
        for k, slot in cases.items():
            r = slot.get(o)
            if r is None:
                continue
            B, Hq, Hkv, Lq, Lk, D, Dv, causal = k
            if Lq <= 4 and tag in bw:
                kv = elem_bytes(dtype) * B * Hkv * Lk * (D + Dv)
                bound_ms = kv / (bw[tag] * 1e9) * 1e3
                lines.append(f"decode {o} {case_label(k)}: {r['ms']:.2f} ms; K+V {kv / 2**20:.0f} MiB at "
                             f"{bw[tag]:.1f} GB/s = {bound_ms:.2f} ms; bound/time = {bound_ms / r['ms']:.2f}")
    mem = []
    for o in ours:
        for k, slot in cases.items():
            r = slot.get(o)
            if r is None:
                continue
            ws, rss = r.get("workspace_bytes"), r.get("rss_growth_bytes")
            mem.append(f"memory {o} {case_label(k)}: workspace {fmt(ws / 2**20 if ws is not None else None)} MiB, "
                       f"peak RSS growth {fmt(rss / 2**20 if rss is not None else None)} MiB")
    return "\n".join(lines + mem)


def plot_path(path, dtype):
    if dtype == "f32":
        return path
    stem, dot, ext = path.rpartition(".")
    return f"{stem}-{dtype}.{ext}" if dot else f"{path}-{dtype}"


def base_impl(n):
    """clattn-host-bf16-reduced -> clattn-host; torch-bf16 -> torch (the colour of the implementation)"""
    for suffix in ("-reduced", "-f16", "-bf16"):
        n = n.removesuffix(suffix)
    return n


def plot(cases, ours, peers, path, dtype="f32"):
    """GFLOP/s vs L: colour = implementation; a line through the B = 1 multi-head cases (Lq = Lk), separate
    markers for batched (B > 1), grouped-query (Hq != Hkv) and decode (Lq = 1) cases."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    colors = {"clattn-host": "tab:blue", "clattn-pocl": "tab:purple", "clattn-rusticl": "tab:gray",
              "onnxruntime": "tab:red", "torch": "tab:orange", "numpy": "tab:green"}
    kinds = [("B=1, Hq=Hkv (line)", "o"), ("batched B>1", "s"), ("GQA Hq>Hkv", "*"), ("decode Lq=1 (x = Lk)", "X")]

    def kind(k):
        B, Hq, Hkv, Lq, Lk = k[:5]
        if Lq == 1 and Lk > 1:
            return 3
        if Lq != Lk:
            return None
        return 2 if Hq != Hkv else (1 if B > 1 else 0)

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.4), sharey=True)
    names = ours + peers
    for ax, causal in zip(axes, (False, True)):
        for n in names:
            color = colors.get(base_impl(n))
            style = "--" if n.endswith("-reduced") else "-"
            pts = {i: [] for i in range(4)}
            for k, slot in cases.items():
                if k[7] == causal and n in slot and kind(k) is not None:
                    pts[kind(k)].append((k[4], slot[n]["gflops"]))
            line = sorted(pts[0])
            if line:
                ax.plot([p[0] for p in line], [p[1] for p in line], marker="o", color=color, linestyle=style)
            for i in (1, 2, 3):
                if pts[i]:
                    ax.scatter([p[0] for p in pts[i]], [p[1] for p in pts[i]], marker=kinds[i][1], s=80,
                               color=color, edgecolors="black", linewidths=0.5, zorder=3)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length L (Lq = Lk; decode: Lk)")
        ax.set_title("causal (bottom-right; only allowed pairs counted)" if causal else "full (no mask)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(f"GFLOP/s, {dtype} inputs (4·B·Hq·Lq·Lk·D; causal about half)")
    handles = [Line2D([], [], color=colors.get(base_impl(n)), marker="o", label=n,
                      linestyle="--" if n.endswith("-reduced") else "-") for n in names]
    handles += [Line2D([], [], color="black", marker=m, linestyle="", markerfacecolor="white", label=t)
                for t, m in kinds]
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=8)
    fig.suptitle(f"scaled dot-product attention, {dtype} q/k/v/out (dashed: reduced-precision products), "
                 "higher is better")
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="JSON-lines files from clattn-bench --json and the peers")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--plot", metavar="PNG", help="write GFLOP/s vs sequence length to this PNG")
    ap.add_argument("--stat", choices=["median", "min"], default="median",
                    help="median (default) or fastest run of each implementation")
    a = ap.parse_args()
    global STAT
    STAT = "ms" if a.stat == "median" else "ms_min"
    groups, peaks, statuses = load(a.files)
    if not groups:
        sys.exit("compare.py: no case records found")
    for pk in peaks:
        print(f"peak {pk['device_tag']}: FMA {fmt(pk['peak_gflops'])} GFLOP/s ({pk['peak_flops_how']}); "
              f"memory {fmt(pk['peak_gbps'])} GB/s ({pk['peak_bw_how']})")
    for dtype, cases in groups.items():
        st = statuses.get(dtype, {})
        if len(groups) > 1:
            print(f"\n{'## ' if a.markdown else '== '}{dtype}{'' if a.markdown else ' =='}\n")
        text, ours, peers = table(cases, st, a.markdown)
        print(f"ratio = peer time / clattn time (> 1: clattn faster); {a.stat} times; GFLOP/s from the "
              f"device-resident time; best of the rounds present; {dtype} q/k/v/out\n")
        print(text)
        print()
        print(geomean_ratios(cases, ours, peers))
        ex = extras(cases, peaks, ours, a.markdown, dtype)
        if ex:
            print()
            print(ex)
        for (k, n), why in st.items():
            if n not in cases.get(k, {}):
                print(f"note: {n} {case_label(k)}: {why}")
        if a.plot:
            plot(cases, ours, peers, plot_path(a.plot, dtype), dtype)


if __name__ == "__main__":
    main()
