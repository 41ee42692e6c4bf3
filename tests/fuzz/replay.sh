#!/usr/bin/env bash
# Replays a regression corpus: runs the harness once on every file of DIR
# (libFuzzer runs the inputs given as arguments once each, then exits).
# A folder holding no inputs (only README.md or .gitkeep) passes.
#
#   tests/fuzz/replay.sh HARNESS DIR
set -uo pipefail
harness=$1 dir=$2
inputs=()
if [[ -d $dir ]]; then
  while IFS= read -r -d '' f; do
    case $(basename "$f") in README* | .gitkeep) ;; *) inputs+=("$f") ;; esac
  done < <(find "$dir" -maxdepth 1 -type f -print0 | sort -z)
fi
if [[ ${#inputs[@]} -eq 0 ]]; then
  echo "replay: no inputs in $dir"
  exit 0
fi
echo "replay: $(basename "$harness") on ${#inputs[@]} input(s) of $dir"
exec "$harness" -rss_limit_mb=2048 -timeout=60 "${inputs[@]}"
