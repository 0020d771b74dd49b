#!/usr/bin/env bash
# NVIDIA's own verifier (nv-local-gpu-verifier 2.7.3 from PyPI, used as a library) against cvmsim's
# simulated H100 evidence, with the simulated roots and `cvmsim serve` as its RIM service and OCSP
# responder on loopback (gpu.md §7.4).
# Good evidence must be accepted and every tampered variant rejected; then the catalogue's 26 GPU cases,
# whose disagreements must be the recorded ones. Exit 0 when all of it holds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${GPU_VERIFIER_VENV:-$ROOT/target/gpu-verifier-venv}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Importing NVIDIA's verifier writes verifier.log into the working directory: keep it in $WORK.
if ! (cd "$WORK" && "$VENV/bin/python" -c "import verifier.cc_admin") >/dev/null 2>&1; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "nv-local-gpu-verifier==2.7.3"
fi
cargo build --quiet -p conformance --bin cvmsim
"$VENV/bin/python" scripts/gpu_nvidia_verifier.py --cvmsim target/debug/cvmsim --work "$WORK"
# The same verifier scored on the conformance catalogue's GPU cases (known disagreements recorded in
# vectors/catalogue/INDEPENDENT-VERIFIERS.md).
"$VENV/bin/python" scripts/gpu_nvidia_verifier.py --cvmsim target/debug/cvmsim --work "$WORK" \
  --catalogue vectors/catalogue/gpu
