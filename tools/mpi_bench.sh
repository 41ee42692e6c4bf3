#!/usr/bin/env bash
# Images/s of one process with T threads against T ranks of one thread each
# (and -np 1 with T threads: MPI's own cost), alternating, on the cpu
# backend; medians over the rounds, and the gradient exchange's bytes and
# milliseconds per step from `gantry train`'s summary (docs/benchmarks.md).
#   tools/mpi_bench.sh [ROUNDS] [MODELS...]      (default 5 rounds, gan dcgan)
set -euo pipefail
cd "$(dirname "$0")/.."
gantry=${GANTRY:-build/tools/gantry}
rounds=${1:-5}
shift || true
models=("${@:-gan}")
[[ $# -gt 0 ]] || models=(gan dcgan)
threads=${THREADS:-$(nproc)}
mpi=(mpirun --allow-run-as-root --oversubscribe)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

steps_of() { case $1 in gan) echo 400 ;; *) echo 40 ;; esac; }
rate() { grep -o '([0-9]* img/s)' "$1" | tail -1 | tr -dc '0-9'; echo; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "# $(date -u +%F) $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $rounds alternating rounds, batch 64"
for m in "${models[@]}"; do
  steps=$(steps_of "$m")
  args=(train --backend cpu --model "$m" --batch 64 --steps "$steps" --limit 20000 --sample-every 1000000)
  : >"$tmp/one" ; : >"$tmp/np1" ; : >"$tmp/ranks"; : >"$tmp/ms"; : >"$tmp/wait"
  for r in $(seq 1 "$rounds"); do
    GANTRY_NUM_THREADS=$threads "$gantry" "${args[@]}" --out "$tmp/o" 2>"$tmp/log"
    rate "$tmp/log" >>"$tmp/one"
    GANTRY_NUM_THREADS=$threads "${mpi[@]}" -np 1 --bind-to none "$gantry" "${args[@]}" --out "$tmp/o" >"$tmp/log" 2>&1
    rate "$tmp/log" >>"$tmp/np1"
    GANTRY_NUM_THREADS=1 "${mpi[@]}" -np "$threads" --bind-to core "$gantry" "${args[@]}" --out "$tmp/o" >"$tmp/log" 2>&1
    rate "$tmp/log" >>"$tmp/ranks"
    line=$(grep 'gradient exchange' "$tmp/log")
    mb=$(sed 's/.*: \([0-9.]*\) MB per step.*/\1/' <<<"$line")
    sed 's/.*MB per step, \([0-9.]*\) ms per step.*/\1/' <<<"$line" >>"$tmp/ms"
    sed 's/.*(\([0-9.]*\) ms of it waiting.*/\1/' <<<"$line" >>"$tmp/wait"
  done
  printf '%s: 1 process x %s threads %s img/s; mpirun -np 1 x %s threads %s img/s; %s ranks x 1 thread %s img/s; ' \
    "$m" "$threads" "$(median <"$tmp/one")" "$threads" "$(median <"$tmp/np1")" "$threads" "$(median <"$tmp/ranks")"
  printf 'exchange %s MB per step, %s ms per step (%s ms waiting)\n' "$mb" "$(median <"$tmp/ms")" "$(median <"$tmp/wait")"
  echo "  rounds (img/s): one $(paste -sd' ' "$tmp/one"); np1 $(paste -sd' ' "$tmp/np1"); ranks $(paste -sd' ' "$tmp/ranks")"
done
