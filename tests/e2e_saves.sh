#!/usr/bin/env bash
# A save is all or nothing, without root or a full disk: a write that fails
# (a file size limit, as a full disk would) between the checkpoint and the
# training state, and saves stopped half-way through their renames (the
# directories a crash would leave), must each leave a run that --resume
# continues from its last complete save, bit for bit as if never stopped.
# usage: e2e_saves.sh GANTRY
set -u
gantry=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }
# The rows of log.csv are steps 1..N in order, N given.
log_rows() { awk -F, -v n="$2" 'NR > 1 && $1 != NR - 1 { bad = 1 } END { exit bad || NR != n + 1 }' "$1"; }
# No pending, temporary or previous files left.
tidy() { ! ls "$1" | grep -Eq '\.next$|\.tmp\.|prev'; }

mkdir -p "$tmp/data"
# 4 images of 2x2 (IDX, uncompressed): the gan's checkpoint is 3.3 MB, its
# training state (Adam's two slots per weight) twice that.
printf '\x00\x00\x08\x03\x00\x00\x00\x04\x00\x00\x00\x02\x00\x00\x00\x02' >"$tmp/data/train-images-idx3-ubyte"
head -c 16 /dev/zero >>"$tmp/data/train-images-idx3-ubyte"
train() { GANTRY_BACKEND=cpu "$gantry" train "$@" --quiet; }

train --data "$tmp/data" --batch 2 --steps 2 --out "$tmp/r2" || { echo "FAIL: a 2-step run"; exit 1; }
cp -r "$tmp/r2" "$tmp/r4" && train --resume "$tmp/r4" --steps 4 || { echo "FAIL: resuming to step 4"; exit 1; }
check "log_rows '$tmp/r4/log.csv' 4 && tidy '$tmp/r4'" "a resumed run: log rows 1-4, no files left over"

# A file size limit (SIGXFSZ ignored, so the write fails with EFBIG) that the
# checkpoint fits and the training state does not: the save at step 4 fails
# between the two.
cp -r "$tmp/r2" "$tmp/big"
(trap '' XFSZ; ulimit -f 4096; train --resume "$tmp/big" --steps 6 --sample-every 2) 2>"$tmp/big.err"
rc=$?
check "[[ $rc -eq 1 && \$(wc -l <'$tmp/big.err') -eq 1 ]]" "a failed write stops training with exit 1 and one line (got $rc)"
check "grep -q 'big/train-state.safetensors.next: write failed: File too large' '$tmp/big.err'" \
  "the error names the file and the system's reason: $(cat "$tmp/big.err")"
check "log_rows '$tmp/big/log.csv' 4" "log.csv holds every step done, 1-4"
check "tidy '$tmp/big' && cmp -s '$tmp/big/checkpoint.safetensors' '$tmp/r2/checkpoint.safetensors'" \
  "the step-2 checkpoint stays, and the failed save leaves no file"
train --resume "$tmp/big" --steps 4 2>"$tmp/big2.err"
check "[[ $? -eq 0 ]] && cmp -s '$tmp/big/checkpoint.safetensors' '$tmp/r4/checkpoint.safetensors'" \
  "--resume goes on from step 2 to the uninterrupted run's step 4, bit for bit"
check "log_rows '$tmp/big/log.csv' 4 && tidy '$tmp/big'" "its log.csv: rows 1-4 once each"

# Saves stopped between their renames (train_save.c's order): the state of
# the checkpoint's step under train-state.prev.safetensors, and pending
# files of the step that was being saved.
stopped() {
  mkdir -p "$tmp/$1" && cp "$tmp/r4/log.csv" "$tmp/r2/checkpoint.safetensors" "$tmp/$1/" &&
    cp "$tmp/r2/train-state.safetensors" "$tmp/$1/train-state.prev.safetensors" &&
    cp "$tmp/r4/checkpoint.safetensors" "$tmp/$1/checkpoint.safetensors.next"
}
stopped moved                                                   # after the state was moved aside
stopped renamed && cp "$tmp/r4/train-state.safetensors" "$tmp/renamed/"  # and the new one renamed in
for d in moved renamed; do
  train --resume "$tmp/$d" --steps 4 2>"$tmp/$d.err"
  check "[[ $? -eq 0 ]] && cmp -s '$tmp/$d/checkpoint.safetensors' '$tmp/r4/checkpoint.safetensors'" \
    "a save stopped when $d: --resume goes on from step 2 to the same step 4"
  check "log_rows '$tmp/$d/log.csv' 4 && tidy '$tmp/$d'" "a save stopped when $d: log rows 1-4, no files left over"
done
# The same, the run's directory put back in order before anything else.
stopped order && cp "$tmp/r4/train-state.safetensors" "$tmp/order/"
"$gantry" train --resume "$tmp/order" --steps 4 --data "$tmp/nowhere" >/dev/null 2>&1
check "[[ -f '$tmp/order/train-state.prev.safetensors' ]]" "a refused --resume leaves the directory as it was"

exit $fail
