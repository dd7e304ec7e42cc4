#!/usr/bin/env bash
# Writes the studio tests' fixture workspace with the real engine: two short runs of the
# micro model through pretrain -> SFT -> GRPO (different seeds, so compare has real
# differences), plus a run that failed on a bad input, so the views show an error state.
# Usage: make_fixture.sh AHA_BIN OUT_DIR
set -euo pipefail
aha=$1; out=$2; here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out"; mkdir -p "$out"
export OMP_NUM_THREADS=1  # like the studio tests: no OpenMP barrier stalls on a busy machine
"$aha" train "$here/fixture.toml" --run-dir "$out/run-a" > "$out/run-a.log" 2>&1
"$aha" train "$here/fixture.toml" --run-dir "$out/run-b" --set train.seed=99 --set name=studio-fixture-b \
  --set grpo.temperature=0.7 --tag seed99 > "$out/run-b.log" 2>&1
echo "fixture workspace: $out"
