#!/usr/bin/env bash
# Checks that the working tree's stria prints exactly what stria at revision REV prints: builds
# both (REV from `git archive` into a temporary directory, with its own target directory seeded
# from a copy of this tree's target/release so only stria itself recompiles), runs the same
# commands with each binary and compares the outputs byte by byte.
#
#   scripts/check-identical.sh REV
#
# The commands: `stria cost` of every network in configs/models/ under every protocol, as CSV and
# as JSON (and the cryptflow2 / cheetah option variants: OpenCheetah's SCI_HE build, the per-step
# and NAF key policies, Cheetah's partition search and stacked depthwise); `stria validate` of
# configs/models/validate-small.json under cryptflow2 and cheetah with a fixed seed (validate.csv
# without `measured_ms` and `error_pct`, the two measured-time columns, and `noise_budget_bits`,
# which moves by a bit from run to run because fhe.rs draws each encryption's randomness from the
# thread RNG, not from the seed; every count, byte figure, predicted time and result is compared); `stria search` of two shipped spaces with a
# fixed seed (all.csv, pareto.csv, every best/*.json, search.json and state.json).
#
# Prints one line per difference and a summary; exits 0 when everything is identical, 1 on any
# difference, 2 when a build or a command fails. Everything is written under a temporary
# directory, removed on exit. STRIA_CHECK_TARGET=DIR keeps REV's target directory in DIR (reused
# by later runs) instead of a temporary copy.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: scripts/check-identical.sh REV" >&2
  exit 2
