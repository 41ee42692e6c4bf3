#!/usr/bin/env bash
# Training on your own images through the CLI, on sets this test makes from
# Fashion-MNIST (tests/make_image_set.c):
#   - the first 512 training images as PNG class folders, named in IDX order,
#     train exactly as the IDX files do (the same checkpoint bytes) for gan,
#     cgan and dcgan on every backend, also from the decoded-image cache; the
#     same set as JPEG of quality 100 trains;
#   - garments tinted with a colour per class (32x32 RGB): cdcgan learns the
#     colours, each class's samples nearest to its own colour for at least 8
#     of the 10 classes (tests/python/row_colors.py);
#   - every model, and the tricks that change the networks, at 32x32 RGB on
#     every backend;
#   - dcgan at 64x64 RGB: its checkpoint loads into the PyTorch DCGAN
#     tutorial's Generator.main and Discriminator.main with strict=True and
#     reproduces gantry's samples (tests/python/torch_checkpoint.py);
#   - sgan on a folder holds out its last tenth for the accuracy report;
#   - bad folders: an empty one, one without images, an unsupported size,
#     damaged images among good ones (skipped with a warning, counted).
# usage: e2e_images.sh GANTRY MAKE_IMAGE_SET TORCH_CHECKPOINT_PY ROW_COLORS_PY
set -u
gantry=$1
make_set=$2
torch_checkpoint=$3
row_colors=$4
data=${GANTRY_E2E_DATA:-/usr/share/datasets/fashion-mnist}
[[ -f $data/train-images-idx3-ubyte.gz || -f $data/train-images-idx3-ubyte ]] || {
  echo "SKIP: no Fashion-MNIST at $data (apt-get install dataset-fashion-mnist)"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GANTRY_CACHE_DIR=$tmp/cache
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }
# A Python with NumPy (and one with PyTorch) where there is one; without,
# those checks are skipped, except under CI, which installs them.
python_with() {
  for py in python3 /usr/bin/python3; do
    if "$py" -c "import $1" >/dev/null 2>&1; then command -v "$py"; return; fi
  done
  echo python3
}
python=$(python_with numpy)
python_torch=$(python_with torch)
skipped_ok() { [[ $1 -eq 0 || ( $1 -eq 77 && -z ${CI:-} ) ]]; }

"$make_set" png "$data" "$tmp/png" 512 && "$make_set" jpeg "$data" "$tmp/jpeg" 512 ||
  { echo "FAIL: cannot make the image sets"; exit 1; }

# ---- PNG class folders train as the IDX files do -------------------------------------------
backends=()
for be in reference cpu opencl; do
  if "$gantry" backends 2>/dev/null | grep -q "^$be *loaded"; then
    backends+=("$be")
  elif [[ -n ${CI:-} ]]; then
    echo "FAIL: backend $be cannot be loaded"; fail=1
  else
    echo "note: backend $be cannot be loaded here; skipped"
  fi
done
for be in "${backends[@]}"; do
  for m in gan cgan dcgan; do
    base=(train --backend "$be" --model "$m" --width 4 --batch 8 --steps 3 --seed 3 --quiet)
    "$gantry" "${base[@]}" --data "$data" --limit 512 --out "$tmp/idx-$be-$m" 2>"$tmp/err" &&
      "$gantry" "${base[@]}" --data "$tmp/png" --out "$tmp/png-$be-$m" 2>>"$tmp/err"
    rc=$?
    [[ $rc -eq 0 ]] || cat "$tmp/err"
    check "[[ $rc -eq 0 ]] && cmp -s '$tmp/idx-$be-$m/checkpoint.safetensors' '$tmp/png-$be-$m/checkpoint.safetensors'" \
      "$be $m: PNG class folders give the IDX files' checkpoint"
  done
