#!/usr/bin/env bash
# Data-parallel training under mpirun (docs/mpi.md):
#   - -np 1 under MPI trains exactly the single-process run (same checkpoint
#     bytes, same training state but the clock);
#   - two runs with 2 ranks give identical checkpoints (gan, and dcgan with
#     batch norm in both networks), and a 2-rank run stopped and resumed
#     with 2 ranks ends where the uninterrupted one does; 1 rank cannot
#     resume it;
#   - 2 ranks at global batch 64 against one process at batch 64 (gan): the
#     first step's D loss within 1e-5, every loss of 20 steps within 2e-2
#     (G's batch norm normalises each rank's 32 rows by their own
#     statistics, as DistributedDataParallel without SyncBatchNorm); with
#     --sync-bn every loss of the 20 steps within 1e-5 (the ranks' gradient
#     sums only round differently);
#   - rank 0 on cpu and rank 1 on opencl train to the end with the same
#     weights (compared after every step);
#   - a killed rank, or one that stops answering, ends the job within 30 s
#     with an error; a rank whose backend cannot load, ranks started with
#     different options, and a batch that does not split are refused.
#   - a folder of images is decoded once, by rank 0, the other rank reading
#     the cache.
# usage: e2e_mpi.sh GANTRY ST_EQUAL_PY HAVE_OPENCL(0|1) MAKE_IMAGE_SET
set -u
gantry=$1
st_equal=$2
have_opencl=$3
make_image_set=$4
data=${GANTRY_E2E_DATA:-/usr/share/datasets/fashion-mnist}
[[ -f $data/train-images-idx3-ubyte.gz || -f $data/train-images-idx3-ubyte ]] || {
  echo "SKIP: no Fashion-MNIST at $data (apt-get install dataset-fashion-mnist)"; exit 77; }
command -v mpirun >/dev/null || { echo "SKIP: no mpirun (apt-get install openmpi-bin)"; exit 77; }
# Open MPI keeps allocations until exit: no leak report from the ranks.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export GANTRY_NUM_THREADS=1
mpi=(mpirun --allow-run-as-root --oversubscribe)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [[ -n ${bg:-} ]] && kill -9 $bg 2>/dev/null' EXIT
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }
run() {  # OUT ARGS...: gantry train on cpu, 2000 images, one process
  local out=$1; shift
  "$gantry" train --backend cpu --data "$data" --limit 2000 --quiet --out "$tmp/$out" "$@" 2>"$tmp/$out.err"
}
ranks() {  # N OUT ARGS...
  local n=$1 out=$2; shift 2
  "${mpi[@]}" -np "$n" "$gantry" train --backend cpu --data "$data" --limit 2000 --quiet --out "$tmp/$out" "$@" \
    >"$tmp/$out.err" 2>&1
}

# -np 1 is the single-process run.
run solo --model gan --steps 20 --sample-every 10
ranks 1 np1 --model gan --steps 20 --sample-every 10
check "cmp -s '$tmp/solo/checkpoint.safetensors' '$tmp/np1/checkpoint.safetensors'" "-np 1: the single-process checkpoint, byte for byte"
check "python3 '$st_equal' '$tmp/solo/train-state.safetensors' '$tmp/np1/train-state.safetensors' --ignore run_seconds >/dev/null" \
  "-np 1: the single-process training state"
run solo_dc --model dcgan --steps 4 --batch 16
ranks 1 np1_dc --model dcgan --steps 4 --batch 16
check "cmp -s '$tmp/solo_dc/checkpoint.safetensors' '$tmp/np1_dc/checkpoint.safetensors'" "-np 1: dcgan's single-process checkpoint"

# 2 ranks, twice: the same bits.
for m in gan dcgan; do
  steps=20; [[ $m == dcgan ]] && steps=4
  ranks 2 "${m}_a" --model $m --steps $steps --batch 32 --check-every 1
  ranks 2 "${m}_b" --model $m --steps $steps --batch 32 --check-every 1
  check "[[ -s '$tmp/${m}_a/checkpoint.safetensors' ]] && cmp -s '$tmp/${m}_a/checkpoint.safetensors' '$tmp/${m}_b/checkpoint.safetensors'" \
    "$m: two runs with 2 ranks give the same checkpoint"