fi
rev=$1
root=$(git rev-parse --show-toplevel)
cd "$root"
commit=$(git rev-parse --verify "$rev^{commit}") || {
  echo "unknown revision: $rev" >&2
  exit 2
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/stria-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# --- build both binaries -------------------------------------------------------------------------
echo "building the working tree"
cargo build --release --quiet || exit 2
new_bin="$root/target/release/stria"

echo "building $rev ($commit)"
mkdir -p "$tmp/src"
git archive "$commit" | tar -x -C "$tmp/src"
# tar gives the sources the commit's time, older than the artifacts copied below: without a fresh
# time cargo would take the copied (working tree's) stria as up to date and build nothing.
find "$tmp/src" -type f -exec touch {} +
old_target=${STRIA_CHECK_TARGET:-$tmp/target}
if [ ! -d "$old_target/release" ]; then
  mkdir -p "$old_target"
  cp -a "$root/target/release" "$old_target/release"
fi
(cd "$tmp/src" && CARGO_TARGET_DIR="$old_target" cargo build --release --quiet) || exit 2
old_bin="$tmp/old-stria"
cp "$old_target/release/stria" "$old_bin"
cp "$new_bin" "$tmp/new-stria"
new_bin="$tmp/new-stria"
if cmp -s "$old_bin" "$new_bin" && ! git diff --quiet "$commit" -- src Cargo.toml Cargo.lock; then
  echo "error: the two binaries are the same file although src/ differs: $rev was not rebuilt" >&2
  exit 2
fi

# --- the commands --------------------------------------------------------------------------------
# run SIDE NAME ARGS...: runs one binary in the repository root with stdout to SIDE/NAME.out.
# Stderr is kept aside (warnings, progress bars); a failing command stops the check.
run() {
  local side=$1 name=$2
  shift 2
  local bin=$old_bin
  [ "$side" = new ] && bin=$new_bin
  mkdir -p "$tmp/$side/$(dirname "$name")"
  if ! "$bin" "$@" >"$tmp/$side/$name.out" 2>"$tmp/$side/$name.err"; then
    cat "$tmp/$side/$name.err" >&2
    echo "command failed ($side): stria $*" >&2
    exit 2
  fi
}

# Drops the measured columns of a validate.csv (times, and the noise budget: see above).
strip_times() {
  python3 - "$1" "$2" <<'EOF'
import csv, sys
with open(sys.argv[1], newline="") as f:
    rows = list(csv.reader(f))
measured = ("measured_ms", "error_pct", "noise_budget_bits")
drop = {i for i, h in enumerate(rows[0]) if h in measured}
assert len(drop) == len(measured), "validate.csv lacks a measured column"
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    for r in rows:
        w.writerow([c for i, c in enumerate(r) if i not in drop])
EOF
}

protocols="cryptflow2 gazelle-input gazelle-output gala cheetah"
variants=(
  "cryptflow2-opencheetah:--protocol cryptflow2 --sci-build opencheetah"
  "cryptflow2-perstep:--protocol cryptflow2 --key-policy per-step"
  "cryptflow2-naf:--protocol cryptflow2 --key-policy pow2-naf"
  "cheetah-search:--protocol cheetah --cheetah-partition search"
  "cheetah-stacked:--protocol cheetah --cheetah-depthwise stacked"
)

for side in old new; do
  echo "running the $side binary"
  for cfg in configs/models/*.json; do
    base=$(basename "$cfg" .json)
    for p in $protocols; do
      for fmt in csv json; do
        run "$side" "cost/$base.$p.$fmt" cost "$cfg" --protocol "$p" --format "$fmt"
      done
    done
    for v in "${variants[@]}"; do
      name=${v%%:*}
      read -r -a args <<<"${v#*:}"
      for fmt in csv json; do
        run "$side" "cost/$base.$name.$fmt" cost "$cfg" "${args[@]}" --format "$fmt"
      done
    done
  done
  for p in cryptflow2 cheetah; do
    dir="$tmp/$side/validate-$p"
    run "$side" "validate.$p" validate configs/models/validate-small.json \
      --protocol "$p" --seed 7 --output "$dir"
    strip_times "$dir/validate.csv" "$tmp/$side/validate.$p.counts.csv"
    rm -r "$dir"
  done
  run "$side" "search.strianet-cifar10" search configs/search/strianet-cifar10.json \
    --strategy random --budget 50000 --seed 3 --threads 2 --output "$tmp/$side/search-cifar10"
  run "$side" "search.resnet50-blocks" search configs/search/resnet50-blocks.json \
    --strategy evolution --budget 20000 --seed 5 --threads 2 --output "$tmp/$side/search-resnet50"
  # stdout of validate and search carries measured times and rates: only their files compare.
  rm "$tmp/$side"/validate.*.out "$tmp/$side"/search.*.out
  rm "$tmp/$side"/*.err "$tmp/$side"/cost/*.err
done

# --- compare -------------------------------------------------------------------------------------
# Search outputs name their own directory inside a few files: make the two sides' paths equal.
for f in $(cd "$tmp/new" && find . -path './search-*' -type f); do
  sed -i "s#$tmp/new/#$tmp/old/#g" "$tmp/new/$f"
done

diffs=0
compared=0
while IFS= read -r f; do
  compared=$((compared + 1))
  if [ ! -f "$tmp/new/$f" ]; then
    echo "DIFF $f: missing in the working tree's outputs"
    diffs=$((diffs + 1))
  elif ! cmp -s "$tmp/old/$f" "$tmp/new/$f"; then
    echo "DIFF $f"
    diff "$tmp/old/$f" "$tmp/new/$f" | head -n 6 | sed 's/^/    /' || true  # diff stops early on a closed pipe
    diffs=$((diffs + 1))
  fi
done < <(cd "$tmp/old" && find . -type f | sort)
while IFS= read -r f; do
  if [ ! -f "$tmp/old/$f" ]; then
    echo "DIFF $f: only in the working tree's outputs"
    diffs=$((diffs + 1))
  fi
done < <(cd "$tmp/new" && find . -type f | sort)

if [ "$diffs" -eq 0 ]; then
  echo "OK: $compared outputs byte-identical between $rev ($commit) and the working tree"
  exit 0
fi
echo "DIFF: $diffs of $compared outputs differ between $rev ($commit) and the working tree"
exit 1
