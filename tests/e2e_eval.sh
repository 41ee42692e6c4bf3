#!/usr/bin/env bash
# End to end: the feature network (gantry train --model classifier), gantry
# eval on every backend, its .npy input, the default classifier trained on
# first use, gantry train --eval-every (log columns, checkpoint-best, resume)
# and the errors of bad input.
# usage: e2e_eval.sh GANTRY MAKE_IMAGE_SET
set -u
gantry=$1
make_image_set=$2
data=${GANTRY_E2E_DATA:-/usr/share/datasets/fashion-mnist}
[[ -f $data/train-images-idx3-ubyte.gz || -f $data/train-images-idx3-ubyte ]] || {
  echo "SKIP: no Fashion-MNIST at $data (apt-get install dataset-fashion-mnist)"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GANTRY_CACHE_DIR=$tmp/cache GANTRY_BACKEND=cpu
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }
# json FILE KEY: one value of gantry eval --json's object.
json() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# Exit status 0 when every metric of two --json outputs agrees within a relative tol.
same_metrics() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
a, b, tol = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), float(sys.argv[3])
bad = [k for k in ("fd", "is", "covered", "class_kl", "precision", "recall")
       if abs(a[k] - b[k]) > tol * max(abs(a[k]), abs(b[k]), 1e-12)]
for k in bad:
    print("  %s: %r vs %r" % (k, a[k], b[k]))
sys.exit(1 if bad else 0)
PY
}

# ---- the classifier: one epoch on 3,200 images ----
"$gantry" train --model classifier --data "$data" --limit 3200 --epochs 1 --seed 2 --out "$tmp/clf" --quiet \
  >"$tmp/clf.out" 2>&1
rc=$?
check "[[ $rc -eq 0 ]]" "train --model classifier exits 0 (got $rc)"
[[ $rc -eq 0 ]] || cat "$tmp/clf.out"
clf=$tmp/clf/classifier.safetensors
check "[[ -s $clf ]]" "it writes classifier.safetensors"
check "[[ \$(head -1 '$tmp/clf/log.csv') == epoch,step,loss,test_accuracy,seconds ]]" "its log.csv header"
check "awk -F, 'NR == 2 { ok = \$1 == 1 && \$2 == 50 && \$4 > 0.6 && \$4 <= 1 } END { exit !ok || NR != 2 }' '$tmp/clf/log.csv'" \
  "one epoch of 50 steps, test accuracy above 60% ($(tail -1 "$tmp/clf/log.csv"))"
check "grep -q 'classifier: test accuracy .*% (10000 images)' '$tmp/clf.out'" "it reports the accuracy on the 10,000 test images"

# ---- a classifier of RGB class folders: no test split, a tenth held out ----
"$make_image_set" tinted "$data" "$tmp/tinted" 400 || { echo "FAIL: make_image_set tinted"; fail=1; }
"$gantry" train --model classifier --data "$tmp/tinted" --epochs 1 --out "$tmp/clf-rgb" >"$tmp/rgb.out" 2>"$tmp/rgb.err"
rc=$?
check "[[ $rc -eq 0 ]]" "a classifier of 32x32 RGB class folders trains (got $rc: $(tail -c 300 "$tmp/rgb.err"))"
check "grep -q 'testing on 40 held-out images' '$tmp/rgb.err' && grep -q '(40 images)' '$tmp/rgb.out'" \
  "on 360 images, tested on the last 40 held out"
check "grep -q '3 x 32 x 32, 10 classes' '$tmp/rgb.err'" "3 x 32 x 32 in 10 classes (the folders)"

# ---- a generator with --eval-every, and its resumed twin ----
train() { "$gantry" train --model dcgan --data "$data" --limit 640 --seed 3 --eval-every 5 --features "$clf" --quiet "$@"; }
train --steps 10 --out "$tmp/g" >"$tmp/g.out" 2>&1
rc=$?
check "[[ $rc -eq 0 ]]" "train --eval-every exits 0 (got $rc)"
[[ $rc -eq 0 ]] || cat "$tmp/g.out"
check "[[ \$(head -1 '$tmp/g/log.csv') == step,d_loss,g_loss,d_real,d_fake,wasserstein,k,m_global,d_class,seconds,fd,is,covered,class_kl,precision,recall ]]" \
  "log.csv gets the metrics' columns"
