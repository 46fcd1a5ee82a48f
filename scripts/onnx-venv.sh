#!/usr/bin/env bash
# Makes a Python virtual environment with the ONNX checker and ONNX Runtime that
# tests/onnx_runtime.rs runs `stria export --to onnx` files through, and prints its interpreter.
# Pinned from PyPI: onnx==1.16.2, onnxruntime==1.19.2, numpy<2 (about 25 MB of wheels).
#
#     export STRIA_PYTHON=$(bash scripts/onnx-venv.sh)   # default directory target/onnx-venv
set -euo pipefail
dir=${1:-target/onnx-venv}
if ! command -v python3 >/dev/null 2>&1; then
  # A machine without Python: Debian's (the export tests also run python3 -m py_compile).
  apt-get update >&2 && apt-get install -y python3 python3-venv >&2
fi
if ! "$dir/bin/python" -c "import onnx, onnxruntime" >/dev/null 2>&1; then
  if ! python3 -m venv "$dir" >&2; then
    # Debian splits venv (and ensurepip) into its own package.
    apt-get update >&2 && apt-get install -y python3-venv >&2
    python3 -m venv "$dir" >&2
  fi
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check \
    onnx==1.16.2 onnxruntime==1.19.2 "numpy<2" >&2
fi
echo "$(cd "$dir" && pwd)/bin/python"
