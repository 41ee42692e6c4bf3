#!/usr/bin/env bash
# The opencl backend on a real GPU, in one prepared command.
#
#   tools/gpu-check.sh --fetch     here (Debian 12, network): the run-time packages and the
#                                  training data into gpu-check-debs/ (git-ignored)
#   tools/gpu-check.sh             on the GPU machine (bare x86-64, no package registry),
#                                  with build/ and gpu-check-debs/ carried along
#   tools/gpu-check.sh --pocl      here: the same steps against PoCL, the CPU's OpenCL
#   options: --quick (short settings, for CI), --help
#
# On the GPU machine it unpacks the packages with dpkg -x (or Python where dpkg is
# missing) into a private prefix, never into /, and puts on LD_LIBRARY_PATH the
# libraries the system lacks (the ICD loader always ours); finds the driver's OpenCL
# library (NVIDIA's libnvidia-opencl.so.1; with --pocl, PoCL's libpocl.so.2) and
# writes an ICD file for it into a private vendors folder (OCL_ICD_VENDORS). Then,
# each step with a time limit: gantry backends; the full gantry check of the opencl
# backend; gantry bench --json of gan, dcgan and dcgan64 (the DCGAN paper's
# networks at 64 x 64 RGB, the PyTorch tutorial's) on opencl; bench --ops of
# dcgan (also with our own GEMM kernels instead of CLBlast's); one epoch of
# dcgan with its samples grid; a classifier trained on the device and gantry
# eval of that dcgan on the device and on the CPU (the same metrics); the same benches on the cpu
# backend of that machine's CPU; PyTorch's timings of the same networks on CUDA
# (tools/pytorch_reference.py --device cuda; on the CPU with --pocl).
#
# Results go into $OUT (else ./gpu-check-out): summary.txt (every step, its time and
# status, the key numbers), results.json (every JSON the steps printed),
# dcgan-samples.png, and gpu-check.tar.gz with every log. The last line printed is
# one summary line. Exit status: 0 every step passed, 1 a step failed, 2 no OpenCL
# device was found (the message says what was looked for and where) or a usage error.
#
# Environment: BUILD_DIR (default build), GANTRY_GPU_CHECK_DEBS (default
# gpu-check-debs), PYTHON (default python3, with PyTorch for the CUDA timings).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD_DIR:-build}
debs=${GANTRY_GPU_CHECK_DEBS:-gpu-check-debs}
python=${PYTHON:-python3}
out=${OUT:-$root/gpu-check-out}
mode=gpu
quick=0

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
for arg in "$@"; do
  case $arg in
    --fetch) mode=fetch ;;
    --pocl) mode=pocl ;;
    --quick) quick=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "gpu-check: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

# ---- --fetch: here, with Debian's package registry ------------------------------------

