#!/usr/bin/env bash
# Runs every fuzz harness of a -Dfuzz=true build (docs/fuzzing.md): first
# replays its regression corpus (tests/fuzz/regressions/<harness>/), then
# fuzzes it for SECONDS from its seed corpus (make_seeds.sh) copied to a
# temporary folder, one process.  A crash, leak, sanitizer report, timeout
# or out-of-memory fails the harness; its input is kept under
# BUILD_DIR/fuzz-artifacts/<harness>/.  Exit status: non-zero when any
# harness failed.  SECONDS 0 only replays.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [HARNESS...]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -lt 2 ]]; then
  echo "usage: $0 BUILD_DIR SECONDS [HARNESS...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd) seconds=$2
shift 2

# -max_len for each harness: a little above its largest seed, so that the
# fuzzer mutates structure more than it grows files.
declare -A max_len=(
  [safetensors]=24576 [checkpoint]=24576 [train_state]=24576 [npy]=4096 [idx]=4096
  [cifar]=8192 [image]=4096 [opencl_cache]=1024
)
harnesses=("$@")
[[ ${#harnesses[@]} -gt 0 ]] || harnesses=(safetensors checkpoint train_state npy idx cifar image opencl_cache)

export GANTRY_PLUGIN_PATH='' GANTRY_BACKEND=''
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

work=$(mktemp -d "${TMPDIR:-/tmp}/gantry-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$here/make_seeds.sh" "$build" "$work/seeds" || exit 1

failed=()
for h in "${harnesses[@]}"; do
  bin=$build/tests/fuzz/fuzz_$h
  if [[ ! -x $bin || -z ${max_len[$h]:-} ]]; then
    echo "run.sh: no harness $h ($bin)" >&2
    failed+=("$h")
    continue
  fi
  echo "=== $h: regression corpus"
  if ! "$here/replay.sh" "$bin" "$here/regressions/$h"; then
    failed+=("$h (regressions)")
    continue
  fi
  [[ $seconds -gt 0 ]] || continue
  echo "=== $h: fuzzing for ${seconds}s"
  corpus=$work/corpus-$h artifacts=$build/fuzz-artifacts/$h
  mkdir -p "$corpus" "$artifacts"
  cp "$work/seeds/$h/"* "$corpus/"
  if ! "$bin" -max_len="${max_len[$h]}" -rss_limit_mb=2048 -timeout=60 -max_total_time="$seconds" \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus"; then
    echo "run.sh: $h failed; the input is in $artifacts/ (replay: $bin FILE)" >&2
    failed+=("$h")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "run.sh: ${#harnesses[@]} harnesses passed"
