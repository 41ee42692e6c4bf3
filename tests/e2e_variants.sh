#!/usr/bin/env bash
# Every model and every trick trains a few steps on one backend: finite
# losses in log.csv, a sample grid, a checkpoint that `gantry sample` loads
# (with --label for the conditional models), and sgan's test accuracy; and
# a run stopped after one step and resumed with --resume ends with the same
# checkpoint, training state and losses as the uninterrupted run, bit for bit.
# Networks are narrow (--width 4) so the reference backend is quick too.
# usage: e2e_variants.sh GANTRY BACKEND ST_EQUAL_PY
set -u
gantry=$1
backend=$2
st_equal=$3
data=${GANTRY_E2E_DATA:-/usr/share/datasets/fashion-mnist}
[[ -f $data/train-images-idx3-ubyte.gz || -f $data/train-images-idx3-ubyte ]] || {
  echo "SKIP: no Fashion-MNIST at $data (apt-get install dataset-fashion-mnist)"; exit 77; }
if ! "$gantry" backends 2>/dev/null | grep -q "^$backend *loaded"; then
  if [[ -n ${CI:-} ]]; then echo "FAIL: backend $backend cannot be loaded"; "$gantry" backends; exit 1; fi
  echo "SKIP: backend $backend cannot be loaded here"; exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }

# name | options
runs=(
  "gan|--model gan"
  "cgan|--model cgan"
  "dcgan|--model dcgan"
  "cdcgan|--model cdcgan"
  "wgan|--model wgan"
  "lsgan|--model lsgan"
  "began|--model began"
  "began-k|--model began --began-gamma 0.7 --began-lambda-k 0.05"
  "sgan|--model sgan --labeled 20"
  "smooth|--model dcgan --label-smoothing 0.9"
  "mbd|--model dcgan --minibatch-disc"
  "mbd-mlp|--model gan --minibatch-disc --label-smoothing 0.8"
  "fm|--model dcgan --feature-matching"
  "fm-sgan|--model sgan --labeled 20 --feature-matching"
  "dsteps|--model lsgan --d-steps 2 --minibatch-disc"
  "minimax|--model cdcgan --g-loss minimax --feature-matching"
  "wgan-clip|--model wgan --n-critic 2 --clip 0.05"
  "vbn|--model dcgan --vbn"
  "refbn|--model gan --ref-bn --d-steps 2"
  "vbn-cgan|--model cgan --vbn --label-smoothing 0.9"
  "unroll|--model dcgan --unroll 2"
  "unroll-wgan|--model wgan --n-critic 2 --unroll 1 --vbn"
  "unroll-sgan|--model sgan --labeled 20 --unroll 1 --minibatch-disc"
)
for r in "${runs[@]}"; do
  name=${r%%|*}
  opts=${r#*|}
  # shellcheck disable=SC2086
  GANTRY_BACKEND=$backend "$gantry" train $opts --width 4 --batch 8 --data "$data" --limit 96 --steps 3 \
    --seed 3 --out "$tmp/$name" --quiet >"$tmp/$name.out" 2>&1
  rc=$?
  check "[[ $rc -eq 0 ]]" "$name ($opts) trains 3 steps (exit $rc)"
  [[ $rc -eq 0 ]] || cat "$tmp/$name.out"
  check "awk -F, 'NR>1 { for (i=2;i<=10;i++) if (\$i !~ /^-?[0-9]+\\.[0-9]+\$/) bad=1 } END { exit bad || NR != 4 }' '$tmp/$name/log.csv'" \
    "$name: 3 rows of finite numbers in log.csv"
  check "[[ -s '$tmp/$name/samples.png' && -s '$tmp/$name/checkpoint.safetensors' ]]" "$name: samples.png and checkpoint"

  # The same run stopped after step 1, then resumed to step 3.
  # shellcheck disable=SC2086
  GANTRY_BACKEND=$backend "$gantry" train $opts --width 4 --batch 8 --data "$data" --limit 96 --steps 1 \
    --seed 3 --out "$tmp/$name-r" --quiet >"$tmp/$name.out" 2>&1 &&
    GANTRY_BACKEND=$backend "$gantry" train --resume "$tmp/$name-r" --steps 3 --quiet >>"$tmp/$name.out" 2>&1
  rc=$?
  check "[[ $rc -eq 0 ]]" "$name: 1 step, then --resume to step 3 (exit $rc)"
  [[ $rc -eq 0 ]] || cat "$tmp/$name.out"
  check "python3 '$st_equal' '$tmp/$name/checkpoint.safetensors' '$tmp/$name-r/checkpoint.safetensors'" \
    "$name: resumed checkpoint = uninterrupted checkpoint"
  check "python3 '$st_equal' '$tmp/$name/train-state.safetensors' '$tmp/$name-r/train-state.safetensors' --ignore run_seconds" \
    "$name: resumed training state = uninterrupted one"
  check "cmp -s <(cut -d, -f1-9 '$tmp/$name/log.csv') <(cut -d, -f1-9 '$tmp/$name-r/log.csv')" \
    "$name: resumed log.csv = uninterrupted log (but the times)"
done

check "awk -F, 'NR>1 && \$6 == 0 { bad=1 } END { exit bad }' '$tmp/wgan/log.csv'" "wgan logs a Wasserstein estimate"
check "awk -F, 'NR>1 && \$8 <= 0 { bad=1 } END { exit bad }' '$tmp/began/log.csv'" "began logs M_global"
check "grep -q '^test_accuracy 0\\.[0-9]* ([0-9]* of 10000)' '$tmp/sgan/accuracy.txt'" "sgan writes its test accuracy"

for m in cgan cdcgan; do
  GANTRY_BACKEND=$backend "$gantry" sample --checkpoint "$tmp/$m/checkpoint.safetensors" --label 3 --n 5 \
    --out "$tmp/$m-3.npy" >/dev/null
  check "[[ $? -eq 0 && -s '$tmp/$m-3.npy' ]]" "$m: sample --label 3"
  GANTRY_BACKEND=$backend "$gantry" sample --checkpoint "$tmp/$m/checkpoint.safetensors" --out "$tmp/$m.png" >/dev/null
  check "[[ $? -eq 0 && -s '$tmp/$m.png' ]]" "$m: sample without --label (a row per class)"
  GANTRY_BACKEND=$backend "$gantry" sample --checkpoint "$tmp/$m/checkpoint.safetensors" --label 10 \
    --out "$tmp/bad.png" 2>"$tmp/err"
  check "[[ $? -eq 1 ]] && grep -q 'classes 0..9' '$tmp/err' && [[ ! -e '$tmp/bad.png' ]]" "$m: --label 10 is refused"
done
GANTRY_BACKEND=$backend "$gantry" sample --checkpoint "$tmp/dcgan/checkpoint.safetensors" --label 1 \
  --out "$tmp/bad.png" 2>"$tmp/err"
check "[[ $? -eq 1 ]] && grep -q 'not a conditional model' '$tmp/err'" "dcgan: --label is refused"
exit $fail