# The Debian package of every library that `ldd` names for the programs and modules,
# but glibc (the GPU machine's own must be used), plus the ICD loader.
runtime_packages() {
  local f lib real pkg
  for f in "$build"/tools/gantry "$build"/core/libgantry.so* "$build"/backends/*/gantry-backend-*.so; do
    [[ -e $f ]] || continue
    ldd "$f" 2>/dev/null | awk '/=> \// { print $3 }'
  done | sort -u | while read -r lib; do
    real=$(readlink -f "$lib")
    for cand in "$lib" "$real" "${lib#/usr}" "/usr${lib#/usr}" "${real#/usr}" "/usr${real#/usr}"; do
      pkg=$(dpkg -S "$cand" 2>/dev/null | head -1 | cut -d: -f1) && [[ -n $pkg ]] && break
    done
    [[ -n ${pkg:-} ]] && echo "$pkg"
  done | grep -v -x -e libc6 -e gantry | sort -u
  echo ocl-icd-libopencl1
}

if [[ $mode == fetch ]]; then
  [[ -x $build/tools/gantry ]] || { echo "gpu-check: no $build/tools/gantry; run tools/bootstrap.sh first" >&2; exit 2; }
  mkdir -p "$debs"
  mapfile -t pkgs < <(runtime_packages | sort -u)
  echo "gpu-check: downloading ${pkgs[*]}"
  (cd "$debs" && rm -f ./*.deb && apt-get download "${pkgs[@]}") || {
    echo "gpu-check: apt-get download failed (run apt-get update first?)" >&2; exit 1; }
  data=${GANTRY_DATA_DIR:-/usr/share/datasets/fashion-mnist}
  mkdir -p "$debs/fashion-mnist"
  for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    cp "$data/$f" "$debs/fashion-mnist/" || { echo "gpu-check: no $data/$f (apt-get install dataset-fashion-mnist)" >&2; exit 1; }
  done
  echo "gpu-check: $(du -sh "$debs" | cut -f1) in $debs/; carry it and $build/tools, $build/core, $build/backends" \
    "($(du -shc "$build"/tools "$build"/core "$build"/backends | tail -1 | cut -f1)) to the GPU machine"
  exit 0
fi

# ---- the check ------------------------------------------------------------------------

[[ -x $build/tools/gantry ]] || { echo "gpu-check: no $build/tools/gantry (build here with tools/bootstrap.sh and carry $build/)" >&2; exit 2; }
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
logs=$work/logs
mkdir -p "$logs"
summary=$work/summary.txt
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
lib_cache() { { ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null; }

# Unpacks one .deb into $1 without dpkg if need be (ar archive, data.tar.*).
unpack_deb() {
  local deb=$1 dest=$2
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$deb" "$dest"
    return
  fi
  "$python" - "$deb" "$dest" <<'PY'
import io, lzma, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
data = open(deb, "rb").read()
assert data[:8] == b"!<arch>\n", deb + ": not a .deb"
pos = 8
while pos < len(data):
    name, size = data[pos:pos + 16].decode().strip().rstrip("/"), int(data[pos + 48:pos + 58])
    body = data[pos + 60:pos + 60 + size]
    pos += 60 + size + (size & 1)
    if name.startswith("data.tar"):
        mode = {"data.tar.xz": "r:xz", "data.tar.gz": "r:gz", "data.tar": "r:"}.get(name)
        if not mode:
            sys.exit(deb + ": " + name + " needs dpkg-deb")
        tarfile.open(fileobj=io.BytesIO(body), mode=mode).extractall(dest)
PY
}

# The private prefix: every package unpacked; lib/ holds links to the libraries the
# system does not have (and always to our ICD loader).
prefix=$work/prefix
libdir=$work/lib
mkdir -p "$prefix" "$libdir"
data_dir=${GANTRY_DATA_DIR:-/usr/share/datasets/fashion-mnist}
shopt -s nullglob
deb_files=("$debs"/*.deb)
if [[ ${#deb_files[@]} -gt 0 ]]; then
  for deb in "${deb_files[@]}"; do
    unpack_deb "$deb" "$prefix" || { note "gpu-check: cannot unpack $deb"; exit 1; }
  done
  # By soname (libfoo.so.N), the name the dynamic loader looks for.
  while IFS= read -r -d '' so; do
    name=$(basename "$so")
    [[ $name =~ ^lib.*\.so\.[0-9]+$ ]] || continue
    if [[ $name == libOpenCL.so.1 ]] || ! lib_cache | grep -q "^[[:space:]]*$name "; then
      ln -sf "$so" "$libdir/$name"
    fi
  done < <(find "$prefix" -name 'lib*.so.*' \( -type f -o -type l \) -print0)
  note "gpu-check: ${#deb_files[@]} packages unpacked into a private prefix; libraries the system lacks: $(ls "$libdir" | tr '\n' ' ')"
elif [[ $mode == gpu ]]; then
  note "gpu-check: no packages in $debs/ (make them here with tools/gpu-check.sh --fetch); using the system's libraries"
fi
[[ -f $debs/fashion-mnist/train-images-idx3-ubyte.gz ]] && data_dir=$root/$debs/fashion-mnist
export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# The driver's OpenCL library, and an ICD file for it in a private vendors folder.
if [[ $mode == pocl ]]; then
  icd_lib=libpocl.so.2
  icd_dirs=(/usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib "$prefix/usr/lib/x86_64-linux-gnu")
else
  icd_lib=libnvidia-opencl.so.1
  icd_dirs=(/usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib
            /usr/local/cuda/lib64 /usr/local/cuda/compat /run/nvidia/driver/usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu)
fi
found=
for d in "${icd_dirs[@]}"; do
  for f in "$d/$icd_lib" "$d/${icd_lib%.1}"*; do
    [[ -e $f ]] && { found=$f; break 2; }
  done
done
if [[ -z $found ]]; then
  found=$(lib_cache | awk -v n="$icd_lib" '$1 == n { print $NF; exit }')
fi
if [[ -z $found ]]; then
  found=$(find / -xdev -maxdepth 6 -name "${icd_lib%.1}*" \( -type f -o -type l \) 2>/dev/null | head -1)
fi
vendors=$work/vendors
mkdir -p "$vendors"
opencl_ok=1
if [[ -n $found ]]; then
  echo "$found" >"$vendors/gantry-gpu-check.icd"
  export OCL_ICD_VENDORS=$vendors
  note "gpu-check: OpenCL driver $found (ICD file in a private vendors folder)"
else
  opencl_ok=0
  note "gpu-check: no OpenCL driver library: looked for $icd_lib in ${icd_dirs[*]}, in ldconfig's cache, and under / (6 levels); the opencl steps are skipped"
fi
if [[ $mode == gpu ]]; then
  export GANTRY_OPENCL_DEVICE=${GANTRY_OPENCL_DEVICE:-gpu}
fi
# The build tree's path is compiled in; the copy on the GPU machine may lie
# elsewhere, so name its backends folder.
[[ $build == /* ]] || build=$root/$build
export GANTRY_PLUGIN_PATH=$build/backends${GANTRY_PLUGIN_PATH:+:$GANTRY_PLUGIN_PATH}
export GANTRY_CACHE_DIR=$work/cache GANTRY_DATA_DIR=$data_dir
gantry=$build/tools/gantry

# step NAME SECONDS COMMAND...: runs it with a time limit, its output in logs/NAME.log
# (and logs/NAME.json when it printed one JSON object); a row in the summary.
failed=0
passed=0
step() {
  local name=$1 limit=$2
  shift 2
  local t0 t1 rc
  t0=$(date +%s.%N)
  timeout --kill-after=10 "$limit" "$@" >"$logs/$name.out" 2>"$logs/$name.err"
  rc=$?
  t1=$(date +%s.%N)
  cat "$logs/$name.out" "$logs/$name.err" >"$logs/$name.log"
  if head -c 1 "$logs/$name.out" | grep -q '{'; then cp "$logs/$name.out" "$logs/$name.json"; fi
  local secs
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  if [[ $rc -eq 0 ]]; then
    passed=$((passed + 1))
    note "ok    $name (${secs} s)"
  else
    failed=$((failed + 1))
    local why="exit $rc"
    [[ $rc -eq 124 || $rc -eq 137 ]] && why="timed out after $limit s"
    note "FAIL  $name (${secs} s): $why: $(tail -n 3 "$logs/$name.err" | tr '\n' ' ' | cut -c1-300)"
  fi
  # What has run so far survives if the machine's time runs out mid-check.
  cp "$summary" "$out/summary.txt"
  tar czf "$out/gpu-check.tar.gz" -C "$work" logs summary.txt 2>/dev/null
  return $rc
}
skip() { note "skip  $1: $2"; }

if [[ $quick -eq 1 ]]; then
  gan_steps=5 dcgan_steps=3 torch_steps=3 epoch=(--limit 640 --sample-every 5) check=(--quick) ops=(--min-time-ms 5)
  steps64=(--steps 1 --warmup 1) classifier=(--steps 20) eval_n=(--n 500)
else
  gan_steps=50 dcgan_steps=30 torch_steps=30 epoch=(--epochs 1) check=() ops=()
  steps64=(--steps 20 --warmup 3) classifier=(--epochs 2) eval_n=(--n 10000)
fi
dcgan64=(--model dcgan --image-size 64 --channels 3)
torch_device=cuda
[[ $mode == pocl ]] && torch_device=cpu

{
  echo "== uname"; uname -a
  echo "== CPU"; grep -m1 "model name" /proc/cpuinfo; nproc
  echo "== nvidia-smi"; nvidia-smi 2>&1 | head -20
  echo "== OpenCL driver"; echo "${found:-none}"
  echo "== libraries of the opencl module"; ldd "$build"/backends/opencl/gantry-backend-opencl.so 2>&1
  echo "== LD_LIBRARY_PATH=$LD_LIBRARY_PATH OCL_ICD_VENDORS=${OCL_ICD_VENDORS:-}"
} >"$logs/environment.log" 2>&1

step backends 60 "$gantry" backends
if [[ $opencl_ok -eq 1 ]] && grep -q "^opencl *loaded" "$logs/backends.log"; then
  step check 300 "$gantry" check --backend opencl "${check[@]}"
  step bench-opencl-gan 120 "$gantry" bench --backend opencl --model gan --steps "$gan_steps" --warmup 5 --json
  step bench-opencl-dcgan 180 "$gantry" bench --backend opencl --model dcgan --steps "$dcgan_steps" --warmup 3 --json
  step bench-opencl-dcgan64 180 "$gantry" bench --backend opencl "${dcgan64[@]}" "${steps64[@]}" --json
  step ops-opencl-dcgan 120 "$gantry" bench --ops --backend opencl --model dcgan --json "${ops[@]}"
  # Our own GEMM kernels against CLBlast's on this device.
  step bench-opencl-owngemm-dcgan 180 env GANTRY_OPENCL_GEMM=own \
    "$gantry" bench --backend opencl --model dcgan --steps "$dcgan_steps" --warmup 3 --json
  step ops-opencl-owngemm-dcgan 120 env GANTRY_OPENCL_GEMM=own \
    "$gantry" bench --ops --backend opencl --model dcgan --json "${ops[@]}"
  step epoch-opencl-dcgan 300 "$gantry" train --backend opencl --model dcgan --data "$data_dir" "${epoch[@]}" \
    --out "$work/dcgan-epoch" --quiet
  [[ -f $work/dcgan-epoch/samples.png ]] && cp "$work/dcgan-epoch/samples.png" "$out/dcgan-samples.png" &&
    cp "$work/dcgan-epoch/log.csv" "$logs/dcgan-epoch-log.csv"
  # gantry eval of that generator on the device and on the CPU: the same
  # metrics, with a classifier trained on the device.
  step classifier-opencl 300 "$gantry" train --model classifier --backend opencl --data "$data_dir" \
    "${classifier[@]}" --out "$work/classifier" --quiet
  for be in opencl cpu; do
    step "eval-$be" 120 "$gantry" eval --checkpoint "$work/dcgan-epoch/checkpoint.safetensors" --data "$data_dir" \
      --features "$work/classifier/classifier.safetensors" --backend "$be" "${eval_n[@]}" --json --quiet
  done
else
  opencl_ok=0
  skip opencl "no usable opencl backend ($(grep -A3 '^opencl' "$logs/backends.log" | tr -s ' \n' ' ' | cut -c1-300))"
  failed=$((failed + 1))
fi
step bench-cpu-gan 120 "$gantry" bench --backend cpu --model gan --steps "$gan_steps" --warmup 5 --json
step bench-cpu-dcgan 180 "$gantry" bench --backend cpu --model dcgan --steps "$dcgan_steps" --warmup 3 --json
step bench-cpu-dcgan64 180 "$gantry" bench --backend cpu "${dcgan64[@]}" "${steps64[@]}" --json
if "$python" -c "import torch" 2>/dev/null; then
  for m in gan dcgan; do
    step "torch-$torch_device-$m" 180 "$python" tools/pytorch_reference.py --device "$torch_device" --model "$m" \
      --steps "$torch_steps" --warmup 3 --json
  done
  step "torch-$torch_device-dcgan64" 180 "$python" tools/pytorch_reference.py --device "$torch_device" \
    "${dcgan64[@]}" "${steps64[@]}" --json
else
  skip torch "no PyTorch for $python"
fi

# results.json: every step's JSON, by step name; the summary line from it.
"$python" - "$logs" "$out/results.json" "$failed" "$passed" "$mode" >"$work/line.txt" <<'PY' || echo "gpu-check: $passed steps passed, $failed failed" >"$work/line.txt"
import glob, json, os, sys
logs, dest, failed, passed, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
res = {}
for path in sorted(glob.glob(os.path.join(logs, "*.json"))):
    try:
        res[os.path.basename(path)[:-5]] = json.load(open(path))
    except ValueError:
        pass
check = open(os.path.join(logs, "check.log")).read().strip().splitlines()[-1] if os.path.exists(
    os.path.join(logs, "check.log")) else "not run"
res["check_verdict"] = check
json.dump(res, open(dest, "w"), indent=1)
def ms(name):
    r = res.get(name)
    return "%.2f ms" % r["ms_per_step"] if r else "-"
dev = ""
for seg in res.get("bench-opencl-gan", {}).get("device", "").split("; "):
    if seg.startswith("* ") and "'" in seg:
        dev = seg.split("'")[1][:80]
def torch(model):
    return ms("torch-cuda-" + model) if "torch-cuda-" + model in res else ms("torch-cpu-" + model)
def fd(be):
    r = res.get("eval-" + be)
    return "%.6g in %.1f s" % (r["fd"], r["seconds"]) if r else "-"
print("gpu-check (%s): opencl %s; %s | %s | eval FD: opencl %s, cpu %s | %d steps passed, %d failed" % (
    mode, dev or "-", check.replace("gantry check: ", "check "),
    " | ".join("%s: opencl %s, cpu %s, torch %s" % (m, ms("bench-opencl-" + m), ms("bench-cpu-" + m), torch(m))
               for m in ("gan", "dcgan", "dcgan64")), fd("opencl"), fd("cpu"), passed, failed))
PY
cat "$work/line.txt" >>"$summary"
cp "$summary" "$out/summary.txt"
tar czf "$out/gpu-check.tar.gz" -C "$work" logs summary.txt 2>/dev/null
cat "$work/line.txt"
[[ $opencl_ok -eq 1 ]] || exit 2
[[ $failed -eq 0 ]]
