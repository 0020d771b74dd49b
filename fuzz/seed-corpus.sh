#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from vectors/ (the same files tests/fuzz_corpus.rs replays).
set -euo pipefail
cd "$(dirname "$0")/.."
seed() { local t=$1; shift; mkdir -p "fuzz/corpus/$t"; for f in "$@"; do [ -f "$f" ] && cp "$f" "fuzz/corpus/$t/$(echo "$f" | tr '/' '_')"; done; }
seed snp_report vectors/snp/captures/*/*.bin vectors/catalogue/snp/*/report.bin
seed snp_cert_table vectors/catalogue/snp/*/certs.bin
seed snp_ovmf vectors/snp/captures/measurement/ovmf_*.bin
seed tdx_quote vectors/tdx/captures/*.dat vectors/tdx/captures/*quote*.bin vectors/catalogue/tdx/*/quote.bin
seed tdx_tdreport vectors/tdx/sim/*/tdreport.bin
seed tdx_collateral vectors/catalogue/tdx/*/collateral.json vectors/tdx/dcap-qvl/*.json
seed gpu_spdm vectors/catalogue/gpu/*/report.bin
seed gpu_rim vectors/gpu/captures/rim_* vectors/gpu/simulated/*/rims/*.xml
seed x509 vectors/catalogue/snp/*/vcek.der vectors/catalogue/tdx/*/root_ca.der
mkdir -p fuzz/corpus/snp_memory fuzz/corpus/tdx_memory
echo "corpora seeded under fuzz/corpus/"
