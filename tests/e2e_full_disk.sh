#!/usr/bin/env bash
# Training on a full disk (a small tmpfs, so root only; skipped otherwise):
# the first write that fails stops the run with exit 1 and one line naming
# the file and the system's reason, log.csv keeps every row written, and
# once there is space again --resume goes on from the last complete save.
# usage: e2e_full_disk.sh GANTRY
set -u
gantry=$1
[[ $EUID -eq 0 ]] || { echo "SKIP: mounting a tmpfs needs root"; exit 77; }
tmp=$(mktemp -d)
mnt=$tmp/mnt
trap 'umount "$mnt" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$mnt"
# The gan on 2x2 images: a checkpoint of 3.3 MB and a training state of
# 6.8 MB, so 16 MB hold one save and fill up during the next.
mount -t tmpfs -o size=16m tmpfs "$mnt" 2>/dev/null || { echo "SKIP: cannot mount a tmpfs here"; exit 77; }
fail=0
check() { if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi; }
log_rows() { awk -F, -v n="$2" 'NR > 1 && $1 != NR - 1 { bad = 1 } END { exit bad || NR != n + 1 }' "$1"; }
tidy() { ! ls "$1" | grep -Eq '\.next$|\.tmp\.|prev'; }
last_row() { tail -1 "$1" | cut -d, -f1; }
# expect_full WHAT FILE: the run just ended (status in $rc) on a full disk writing FILE.
expect_full() {
  check "[[ $rc -eq 1 && \$(wc -l <'$tmp/err') -eq 1 ]]" "$1: exit 1 and one line on stderr (got $rc)"
  check "grep -q '$mnt/run/$2: .*No space left on device' '$tmp/err'" "$1: the error names $2 and why: $(cat "$tmp/err")"
  check "tidy '$mnt/run'" "$1: no pending or temporary files left"
}

mkdir -p "$tmp/data"
printf '\x00\x00\x08\x03\x00\x00\x00\x04\x00\x00\x00\x02\x00\x00\x00\x02' >"$tmp/data/train-images-idx3-ubyte"
head -c 16 /dev/zero >>"$tmp/data/train-images-idx3-ubyte"
train() { GANTRY_BACKEND=cpu "$gantry" train "$@" --quiet 2>"$tmp/err"; }

# 1. The disk fills while a save writes: the previous save stays.
train --data "$tmp/data" --batch 2 --steps 1000 --sample-every 2 --out "$mnt/run"
rc=$?
expect_full "a save on a full disk" "train-state.safetensors.next"
check "log_rows '$mnt/run/log.csv' 4" "log.csv holds every step done, 1-4"
cp -r "$mnt/run" "$tmp/kept"

# 2. A full disk under the log: reported when the write fails, not at the end.
mount -o remount,size=40m "$mnt"
dd if=/dev/zero of="$mnt/filler" bs=64k 2>/dev/null
train --resume "$mnt/run" --steps 100000 --sample-every 100000
rc=$?
expect_full "log rows on a full disk" "log.csv"
rows=$(last_row "$mnt/run/log.csv")
check "[[ $rows -gt 2 && $rows -lt 1000 ]] && log_rows '$mnt/run/log.csv' $rows" \
  "log.csv: every row written so far, in order (to step $rows), the run stopped at once"
check "cmp -s '$mnt/run/checkpoint.safetensors' '$tmp/kept/checkpoint.safetensors'" "the last complete save is untouched"

# 3. With space again, --resume goes on from the last complete save (step 2).
rm -f "$mnt/filler"
GANTRY_BACKEND=cpu "$gantry" train --resume "$mnt/run" --steps 6 --sample-every 2 >/dev/null 2>"$tmp/err"
rc=$?
check "[[ $rc -eq 0 ]] && grep -q 'at step 2 of' '$tmp/err'" "--resume goes on from step 2 (got $rc): $(head -1 "$tmp/err")"
check "log_rows '$mnt/run/log.csv' 6 && tidy '$mnt/run'" "log.csv: rows 1-6 once each, no files left over"

exit $fail
