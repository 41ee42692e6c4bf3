#!/usr/bin/env python3
"""A model of data-parallel gantry training over N machines (docs/benchmarks.md).

A step on N machines takes the compute of one machine's share of the global
batch plus the gradient exchange, which does not overlap with it:

    T(N) = c * B / N + 2 (N - 1) / N * S / bw + 2 (N - 1) * lat      (ring allreduce)

with c the compute per image of one machine (ms), B the global batch, S the
gradient bytes per step, bw the link's usable bandwidth and lat its per-message
latency.  Open MPI uses a ring (or Rabenseifner's reduce-scatter + allgather,
the same bytes) for messages of megabytes.  Weak scaling keeps the batch per
machine (B = b N); strong scaling keeps the global batch (hyperparameters as
on one machine).  The per-image cost at small per-machine batches is higher
(docs/benchmarks.md: cost per image against the batch); `--small-batch-penalty`
adds that as a factor per halving below 64 rows.

usage: mpi_scaling.py --model NAME --ms-per-image C --mb-per-step S [--batch B]
"""
import argparse

LINKS = {
    # name: (usable bytes/s, latency s): 10 GbE over TCP; 100 Gb/s InfiniBand (EDR) over verbs
    "10 GbE": (1.1e9, 30e-6),
    "100 Gb/s IB": (11.5e9, 2e-6),
}
NODES = [1, 2, 4, 8, 16, 32, 64]


def step_ms(c, rows, s_bytes, n, link, penalty):
    bw, lat = LINKS[link]
    factor = 1.0
    r = rows
    while r < 64 and penalty > 0:
        factor *= 1.0 + penalty
        r *= 2
    compute = c * rows * factor
    comm = 0.0 if n == 1 else (2 * (n - 1) / n * s_bytes / bw + 2 * (n - 1) * lat) * 1e3
    return compute, comm


def table(args, weak):
    head = "| nodes | " + " | ".join(f"{l}: images/s (speedup, exchange share)" for l in LINKS) + " |"
    lines = [head, "|---|" + "---|" * len(LINKS)]
    s_bytes = args.mb_per_step * 1e6
    base = {}
    for n in NODES:
        rows = args.batch if weak else args.batch / n
        cells = []
        for link in LINKS:
            compute, comm = step_ms(args.ms_per_image, rows, s_bytes, n, link, args.small_batch_penalty)
            ips = rows * n / ((compute + comm) / 1e3)
            base.setdefault(link, ips)
            cells.append(f"{ips:,.0f} ({ips / base[link]:.1f}x, {comm / (compute + comm):.0%})")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--ms-per-image", type=float, required=True, help="compute per image of one machine, ms")
    p.add_argument("--mb-per-step", type=float, required=True, help="gradient megabytes exchanged per step")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--small-batch-penalty", type=float, default=0.0)
    a = p.parse_args()
    print(f"{a.model}: {a.ms_per_image} ms per image on one machine, {a.mb_per_step} MB per step\n")
    print(f"Weak scaling, batch {a.batch} per machine:\n")
    print(table(a, True))
    print(f"\nStrong scaling, global batch {a.batch}:\n")
    print(table(a, False))


if __name__ == "__main__":
    main()
