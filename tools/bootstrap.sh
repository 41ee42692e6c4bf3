#!/usr/bin/env bash
# Installs what gantry needs on Debian 12 (only what is missing), then
# configures and builds it in ./build.  Safe to run again: it does only the
# work that is left.
#
#   tools/bootstrap.sh && build/tools/gantry train
#   tools/bootstrap.sh && meson test -C build
#
# GANTRY_BOOTSTRAP_NO_INSTALL=1 skips the package step; BUILD_DIR picks
# another build directory; extra arguments go to `meson setup`.
set -euo pipefail

cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}

packages=(
  meson ninja-build pkg-config gcc libc6-dev   # the build
  zlib1g-dev libpng-dev libjson-c-dev          # gzip'd IDX files, PNG grids and images, safetensors headers
  libjpeg62-turbo-dev                          # JPEG images in data folders (PNG through libpng)
  libopenblas-dev                              # cpu backend: the alternative GEMM path it measures against
  liblapacke-dev                               # gantry eval: the Frechet distance's eigen-decompositions
  ocl-icd-opencl-dev opencl-headers libclblast-dev  # opencl backend: ICD loader, headers, CLBlast GEMM
  pocl-opencl-icd                              # an OpenCL platform on the CPU, so opencl runs everywhere
  openmpi-bin libopenmpi-dev                   # gantry train across the processes of an MPI job
  dataset-fashion-mnist                        # the default training data
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ $status == ii* ]] || missing+=("$p")
done

if [[ ${#missing[@]} -gt 0 && -z ${GANTRY_BOOTSTRAP_NO_INSTALL:-} ]]; then
  if ! command -v apt-get >/dev/null; then
    echo "bootstrap: apt-get not found; install these packages yourself: ${missing[*]}" >&2
    exit 1
  fi
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "bootstrap: run as root or install sudo (missing: ${missing[*]})" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -f $build_dir/build.ninja ]]; then
  meson setup "$build_dir" "$@"
elif [[ $# -gt 0 ]]; then
  meson configure "$build_dir" "$@"
fi
ninja -C "$build_dir"
echo "bootstrap: built in $build_dir/ (try: $build_dir/tools/gantry --help)"
