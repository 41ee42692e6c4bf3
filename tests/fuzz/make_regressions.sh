#!/bin/sh
# Writes the regression corpus of the checkpoint readers (issue 20) into
# tests/fuzz/regressions/checkpoint/: a small dcgan checkpoint, its training
# state and a classifier as gantry writes them (ok-*), and one hostile file
# made from them per way of lying, named after what it tests.  The files are
# made by tests/test_hostile_files.c (the same code the io suite runs), so
# the test and the corpus cannot drift; they are deterministic (fixed seeds,
# reference backend), so rerunning this leaves git clean.
#
#   tests/fuzz/make_regressions.sh [BUILD_DIR]     (default: build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
out="$here/regressions/checkpoint"
exe="$build/tests/test_hostile_files"
[ -x "$exe" ] || { echo "make_regressions.sh: no $exe; build first (ninja -C $build)" >&2; exit 1; }
mkdir -p "$out"
rm -f "$out"/*.safetensors
# the build tree's own backends, as the tests use them
GANTRY_PLUGIN_PATH= GANTRY_BACKEND= "$exe" --write-regressions "$out"