done

# Stopped at step 2 and resumed with 2 ranks: the uninterrupted run's bits.
ranks 2 dc_stop --model dcgan --steps 2 --batch 32
"${mpi[@]}" -np 2 "$gantry" train --quiet --resume "$tmp/dc_stop" --steps 4 >"$tmp/dc_resume.err" 2>&1
check "cmp -s '$tmp/dcgan_a/checkpoint.safetensors' '$tmp/dc_stop/checkpoint.safetensors'" "dcgan: resumed with 2 ranks, the uninterrupted checkpoint"
"$gantry" train --quiet --resume "$tmp/dc_stop" --steps 6 2>"$tmp/dc_resume1.err"
rc=$?
check "[[ $rc == 2 ]] && grep -q 'trained by 2 MPI ranks' '$tmp/dc_resume1.err'" "a 2-rank run does not resume in one process (rc $rc)"

# 2 ranks against one process at the same global batch.
close_losses() {  # ONE TWO STEP1_LIMIT ALL_LIMIT: relative differences of d_loss and g_loss in log.csv
  [[ $(grep -c '^20,' "$1/log.csv" "$2/log.csv" | grep -c ':1$') == 2 ]] || return 1
  paste -d, "$1/log.csv" "$2/log.csv" | awk -F, -v n=10 -v first="$3" -v all="$4" '
    NR == 1 { next }
    function rel(a, b) { d = a - b; if (d < 0) d = -d; return d / (b < 0 ? -b : b) }
    { dd = rel($(n + 2), $2); dg = rel($(n + 3), $3); if (dd > m) m = dd; if (dg > m) m = dg
      if (NR == 2 && dd > first) bad = 1 }
    END { printf "  max relative loss difference over 20 steps %.2e\n", m; exit bad || m > all }'
}
run one64 --model gan --steps 20 --batch 64
ranks 2 two64 --model gan --steps 20 --batch 64
check "close_losses '$tmp/one64' '$tmp/two64' 1e-5 2e-2" \
  "2 ranks at batch 64 against one process at batch 64: step 1's d_loss within 1e-5, 20 steps within 2e-2"
ranks 2 two64sync --model gan --steps 20 --batch 64 --sync-bn
check "close_losses '$tmp/one64' '$tmp/two64sync' 1e-5 1e-5" \
  "2 ranks with --sync-bn against one process at batch 64: 20 steps within 1e-5"

# A folder of images: decoded once (a progress line per decoding), by rank 0.
"$make_image_set" png "$data" "$tmp/pngs" 200
GANTRY_CACHE_DIR="$tmp/cache" "${mpi[@]}" -np 2 "$gantry" train --backend cpu --data "$tmp/pngs" --model dcgan \
  --steps 1 --batch 16 --out "$tmp/folder" >"$tmp/folder.err" 2>&1
rc=$?
check "[[ $rc == 0 ]] && [[ \$(grep -c 'decoding images: 200 of 200' '$tmp/folder.err') == 1 ]] && ls '$tmp'/cache/*/*.images >/dev/null" \
  "2 ranks on a folder of 200 PNGs: decoded once into the cache (rc $rc)"

# A mixed job: rank 0 on cpu, rank 1 on opencl.
if [[ $have_opencl == 1 ]]; then
  common=(train --data "$data" --limit 2000 --quiet --model gan --steps 20 --check-every 1 --out "$tmp/mixed")
  "${mpi[@]}" -np 1 -x GANTRY_BACKEND=cpu "$gantry" "${common[@]}" : -np 1 -x GANTRY_BACKEND=opencl "$gantry" \
    "${common[@]}" >"$tmp/mixed.err" 2>&1
  rc=$?
  check "[[ $rc == 0 ]] && grep -q 'rank 1 of 2 .*backend opencl' '$tmp/mixed.err' && grep -q 'rank 0 of 2 .*backend cpu' '$tmp/mixed.err' && grep -q '^20,' '$tmp/mixed/log.csv'" \
    "rank 0 on cpu and rank 1 on opencl train 20 steps with the same weights after every step (rc $rc)"
  [[ $rc == 0 ]] || cat "$tmp/mixed.err"
