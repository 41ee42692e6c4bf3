#!/usr/bin/env python3
"""gantry's training step against PyTorch's on this machine, in alternating rounds.

usage: speed_vs_pytorch.py [--model gan|dcgan] [--threads N] [--rounds N]
                           [--gantry build/tools/gantry] [--torch PYTHON ...]
                           [--gemm own,openblas] [--json]

Each round runs every program once, in turn, the order reversed every other
round: `gantry bench --backend cpu` (once per GEMM path in --gemm, forced with
GANTRY_CPU_GEMM; default: the path auto picks) and tools/pytorch_reference.py
under each Python of --torch (default: .venv-torch/bin/python, made by
tools/torch-venv.sh, the current PyTorch from PyPI).  A program's figure is
the median over rounds of its median step time; "vs" is the median over
rounds of the round's ratio against the first PyTorch, so a slow moment of
the machine hits both sides of a ratio.  The table names the CPU, each
PyTorch's version and CPU capability, and gantry's GEMM path.

Timings on a shared machine are noisy: compare within one run, not across
runs.  PyTorch is never a dependency of gantry.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd, env=None):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env)
    if r.returncode != 0:
        sys.exit("speed_vs_pytorch: %s failed (exit %d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return json.loads(r.stdout)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return ", ".join(x for x in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if x in flags)
    except OSError:
        pass
    return ""


def main():
    ap = argparse.ArgumentParser(description="gantry's cpu backend against PyTorch, alternating rounds.")
    ap.add_argument("--model", choices=("gan", "dcgan"), default="gan")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=None, help="timed steps per program and round "
                    "(default: 40 for gan, 12 for dcgan)")
    ap.add_argument("--gantry", default=os.path.join(HERE, "..", "build", "tools", "gantry"))
    ap.add_argument("--torch", action="append", default=None,
                    help="a Python with PyTorch (repeatable; default .venv-torch/bin/python)")
    ap.add_argument("--gemm", default="auto", help="comma-separated GANTRY_CPU_GEMM paths to time (default auto)")
    ap.add_argument("--opencl", action="store_true", help="also time gantry's opencl backend")
    ap.add_argument("--image-size", type=int, default=28, help="square images of this size (default 28; 64: the "
                    "DCGAN paper's networks, the PyTorch tutorial's)")
    ap.add_argument("--channels", type=int, default=1, help="1 (default) or 3")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = ap.parse_args()
    steps = args.steps or (40 if args.model == "gan" else 12)
    warmup = 3
    pythons = args.torch or [os.path.join(HERE, "..", ".venv-torch", "bin", "python")]
    for py in pythons:
        if not os.access(py, os.X_OK):
            sys.exit("speed_vs_pytorch: no Python at %s (make it with tools/torch-venv.sh, or give --torch)" % py)

    programs = []  # (label, command, env)
    shape = ["--image-size", str(args.image_size), "--channels", str(args.channels)]
    for path in args.gemm.split(","):
        env = dict(os.environ, GANTRY_NUM_THREADS=str(args.threads))
        if path != "auto":
            env["GANTRY_CPU_GEMM"] = path
        else:
            env.pop("GANTRY_CPU_GEMM", None)
        cmd = [args.gantry, "bench", "--backend", "cpu", "--model", args.model, "--batch", str(args.batch),
               "--steps", str(steps), "--warmup", str(warmup), "--json"] + shape
        programs.append(("gantry cpu" + ("" if path == "auto" else " (%s GEMM)" % path), cmd, env, "gantry"))
    if args.opencl:
        env = dict(os.environ, GANTRY_NUM_THREADS=str(args.threads))
        cmd = [args.gantry, "bench", "--backend", "opencl", "--model", args.model, "--batch", str(args.batch),
               "--steps", str(steps), "--warmup", str(warmup), "--json"] + shape
        programs.append(("gantry opencl", cmd, env, "gantry"))
    for py in pythons:
        cmd = [py, os.path.join(HERE, "pytorch_reference.py"), "--model", args.model, "--threads",
               str(args.threads), "--batch", str(args.batch), "--steps", str(max(steps // 2, 6)), "--warmup",
               str(warmup), "--json"] + shape
        programs.append((py, cmd, dict(os.environ), "torch"))

    times = {p[0]: [] for p in programs}
    info = {}
    for r in range(args.rounds):
        order = programs if r % 2 == 0 else programs[::-1]
        for label, cmd, env, kind in order:
            d = run_json(cmd, env)
            times[label].append(d["ms_per_step"])
            if kind == "torch":
                info[label] = "PyTorch %s (%s)" % (d.get("torch_version", "?"), d.get("cpu_capability", "?"))
            else:
                info[label] = d.get("device", "")
        print("round %d: " % (r + 1) + ", ".join("%s %.1f" % (info.get(p[0], p[0]) if p[3] == "torch" else p[0],
                                                             times[p[0]][-1]) for p in programs), file=sys.stderr)

    first_torch = next(p[0] for p in programs if p[3] == "torch")
    rows = []
    for label, _, _, kind in programs:
        med = statistics.median(times[label])
        ratios = [t / g for g, t in zip(times[label], times[first_torch])]
        rows.append({"program": info[label] if kind == "torch" else label, "ms_per_step": med,
                     "ms_range": [min(times[label]), max(times[label])], "images_per_s": args.batch / med * 1e3,
                     "speed_vs_first_pytorch": statistics.median(ratios)})
    result = {"model": args.model, "threads": args.threads, "batch": args.batch, "rounds": args.rounds,
              "cpu": cpu_name(), "cpu_flags": cpu_flags(), "rows": rows,
              "gantry_gemm": {p[0]: info[p[0]] for p in programs if p[3] == "gantry"}}
    if args.json:
        print(json.dumps(result))
        return
    print("%s at %dx%dx%d, %d threads, batch %d, %d alternating rounds; CPU: %s (%s)" %
          (args.model, args.channels, args.image_size, args.image_size, args.threads, args.batch, args.rounds,
           result["cpu"], result["cpu_flags"]))
    print()
    print("| program | ms/step (median) | range over rounds | images/s | speed vs %s |" % info[first_torch])
    print("|---|---|---|---|---|")
    for row in rows:
        print("| %s | %.1f | %.1f-%.1f | %.0f | %.2fx |" % (row["program"], row["ms_per_step"], row["ms_range"][0],
                                                            row["ms_range"][1], row["images_per_s"],
                                                            row["speed_vs_first_pytorch"]))
    for label, dev in result["gantry_gemm"].items():
        print("\n%s: %s" % (label, dev))


if __name__ == "__main__":
    main()
