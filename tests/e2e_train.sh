#!/usr/bin/env bash
# End to end: train the GAN 100 steps on a 1,000-image subset of
# Fashion-MNIST with the reference backend, then sample from the checkpoint
# and, where PyTorch is installed, load it into torch.nn.Sequential.
# usage: e2e_train.sh GANTRY TORCH_CHECK_PY
set -u
gantry=$1
torch_check=$2
data=${GANTRY_E2E_DATA:-/usr/share/datasets/fashion-mnist}
[[ -f $data/train-images-idx3-ubyte.gz || -f $data/train-images-idx3-ubyte ]] || {
  echo "SKIP: no Fashion-MNIST at $data (apt-get install dataset-fashion-mnist)"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }

# PNG signature and the 8x8 grid of 28x28 images scaled 3x (to 512 pixels or more) with
# 2-pixel borders: 8 * (84 + 2) + 2 = 690 wide.
png_ok() {
  local f=$1 want=$2
  [[ $(od -An -tx1 -N8 "$f" | tr -d ' \n') == 89504e470d0a1a0a ]] || return 1
  local w h
  w=$(od -An -tu1 -j16 -N4 "$f" | awk '{print $1*16777216+$2*65536+$3*256+$4}')
  h=$(od -An -tu1 -j20 -N4 "$f" | awk '{print $1*16777216+$2*65536+$3*256+$4}')
  [[ "$w x $h" == "$want" ]]
}

GANTRY_BACKEND=reference "$gantry" train --data "$data" --limit 1000 --steps 100 --sample-every 50 \
  --seed 7 --out "$tmp/run" >"$tmp/train.out" 2>&1
rc=$?
check "[[ $rc -eq 0 ]]" "train exits 0 (got $rc)"
[[ $rc -eq 0 ]] || cat "$tmp/train.out"
check "[[ \$(wc -l <'$tmp/run/log.csv') -eq 101 ]]" "log.csv has a header and 100 steps"
check "[[ \$(head -1 '$tmp/run/log.csv') == step,d_loss,g_loss,d_real,d_fake,wasserstein,k,m_global,d_class,seconds ]]" "log.csv header"
check "awk -F, 'NR>1 { for (i=2;i<=10;i++) if (\$i !~ /^-?[0-9]+\\.[0-9]+\$/) bad=1; if (\$4<0||\$4>1||\$5<0||\$5>1) bad=1 } END { exit bad }' '$tmp/run/log.csv'" \
  "every logged loss is a finite number and D's outputs are probabilities"
check "[[ \$(tail -1 '$tmp/run/log.csv' | cut -d, -f1) == 100 ]]" "the last row is step 100"
for f in samples.png samples-000050.png samples-000100.png; do
  check "png_ok '$tmp/run/$f' '690 x 690'" "$f is a 690x690 PNG"
done
check "[[ -s '$tmp/run/checkpoint.safetensors' ]]" "checkpoint written"
check "! ls '$tmp/run' | grep -q tmp" "no temporary files left in the run directory"

"$gantry" sample --checkpoint "$tmp/run/checkpoint.safetensors" --n 10 --seed 3 --out "$tmp/s.png" >/dev/null
check "png_ok '$tmp/s.png' '690 x 174'" "sample --n 10 writes a 690x174 grid (8 per row)"
"$gantry" sample --checkpoint "$tmp/run/checkpoint.safetensors" --n 12 --seed 3 --out "$tmp/s.npy" >/dev/null
check "[[ \$(head -c 6 '$tmp/s.npy' | od -An -c | tr -d ' ') == '223NUMPY' ]]" "sample writes an .npy"
check "grep -aq \"'shape': (12, 1, 28, 28)\" '$tmp/s.npy'" ".npy has shape (12, 1, 28, 28)"
check "[[ \$(stat -c %s '$tmp/s.npy') -eq \$((128 + 12*784*4)) ]]" ".npy holds 12x784 float32 values"

# Debian's PyTorch lives in the system interpreter, which may not be the
# first python3 on PATH.
python=
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null && "$py" -c 'import torch, numpy' 2>/dev/null; then python=$py; break; fi
done
if [[ -n $python ]]; then
  "$python" "$torch_check" "$tmp/run/checkpoint.safetensors" "$tmp/s.npy" 3
  check "[[ $? -eq 0 ]]" "PyTorch loads the checkpoint and reproduces the samples"
  # DCGAN (narrow, so the reference backend is quick): Conv2d and
  # ConvTranspose2d names and layouts must match PyTorch's.
  GANTRY_BACKEND=reference "$gantry" train --model dcgan --width 8 --batch 16 --data "$data" --limit 200 --steps 3 \
    --seed 5 --out "$tmp/dc" --quiet
  check "[[ $? -eq 0 ]]" "dcgan trains 3 steps"
  "$gantry" sample --checkpoint "$tmp/dc/checkpoint.safetensors" --n 9 --seed 4 --out "$tmp/dc.npy" >/dev/null
  "$python" "$torch_check" "$tmp/dc/checkpoint.safetensors" "$tmp/dc.npy" 4
  check "[[ $? -eq 0 ]]" "PyTorch's DCGAN generator reproduces gantry's dcgan samples"
  # One whole training step (D and G updates, Adam) from the same state and
  # noise: dcgan, and gan, whose step stacks D's real and fake batches and
  # G's two noise batches (on cpu, the fast backend).
  for model in dcgan gan; do
    backend=reference size=(--width 8)
    [[ $model == gan ]] && backend=cpu size=()
    for st in 0 1; do
      GANTRY_BACKEND=$backend "$gantry" train --model $model "${size[@]}" --batch 16 --data "$data" --limit 16 \
        --steps $st --seed 9 --out "$tmp/$model-step$st" --quiet
    done
    "$python" "$(dirname "$torch_check")/torch_step.py" "$tmp/$model-step0/checkpoint.safetensors" \
      "$tmp/$model-step1/checkpoint.safetensors" "$tmp/$model-step1/log.csv" "$data"
    check "[[ $? -eq 0 ]]" "PyTorch's $model training step reproduces gantry's (losses and updated weights)"
  done
else
  echo "note: no python3 with torch and numpy (apt-get install python3-torch): checkpoint loading into PyTorch not checked"
fi
exit $fail
