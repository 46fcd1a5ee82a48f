#!/usr/bin/env bash
# Per-layer cost tables of the shipped networks under every protocol and link, and the side-by-side
# comparison of every network under every protocol on LAN and WAN. scripts/reproduce.sh calls it
# (steps 2 and 3); it also runs alone.
#
#   scripts/cost-tables.sh [--tables-only | --compare-only] [MODEL.json ...]
#
# Models: the arguments, default configs/models/*.json. Writes into $COST_TABLES_OUT (default
# results/): costs/<model>-<protocol>-<link>.csv (`stria cost --format csv`; protocols cryptflow2,
# gazelle-input, gazelle-output, gala, cheetah; links lan, wan), compare.csv (every protocol, both
# links) and compare.txt (CrypTFlow2 and Cheetah, both links, as a table). Uses $STRIA_BIN when set,
# otherwise builds and runs target/release/stria.
set -euo pipefail

out=${COST_TABLES_OUT:-results}
case "$out" in /*) ;; *) [ "$out" = results ] || out="$PWD/$out" ;; esac
cd "$(dirname "$0")/.."

# `quiet`: stderr shown only on failure (Gazelle/GALA's default n = 2048 warns that it is below
# 128-bit security).
QUIET_ERR=$(mktemp)
trap 'rm -f "$QUIET_ERR"' EXIT
. scripts/quiet.sh

tables=1 compare=1
case "${1:-}" in
  --tables-only) compare=0; shift ;;
  --compare-only) tables=0; shift ;;
esac
if [ $# -gt 0 ]; then models=("$@"); else models=(configs/models/*.json); fi

if [ -n "${STRIA_BIN:-}" ]; then
  stria=$STRIA_BIN
else
  cargo build --release --quiet
  stria=target/release/stria
fi
protocols=(cryptflow2 gazelle-input gazelle-output gala cheetah)
links=(lan wan)

if [ "$tables" = 1 ]; then
  mkdir -p "$out/costs"
  n=0
  for m in "${models[@]}"; do
    name=$(basename "$m" .json)
    n=$((n + 1))
    echo "  ($n/${#models[@]}) $name: ${#protocols[@]} protocols x ${#links[@]} links" >&2
    for p in "${protocols[@]}"; do
      for l in "${links[@]}"; do
        quiet "$stria" cost "$m" --protocol "$p" --link "$l" --format csv --output "$out/costs/$name-$p-$l.csv"
      done
    done
  done
fi

if [ "$compare" = 1 ]; then
  echo "  comparison of ${#models[@]} networks x 5 protocols x 2 links: $out/compare.csv, $out/compare.txt" >&2
  mkdir -p "$out"
  quiet "$stria" compare "${models[@]}" --protocol cryptflow2,gazelle-input,gazelle-output,gala,cheetah \
    --link lan,wan --format csv --output "$out/compare.csv"
  quiet "$stria" compare "${models[@]}" --protocol cryptflow2,cheetah --link lan,wan \
    --output "$out/compare.txt"
fi
