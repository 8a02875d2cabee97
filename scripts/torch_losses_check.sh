#!/usr/bin/env bash
# csrs.torch.losses against csrs-train: the PyTorch losses give the values
# and gradients that csrs-train computed for the same network, weights,
# images, noise and mix (crates/csrs-train/tests/data/torch-oracle.json),
# every objective in its standard and cost-sensitive form, to 1e-5
# relative; and they refuse bad arguments, leave no gradient from their
# attacks and keep the identities between the two forms
# (crates/csrs-py/tests/test_losses.py).
#
# CI does not run this: it has no torch (the test is skipped there). CI runs
# the Rust half, that the committed values are still what csrs-train
# computes; this script runs the PyTorch half.
#
# Usage: scripts/torch_losses_check.sh   (from the repository root)
#   VENV    the virtual environment to make or reuse (default target/torch-venv)
#   PYTHON  the Python that makes it (default python3)
#   TORCH   torch's pip requirement (default "torch"; e.g. "torch==2.4.*")
#   PIP_INDEX_URL / PIP_EXTRA_INDEX_URL as pip reads them, e.g. PyTorch's
#           CPU wheels: PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
set -euo pipefail

VENV="${VENV:-target/torch-venv}"
PYTHON="${PYTHON:-python3}"
TORCH="${TORCH:-torch}"

if [ ! -f crates/csrs-py/pyproject.toml ]; then
    echo "torch_losses_check: run it from the repository root" >&2
    exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
VENV="$(cd "$VENV" && pwd)"
# The environment's programs first, as if it were activated: the package's
# build backend (maturin) is found there.
export PATH="$VENV/bin:$PATH" VIRTUAL_ENV="$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check install --quiet "$@"; }

pip "$TORCH" numpy pytest "maturin>=1.9.4,<2"
# The package as a user installs it (as `cargo xtask ci` does).
pip --force-reinstall --no-deps --no-build-isolation ./crates/csrs-py

"$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'
"$VENV/bin/python" -m pytest -v crates/csrs-py/tests/test_losses.py
