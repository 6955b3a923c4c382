"""Shared parts of the peer benchmarks: the case grid, the command line, timing and the JSON-lines record.

The grid comes from the one case table (tests/cases/cases.c): the built clattn-bench prints it with
`clattn-bench --list-cases --json` (rows tagged bench-default; --quick: bench-quick). CLATTN_BENCH names
the executable (default: build/bench/clattn-bench, then build-bench/bench/clattn-bench, then PATH).
The record fields mirror clattn-bench (bench/clattn_bench.c).
Every peer times one call of its attention function on arrays already in memory (the analogue of
clattn's device-resident `ms`); `ms_host` is the same number. Times are wall clock
(time.perf_counter), median and min over --repeat runs after --warmup runs.
flops = (2·D + 2·Dv) per allowed (query, key) pair times B·Hq; causal (bottom-right) counts only the
allowed pairs (about half for Lq = Lk). bytes = Q, K, V and O once, 4 bytes per element.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def clattn_bench_path():
    """The clattn-bench executable that prints the case table."""
    env = os.environ.get("CLATTN_BENCH")
    if env:
        return env
    for d in ("build", "build-bench"):
        p = os.path.join(ROOT, d, "bench", "clattn-bench")
        if os.access(p, os.X_OK):
            return p
    p = shutil.which("clattn-bench")
    if p:
        return p
    sys.exit("clattn-bench not found: build it (cmake --build --preset release) or set CLATTN_BENCH")


def table_grid(tag):
    """[((B, Hq, Hkv, Lq, Lk, D, Dv), causal_too)] for the case-table rows tagged tag, in table order."""
    out = subprocess.run([clattn_bench_path(), "--list-cases", "--json"], check=True, capture_output=True,
                         text=True).stdout
    grid = []
    for line in out.splitlines():
        r = json.loads(line)
        if r.get("record") == "case_row" and tag in r["tags"]:
            grid.append((tuple(int(r[k]) for k in ("B", "Hq", "Hkv", "Lq", "Lk", "D", "Dv")), bool(r["causal_too"])))
    if not grid:
        sys.exit(f"clattn-bench --list-cases lists no row tagged {tag}")
    return grid

FIELDS = ["impl", "device", "device_tag", "selector", "backend", "path", "B", "Hq", "Hkv", "Lq", "Lk", "D", "Dv",
          "causal", "threads", "warmup", "repeat", "status", "ms", "ms_min", "ms_host", "ms_host_min",
          "first_call_ms", "plan_ms", "flops", "gflops", "gflops_host", "bytes", "gbps", "workspace_bytes",
          "max_abs_err", "peak_gflops", "peak_gbps", "pct_peak_flops", "pct_peak_bw"]


def parse_args(description, dtypes=None):
    """dtypes: the --dtype values a peer runs (its first is the default); None: float32 only, no --dtype."""
    ap = argparse.ArgumentParser(description=description)
    if dtypes:
        ap.add_argument("--dtype", choices=dtypes, default=dtypes[0],
                        help="element type of q, k, v and out (inputs are the float32 ones, converted)")
    ap.add_argument("--shape", action="append", default=[], metavar="B,Hq,Hkv,Lq,Lk,D[,Dv]")
    ap.add_argument("--quick", action="store_true", help="the case-table rows tagged bench-quick")
    ap.add_argument("--causal", action="store_true", help="bottom-right causal only")
    ap.add_argument("--both", action="store_true", help="each shape causal and not")
    ap.add_argument("--cases", metavar="JSONL", help="take the cases from clattn-bench --json output")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--max-seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=0, help="default: CLATTN_THREADS, else os.cpu_count()")
    ap.add_argument("--json", action="store_true", help="JSON lines (default: a short table)")
    a = ap.parse_args()
    if a.threads <= 0:
        a.threads = int(os.environ.get("CLATTN_THREADS", "0") or 0) or os.cpu_count() or 1
    return a


def cases_from_args(a):
    """List of (shape tuple of 7, causal bool)."""
    out = []
    if a.cases:
        seen = set()
        with open(a.cases) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                if r.get("record") != "case":
                    continue
                key = (tuple(int(r[k]) for k in ("B", "Hq", "Hkv", "Lq", "Lk", "D", "Dv")), bool(r["causal"]))
                if key not in seen:
                    seen.add(key)
                    out.append(key)
        return out
    if a.shape:
        for text in a.shape:
            v = [int(x) for x in text.split(",")]
            if len(v) not in (6, 7):
                sys.exit(f"--shape wants B,Hq,Hkv,Lq,Lk,D[,Dv] (got {text!r})")
            s = tuple(v) if len(v) == 7 else tuple(v) + (v[5],)
            if not a.causal:
                out.append((s, False))
            if a.causal or a.both:
                out.append((s, True))
        return out
    grid = table_grid("bench-quick" if a.quick else "bench-default")
    for s, causal_too in grid:
        if not a.causal or not causal_too:
            out.append((s, False))
        if causal_too:
            out.append((s, True))
    return out


def make_inputs(s, seed=0):
    B, Hq, Hkv, Lq, Lk, D, Dv = s
    rng = np.random.default_rng(seed)
    q = rng.uniform(-1, 1, (B, Hq, Lq, D)).astype(np.float32)
    k = rng.uniform(-1, 1, (B, Hkv, Lk, D)).astype(np.float32)
    v = rng.uniform(-1, 1, (B, Hkv, Lk, Dv)).astype(np.float32)
    return q, k, v


def allowed_pairs(s, causal):
    B, Hq, Hkv, Lq, Lk, D, Dv = s
    if not causal:
        return Lq * Lk
    i = np.arange(Lq, dtype=np.int64)
    return int(np.clip(i + Lk - Lq + 1, 0, Lk).sum())


def causal_bool_mask(Lq, Lk):
    """[Lq, Lk] True = may attend, bottom-right aligned (key j <= i + Lk - Lq)."""
    i = np.arange(Lq)[:, None]
    j = np.arange(Lk)[None, :]
    return j <= i + (Lk - Lq)


def sampled_error(s, causal, q, k, v, out):
    """max |out - reference| over a few (b, h, i) rows, float64 reference (same rows as clattn-bench)."""
    B, Hq, Hkv, Lq, Lk, D, Dv = s
    rows = B * Hq * Lq
    if rows == 0 or Lk == 0:
        return 0.0
    err = 0.0
    for r in (0, rows - 1, rows // 2, (rows * 7) // 13):
        i, bh = r % Lq, r // Lq
        h, b = bh % Hq, bh // Hq
        hk = h // (Hq // Hkv)
        n = min(Lk, i + Lk - Lq + 1) if causal else Lk
        ref = np.zeros(Dv)
        if n > 0:
            sc = k[b, hk, :n].astype(np.float64) @ q[b, h, i].astype(np.float64) / math.sqrt(D)
            p = np.exp(sc - sc.max())
            ref = (p / p.sum()) @ v[b, hk, :n].astype(np.float64)
        e = float(np.abs(out[b, h, i].astype(np.float64) - ref).max())
        err = e if (math.isnan(e) or e > err) else err
    return err


class TooSlow(Exception):
    pass


def bench_case(impl, device, path, threads, a, s, causal, prepare, run):
    """prepare(s, causal, q, k, v) -> state (session build etc.); run(state) -> output array."""
    B, Hq, Hkv, Lq, Lk, D, Dv = s
    rec = {k: None for k in FIELDS}
    rec.update(record="case", impl=impl, device=device, device_tag=impl, selector="", backend="cpu", path=path,
               B=B, Hq=Hq, Hkv=Hkv, Lq=Lq, Lk=Lk, D=D, Dv=Dv, causal=causal, threads=threads,
               warmup=a.warmup, repeat=a.repeat, status="ok")
    rec["flops"] = float(B * Hq * allowed_pairs(s, causal) * 2 * (D + Dv))
    es = 4.0 if getattr(a, "dtype", "f32") == "f32" else 2.0  # bytes per q/k/v/out element (--dtype)
    rec["bytes"] = es * (B * Hq * Lq * D + B * Hkv * Lk * (D + Dv) + B * Hq * Lq * Dv)
    rec["dtype"] = getattr(a, "dtype", "f32")
    try:
        q, k, v = make_inputs(s)
        t0 = time.perf_counter()
        state = prepare(s, causal, q, k, v)
        t1 = time.perf_counter()
        out = run(state)
        t2 = time.perf_counter()
        rec["plan_ms"] = (t1 - t0) * 1e3
        rec["first_call_ms"] = (t2 - t0) * 1e3
        rec["max_abs_err"] = sampled_error(s, causal, q, k, v, np.asarray(out))
        if t2 - t1 > a.max_seconds:
            raise TooSlow(f"first call took {t2 - t1:.1f} s > --max-seconds {a.max_seconds:g}")
        times = []
        for it in range(a.warmup + a.repeat):
            t0 = time.perf_counter()
            run(state)
            dt = time.perf_counter() - t0
            if dt > a.max_seconds:
                raise TooSlow(f"one run took {dt:.1f} s > --max-seconds {a.max_seconds:g}")
            if it >= a.warmup:
                times.append(dt * 1e3)
        ms = statistics.median(times)
        rec.update(ms=ms, ms_min=min(times), ms_host=ms, ms_host_min=min(times))
        rec["gflops"] = rec["gflops_host"] = rec["flops"] / ms * 1e-6
        rec["gbps"] = rec["bytes"] / ms * 1e-6
    except TooSlow as e:
        rec["status"] = f"skipped: too slow ({e})"
    except Exception as e:  # a peer that cannot run a case reports it, like clattn's "error: ..."
        rec["status"] = f"error: {type(e).__name__}: {e}".replace("\n", " ")[:400]
    return rec


def reference(s, causal, q, k, v):
    """Whole-tensor float64 NumPy attention (bottom-right causal), for the one-off check."""
    B, Hq, Hkv, Lq, Lk, D, Dv = s
    g = Hq // Hkv
    q64 = q.astype(np.float64).reshape(B, Hkv, g, Lq, D)
    sc = q64 @ k.astype(np.float64)[:, :, None].swapaxes(-1, -2) / math.sqrt(D)
    if causal:
        sc = np.where(causal_bool_mask(Lq, Lk), sc, -np.inf)
    p = np.exp(sc - sc.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return (p @ v.astype(np.float64)[:, :, None]).reshape(B, Hq, Lq, Dv)


# A small odd case for the one-off whole-tensor check: GQA, Lq != Lk (bottom-right causal), Dv != D.
CHECK_CASES = [((2, 6, 2, 48, 80, 32, 40), True), ((2, 6, 2, 48, 80, 32, 40), False), ((1, 4, 4, 64, 64, 64, 64), True)]


def correctness_check(impl, prepare, run):
    worst = 0.0
    for s, causal in CHECK_CASES:
        q, k, v = make_inputs(s, seed=7)
        out = np.asarray(run(prepare(s, causal, q, k, v)))
        worst = max(worst, float(np.abs(out.astype(np.float64) - reference(s, causal, q, k, v)).max()))
    print(f"# {impl}: correctness check vs NumPy float64 (GQA, Lq != Lk, causal and not): max abs diff "
          f"{worst:.2e}", file=sys.stderr, flush=True)
    return worst


def run_all(impl, device, path, a, prepare, run):
    cases = cases_from_args(a)
    correctness_check(impl, prepare, run)
    if not a.json:
        print(f"# {impl}: {device}; path {path}; {a.threads} threads; median of {a.repeat} after {a.warmup} warm-up")
        print(f"{'B':>3} {'Hq':>4} {'Hkv':>4} {'Lq':>6} {'Lk':>6} {'D':>4} {'Dv':>4} {'mask':6} {'ms':>9} "
              f"{'ms_min':>9} {'GFLOP/s':>8} {'first_ms':>9} {'max_err':>8} status")
    worst = 0.0
    for n, (s, causal) in enumerate(cases, 1):
        print(f"[{n}/{len(cases)}] {impl} B={s[0]} Hq={s[1]} Hkv={s[2]} Lq={s[3]} Lk={s[4]} D={s[5]} Dv={s[6]} "
              f"{'causal' if causal else 'full'} ...", end="", file=sys.stderr, flush=True)
        rec = bench_case(impl, device, path, a.threads, a, s, causal, prepare, run)
        if rec["ms"] is not None:
            print(f" {rec['ms']:.3f} ms, {rec['gflops']:.1f} GFLOP/s, max abs diff vs float64 reference "
                  f"{rec['max_abs_err']:.2e}", file=sys.stderr)
        else:
            print(f" {rec['status']}", file=sys.stderr)
        if rec["max_abs_err"] is not None:
            worst = max(worst, rec["max_abs_err"])
        if a.json:
            print(json.dumps(rec), flush=True)
        else:
            f = lambda x, fmt: "-" if x is None else format(x, fmt)
            print(f"{s[0]:>3} {s[1]:>4} {s[2]:>4} {s[3]:>6} {s[4]:>6} {s[5]:>4} {s[6]:>4} "
                  f"{'causal' if causal else 'full':6} {f(rec['ms'], '9.3f')} {f(rec['ms_min'], '9.3f')} "
                  f"{f(rec['gflops'], '8.1f')} {f(rec['first_call_ms'], '9.1f')} {f(rec['max_abs_err'], '8.1e')} "
                  f"{rec['status']}", flush=True)
    print(f"# {impl}: largest max abs diff vs the float64 reference over all cases: {worst:.2e}", file=sys.stderr)


def run_unavailable(impl, device, path, a, why):
    """Records with status "n/a: <why>" for every case (a peer without a kernel for --dtype)."""
    for s, causal in cases_from_args(a):
        B, Hq, Hkv, Lq, Lk, D, Dv = s
        rec = {k: None for k in FIELDS}
        rec.update(record="case", impl=impl, device=device, device_tag=impl, selector="", backend="cpu", path=path,
                   B=B, Hq=Hq, Hkv=Hkv, Lq=Lq, Lk=Lk, D=D, Dv=Dv, causal=causal, threads=a.threads,
                   warmup=a.warmup, repeat=a.repeat, status=f"n/a: {why}", dtype=getattr(a, "dtype", "f32"))
        if a.json:
            print(json.dumps(rec), flush=True)
        else:
            print(f"{B:>3} {Hq:>4} {Hkv:>4} {Lq:>6} {Lk:>6} {D:>4} {Dv:>4} {'causal' if causal else 'full':6} "
                  f"n/a: {why}", flush=True)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu"