done
check "ls '$tmp'/cache/data/*.images >/dev/null 2>&1" "the decoded folder is cached"
"$gantry" train --backend cpu --model dcgan --width 4 --batch 8 --steps 3 --seed 3 --quiet --data "$tmp/png" \
  --out "$tmp/png-cached" 2>"$tmp/err"
check "cmp -s '$tmp/png-cached/checkpoint.safetensors' '$tmp/idx-cpu-dcgan/checkpoint.safetensors' 2>/dev/null ||
  [[ ! -d '$tmp/idx-cpu-dcgan' ]]" "from the cache: the same checkpoint"
"$gantry" train --backend cpu --model dcgan --width 4 --batch 8 --steps 3 --quiet --data "$tmp/jpeg" \
  --out "$tmp/jpeg-run" 2>"$tmp/err"
check "[[ $? -eq 0 && -s '$tmp/jpeg-run/checkpoint.safetensors' ]]" "JPEG of quality 100 trains"

# ---- every model and the tricks that touch the networks, at 32x32 RGB, on every backend ---------
"$make_set" tinted "$data" "$tmp/t32" 96 || { echo "FAIL: cannot make the 32x32 set"; exit 1; }
runs=("gan" "cgan" "dcgan" "cdcgan" "wgan --n-critic 2" "lsgan" "began" "sgan --labeled 20" "dcgan --minibatch-disc"
      "cdcgan --feature-matching --label-smoothing 0.9" "dcgan --vbn" "gan --ref-bn" "dcgan --unroll 1")
