#!/usr/bin/env python3
"""GPU resource report of the kernels clattn's planner chooses, compiled offline for GPU targets.

Input: the JSON lines of `clattn kernels --profile PROFILE [--shape ...] --json` (one object per kernel a
plan builds: "sources", "kernel", "options", "why", plus "profile", "device_type", "shape", "stage"), from
files, stdin, or by running the clattn binary (--clattn PATH --profile NAME, repeatable).

Each distinct program (sources + options) is joined exactly as src/opencl/program.c joins it (the files
concatenated in order, kernels/common.cl first, no separator: clCreateProgramWithSource with lengths
NULL) and compiled with clang-15, with -Werror and the planner's options verbatim (they start with
-cl-std=CL1.2), for:
  gfx90a, gfx1030  -target amdgcn-amd-amdhsa -mcpu=... -O3 -S, ROCm device libraries linked
                   (--rocm-path=/usr --rocm-device-lib-path=/usr/lib/x86_64-linux-gnu/amdgcn/bitcode,
                   Debian rocm-device-libs 5.2.3; without them every builtin is an external call and the
                   compiler reserves a 16 KiB stack: scratch figures that are not real). Read per kernel:
                   VGPRs ("; NumVgprs"), scratch bytes per work-item ("; ScratchSize"), LDS bytes
                   (".amdhsa_group_segment_fixed_size"), occupancy in waves per SIMD ("; Occupancy").
  sm_80            -target nvptx64-nvidia-cuda -march=sm_80 -O3 -S, libclc linked (-Xclang
                   -mlink-bitcode-file -Xclang /usr/lib/clc/nvptx64--nvidiacl.bc, Debian libclc-15-dev);
                   -Wno-linker-warnings because libclc's triple is nvptx64-unknown-nvidiacl (the only
                   warning taken out of -Werror). Read: the bytes of the entry's ".local" __local_depot
                   (private arrays the compiler could not keep in registers) and external calls left.
  spirv            -target spir64-unknown-unknown -O0 -c -emit-llvm, then llvm-spirv-15: translates or not.
                   -O0 because a SPIR-V consumer optimises the module itself, and LLVM 15's optimiser
                   emits what llvm-spirv 15 cannot translate: `freeze` at -O3 and 5-bit integers at -O1
                   (scores.cl with WG_M=16 WG_N=16 WPT_M=4 VW=4 TK=16; -O0 and -O2 translate).
-O3 is what ROCm's OpenCL runtime compiles with; OpenCL compilers optimise by default.

Roofline model (per variant, on a reference GPU: MI210, 22.6 TFLOP/s fp32, 1.6 TB/s HBM, 104 CUs at
1.7 GHz with 128 B/clk/CU of local memory, so 22.6 TB/s of LDS bandwidth). From the tile sizes in the
options, the bytes each useful FLOP (a multiply-add is 2 FLOPs) moves:
  fused.cl clattn_fused  a work-group holds BM = WG*RPW query rows; per tile of TK keys it stages
                         TK*(DK + DVP) floats of K and V from global memory for 2*BM*TK*(DK + DVP) FLOPs
                         (scores and P.V): global B/FLOP = 2/BM (Q and the output are read/written once per
                         row: + (DK + DVP)*4 / (2*Lk*(DK + DVP)) = 2/Lk, added with the shape's Lk).
                         Each work-item keeps its RPW q rows and accumulators in registers and reads every
                         staged K and V float from local memory once per tile for its RPW rows: local
                         B/FLOP = 4 / (2*RPW) = 2/RPW (+ the staging writes, 2/BM). DIRECT=1 (CPU decode)
                         reads K/V from global memory per work-item: global B/FLOP = 2/RPW.
  fused_gpu.cl clattn_fused_gpu (DECODE=0)  a work-group of TR x TC items holds BR = TR*RT rows; per tile
                         of BC = TC*CT keys it stages BC*(DK + DVP) floats of K and V: global B/FLOP =
                         2/BR (+ 2/Lk). Each item holds an RT x CT tile of scores and RT x W of the output
                         (W = DVP/TC columns); per head-dim element it reads RT q and CT k floats from local
                         memory for RT*CT multiply-adds, per key RT p and W v floats for RT*W: local B/FLOP =
                         (DK*2*(RT + CT)/(RT*CT) + DVP*2*(RT + W)/(RT*W)) / (DK + DVP), + 2/BR for staging.
  fused_gpu.cl clattn_decode_gpu (DECODE=1)  K and V rows from global memory once per work-group of BR = RT
                         rows: global B/FLOP = 2/BR (+ 2/Lk); local (q and p only):
                         (DK*2/CT + DVP*2/W) / (DK + DVP).
  scores.cl, weighted_sum.cl  a tiled GEMM: a work-group tile TM x TN (TM = WG_M*WPT_M, TN = WG_N*VW)
                         over a reduction of depth K (D for scores, Lk for weighted_sum) reads (TM + TN)*K
                         floats and writes TM*TN floats for 2*TM*TN*K FLOPs: global B/FLOP =
                         2*(TM + TN)/(TM*TN) + 2/K (scores writes S, weighted_sum reads P: the [Lq, Lk]
                         score matrix goes through global memory, the chain's cost). Local: a work-item
                         reads WPT_M + VW floats per WPT_M*VW multiply-adds: 2*(WPT_M + VW)/(WPT_M*VW).
  softmax.cl             streaming: per score element about 5 FLOPs (max, subtract, exp, sum, scale) for
                         12 bytes (read S twice, write P; + 4 with probabilities): 2.4 B/FLOP global.
  clattn_fused_merge, clattn_fused_gpu_merge  streaming over the partials (negligible FLOPs): no bound.
Bound = min(peak, HBM / global B/FLOP, LDS / local B/FLOP): an upper bound that ignores caches (L2 reuse
would only lower global traffic), latency, occupancy and the exp() cost; it says which resource a tile
shape saturates first, so a design can be judged before anyone runs it. "attn" below is the bound of the
whole attention at the shape (all kernels of the plan, FLOPs 2*B*Hq*Lq*Lk*(D + Dv), halved for causal).

Targets (a breach makes the exit status 1), for every variant of a GPU profile ("device_type": "gpu")
that serves a shape with D <= 128: zero scratch on gfx90a and gfx1030; occupancy on gfx90a >= 4 waves
per SIMD where it serves D <= 64 and >= 2 where D <= 128; LDS <= 64 KiB on both AMD targets; no
__local_depot in the PTX; SPIR-V translates; and every target compiles with -Werror. Variants of CPU
profiles are compiled and tabulated for comparison only.

Usage:
  clattn kernels --profile gpu-amd --json | tools/gpu_kernel_report.py
  tools/gpu_kernel_report.py --clattn build/tools/clattn --profile gpu-amd --profile gpu-small \
      --chain-shape 1,16,16,2048,2048,64
  tools/gpu_kernel_report.py --clattn build/tools/clattn --profile gpu-amd --shape 1,16,16,2048,2048,64
Exit status: 0 targets met; 1 a breach; 2 usage, a missing tool, or no kernel in the input.
Needs Python 3 (standard library only), clang-15, llvm-spirv-15, rocm-device-libs, libclc-15-dev
(bash tools/deps.sh installs them).
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROCM_BITCODE = "/usr/lib/x86_64-linux-gnu/amdgcn/bitcode"
LIBCLC_NVPTX = "/usr/lib/clc/nvptx64--nvidiacl.bc"
CLANG = "clang-15"
LLVM_SPIRV = "llvm-spirv-15"

# MI210 (reference GPU of the roofline)
PEAK_FLOPS = 22.6e12
HBM_BPS = 1.6e12
LDS_BPS = 128 * 104 * 1.7e9

LDS_LIMIT = 64 * 1024
AMD_TARGETS = ("gfx90a", "gfx1030")
TARGETS = AMD_TARGETS + ("sm_80", "spirv")


def occupancy_target(d):
    """Waves per SIMD on gfx90a a variant serving head dim d must reach (None: no target)."""
    if d <= 64:
        return 4
    if d <= 128:
        return 2
    return None


# ---- compiling ----------------------------------------------------------------------------------------

def compile_cmd(target, src, out):
    """The clang-15 command line for one target (the planner's options are added by the caller)."""
    if target in AMD_TARGETS:
        return [CLANG, "-x", "cl", "-Werror", "-O3", "-target", "amdgcn-amd-amdhsa", "-mcpu=" + target,
                "--rocm-path=/usr", "--rocm-device-lib-path=" + ROCM_BITCODE, "-S", "-o", out, src]
    if target == "sm_80":
        return [CLANG, "-x", "cl", "-Werror", "-Wno-linker-warnings", "-O3", "-target", "nvptx64-nvidia-cuda",
                "-march=sm_80", "-Xclang", "-mlink-bitcode-file", "-Xclang", LIBCLC_NVPTX, "-S", "-o", out, src]
    if target == "spirv":
        return [CLANG, "-x", "cl", "-Werror", "-O0", "-target", "spir64-unknown-unknown", "-c", "-emit-llvm",
                "-o", out, src]
    raise ValueError(target)


def parse_amdgcn(asm):
    """{kernel: {"vgprs", "scratch", "lds", "occupancy"}} from clang's amdgcn assembly."""
    out = {}
    for chunk in re.split(r";\s*-- Begin function ", asm)[1:]:
        name = chunk.split(None, 1)[0]

        def num(pattern):
            m = re.search(pattern, chunk, re.M)
            return int(m.group(1)) if m else None

        out[name] = {"vgprs": num(r"^; NumVgprs: (\d+)"), "scratch": num(r"^; ScratchSize: (\d+)"),
                     "lds": num(r"\.amdhsa_group_segment_fixed_size (\d+)"),
                     "occupancy": num(r"^; Occupancy: (\d+)")}
    return out


def parse_ptx(ptx):
    """{kernel: {"local": depot bytes, "calls": external calls}} from PTX."""
    out = {}
    parts = re.split(r"^\.visible \.entry (\w+)\(", ptx, flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2]):
        depot = sum(int(b) for b in re.findall(r"\.local\s+\.align\s+\d+\s+\.b8\s+__local_depot\d+\[(\d+)\]", body))
        out[name] = {"local": depot, "calls": len(re.findall(r"^\s*call", body, re.M))}
    return out


