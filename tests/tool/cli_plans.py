#!/usr/bin/env python3
"""tool.cli.plans: `clattn kernels --profile/--device` and `clattn devices --json`.

usage: cli_plans.py CLATTN SOURCE_DIR [--bench CLATTN_BENCH]

Checks, with the standard library only:
  - kernels --profile P --json (default grid), for every profile: each line parses and has every documented
    key; sources exist under SOURCE_DIR, kernels/common.cl first, the kernel is a __kernel of the last one;
    options start with -cl-std=CL1.2; work-group and __local bytes within the profile's limits; the GPU
    profiles plan for a GPU; the shapes are the benchmark's default grid (with --bench: exactly
    clattn-bench --list-cases --json's bench-default rows, each also causal where causal_too);
  - --shape (repeated), --causal, --probs; the table without --json; usage errors (exit 2, one line);
  - devices --json: one object per device, the host last, unique selectors, exactly one "selected" and one
    default; every OpenCL device lists the reference shapes' kernels, and `kernels --device SELECTOR` gives
    the same; `devices --json --device host` marks the host.
"""
import json
import os
import re
import subprocess
import sys

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def run(args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([CLATTN] + args, capture_output=True, text=True, env=e)
    return r.returncode, r.stdout, r.stderr


def json_lines(args, env=None):
    rc, out, err = run(args, env)
    if rc != 0:
        fail("%s: exit %d: %s" % (" ".join(args), rc, err.strip()))
        return []
    try:
        return [json.loads(l) for l in out.splitlines() if l.strip()]
    except ValueError as e:
        fail("%s: a line is not JSON: %s" % (" ".join(args), e))
        return []


PLAN_KEYS = {"shape", "causal", "probs", "path", "rules", "device_type", "stage", "kernel", "sources", "options",
             "local_size", "local_mem_bytes", "workspace_bytes", "launched", "why"}
LIMITS = {"gpu-amd": (256, 64 * 1024, "gpu"), "gpu-small": (64, 16 * 1024, "gpu"),
          "pocl": (4096, 1024 * 1024, "cpu"), "rusticl": (1024, 32 * 1024, "cpu")}


def check_plan_line(where, e, max_wg=None, max_local=None, dtype=None):
    missing = PLAN_KEYS - set(e)
    if missing:
        fail("%s: keys missing: %s" % (where, sorted(missing)))
        return
    if e["sources"][0] != "kernels/common.cl" or len(e["sources"]) != 2:
        fail("%s: sources %s" % (where, e["sources"]))
    for s in e["sources"]:
        if not os.path.isfile(os.path.join(SRC, s)):
            fail("%s: source %s does not exist" % (where, s))
    last = os.path.join(SRC, e["sources"][-1])
    if os.path.isfile(last):
        with open(last, encoding="utf-8") as f:
            if not re.search(r"__kernel\b[^;{]*\b%s\s*\(" % re.escape(e["kernel"]), f.read()):
                fail("%s: %s is not a __kernel of %s" % (where, e["kernel"], e["sources"][-1]))
    if not e["options"].startswith("-cl-std=CL1.2"):
        fail("%s: options '%s'" % (where, e["options"]))
    if not re.fullmatch(r"chain|fused(-[a-z0-9]+)?", e["path"]):
        fail("%s: path %s" % (where, e["path"]))
    items = e["local_size"][0] * e["local_size"][1] * e["local_size"][2]
    if max_wg is not None and not 1 <= items <= max_wg:
        fail("%s: work-group of %d items, limit %d" % (where, items, max_wg))
    if max_local is not None and e["local_mem_bytes"] > max_local:
        fail("%s: %d bytes of local memory, limit %d" % (where, e["local_mem_bytes"], max_local))
    if dtype is not None and e["device_type"] != dtype:
        fail("%s: device_type %s, expected %s" % (where, e["device_type"], dtype))
    if not e["why"]:
        fail("%s: empty why" % where)


def expected_grid():
    """{(shape tuple, causal)} of clattn-bench's bench-default rows, or None without --bench."""
    if not BENCH:
        return None
    r = subprocess.run([BENCH, "--list-cases", "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        fail("clattn-bench --list-cases --json: exit %d" % r.returncode)
        return None
    grid = set()
    for l in r.stdout.splitlines():
        row = json.loads(l)
        if row.get("record") != "case_row" or "bench-default" not in row.get("tags", []):
            continue
        shape = tuple(row[k] for k in ("B", "Hq", "Hkv", "Lq", "Lk", "D", "Dv"))
        grid.add((shape, False))
        if row.get("causal_too"):
            grid.add((shape, True))
    return grid


def main():
    grid = expected_grid()
    for prof, (max_wg, max_local, dtype) in LIMITS.items():
        lines = json_lines(["kernels", "--profile", prof, "--json"])
        if not lines:
            fail("--profile %s: no output" % prof)
        for i, e in enumerate(lines):
            check_plan_line("--profile %s line %d" % (prof, i + 1), e, max_wg, max_local, dtype)
            if e.get("profile") != prof:
                fail("--profile %s: profile key %r" % (prof, e.get("profile")))
        shapes = {(tuple(e["shape"]), e["causal"]) for e in lines if "shape" in e}
        if grid is not None and shapes != grid:
            fail("--profile %s: shapes %s differ from clattn-bench's bench-default grid %s"
                 % (prof, sorted(shapes ^ grid), sorted(grid)))
        print("--profile %s: %d kernels over %d shapes" % (prof, len(lines), len(shapes)))

    # --shape, repeated; --causal; --probs
    lines = json_lines(["kernels", "--profile", "gpu-amd", "--shape", "1,4,2,9,17,40,24", "--shape",
                        "2,2,2,5,5,8", "--causal", "--json"])
    if sorted({tuple(e["shape"]) for e in lines}) != [(1, 4, 2, 9, 17, 40, 24), (2, 2, 2, 5, 5, 8, 8)]:
        fail("--shape twice: shapes %s" % sorted({tuple(e["shape"]) for e in lines}))
    if not all(e["causal"] and not e["probs"] for e in lines):
        fail("--causal: not every line causal")
    lines = json_lines(["kernels", "--profile", "gpu-small", "--shape", "1,2,2,64,64,32", "--probs", "--json"])
    if [e["kernel"] for e in lines] != ["clattn_scores", "clattn_softmax", "clattn_weighted_sum"]:
        fail("--probs: kernels %s, expected the chain" % [e["kernel"] for e in lines])
    rc, out, err = run(["kernels", "--profile", "pocl", "--shape", "1,2,2,64,64,32"])
    if rc != 0 or "clattn_fused" not in out or not out.startswith("shape"):
        fail("table: exit %d, output %r" % (rc, out[:200]))

    # usage errors: exit 2, one line on stderr
    for args, word in ((["kernels", "--profile", "no-such"], "gpu-amd"),
                       (["kernels", "--profile", "gpu-amd", "--device", "host"], "exclude"),
                       (["kernels", "--profile", "gpu-amd", "--backend", "host"], "--backend"),
                       (["kernels", "--shape", "1,2,2,4,4,8"], "needs --profile"),
                       (["kernels", "--profile", "gpu-amd", "--causal"], "applies to --shape"),
                       (["kernels", "--profile", "gpu-amd", "--shape", "1,2,3"], "B,Hq,Hkv,Lq,Lk,D[,Dv]"),
                       (["kernels", "--profile", "gpu-amd", "--shape", "1,3,2,4,4,8"], "does not divide"),
                       (["kernels", "--profile", "gpu-amd", "--shape", "1,2,2,0,4,8"], ">= 1")):
        rc, out, err = run(args)
        lines_err = err.strip().splitlines()
        if rc != 2 or len(lines_err) != 1 or word not in err or out:
            fail("%s: exit %d, stdout %r, stderr %r (expected exit 2 and one line with %r)"
                 % (" ".join(args), rc, out[:100], err, word))
    rc, out, err = run(["kernels", "--device", "host", "--shape", "1,2,2,4,4,8"])
    if rc != 1 or "host path" not in err:
        fail("--device host: exit %d, %r" % (rc, err))

    # devices --json
    devs = json_lines(["devices", "--json"], {"CLATTN_DEVICE": ""})
    if not devs or devs[-1].get("backend") != "host" or devs[-1].get("selector") != "host":
        fail("devices --json: the host path is not last")
    sels = [d.get("selector") for d in devs]
    if len(set(sels)) != len(sels):
        fail("devices --json: selectors not unique: %s" % sels)
    if sum(1 for d in devs if d.get("selected")) != 1 or sum(1 for d in devs if d["flags"]["default"]) != 1:
        fail("devices --json: not exactly one selected and one default device")
    for d in devs:
        for k in ("index", "selector", "backend", "platform", "device", "limits", "flags", "extensions", "kernels"):
            if k not in d:
                fail("devices --json: %s lacks %s" % (d.get("selector"), k))
        if d["backend"] == "host":
            continue
        if [e.get("shape") for e in d["kernels"]] != [[1, 16, 16, 2048, 2048, 64, 64], [8, 32, 8, 1, 4096, 128, 128]]:
            fail("devices --json: %s: kernels for %s" % (d["selector"], [e.get("shape") for e in d["kernels"]]))
            continue
        lim = d["limits"]
        for ref in d["kernels"]:
            shape = ",".join(map(str, ref["shape"]))
            for v in ref.get("variants", []):
                check_plan_line("devices %s %s" % (d["selector"], shape), dict(v, shape=ref["shape"], causal=False,
                                                                               probs=False),
                                lim["max_work_group_size"], lim["local_mem_bytes"], d["device"]["type"])
            listed = json_lines(["kernels", "--device", d["selector"], "--shape", shape, "--json"])
            if [(e["kernel"], e["options"]) for e in listed] != [(v["kernel"], v["options"])
                                                                 for v in ref.get("variants", [])]:
                fail("kernels --device %s --shape %s differs from devices --json" % (d["selector"], shape))
    host = json_lines(["devices", "--json", "--device", "host"])
    if not host or not host[-1].get("selected") or any(d.get("selected") for d in host[:-1]):
        fail("devices --json --device host: the host is not the one selected")
    rc, out, err = run(["devices", "--json", "--device", "no-such-platform-xyz"])
    if rc != 1 or len(err.strip().splitlines()) != 1 or not out:
        fail("devices --json --device no-such: exit %d (expected 1, the listing, one error line): %r" % (rc, err))
    print("devices --json: %d devices" % len(devs))

    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        return 1
    return 0


if __name__ == "__main__":
    CLATTN, SRC = sys.argv[1], sys.argv[2]
    BENCH = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--bench" else None
    sys.exit(main())
