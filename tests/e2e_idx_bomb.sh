#!/usr/bin/env bash
# A gzip IDX bomb (1 MB declaring, and holding, 1 GiB of images): with
# --limit 200 only 200 images are read, quickly and in little memory; the
# same header over a file that holds less, or a gzip stream cut short, is
# an error naming the file, --limit or not.
# usage: e2e_idx_bomb.sh GANTRY MAKE_IDX_BOMB_PY
set -u
gantry=$1
make_bomb=$2
python=$(command -v python3) || { echo "SKIP: no python3 to make the bomb"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }
mkdir -p "$tmp/bomb" "$tmp/short" "$tmp/cut"
"$python" "$make_bomb" "$tmp/bomb/train-images-idx3-ubyte.gz" || { echo "FAIL: making the bomb"; exit 1; }
"$python" "$make_bomb" "$tmp/short/train-images-idx3-ubyte.gz" --hold 1000
head -c 300000 "$tmp/bomb/train-images-idx3-ubyte.gz" >"$tmp/cut/train-images-idx3-ubyte.gz"

# Max RSS through GNU time where there is one (not a shell keyword's).
timer=()
[[ -x /usr/bin/time ]] && /usr/bin/time -f %M true >/dev/null 2>&1 && timer=(/usr/bin/time -o "$tmp/rss" -f %M)
start=$(date +%s%N)
GANTRY_BACKEND=reference "${timer[@]}" "$gantry" train --data "$tmp/bomb" --limit 200 --steps 0 --out "$tmp/run" \
  --quiet 2>"$tmp/err"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "[[ $rc -eq 0 ]]" "--limit 200 --steps 0 on the bomb succeeds (got $rc): $(cat "$tmp/err")"
# Reading it whole took 5 s and 1 GB; its first 200 images, about 0.3 s.
check "[[ $ms -lt 4000 ]]" "and is quick: $ms ms"
if [[ -s $tmp/rss ]]; then
  rss=$(tail -1 "$tmp/rss")
  check "[[ $rss -lt 200000 ]]" "and uses under 200 MB: max RSS $((rss / 1024)) MB"
else
  echo "(no GNU time: max RSS not measured)"
fi

expect() { # DESCRIPTION DIR PATTERN LIMIT...
  "$gantry" train --data "$tmp/$2" "${@:4}" --steps 0 --out "$tmp/r-$2" --quiet 2>"$tmp/err"
  local rc=$?
  check "[[ $rc -eq 1 ]] && grep -q -- '$tmp/$2/train-images-idx3-ubyte.gz: $3' '$tmp/err'" \
    "$1 ${*:4}: exit $rc, $(cat "$tmp/err")"
}
for limit in "--limit 200" ""; do
  expect "a header declaring more than the file holds" short \
    "declares 1369569 images of 28x28 but holds only 784000 bytes of data (needs 1073742096)" $limit
  expect "a gzip stream cut short" cut "corrupt or truncated gzip data" $limit
done
exit $fail