check "awk -F, 'NR > 1 { ev = (\$1 % 5 == 0); for (i = 11; i <= 16; i++) if (ev ? \$i !~ /^[0-9.]+\$/ : \$i != \"\") bad = 1; if (NF != 16) bad = 1 }
  END { exit bad || NR != 11 }' '$tmp/g/log.csv'" "the metrics on steps 5 and 10, empty fields on the others"
check "[[ -s $tmp/g/checkpoint-best.safetensors ]]" "checkpoint-best.safetensors is kept"
train --steps 5 --out "$tmp/r" >/dev/null 2>&1 && "$gantry" train --resume "$tmp/r" --steps 10 --quiet >"$tmp/r.out" 2>&1
check "cmp -s <(cut -d, -f1-9,11-16 '$tmp/g/log.csv') <(cut -d, -f1-9,11-16 '$tmp/r/log.csv')" \
  "a resumed run evaluates as the uninterrupted one (log.csv but the times)"
check "cmp -s '$tmp/g/checkpoint.safetensors' '$tmp/r/checkpoint.safetensors'" "and ends with the same checkpoint"
check "[[ \$(\"$gantry\" train --resume '$tmp/g' --eval-every 3 2>&1) == *'--eval-every cannot be given with --resume'* ]]" \
  "--eval-every is the run's own setting on --resume"

# ---- gantry eval: the same metrics on every backend ----
g=$tmp/g/checkpoint.safetensors
backends=$("$gantry" backends 2>/dev/null | awk '$2 == "loaded" { print $1 }')
for be in cpu reference opencl; do
  [[ $be == opencl && $backends != *opencl* ]] && { echo "skip: eval on opencl (not loaded)"; continue; }
  # PoCL and the ICD loader keep allocations until exit: no LeakSanitizer there (.ci/run).
  leaks=${ASAN_OPTIONS:-}
  [[ $be == opencl ]] && leaks=${leaks:+$leaks:}detect_leaks=0
  ASAN_OPTIONS=$leaks "$gantry" eval --checkpoint "$g" --data "$data" --features "$clf" --n 300 --seed 5 --json --backend "$be" \
    >"$tmp/$be.json" 2>"$tmp/$be.err"
  rc=$?
  check "[[ $rc -eq 0 ]]" "eval on $be exits 0 (got $rc: $(head -c 300 "$tmp/$be.err"))"
done
check "[[ \$(json '$tmp/cpu.json' n_fake) == 300 && \$(json '$tmp/cpu.json' n_real) == 300 && \$(json '$tmp/cpu.json' classes) == 10 ]]" \
  "300 samples against 300 test images in 10 classes"
check "same_metrics '$tmp/cpu.json' '$tmp/reference.json' 1e-4" "cpu = reference within 1e-4"
if [[ -s $tmp/opencl.json ]]; then
  check "same_metrics '$tmp/opencl.json' '$tmp/reference.json' 1e-4" "opencl = reference within 1e-4"
fi

# ---- .npy input: gantry sample's images score as the checkpoint's ----
"$gantry" sample --checkpoint "$g" --n 300 --seed 5 --out "$tmp/s.npy" >/dev/null
"$gantry" eval --samples "$tmp/s.npy" --data "$data" --features "$clf" --n 300 --json >"$tmp/npy.json" 2>"$tmp/npy.err"
check "same_metrics '$tmp/npy.json' '$tmp/cpu.json' 0" "eval --samples of gantry sample's .npy = eval --checkpoint"
# The test images against themselves: FD 0, precision and recall 1.
python3 - "$data" "$tmp/real.npy" "$tmp/real255.npy" <<'PY'
# The first 300 test images as float32 .npy files (no numpy needed).
import array, gzip, os, sys
d = sys.argv[1]
path = os.path.join(d, "t10k-images-idx3-ubyte")
raw = gzip.open(path + ".gz").read() if os.path.exists(path + ".gz") else open(path, "rb").read()
pixels = raw[16:16 + 300 * 784]
def save(dest, values):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (300, 1, 28, 28), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(dest, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())
        a = array.array("f", values)
        if sys.byteorder != "little":
            a.byteswap()
        f.write(a.tobytes())
