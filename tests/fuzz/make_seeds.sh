#!/usr/bin/env bash
# Writes the seed corpora of the fuzz harnesses: OUT/<harness>/ (default
# BUILD_DIR/tests/fuzz/seeds, replaced) from the make_seeds program of a
# -Dfuzz=true build (real files from gantry's writers; see make_seeds.c),
# plus any committed files under tests/fuzz/seeds/<harness>/.
#
#   tests/fuzz/make_seeds.sh BUILD_DIR [OUT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1
out=${2:-$build/tests/fuzz/seeds}
prog=$build/tests/fuzz/make_seeds
[[ -x $prog ]] || { echo "make_seeds.sh: $prog not built (configure with -Dfuzz=true)" >&2; exit 1; }
rm -rf "$out"
# The reference backend of this build; LeakSanitizer stays on.
GANTRY_PLUGIN_PATH='' GANTRY_BACKEND='' "$prog" "$out"
for dir in "$here"/seeds/*/; do
  [[ -d $dir ]] || continue
  mkdir -p "$out/$(basename "$dir")"
  cp "$dir"* "$out/$(basename "$dir")/"
done
echo "make_seeds.sh: seeds in $out: $(cd "$out" && for d in */; do printf '%s %s, ' "${d%/}" "$(ls "$d" | wc -l)"; done)"
