#!/usr/bin/env bash
# Training on the cpu backend gives the same checkpoint whatever the thread
# count, on every GEMM path it has: for each of GANTRY_CPU_GEMM=avx2 and
# =avx512 (where the CPU has them), =portable and =openblas (where built
# in), gan (stacked MLP products), cgan at batch 8
# (small products, which OpenBLAS runs through other kernels) and dcgan
# (convolutions, batch norm) train a few steps at 1 thread, at 2 and 3,
# with the cpu module that drops to one thread for every other few ops, and
# 2 steps at 1 thread resumed to the end at 2 threads: every checkpoint and
# training state must equal the 1-thread run's, bit for bit.  And the
# AVX-512 kernels train what the AVX2 ones train, bit for bit, also when a
# run started on one is resumed on the other (a checkpoint moved between an
# AVX2 and an AVX-512 machine).
# usage: e2e_threads.sh GANTRY SOLO_CPU_DIR ST_EQUAL_PY
set -u
gantry=$1
solo_dir=$2
st_equal=$3
data=${GANTRY_E2E_DATA:-/usr/share/datasets/fashion-mnist}
[[ -f $data/train-images-idx3-ubyte.gz || -f $data/train-images-idx3-ubyte ]] || {
  echo "SKIP: no Fashion-MNIST at $data (apt-get install dataset-fashion-mnist)"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }
same_run() {  # DIR_A DIR_B: same checkpoint and training state (but the clock)
  python3 "$st_equal" "$1/checkpoint.safetensors" "$2/checkpoint.safetensors" &&
    python3 "$st_equal" "$1/train-state.safetensors" "$2/train-state.safetensors" --ignore run_seconds
}

paths=()
for p in avx2 avx512; do
  if GANTRY_CPU_GEMM=$p "$gantry" train --backend cpu --steps 0 --limit 64 --data "$data" --out "$tmp/probe" \
    --quiet 2>"$tmp/probe.err"; then
    paths+=("$p")
  else
    grep -q "this CPU has no" "$tmp/probe.err" || { cat "$tmp/probe.err"; fail=1; }
    echo "note: $(cat "$tmp/probe.err")"
  fi
done
paths+=(portable)
if GANTRY_CPU_GEMM=openblas "$gantry" train --backend cpu --steps 0 --limit 64 --data "$data" --out "$tmp/probe" \
  --quiet 2>"$tmp/probe.err"; then
  paths+=(openblas)
else
  grep -q "no OpenBLAS" "$tmp/probe.err" || { cat "$tmp/probe.err"; fail=1; }
  echo "note: this build has no OpenBLAS"
fi

# name | options (steps included)
runs=(
  "gan|--model gan --batch 64 --steps 4"
  "cgan|--model cgan --batch 8 --steps 4"
  "dcgan|--model dcgan --width 16 --batch 32 --steps 3"
)
for path in "${paths[@]}"; do
  export GANTRY_CPU_GEMM=$path
  GANTRY_NUM_THREADS=2 "$gantry" backends 2>&1 | grep -A6 "^cpu " | grep -A1 "GEMM:"
  for r in "${runs[@]}"; do
    name=${r%%|*}
    opts=${r#*|}
    base="$gantry train --backend cpu $opts --data $data --limit 512 --seed 5 --quiet"
    steps=${opts##*--steps }
    one=$tmp/$path-$name-1
    GANTRY_NUM_THREADS=1 $base --out "$one" >"$one.out" 2>&1
    rc=$?
    check "[[ $rc -eq 0 ]]" "$path: $name at 1 thread trains (exit $rc)"
    [[ $rc -eq 0 ]] || cat "$one.out"
    for t in 2 3; do
      GANTRY_NUM_THREADS=$t $base --out "$tmp/$path-$name-$t" >/dev/null 2>&1
      check "same_run '$one' '$tmp/$path-$name-$t'" "$path: $name at $t threads = at 1 thread"
    done
    GANTRY_PLUGIN_PATH=$solo_dir GANTRY_NUM_THREADS=2 $base --out "$tmp/$path-$name-solo" >/dev/null 2>&1
    check "same_run '$one' '$tmp/$path-$name-solo'" "$path: $name with drops to one thread = at 1 thread"
    r2=$tmp/$path-$name-resumed
    # shellcheck disable=SC2086
    GANTRY_NUM_THREADS=1 ${base/--steps $steps/--steps 2} --out "$r2" >/dev/null 2>&1 &&
      GANTRY_NUM_THREADS=2 "$gantry" train --resume "$r2" --steps "$steps" --quiet >/dev/null 2>&1
    check "same_run '$one' '$r2'" "$path: $name 2 steps at 1 thread, resumed at 2 threads = at 1 thread"
    if [[ $path == avx512 ]]; then
      check "same_run '$tmp/avx2-$name-1' '$one'" "avx512: $name = avx2: $name"
      r3=$tmp/cross-$name
      # shellcheck disable=SC2086
      GANTRY_CPU_GEMM=avx2 ${base/--steps $steps/--steps 2} --out "$r3" >/dev/null 2>&1 &&
        "$gantry" train --resume "$r3" --steps "$steps" --quiet >/dev/null 2>&1
      check "same_run '$one' '$r3'" "$name: 2 steps on avx2, resumed on avx512 = all on avx512"
    fi
  done
done
exit $fail