save(sys.argv[2], [p / 127.5 - 1 for p in pixels])
save(sys.argv[3], [float(p) for p in pixels])
PY
"$gantry" eval --samples "$tmp/real.npy" --data "$data" --features "$clf" --n 300 --json >"$tmp/real.json" 2>&1
check "python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); sys.exit(not (abs(m[\"fd\"]) < 1e-6 and m[\"precision\"] == 1 and m[\"recall\"] == 1 and m[\"covered\"] == 10 and 0 <= m[\"class_kl\"] < 0.1))' '$tmp/real.json'" \
  "the test images against themselves: FD 0, precision and recall 1, every class covered, class KL small (argmax against labels) ($(head -c 300 "$tmp/real.json"))"

# ---- the default classifier, trained on first use and cached ----
python3 - "$data" "$tmp/small" <<'PY'
import gzip, os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
for split, n in (("train", 640), ("t10k", 200)):
    for kind, head, size in (("images-idx3", 16, 784), ("labels-idx1", 8, 1)):
        name = "%s-%s-ubyte" % (split, kind)
        p = os.path.join(src, name)
        raw = gzip.open(p + ".gz").read() if os.path.exists(p + ".gz") else open(p, "rb").read()
        hdr = bytearray(raw[:head])
        struct.pack_into(">I", hdr, 4, n)
        open(os.path.join(dst, name), "wb").write(bytes(hdr) + raw[head:head + n * size])
PY
"$gantry" eval --checkpoint "$g" --data "$tmp/small" --n 100 --quiet >"$tmp/d1.out" 2>"$tmp/d1.err"
rc=$?
check "[[ $rc -eq 0 ]]" "eval without --features exits 0 (got $rc: $(tail -c 300 "$tmp/d1.err"))"
check "grep -q 'no --features: training the default classifier for $tmp/small' '$tmp/d1.err'" "it says on stderr that it trains one"
check "ls '$tmp/cache/classifiers/'small-1x28x28-*.safetensors >/dev/null 2>&1" "and caches it under GANTRY_CACHE_DIR/classifiers"
"$gantry" eval --checkpoint "$g" --data "$tmp/small" --n 100 >"$tmp/d2.out" 2>"$tmp/d2.err"
check "grep -q 'no --features: the default classifier for' '$tmp/d2.err' && ! grep -q training '$tmp/d2.err'" \
  "the second time it takes the cached one"
check "cmp -s <(grep -v '^time' '$tmp/d1.out') <(grep -v '^time' '$tmp/d2.out')" "with the same metrics"

# ---- bad input: one line, non-zero exit ----
err() { # err EXPECTED_RC PATTERN WHAT ARGS...
  local want=$1 pattern=$2 what=$3
  shift 3
  local out rc
  out=$("$gantry" "$@" 2>&1)
  rc=$?
  check "[[ $rc -eq $want && \$(printf '%s\n' \"\$out\" | grep -c .) -ge 1 && \"\$out\" == *\"$pattern\"* ]]" \
    "$what: exit $want and '$pattern' (got $rc: ${out:0:200})"
}
err 2 "give one of --checkpoint FILE and --samples FILE.npy" "eval with neither" eval
err 2 "give one of --checkpoint FILE and --samples FILE.npy" "eval with both" eval --checkpoint "$g" --samples "$tmp/s.npy"
err 1 "outside [-1, 1]" "eval of 0..255 images" eval --samples "$tmp/real255.npy" --data "$data" --features "$clf"
err 1 "not a gantry classifier" "a GAN checkpoint as --features" eval --checkpoint "$g" --features "$g"
head -c 1000 "$clf" >"$tmp/trunc.safetensors"
err 1 "trunc.safetensors" "a truncated classifier" eval --checkpoint "$g" --features "$tmp/trunc.safetensors"
"$gantry" train --model classifier --data "$data" --limit 640 --steps 2 --image-size 32 --out "$tmp/c32" --quiet >/dev/null 2>&1
err 1 "classifies images of 1 x 32 x 32, the generator makes 1 x 28 x 28" "a classifier of another size" \
  eval --checkpoint "$g" --features "$tmp/c32/classifier.safetensors"
err 1 "has no labels" "no --features for data without labels" eval --samples "$tmp/real.npy" --data "$tmp/real.npy"
err 2 "--features applies with --eval-every N only" "train --features alone" train --features "$clf" --steps 1
err 2 "--d-steps does not apply to --model classifier" "a GAN option for the classifier" train --model classifier --d-steps 2
err 1 "has no labels" "a classifier of unlabelled images" train --model classifier --data "$tmp/real.npy" --steps 1

exit $fail
