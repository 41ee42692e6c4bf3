#!/usr/bin/env bash
# The quality table of docs/models.md: every model after 1 and after 5 epochs
# (seed 1, the cpu backend) scored by `gantry eval` (10,000 samples against the
# 10,000 test images, the default classifier), next to PyTorch's runs of the
# same networks for gan, dcgan and wgan (tools/pytorch_one_epoch.py), whose
# samples are scored by the same `gantry eval --samples`.
#
# usage: tools/quality_table.sh OUT_DIR [phase...]
#   phases: train torch eval table (default: all, in that order).  Work already
#   done (a checkpoint, a .npy, a JSON in OUT_DIR) is not redone, so a run can
#   be continued.
# Environment: GANTRY (default build/tools/gantry), PYTHON (default
# .venv-torch/bin/python, else python3; PyTorch for the torch phase), MODELS,
# TORCH_MODELS, EPOCHS (default "1 5"), N (samples, default 10000), FEATURES (a
# classifier file instead of the default one, e.g. the same one trained by
# `gantry train --model classifier --seed 0`).
set -uo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 && $1 != -h && $1 != --help ]] || { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
out=$1
shift
phases=${*:-train torch eval table}
gantry=${GANTRY:-build/tools/gantry}
python=${PYTHON:-.venv-torch/bin/python}
[[ -x $python ]] || python=python3
models=${MODELS:-gan cgan dcgan cdcgan wgan lsgan began sgan}
torch_models=${TORCH_MODELS:-gan dcgan wgan}
epochs=(${EPOCHS:-1 5})
n=${N:-10000}
features=()
[[ -n ${FEATURES:-} ]] && features=(--features "$FEATURES")
last=${epochs[${#epochs[@]} - 1]}
mkdir -p "$out"
log() { echo "quality_table: $*" >&2; }

for phase in $phases; do
  case $phase in
  train)
    for m in $models; do
      for e in "${epochs[@]}"; do
        [[ -f $out/$m-e$e.safetensors ]] && continue
        if [[ -f $out/$m/train-state.safetensors ]]; then
          args=(--resume "$out/$m" --epochs "$e" --quiet)
        else
          args=(--model "$m" --seed 1 --epochs "$e" --backend cpu --out "$out/$m" --quiet)
        fi
        log "training $m to epoch $e"
        t0=$(date +%s)
        "$gantry" train "${args[@]}" || { log "$m failed"; exit 1; }
        cp "$out/$m/checkpoint.safetensors" "$out/$m-e$e.safetensors"
        cp "$out/$m/samples.png" "$out/$m-e$e.png"
        log "$m epoch $e: $(($(date +%s) - t0)) s"
      done
    done
    ;;
  torch)
    for m in $torch_models; do
      [[ -f $out/pt-$m-e$last.npy ]] && continue
      log "PyTorch $m to epoch $last ($python)"
      "$python" tools/pytorch_one_epoch.py "$m" "$out/pt-$m.png" --epochs "$last" \
        --save-at "$(IFS=,; echo "${epochs[*]}")" --npy-prefix "$out/pt-$m" --n "$n" --seed 1 ||
        { log "PyTorch $m failed"; exit 1; }
    done
    ;;
  eval)
    for m in $models; do
      for e in "${epochs[@]}"; do
        [[ -f $out/$m-e$e.json || ! -f $out/$m-e$e.safetensors ]] && continue
        "$gantry" eval --checkpoint "$out/$m-e$e.safetensors" --n "$n" --backend cpu --json "${features[@]}" \
          >"$out/$m-e$e.json.part" && mv "$out/$m-e$e.json.part" "$out/$m-e$e.json" ||
          { log "eval of $m epoch $e failed"; exit 1; }
      done
    done
    for m in $torch_models; do
      for e in "${epochs[@]}"; do
        [[ -f $out/pt-$m-e$e.json || ! -f $out/pt-$m-e$e.npy ]] && continue
        "$gantry" eval --samples "$out/pt-$m-e$e.npy" --n "$n" --backend cpu --json "${features[@]}" \
          >"$out/pt-$m-e$e.json.part" && mv "$out/pt-$m-e$e.json.part" "$out/pt-$m-e$e.json" ||
          { log "eval of PyTorch's $m epoch $e failed"; exit 1; }
      done
    done
    ;;
  table)
    python3 - "$out" "${epochs[*]}" $models <<'PY'
import json, os, sys
out, epochs, models = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
print("| model | epochs | program | FD | IS | covered | class KL | precision | recall |")
print("|-------|--------|---------|---:|---:|--------:|---------:|----------:|-------:|")
for m in models:
    for e in epochs:
        for who, path in (("gantry", "%s-e%s.json" % (m, e)), ("PyTorch", "pt-%s-e%s.json" % (m, e))):
            p = os.path.join(out, path)
            if not os.path.exists(p):
                continue
            r = json.load(open(p))
            print("| %s | %s | %s | %.2f | %.2f | %d/%d | %.3f | %.3f | %.3f |" % (
                m, e, who, r["fd"], r["is"], r["covered"], r["classes"], r["class_kl"], r["precision"],
                r["recall"]))
PY
    ;;
  *) log "unknown phase '$phase' (train, torch, eval, table)"; exit 2 ;;
  esac
done
