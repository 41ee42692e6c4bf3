#!/usr/bin/env bash
# Bad input through the CLI: each case must exit non-zero with exactly one
# line on stderr that names what was wrong, never crash, and leave no file.
# usage: e2e_errors.sh GANTRY
set -u
gantry=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# expect RC PATTERN DESCRIPTION -- COMMAND...
expect() {
  local want_rc=$1 pattern=$2 what=$3
  shift 4
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? lines
  lines=$(wc -l <"$tmp/err")
  if [[ $rc -eq $want_rc && $lines -eq 1 ]] && grep -q -- "$pattern" "$tmp/err"; then
    echo "ok: $what: $(cat "$tmp/err")"
  else
    echo "FAIL: $what: exit $rc (want $want_rc), $lines stderr lines, want /$pattern/:"
    cat "$tmp/err"
    fail=1
  fi
}

mkdir -p "$tmp/data"
# A tiny valid data set: 4 images of 2x2 with labels (IDX, uncompressed).
printf '\x00\x00\x08\x03\x00\x00\x00\x04\x00\x00\x00\x02\x00\x00\x00\x02' >"$tmp/data/train-images-idx3-ubyte"
head -c 16 /dev/zero >>"$tmp/data/train-images-idx3-ubyte"
mkdir -p "$tmp/more"
# 24 images of 2x2 (another data set of the same shape).
printf '\x00\x00\x08\x03\x00\x00\x00\x18\x00\x00\x00\x02\x00\x00\x00\x02' >"$tmp/more/train-images-idx3-ubyte"
head -c 96 /dev/zero >>"$tmp/more/train-images-idx3-ubyte"
mkdir -p "$tmp/bad"
printf '\x00\x00\x08\x04\x00\x00\x00\x04' >"$tmp/bad/train-images-idx3-ubyte"
mkdir -p "$tmp/short"
printf '\x00\x00\x08\x03\x00\x00\x27\x10\x00\x00\x00\x1c\x00\x00\x00\x1c' >"$tmp/short/train-images-idx3-ubyte"
head -c 100 /dev/zero >>"$tmp/short/train-images-idx3-ubyte"

expect 2 "unknown backend 'nosuch'; available: .*reference" "unknown --backend" -- \
  "$gantry" train --backend nosuch --data "$tmp/data" --steps 1 --batch 2 --out "$tmp/r1"
expect 2 "unknown backend 'nosuch'" "unknown GANTRY_BACKEND" -- \
  env GANTRY_BACKEND=nosuch "$gantry" train --data "$tmp/data" --steps 1 --batch 2 --out "$tmp/r1"
expect 2 "unknown model 'nosuch'" "unknown --model" -- "$gantry" train --model nosuch
expect 2 "\-\-steps 'ten'" "non-numeric --steps" -- "$gantry" train --steps ten
expect 2 "\-\-batch '1'" "batch too small" -- "$gantry" train --batch 1
expect 2 "exclude each other" "--steps with --epochs" -- "$gantry" train --steps 1 --epochs 1
expect 2 "\-\-g-loss 'max'" "unknown --g-loss" -- "$gantry" train --g-loss max
expect 2 "unknown option '--bogus'" "unknown option" -- "$gantry" train --bogus
expect 2 "unknown command 'trian'" "unknown command" -- "$gantry" trian
# GEMM paths: an unknown one is refused by name; a build without OpenBLAS
# refuses that one (tests/test_cpu_threads.c checks which applies).
if "$gantry" backends 2>/dev/null | grep -q "^cpu *loaded"; then
  expect 1 "cpu: GANTRY_CPU_GEMM='blas' (expected auto, own, avx512, avx2, portable or openblas)" "unknown GANTRY_CPU_GEMM" -- \
    env GANTRY_CPU_GEMM=blas "$gantry" train --backend cpu --data "$tmp/data" --steps 1 --batch 2 --out "$tmp/r1"
fi
if "$gantry" backends 2>/dev/null | grep -q "^opencl *loaded"; then
  expect 1 "opencl: GANTRY_OPENCL_GEMM='cublas' (expected own, clblast or auto)" "unknown GANTRY_OPENCL_GEMM" -- \
    env GANTRY_OPENCL_GEMM=cublas "$gantry" train --backend opencl --data "$tmp/data" --steps 1 --batch 2 --out "$tmp/r1"
  expect 1 "GANTRY_OPENCL_GEMM=own disagrees with gemm= in GANTRY_OPENCL_DEVICE 'gemm=clblast'" \
    "GANTRY_OPENCL_GEMM against GANTRY_OPENCL_DEVICE" -- env GANTRY_OPENCL_GEMM=own GANTRY_OPENCL_DEVICE=gemm=clblast \
    "$gantry" train --backend opencl --data "$tmp/data" --steps 1 --batch 2 --out "$tmp/r1"
fi
[[ ! -e $tmp/r1 ]] || { echo "FAIL: an output directory was made despite the error"; fail=1; }
expect 1 "$tmp/nowhere" "missing data directory" -- "$gantry" train --data "$tmp/nowhere" --out "$tmp/r2"
expect 1 "bad magic" "bad IDX magic" -- "$gantry" train --data "$tmp/bad" --out "$tmp/r3"
expect 1 "train-images-idx3-ubyte" "IDX dimensions larger than the file" -- \
  "$gantry" train --data "$tmp/short" --out "$tmp/r4"
expect 1 "batch size 64 is larger than the data set (4 images)" "data set smaller than one batch" -- "$gantry" train --data "$tmp/data" --out "$tmp/r5"
expect 1 "cgan needs the data set's label file" "conditional model without labels" -- \
  "$gantry" train --model cgan --data "$tmp/data" --batch 2 --steps 1 --out "$tmp/r6"