def compile_program(text, options, target, workdir, tag):
    """Compiles one joined program for one target: (ok, per-kernel stats or None, error text)."""
    src = os.path.join(workdir, tag + ".cl")
    if not os.path.exists(src):
        with open(src, "w", encoding="utf-8") as f:
            f.write(text)
    out = os.path.join(workdir, "%s.%s.%s" % (tag, target, "bc" if target == "spirv" else "s"))
    cmd = compile_cmd(target, src, out)
    cmd[1:1] = options  # the planner's options, verbatim, right after the compiler
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return False, None, (r.stderr.strip().splitlines() or ["clang failed"])[0]
    if target == "spirv":
        spv = out[:-3] + ".spv"
        r = subprocess.run([LLVM_SPIRV, out, "-o", spv], capture_output=True, text=True)
        if r.returncode != 0:
            return False, None, (r.stderr.strip().splitlines() or ["llvm-spirv failed"])[0]
        return True, {}, ""
    with open(out, encoding="utf-8") as f:
        text_out = f.read()
    return True, (parse_ptx(text_out) if target == "sm_80" else parse_amdgcn(text_out)), ""


# ---- roofline -----------------------------------------------------------------------------------------

def defines(options):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"-D\s*(\w+)=(-?\d+)", options)}


def bytes_per_flop(kernel, dd, shape):
    """(global B/FLOP, local B/FLOP) of one kernel variant, or None where the model has nothing to say."""
    B, Hq, Hkv, Lq, Lk, D, Dv = shape
    if kernel == "clattn_fused":
        bm = dd["WG"] * dd["RPW"]
        if dd.get("DIRECT", 0):
            return 2.0 / dd["RPW"] + 2.0 / Lk, 0.0
        return 2.0 / bm + 2.0 / Lk, 2.0 / dd["RPW"] + 2.0 / bm
    if kernel in ("clattn_fused_gpu", "clattn_decode_gpu"):
        dk, dvp, rt, ct, tc = dd["DK"], dd["DVP"], dd["RT"], dd["CT"], dd["TC"]
        br, w = dd["TR"] * rt, dd["DVP"] / tc
        if kernel == "clattn_decode_gpu" or dd.get("DECODE", 0):
            return 2.0 / br + 2.0 / Lk, (dk * 2.0 / ct + dvp * 2.0 / w) / (dk + dvp)
        return (2.0 / br + 2.0 / Lk,
                (dk * 2.0 * (rt + ct) / (rt * ct) + dvp * 2.0 * (rt + w) / (rt * w)) / (dk + dvp) + 2.0 / br)
    if kernel in ("clattn_scores", "clattn_weighted_sum"):
        tm, tn = dd["WG_M"] * dd["WPT_M"], dd["WG_N"] * dd["VW"]
        depth = D if kernel == "clattn_scores" else Lk
        return (2.0 * (tm + tn) / (tm * tn) + 2.0 / depth,
                2.0 * (dd["WPT_M"] + dd["VW"]) / (dd["WPT_M"] * dd["VW"]))
    if kernel in ("clattn_softmax", "clattn_softmax_rows"):
        return 12.0 / 5.0, 0.0
    return None