for be in "${backends[@]}"; do
  for r in "${runs[@]}"; do
    name=${r// /}
    # shellcheck disable=SC2086
    "$gantry" train --backend "$be" --model $r --data "$tmp/t32" --width 4 --batch 8 --steps 2 --quiet \
      --out "$tmp/v32-$be-$name" 2>"$tmp/err" &&
      "$gantry" sample --backend "$be" --checkpoint "$tmp/v32-$be-$name/checkpoint.safetensors" --n 4 \
        --out "$tmp/v32-$be-$name/s.npy" >/dev/null 2>>"$tmp/err"
    rc=$?
    [[ $rc -eq 0 ]] || cat "$tmp/err"
    check "[[ $rc -eq 0 ]] && awk -F, 'NR>1 { for (i=2;i<=10;i++) if (\$i !~ /^-?[0-9]+\\.[0-9]+\$/) bad=1 } END { exit bad || NR != 3 }' \
      '$tmp/v32-$be-$name/log.csv'" "$be: --model $r trains on 32x32 RGB and samples"
  done
done

# ---- the colour test -----------------------------------------------------------------------
"$make_set" tinted "$data" "$tmp/tinted" 12800 || { echo "FAIL: cannot make the tinted set"; exit 1; }
"$gantry" train --backend cpu --model cdcgan --data "$tmp/tinted" --width 32 --epochs 3 --seed 1 --quiet \
  --out "$tmp/tinted-run" 2>"$tmp/err"
rc=$?
[[ $rc -eq 0 ]] || cat "$tmp/err"
"$gantry" sample --checkpoint "$tmp/tinted-run/checkpoint.safetensors" --n 80 --seed 3 --out "$tmp/tinted.npy" \
  >/dev/null 2>&1
"$python" "$row_colors" "$tmp/tinted.npy" 8 >"$tmp/colors" 2>&1
rc=$?
cat "$tmp/colors"
check "skipped_ok $rc" "cdcgan on tinted 32x32 RGB folders learns each class's colour"

# ---- 64x64 RGB: the PyTorch DCGAN tutorial's networks ---------------------------------------
"$make_set" tinted "$data" "$tmp/tinted64" 64 &&
  "$gantry" train --backend cpu --model dcgan --data "$tmp/tinted64" --image-size 64 --batch 16 --steps 2 --quiet \
    --out "$tmp/rgb64" 2>"$tmp/err" &&
  "$gantry" sample --checkpoint "$tmp/rgb64/checkpoint.safetensors" --n 8 --seed 5 --out "$tmp/rgb64.npy" >/dev/null
rc=$?
[[ $rc -eq 0 ]] || cat "$tmp/err"
check "[[ $rc -eq 0 ]]" "dcgan trains on 32x32 RGB folders resized to 64x64"
"$python_torch" "$torch_checkpoint" "$tmp/rgb64/checkpoint.safetensors" "$tmp/rgb64.npy" 5 >"$tmp/torch" 2>&1
rc=$?
cat "$tmp/torch"
check "skipped_ok $rc && { [[ $rc -eq 77 ]] || grep -q 'tutorial' '$tmp/torch'; }" \
  "64x64 RGB loads into the PyTorch DCGAN tutorial's networks (strict) and reproduces the samples"

# ---- sgan on a folder: a held-out tenth, or --test-data -------------------------------------
"$gantry" train --backend cpu --model sgan --data "$tmp/png" --labeled 20 --width 4 --batch 8 --steps 2 \
  --out "$tmp/sgan" 2>"$tmp/err"
rc=$?
check "[[ $rc -eq 0 ]] && grep -q 'measures its accuracy on the last 51' '$tmp/err' &&
  grep -q '^test_accuracy 0\\.[0-9]* ([0-9]* of 51)' '$tmp/sgan/accuracy.txt'" "sgan on a folder holds out its last tenth"
[[ $rc -eq 0 ]] || cat "$tmp/err"
"$gantry" train --backend cpu --model sgan --data "$tmp/png" --test-data "$tmp/jpeg" --labeled 20 --width 4 \
  --batch 8 --steps 2 --quiet --out "$tmp/sgan-test" 2>"$tmp/err"
check "[[ $? -eq 0 ]] && grep -q '(512 of 512)\\|([0-9]* of 512)' '$tmp/sgan-test/accuracy.txt'" \
  "sgan with --test-data measures on those images"

# ---- bad folders ---------------------------------------------------------------------------
mkdir -p "$tmp/empty" "$tmp/notes"
echo "not an image" >"$tmp/notes/readme.txt"
for d in empty notes; do
  "$gantry" train --data "$tmp/$d" --steps 1 --out "$tmp/bad-$d" 2>"$tmp/err"
  rc=$?
  check "[[ $rc -eq 1 && \$(wc -l <'$tmp/err') -eq 1 ]] && grep -q 'no .png, .jpg or .jpeg image' '$tmp/err' &&
    [[ ! -e '$tmp/bad-$d' ]]" "a folder without images ($d): one line, exit 1: $(cat "$tmp/err")"
done
"$gantry" train --model dcgan --data "$tmp/png" --image-size 48 --steps 1 --out "$tmp/bad-size" 2>"$tmp/err"
check "[[ $? -eq 1 ]] && grep -q '28x28.*32x32, 64x64 or 128x128' '$tmp/err'" \
  "an image size without networks names the supported ones: $(cat "$tmp/err")"
cp -r "$tmp/png" "$tmp/damaged"
first=$(ls "$tmp/damaged/0" | head -1)
head -c 100 "$tmp/damaged/0/$first" >"$tmp/damaged/0/$first.tmp" && mv "$tmp/damaged/0/$first.tmp" "$tmp/damaged/0/$first"
printf 'not a png' >"$tmp/damaged/1/99999.png"
"$gantry" train --backend cpu --data "$tmp/damaged" --batch 8 --steps 1 --quiet --out "$tmp/damaged-run" 2>"$tmp/err"
rc=$?
check "[[ $rc -eq 0 ]] && grep -q '$first' '$tmp/err' && grep -q '99999.png' '$tmp/err' &&
  grep -q '2 unusable images skipped' '$tmp/err'" "damaged images are named, skipped and counted"
[[ $rc -eq 0 ]] || cat "$tmp/err"
exit $fail
