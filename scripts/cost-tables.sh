#!/usr/bin/env bash
# Regenerates results/: per-layer cost tables of every shipped network under CrypTFlow2 and Cheetah
# (LAN), and the side-by-side comparison of every network under every protocol on LAN and WAN.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
stria=target/release/stria
mkdir -p results/costs
models=(configs/models/*.json)

n=0
total=$(( ${#models[@]} * 2 ))
for m in "${models[@]}"; do
  name=$(basename "$m" .json)
  for p in cryptflow2 cheetah; do
    n=$((n + 1))
    echo "[$n/$total] $name under $p" >&2
    "$stria" cost "$m" --protocol "$p" --link lan --format csv --output "results/costs/$name-$p.csv"
  done
done

echo "comparison of ${#models[@]} networks x 5 protocols x 2 links" >&2
"$stria" compare "${models[@]}" --protocol cryptflow2,gazelle-input,gazelle-output,gala,cheetah \
  --link lan,wan --format csv --output results/compare.csv 2>/dev/null
"$stria" compare "${models[@]}" --protocol cryptflow2,cheetah --link lan,wan \
  --output results/compare.txt 2>/dev/null
echo "done: results/costs/*.csv, results/compare.csv, results/compare.txt" >&2