expect 1 "no networks for 2x2 images; the conv models train on 28x28" "conv model on images it has no networks for" -- \
  "$gantry" train --model dcgan --data "$tmp/data" --batch 2 --steps 1 --out "$tmp/r7"
expect 2 "\-\-labeled applies to \-\-model sgan only" "--labeled without sgan" -- "$gantry" train --labeled 10
expect 2 "\-\-unroll '0'" "--unroll 0" -- "$gantry" train --unroll 0
expect 2 "\-\-began-gamma applies to \-\-model began only" "--began-gamma without began" -- \
  "$gantry" train --began-gamma 0.7
expect 2 "\-\-began-lambda-k applies to \-\-model began only" "--began-lambda-k without began" -- \
  "$gantry" train --model wgan --began-lambda-k 0.01
expect 2 "\-\-began-lambda-k '0' is not a number from" "--began-lambda-k 0" -- \
  "$gantry" train --model began --began-lambda-k 0
expect 2 "\-\-label-smoothing '1.5'" "--label-smoothing above 1" -- "$gantry" train --label-smoothing 1.5
check_no_dir() { [[ ! -e $1 ]] || { echo "FAIL: $1 was created"; fail=1; }; }
for r in r1 r2 r3 r4 r5 r6 r7; do check_no_dir "$tmp/$r"; done

# --resume: what it refuses, and state files that do not fit together.
expect 1 "$tmp/none/checkpoint.safetensors: No such file" "--resume of a directory gantry did not write" -- \
  "$gantry" train --resume "$tmp/none"
"$gantry" train --data "$tmp/data" --batch 2 --steps 2 --out "$tmp/run" --quiet ||
  { echo "FAIL: a 2-step run on the tiny data set"; fail=1; }
"$gantry" train --data "$tmp/data" --batch 2 --steps 1 --out "$tmp/run1" --quiet ||
  { echo "FAIL: a 1-step run on the tiny data set"; fail=1; }
expect 2 "\-\-lr cannot be given with \-\-resume" "--resume with a setting of the run" -- \
  "$gantry" train --resume "$tmp/run" --lr 0.1
expect 2 "\-\-out cannot be given with \-\-resume" "--resume with --out" -- \
  "$gantry" train --resume "$tmp/run" --out "$tmp/r8"
expect 1 "is at step 2 of 2: give --steps or --epochs beyond" "--resume of a finished run" -- \
  "$gantry" train --resume "$tmp/run"
expect 1 "24 training images, but the run in .* trained on 4" "--resume with other data" -- \
  "$gantry" train --resume "$tmp/run" --data "$tmp/more" --steps 4
cp -r "$tmp/run" "$tmp/mixed" && cp "$tmp/run1/checkpoint.safetensors" "$tmp/mixed/"
expect 1 "no training state of the checkpoint's step 1 (train-state.safetensors: step 2" "--resume of a checkpoint and state of two saves" -- \
  "$gantry" train --resume "$tmp/mixed" --steps 4
cp -r "$tmp/run" "$tmp/cut" && head -c 200 "$tmp/run/train-state.safetensors" >"$tmp/cut/train-state.safetensors"
expect 1 "cut/train-state.safetensors" "--resume of a truncated training state" -- \
  "$gantry" train --resume "$tmp/cut" --steps 4
cmp -s "$tmp/run/log.csv" "$tmp/mixed/log.csv" || { echo "FAIL: a refused --resume changed log.csv"; fail=1; }
# Rows logged after the last save (a run killed between saves) give way to the resumed ones.
cp -r "$tmp/run" "$tmp/extra" && printf '3,9.5,9.5,9,9,9,9,9,9,9\n4,9.5,9' >>"$tmp/extra/log.csv"
if "$gantry" train --resume "$tmp/extra" --steps 3 --quiet &&
  awk -F, 'NR > 1 && ($1 != NR - 1 || $2 == "9.5") { bad = 1 } END { exit bad || NR != 4 }' "$tmp/extra/log.csv"; then
  echo "ok: --resume drops the log rows after the saved step and goes on from there"
else
  echo "FAIL: --resume did not continue log.csv from the saved step:"; cat "$tmp/extra/log.csv"; fail=1
fi

expect 2 "\-\-checkpoint FILE is required" "sample without checkpoint" -- "$gantry" sample --out "$tmp/x.png"
expect 2 "must end in .png or .npy" "sample to an unknown format" -- \
  "$gantry" sample --checkpoint "$tmp/none" --out "$tmp/x.txt"
expect 1 "$tmp/none" "missing checkpoint" -- "$gantry" sample --checkpoint "$tmp/none" --out "$tmp/x.png"
printf 'not a checkpoint' >"$tmp/garbage.safetensors"
expect 1 "garbage.safetensors" "garbage checkpoint" -- \
  "$gantry" sample --checkpoint "$tmp/garbage.safetensors" --out "$tmp/x.png"
# A valid safetensors file that is not a gantry checkpoint.
hdr='{"__metadata__":{"format":"other"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
while (( ${#hdr} % 8 )); do hdr+=' '; done
{ printf "$(printf '\\x%02x' $(( ${#hdr} )) 0 0 0 0 0 0 0)"; printf '%s' "$hdr"; head -c 4 /dev/zero; } >"$tmp/other.safetensors"
expect 1 "not a gantry checkpoint" "foreign safetensors file" -- \
  "$gantry" sample --checkpoint "$tmp/other.safetensors" --out "$tmp/x.png"
[[ ! -e $tmp/x.png ]] || { echo "FAIL: a sample file was written despite the error"; fail=1; }
exit $fail
