#!/usr/bin/env bash
# Makes a Python virtual environment with the current PyTorch and NumPy from
# PyPI, to compare gantry's speed with what users install today:
#
#   tools/torch-venv.sh                  # makes .venv-torch/ (about 5 GB)
#   .venv-torch/bin/python tools/pytorch_reference.py --model dcgan
#
# PyTorch is never a dependency of gantry or of its tests; Debian's
# python3-torch (1.13, an AVX2-only build) serves only the checkpoint-interop
# tests.  GANTRY_TORCH_VENV picks another folder, PYTHON another interpreter
# (3.9 or newer).  Safe to run again: it installs only what is missing.
set -euo pipefail

cd "$(dirname "$0")/.."
venv=${GANTRY_TORCH_VENV:-.venv-torch}
python=${PYTHON:-python3}

if [[ ! -x $venv/bin/python ]]; then
  if ! "$python" -m venv "$venv"; then
    echo "torch-venv: '$python -m venv' failed; on Debian: apt-get install python3-venv" >&2
    exit 1
  fi
fi
if ! "$venv/bin/python" -c "import torch, numpy" 2>/dev/null; then
  echo "torch-venv: installing torch and numpy from PyPI into $venv (about 5 GB)"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet torch numpy
fi
"$venv/bin/python" - <<'PY'
import torch
print("torch-venv: PyTorch %s, CPU capability %s, %d threads by default"
      % (torch.__version__, torch.backends.cpu.get_cpu_capability(), torch.get_num_threads()))
PY