def bound(gbpf, lbpf):
    b = PEAK_FLOPS
    if gbpf > 0:
        b = min(b, HBM_BPS / gbpf)
    if lbpf > 0:
        b = min(b, LDS_BPS / lbpf)
    return b


def attention_flops(shape, causal):
    B, Hq, Hkv, Lq, Lk, D, Dv = shape
    f = 2.0 * B * Hq * Lq * Lk * (D + Dv)
    return f / 2 if causal else f


# ---- the report ---------------------------------------------------------------------------------------

def read_lines(args):
    lines = []
    for path in args.inputs:
        with (sys.stdin if path == "-" else open(path, encoding="utf-8")) as f:
            lines += f.read().splitlines()
    for prof in args.profile or []:
        runs = [[]]
        for s in args.shape or []:
            runs[0] += ["--shape", s]
        if args.causal:
            runs[0].append("--causal")
        for s in args.chain_shape or []:
            runs.append(["--shape", s, "--probs"])
        for s in args.paged_shape or []:
            runs.append(["--shape", s, "--causal", "--paged", str(args.paged_block)])
        for extra in runs:
            cmd = [args.clattn, "kernels", "--profile", prof, "--json"] + extra
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print("gpu_kernel_report: %s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()),
                      file=sys.stderr)
                sys.exit(2)
            lines += r.stdout.splitlines()
    if not args.inputs and not args.profile:
        lines = sys.stdin.read().splitlines()
    return [json.loads(l) for l in lines if l.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="*", help="files of JSON lines ('-' for stdin; default stdin unless --profile)")
    ap.add_argument("--clattn", default="clattn", help="the clattn binary run for --profile (default: clattn)")
    ap.add_argument("--profile", action="append", help="run `clattn kernels --profile NAME --json` (repeatable)")
    ap.add_argument("--shape", action="append", help="B,Hq,Hkv,Lq,Lk,D[,Dv] passed on to clattn (repeatable)")
    ap.add_argument("--causal", action="store_true", help="passed on to clattn")
    ap.add_argument("--chain-shape", action="append",
                    help="also plan this shape with probabilities (the kernel chain) on each --profile (repeatable)")
    ap.add_argument("--paged-shape", action="append",
                    help="B,Hq,Hkv,Lq,Lk,D[,Dv] planned bottom-right causal over a paged KV cache (clattn kernels "
                         "--paged: the paths fused-paged, fused-gpu-paged, chain-paged; repeatable)")
    ap.add_argument("--paged-block", type=int, default=16, help="block size of --paged-shape (default 16)")
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
                    help="the source tree the 'sources' paths are relative to (default: this script's ../)")
    ap.add_argument("--json", metavar="FILE", help="also write every row as JSON lines to FILE")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 2, help="parallel compiles")
    args = ap.parse_args()

    for tool in (CLANG, LLVM_SPIRV):
        if not shutil.which(tool):
            print("gpu_kernel_report: %s not found (bash tools/deps.sh installs it)" % tool, file=sys.stderr)
            return 2
    for path in (ROCM_BITCODE, LIBCLC_NVPTX):
        if not os.path.exists(path):
            print("gpu_kernel_report: %s not found (rocm-device-libs, libclc-15-dev: bash tools/deps.sh)" % path,
                  file=sys.stderr)
            return 2
    entries = read_lines(args)
    if not entries:
        print("gpu_kernel_report: no kernel in the input", file=sys.stderr)
        return 2

    # Programs (joined sources + options) and variants (program, kernel, profile) with the shapes they serve.
    programs, variants = {}, {}
    for e in entries:
        pkey = (tuple(e["sources"]), e["options"])
        if pkey not in programs:
            text = ""
            for s in e["sources"]:
                with open(os.path.join(args.root, s), encoding="utf-8") as f:
                    text += f.read()
            programs[pkey] = {"text": text, "tag": "p%d" % len(programs)}
        vkey = (e.get("profile", "?"), pkey, e["kernel"])
        v = variants.setdefault(vkey, {"profile": e.get("profile", "?"), "gpu": e.get("device_type") == "gpu",
                                       "kernel": e["kernel"], "program": pkey, "shapes": [], "why": e.get("why", "")})
        if "shape" in e:
            v["shapes"].append((tuple(e["shape"]), bool(e.get("causal", False))))

    results = {}
    with tempfile.TemporaryDirectory(prefix="clattn-gpu-report-") as work:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futs = {pool.submit(compile_program, p["text"], pkey[1].split(), t, work, p["tag"]): (pkey, t)
                    for pkey, p in programs.items() for t in TARGETS}
            for fut in concurrent.futures.as_completed(futs):
                results[futs[fut]] = fut.result()

    rows, breaches = [], []
    for (profile, pkey, kernel), v in sorted(variants.items(), key=lambda kv: (kv[0][0], kv[0][1][0], kv[0][2],
                                                                             kv[0][1][1])):
        dd = defines(pkey[1])
        dvals = sorted({s[0][5] for s in v["shapes"]}) or ([dd["DK"]] if "DK" in dd else [])
        row = {"profile": profile, "kernel": kernel, "source": pkey[0][-1], "options": pkey[1],
               "D": dvals, "gpu": v["gpu"], "why": v["why"]}
        problems = []
        for t in TARGETS:
            ok, stats, err = results[(pkey, t)]
            if not ok:
                row[t] = {"error": err}
                problems.append("%s: does not compile (%s)" % (t, err))
                continue
            if t == "spirv":
                row[t] = {"ok": True}
                continue
            st = stats.get(kernel)
            if st is None:
                row[t] = {"error": "kernel not in the output"}
                problems.append("%s: %s not in the output" % (t, kernel))
                continue
            row[t] = st
        # roofline at the variant's first shape
        if v["shapes"]:
            shape = v["shapes"][0][0]
            bpf = bytes_per_flop(kernel, dd, shape)
            if bpf:
                row["global_B_per_flop"], row["local_B_per_flop"] = bpf
                row["bound_tflops"] = bound(*bpf) / 1e12
        # targets
        dmin = min(dvals) if dvals else None
        if v["gpu"] and dmin is not None and dmin <= 128:
            for t in AMD_TARGETS:
                st = row.get(t, {})
                if "error" in st:
                    continue
                if st.get("scratch"):
                    problems.append("%s: %d bytes of scratch per work-item" % (t, st["scratch"]))
                if st.get("lds") is not None and st["lds"] > LDS_LIMIT:
                    problems.append("%s: LDS %d bytes > 64 KiB" % (t, st["lds"]))
            occ, want = row.get("gfx90a", {}).get("occupancy"), occupancy_target(dmin)
            if occ is not None and want is not None and occ < want:
                problems.append("gfx90a: occupancy %d < %d (D = %d)" % (occ, want, dmin))
            if row.get("sm_80", {}).get("local"):
                problems.append("sm_80: .local depot of %d bytes" % row["sm_80"]["local"])
            if row.get("sm_80", {}).get("calls"):
                problems.append("sm_80: %d unresolved calls" % row["sm_80"]["calls"])
            row["problems"] = problems
            if problems:
                breaches.append((row, problems))
        else:
            row["problems"] = [p for p in problems]  # reported, not gated
        rows.append(row)

    def cell(row, t, key):
        st = row.get(t, {})
        if "error" in st:
            return "error"
        val = st.get(key)
        return "-" if val is None else str(val)

    print("GPU resource report: %d kernel variants in %d programs, %d targets; roofline on MI210 "
          "(22.6 TFLOP/s fp32, 1.6 TB/s HBM, %.1f TB/s LDS)" % (len(rows), len(programs), len(TARGETS),
                                                              LDS_BPS / 1e12))
    print()
    print("| profile | kernel | D | options | gfx90a VGPRs / scratch / LDS / occ | gfx1030 VGPRs / scratch / LDS / "
          "occ | sm_80 .local | SPIR-V | global, local B/FLOP | bound TFLOP/s (% peak) | targets |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        amd = [" / ".join(cell(r, t, k) for k in ("vgprs", "scratch", "lds", "occupancy")) for t in AMD_TARGETS]
        roof = ("%.2f, %.2f" % (r["global_B_per_flop"], r["local_B_per_flop"]) if "global_B_per_flop" in r else "-")
        bnd = ("%.1f (%d %%)" % (r["bound_tflops"], round(100 * r["bound_tflops"] * 1e12 / PEAK_FLOPS))
               if "bound_tflops" in r else "-")
        spv = "error" if "error" in r.get("spirv", {}) else "ok"
        opts = " ".join(o for o in r["options"].split() if o not in ("-D", "-cl-std=CL1.2"))
        gated = r["gpu"] and r["D"] and min(r["D"]) <= 128
        verdict = ("; ".join(r["problems"]) if r["problems"] else "met") if gated else "(not gated)"
        print("| %s | %s | %s | `%s` | %s | %s | %s | %s | %s | %s | %s |" % (
            r["profile"], r["kernel"], ",".join(str(d) for d in r["D"]), opts, amd[0], amd[1],
            cell(r, "sm_80", "local"), spv, roof, bnd, verdict))

    # Whole-attention bound per profile and shape: sum of each kernel's time at its bound.
    shapes = {}
    for e in entries:
        if "shape" in e:
            probs = "yes" if e.get("probs", False) else "no"  # the column also says "paged <block size>"
            if "kv_block_size" in e:
                probs += ", paged %d" % e["kv_block_size"]
            key = (e.get("profile", "?"), tuple(e["shape"]), bool(e.get("causal", False)), probs)
            shapes.setdefault(key, []).append(e)
    if shapes:
        print()
        print("| profile | shape B,Hq,Hkv,Lq,Lk,D,Dv | causal | probs | path | attn bound TFLOP/s (% peak) |")
        print("|---|---|---|---|---|---|")
        for (profile, shape, causal, probs), es in sorted(shapes.items()):
            flops = attention_flops(shape, causal)
            t = 0.0
            for e in es:
                if not e.get("launched", True):
                    continue
                bpf = bytes_per_flop(e["kernel"], defines(e["options"]), shape)
                if bpf is None:
                    continue  # the merge: negligible next to the fused kernel
                kflops = flops
                if e["kernel"].startswith("clattn_softmax"):
                    kflops = 5.0 * shape[0] * shape[1] * shape[3] * shape[4]
                elif e["kernel"] == "clattn_scores":
                    kflops = flops * shape[5] / (shape[5] + shape[6])
                elif e["kernel"] == "clattn_weighted_sum":
                    kflops = flops * shape[6] / (shape[5] + shape[6])
                t += kflops / bound(*bpf)
            path = es[0].get("path", "?")
            if t > 0:
                b = flops / t
                print("| %s | %s | %s | %s | %s | %.1f (%d %%) |" % (profile, ",".join(map(str, shape)),
                                                                    "yes" if causal else "no", probs,
                                                                    path, b / 1e12, round(100 * b / PEAK_FLOPS)))

    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    print()
    if breaches:
        print("targets: %d GPU variant(s) with D <= 128 breach them:" % len(breaches))
        for r, probs in breaches:
            print("  %s %s (%s): %s" % (r["profile"], r["kernel"], r["options"], "; ".join(probs)))
        return 1
    gated = sum(1 for r in rows if r["gpu"] and r["D"] and min(r["D"]) <= 128)
    print("targets: met by all %d GPU variant(s) with D <= 128" % gated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
