#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build: every cargo-fuzz target, with its seed corpus.
cd "$SRC/cvmsim"
fuzz/seed-corpus.sh
cargo fuzz build -O
for t in fuzz/fuzz_targets/*.rs; do
  name=$(basename "$t" .rs)
  cp "fuzz/target/x86_64-unknown-linux-gnu/release/$name" "$OUT/"
  if [ -d "fuzz/corpus/$name" ] && [ -n "$(ls -A "fuzz/corpus/$name")" ]; then
    (cd "fuzz/corpus/$name" && zip -q "$OUT/${name}_seed_corpus.zip" ./*)
  fi
done
