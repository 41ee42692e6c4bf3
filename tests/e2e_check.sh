#!/usr/bin/env bash
# `gantry check` through the CLI.
# usage: e2e_check.sh GANTRY self
#   the reference against itself: exit 0, every comparison row exactly 0
#   with limit 0, and usage errors (unknown --op / --backend) exit 2 with one
#   line naming the valid choices.
# usage: e2e_check.sh GANTRY faulty DIR
#   DIR holds a deliberately faulty gantry-backend-cpu.so (bias_grad off by a
#   relative 1e-3 in one element): `gantry check --backend cpu` with
#   GANTRY_PLUGIN_PATH=DIR must exit 1 with a FAIL row naming bias_grad,
#   so the suite is shown able to fail.
set -u
gantry=$1
mode=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

# Rows: op backend worst limit metric cases result case...
rows() { awk '$7 == "PASS" || $7 == "FAIL"' "$1"; }

case $mode in
self)
  "$gantry" check --backend reference --quick >"$tmp/out" 2>"$tmp/err"
  rc=$?
  cat "$tmp/out"
  [[ $rc -eq 0 ]] && ok "self-comparison exits 0" || { bad "self-comparison exit $rc"; cat "$tmp/err"; }
  n=$(rows "$tmp/out" | wc -l)
  [[ $n -ge 40 ]] && ok "$n rows" || bad "only $n rows"
  # Every comparison (all but the finite-difference rows) agrees bit for bit.
  nonzero=$(rows "$tmp/out" | awk '$5 != "fd" && ($3 != "0" || $4 != "0")')
  [[ -z $nonzero ]] && ok "every comparison error and limit is exactly 0" || bad "nonzero rows: $nonzero"
  grep -q '^gantry check: [0-9]* passed, 0 failed$' "$tmp/out" && ok "summary line" || bad "no summary line"
  for op in gemm bias_grad batchnorm_backward adam_update rand_uniform buffer_copy 'trajectory(init)' \
            'trajectory(step5)' 'gradcheck(batchnorm)' 'activation_backward(tanh)'; do
    [[ $(rows "$tmp/out" | awk -v op="$op" '$1 == op && $2 == "reference" && $7 == "PASS"' | wc -l) -eq 1 ]] &&
      ok "row $op" || bad "no PASS row for $op"
  done
  [[ ! -s $tmp/err ]] && ok "nothing on stderr off a terminal" || bad "stderr: $(cat "$tmp/err")"

  # expect RC PATTERN DESCRIPTION -- COMMAND...
  expect() {
    local want_rc=$1 pattern=$2 what=$3
    shift 4
    "$@" >"$tmp/o" 2>"$tmp/e"
    local rc=$? lines
    lines=$(wc -l <"$tmp/e")
    if [[ $rc -eq $want_rc && $lines -eq 1 ]] && grep -q -- "$pattern" "$tmp/e"; then
      ok "$what: $(cat "$tmp/e")"
    else
      bad "$what: exit $rc (want $want_rc), $lines stderr lines, want /$pattern/: $(cat "$tmp/e")"
    fi
  }
  expect 2 "unknown op 'nosuch'; valid: buffer_write, .*gemm.*trajectory" "unknown --op" -- \
    "$gantry" check --backend reference --op nosuch
  expect 2 "unknown backend 'nosuch'; available: .*reference" "unknown --backend" -- \
    "$gantry" check --backend nosuch
  expect 2 "unknown option '--bogus'" "unknown option" -- "$gantry" check --bogus
  expect 2 "unexpected argument 'extra'" "stray argument" -- "$gantry" check extra
  "$gantry" check --help >"$tmp/o" 2>&1 && grep -q -- "--backend NAME" "$tmp/o" && ok "--help" || bad "--help"
  # One op only: its row and nothing else.
  "$gantry" check --backend reference --quick --op clamp >"$tmp/o" 2>&1
  [[ $? -eq 0 && $(rows "$tmp/o" | wc -l) -eq 1 ]] && ok "--op clamp runs one row" || bad "--op clamp: $(cat "$tmp/o")"
  ;;
faulty)
  dir=$3
  GANTRY_PLUGIN_PATH=$dir "$gantry" check --backend cpu --quick >"$tmp/out" 2>"$tmp/err"
  rc=$?
  cat "$tmp/out"
  [[ $rc -eq 1 ]] && ok "faulty cpu module: exit 1" || { bad "faulty cpu module: exit $rc (want 1)"; cat "$tmp/err"; }
  [[ $(rows "$tmp/out" | awk '$1 == "bias_grad" && $2 == "cpu" && $7 == "FAIL"' | wc -l) -eq 1 ]] &&
    ok "a FAIL row names bias_grad" || bad "no FAIL row for bias_grad"
  grep -q "^    FAIL bias_grad: " "$tmp/out" && ok "the failure is explained" || bad "no explanation line"
  grep -q '^gantry check: [0-9]* passed, [1-9][0-9]* failed$' "$tmp/out" && ok "summary counts the failure" ||
    bad "summary line"
  ;;
*)
  echo "usage: e2e_check.sh GANTRY self | faulty DIR" >&2
  exit 2
  ;;
esac
exit $fail