else
  echo "note: no opencl backend built: the mixed cpu + opencl job is not run"
fi

# A rank killed, or stopped: the job ends within 30 s, with an error.
dies_within() {  # NAME SIGNAL: kill rank 1 of a long run with SIGNAL
  local name=$1 sig=$2
  "${mpi[@]}" -np 2 "$gantry" train --backend cpu --data "$data" --limit 2000 --model gan --steps 1000000 --quiet \
    --mpi-timeout 10 --out "$tmp/$name" >"$tmp/$name.err" 2>&1 &
  bg=$!
  local pid="" t
  for t in $(seq 1 300); do
    pid=$(grep -o 'rank 1 of 2 (pid [0-9]*' "$tmp/$name.err" 2>/dev/null | grep -o '[0-9]*$')
    [[ -n $pid ]] && grep -q '^2,' "$tmp/$name/log.csv" 2>/dev/null && break
    sleep 0.1
  done
  local start=$SECONDS
  kill -"$sig" "$pid"
  for t in $(seq 1 300); do kill -0 $bg 2>/dev/null || break; sleep 0.1; done
  wait $bg
  local rc=$?
  bg=""
  local took=$((SECONDS - start))
  check "[[ -n '$pid' && $rc != 0 && $took -le 30 ]]" "rank 1 sent SIG$sig: the job ended in ${took} s with exit status $rc"
  kill -CONT "$pid" 2>/dev/null; kill -9 "$pid" 2>/dev/null
}
dies_within killed KILL
check "grep -q 'exited on signal 9' '$tmp/killed.err' && grep -q 'a rank stopped by mpirun' '$tmp/killed.err'" \
  "  mpirun names the killed rank, the other says it was stopped"
dies_within stopped STOP
check "grep -q 'no answer from the other ranks for 10 s' '$tmp/stopped.err'" "  rank 0 names the silence (--mpi-timeout 10)"

# Bad setups.
"${mpi[@]}" -np 1 "$gantry" train --backend cpu --data "$data" --limit 2000 --quiet --steps 2 --out "$tmp/badbe" : \
  -np 1 "$gantry" train --backend nosuch --data "$data" --limit 2000 --quiet --steps 2 --out "$tmp/badbe" \
  >"$tmp/badbe.err" 2>&1
rc=$?
check "[[ $rc != 0 ]] && grep -q 'rank 1: .*nosuch' '$tmp/badbe.err'" "a rank whose backend cannot load: rank 0 names it (rc $rc)"
"${mpi[@]}" -np 1 "$gantry" train --backend cpu --data "$data" --limit 2000 --quiet --steps 2 --out "$tmp/badopt" : \
  -np 1 "$gantry" train --backend cpu --data "$data" --limit 2000 --quiet --steps 2 --lr 0.001 --out "$tmp/badopt" \
  >"$tmp/badopt.err" 2>&1
rc=$?
check "[[ $rc != 0 ]] && grep -q \"differs from rank 0's: 'lr\" '$tmp/badopt.err'" "ranks with different options are refused, naming the option (rc $rc)"
ranks 2 badbatch --steps 2 --batch 33
rc=$?
check "[[ $rc != 0 ]] && grep -q 'does not split over 2 MPI ranks' '$tmp/badbatch.err'" "--batch 33 over 2 ranks is refused (rc $rc)"

[[ $fail == 0 ]] || { for f in "$tmp"/*.err; do echo "== $f"; tail -5 "$f"; done; }
exit $fail
