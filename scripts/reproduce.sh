#!/usr/bin/env bash
# Rebuilds stria and regenerates everything in results/ from the shipped configs, without manual
# steps: per-layer cost tables, comparison tables, the StriaNet speedup table, the architecture
# searches, real-HE validation and the plots. Progress goes to stderr as `[k/9] step ...`; the script
# stops at the first error and ends with a summary (files written, seconds per step).
#
# Environment:
#   REPRODUCE_OUT=DIR      write under DIR instead of results/ (relative to the current directory)
#   REPRODUCE_QUICK=1      smoke run for tests: search budgets of 2000, two models in the cost
#                          tables, no validation (and no validation plot)
#   REPRODUCE_CALIBRATE=1  run `stria calibrate` before validation (rewrites
#                          configs/profiles/measured.json, about 15 s; validation then prices with
#                          the fresh file; the other steps keep the profile compiled into the binary
#                          until the next build). Default off.
#   SEARCH_BUDGET=N        candidates per search run (default 1000000: about 3 s per run on 2 cores;
#                          all.csv is written up to 1,000,000, which the pareto plots use)
#   STRIA_BIN=PATH         use this stria binary and skip `cargo build --release`
#
# Needs only bash, the Rust toolchain and POSIX tools (awk, sed, date).
set -euo pipefail

out=${REPRODUCE_OUT:-results}
case "$out" in /*) ;; *) [ "$out" = results ] || out="$PWD/$out" ;; esac
cd "$(dirname "$0")/.."

quick=${REPRODUCE_QUICK:-0}
calibrate=${REPRODUCE_CALIBRATE:-0}
if [ "$quick" = 1 ]; then budget=${SEARCH_BUDGET:-2000}; else budget=${SEARCH_BUDGET:-1000000}; fi
stria=${STRIA_BIN:-target/release/stria}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

total_steps=9
step_no=0
step_name=""
step_start=0
timings=""
now() { if [ -n "${EPOCHREALTIME:-}" ]; then echo "${EPOCHREALTIME/,/.}"; else date +%s; fi; }
finish_step() {
  if [ "$step_no" -gt 0 ]; then
    local secs
    secs=$(awk -v a="$step_start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
    timings="$timings$(printf '  [%d/%d] %-28s %8s s' "$step_no" "$total_steps" "$step_name" "$secs")"$'\n'
  fi
}
step() {
  finish_step
  step_no=$((step_no + 1))
  step_name=$1
  step_start=$(now)
  echo "[$step_no/$total_steps] $1 ..." >&2
}
trap 'echo "reproduce.sh: failed in step [$step_no/$total_steps] $step_name" >&2' ERR
QUIET_ERR="$tmp/stderr"
. scripts/quiet.sh
script_start=$(now)

# ---------------------------------------------------------------------------------------------
step "build"
if [ -n "${STRIA_BIN:-}" ]; then
  echo "  using STRIA_BIN=$stria (no build)" >&2
else
  cargo build --release --quiet
fi
[ -x "$stria" ] || { echo "no stria binary at $stria" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
step "per-layer cost tables"
if [ "$quick" = 1 ]; then
  models=(configs/models/resnet18-cifar10.json configs/models/strianet-cifar10.json)
else
  models=(configs/models/*.json)
fi
STRIA_BIN="$stria" COST_TABLES_OUT="$out" scripts/cost-tables.sh --tables-only "${models[@]}"

# ---------------------------------------------------------------------------------------------
step "comparison tables"
STRIA_BIN="$stria" COST_TABLES_OUT="$out" scripts/cost-tables.sh --compare-only "${models[@]}"

# ---------------------------------------------------------------------------------------------
step "StriaNet speedup table"
# One `stria compare` per dataset, baseline first; awk pairs every StriaNet row with the baseline
# row of the same protocol and link. MB = 10^6 bytes of HE traffic both ways plus non-linear traffic.
datasets="cifar10:CIFAR-10:resnet18-cifar10 tiny:Tiny_ImageNet:resnet18-tiny imagenet:ImageNet:resnet50"
: >"$tmp/speedup.csv"
for d in $datasets; do
  key=${d%%:*}; rest=${d#*:}; label=${rest%%:*}; base=${rest#*:}
  strianets=(configs/models/strianet-"$key"*.json)
  [ -e "${strianets[0]}" ] || { echo "no configs/models/strianet-$key*.json" >&2; exit 1; }
  echo "  ${label//_/ }: $base vs $(basename -a "${strianets[@]}" | sed 's/\.json$//' | tr '\n' ' ')" >&2
  quiet "$stria" compare "configs/models/$base.json" "${strianets[@]}" --protocol cryptflow2,cheetah \
    --link lan,wan --format csv --output "$tmp/compare-$key.csv"
  awk -F, -v OFS=, -v dataset="${label//_/ }" '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    function v(name) { if (!(name in col)) { print "compare csv: no column " name > "/dev/stderr"; exit 2 } return $col[name] }
    {
      k = v("protocol") SUBSEP v("link")
      mb = (v("bytes_up") + v("bytes_down") + v("nonlinear_bytes")) / 1e6
      if (base == "") base = v("network")
      if (v("network") == base) {
        blat[k] = v("latency_s"); bin[k] = v("internal_rot"); bex[k] = v("external_rot")
        bmb[k] = mb; bpar[k] = v("params"); bmac[k] = v("macs")
        next
      }
      if (!(k in blat)) { print "compare csv: no baseline row for " v("protocol") " " v("link") > "/dev/stderr"; exit 2 }
      frac = bin[k] > 0 ? sprintf("%.3f", v("internal_rot") / bin[k]) : ""
      print dataset, v("protocol"), v("link"), base, v("network"),
        sprintf("%.3f", blat[k]), sprintf("%.3f", v("latency_s")), sprintf("%.2f", blat[k] / v("latency_s")),
        bin[k], bex[k], v("internal_rot"), v("external_rot"), frac,
        sprintf("%.1f", bmb[k]), sprintf("%.1f", mb), sprintf("%.1f", 100 * (1 - mb / bmb[k])),
        sprintf("%.3f", bpar[k] / 1e6), sprintf("%.3f", v("params") / 1e6),
        sprintf("%.3f", bmac[k] / 1e9), sprintf("%.3f", v("macs") / 1e9)
    }' "$tmp/compare-$key.csv" >>"$tmp/speedup.csv"
done
mkdir -p "$out"
{
  echo "dataset,protocol,link,baseline,strianet,baseline_latency_s,strianet_latency_s,speedup,baseline_internal_rot,baseline_external_rot,strianet_internal_rot,strianet_external_rot,internal_rot_fraction,baseline_mb,strianet_mb,comm_reduction_pct,baseline_params_m,strianet_params_m,baseline_macs_g,strianet_macs_g"
  cat "$tmp/speedup.csv"
} >"$out/speedup.csv"
awk -F, '
  NR == 1 {
    print "# StriaNet vs baseline (generated by scripts/reproduce.sh; default measured profile)"
    print ""
    print "Latency s and speedup = baseline latency / StriaNet latency; rotations internal / external;"
    print "InRot % = StriaNet internal rotations as a percentage of the baseline'"'"'s (n/a: Cheetah has no"
    print "rotations); MB = HE traffic both ways + non-linear traffic (10^6 bytes); comm cut = 1 - StriaNet MB /"
    print "baseline MB; params in millions, MACs in billions (baseline / StriaNet)."
    print ""
    print "| Dataset | Protocol | Link | Baseline | StriaNet | Baseline s | StriaNet s | Speedup | Baseline rot (in/ex) | StriaNet rot (in/ex) | InRot % | Baseline MB | StriaNet MB | Comm cut % | Params M | GMACs |"
    print "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    next
  }
  {
    frac = $13 == "" ? "n/a" : sprintf("%.1f", 100 * $13)
    printf "| %s | %s | %s | %s | %s | %.2f | %.2f | %.2fx | %d / %d | %d / %d | %s | %.1f | %.1f | %.1f | %.2f / %.2f | %.3f / %.3f |\n",
      $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, frac, $14, $15, $16, $17, $18, $19, $20
  }' "$out/speedup.csv" >"$out/speedup.md"
echo "  $(($(wc -l <"$out/speedup.csv") - 1)) rows: $out/speedup.csv, $out/speedup.md" >&2

# ---------------------------------------------------------------------------------------------
step "searches (budget $budget)"
spaces=(strianet-cifar10 strianet-tinyimagenet strianet-imagenet)
mkdir -p "$out/search"
for s in "${spaces[@]}"; do
  for g in uniform cpas; do
    dir="$out/search/$s-$g"
    rm -rf "$dir"
    quiet "$stria" search "configs/search/$s.json" --generator "$g" --budget "$budget" --output "$dir" >"$tmp/search.txt"
    echo "  $s $g: $(grep -E '^evaluated' "$tmp/search.txt" || tail -n 1 "$tmp/search.txt")" >&2
  done
  quiet "$stria" compare-fronts "$out/search/$s-uniform" "$out/search/$s-cpas" >"$out/search/$s-cpas-vs-uniform.txt"
done
# Full capacity: at least the baseline's parameters and MACs (constraints in the space files),
# the fastest StriaNet found; three times the budget, fronts only.
for s in strianet-cifar10-fullcap strianet-imagenet-fullcap; do
  dir="$out/search/$s"
  rm -rf "$dir"
  quiet "$stria" search "configs/search/$s.json" --budget $((3 * budget)) --no-keep-all --output "$dir" >"$dir.txt"
  echo "  $s: $(grep -E '^evaluated' "$dir.txt" || tail -n 1 "$dir.txt")" >&2
done

# ---------------------------------------------------------------------------------------------
step "validation"
validated=0
if [ "$quick" = 1 ]; then
  echo "  skipped (REPRODUCE_QUICK=1)" >&2
else
  profile=()
  if [ "$calibrate" = 1 ]; then
    echo "  calibrating (REPRODUCE_CALIBRATE=1): configs/profiles/measured.json" >&2
    quiet "$stria" calibrate --output configs/profiles/measured.json >/dev/null
    profile=(--profile configs/profiles/measured.json)
  fi
  for p in cryptflow2 cheetah; do
    quiet "$stria" validate configs/models/validate-small.json --protocol "$p" ${profile[@]+"${profile[@]}"} \
      --output "$out/validate/$p" >"$tmp/validate-$p.txt"
    echo "  $p: $(grep -E '^MAPE' "$tmp/validate-$p.txt")" >&2
  done
  validated=1
fi

# ---------------------------------------------------------------------------------------------
step "measured runs"
# The committed OpenCheetah runs (scripts/frameworks/run.sh) against stria's prediction of each.
mkdir -p "$out/measured"
runs=()
for d in results/measured/*/; do [ -f "$d/machine.txt" ] && runs+=("${d%/}"); done
if [ "${#runs[@]}" -gt 0 ]; then
  quiet "$stria" measured "${runs[@]}" --output "$out/measured/comparison.txt" >/dev/null
  quiet "$stria" measured "${runs[@]}" --output "$out/measured/comparison.csv" >/dev/null
  echo "  ${#runs[@]} runs: $(tail -n 1 "$out/measured/comparison.txt")" >&2
fi
# The frameworks' time: a time model fitted on the SqueezeNet runs (the calibration runs) with the
# SEAL profile measured by scripts/frameworks/seal-bench.sh, then every run predicted with it (the
# ResNet-50 and DenseNet-121 runs are held out); and, as a second check, one model per network
# fitted on the other networks' runs (leave one network out), each predicting the runs of the
# network left out: measured/time-heldout.csv.
calib=()
for d in "${runs[@]}"; do case "$(basename "$d")" in sqnet-*) calib+=("$d") ;; esac; done
if [ "${#calib[@]}" -gt 0 ] && [ -f results/measured/seal-profile.json ]; then
  quiet "$stria" measured "${calib[@]}" --seal-profile results/measured/seal-profile.json \
    --fit-time "$out/measured/time-model.json" --output "$out/measured/time-terms.txt" >/dev/null
  for ext in txt csv; do
    quiet "$stria" measured "${runs[@]}" --time-model "$out/measured/time-model.json" \
      --output "$out/measured/comparison-time.$ext" >/dev/null
  done
  nets=$(for d in "${runs[@]}"; do basename "$d" | cut -d- -f1; done | sort -u)
  {
    echo "# end-to-end seconds of each run predicted by a time model fitted on the other networks' runs (generated by scripts/reproduce.sh)"
    echo "run,fitted_on,predicted_s,measured_s,time_error_pct"
    for n in $nets; do
      others=() held=()
      for d in "${runs[@]}"; do
        if [ "$(basename "$d" | cut -d- -f1)" = "$n" ]; then held+=("$d"); else others+=("$d"); fi
      done
      [ "${#others[@]}" -gt 0 ] || continue
      quiet "$stria" measured "${others[@]}" --seal-profile results/measured/seal-profile.json \
        --fit-time "$tmp/heldout-$n.json" --output "$tmp/heldout-$n.txt" >/dev/null
      fitted=$(for d in "${others[@]}"; do basename "$d" | cut -d- -f1; done | sort -u | paste -sd+)
      # A thread count no other network was run at has no fitted term: such runs are skipped.
      "$stria" measured "${held[@]}" --time-model "$tmp/heldout-$n.json" --format csv 2>/dev/null \
        | awk -F, -v f="$fitted" '$2 == "total" { printf "%s,%s,%.2f,%.2f,%+.1f\n", $1, f, $6, $7, $8 }'
    done
  } > "$out/measured/time-heldout.csv"
  echo "  time model (fitted on ${#calib[@]} SqueezeNet runs): $(tail -n 1 "$out/measured/comparison-time.txt")" >&2
  # The ImageNet StriaNets against ResNet-50 under the time model, with the ResNet-50 runs'
  # settings (protocol, threads, loopback): the `total` rows' predicted seconds.
  {
    echo "# predicted end-to-end seconds under measured/time-model.json (generated by scripts/reproduce.sh)"
    echo "network,run_settings,predicted_mib,predicted_s"
    for m in resnet50 strianet-imagenet-matched strianet-imagenet; do
      for r in results/measured/resnet50-*-t2; do
        [ -d "$r" ] || continue
        "$stria" measured "$r" --spec "configs/models/$m.json" --time-model "$out/measured/time-model.json" \
          --format csv | awk -F, -v m="$m" -v r="$(basename "$r")" '$2 == "total" { printf "%s,%s,%.3f,%.2f\n", m, r, $3 / 1048576, $6 }'
      done
    done
  } > "$out/measured/strianet-time.csv"
fi

# ---------------------------------------------------------------------------------------------
step "plots"
mkdir -p "$out/plots"
strianets=(configs/models/strianet-*.json)
for m in configs/models/resnet18-cifar10.json "${strianets[@]}"; do
  quiet "$stria" plot layers "$m" --protocol cryptflow2 --output "$out/plots/layers-$(basename "$m" .json)-cryptflow2.png" >/dev/null
done
quiet "$stria" plot packing configs/models/resnet50.json --output "$out/plots/packing-resnet50.png" >/dev/null
quiet "$stria" plot compare configs/models/resnet18-cifar10.json configs/models/resnet18-tiny.json \
  configs/models/resnet50.json "${strianets[@]}" --protocol cryptflow2,cheetah --link lan,wan \
  --output "$out/plots/compare.png" >/dev/null
for s in "${spaces[@]}"; do
  quiet "$stria" plot pareto "$out/search/$s-cpas" "$out/search/$s-uniform" --output "$out/plots/pareto-$s.png" >/dev/null
  # The same fronts without the candidate clouds (which hide the front lines): copies of pareto.csv
  # and search.json only, so the plot finds no all.csv.
  for g in cpas uniform; do
    mkdir -p "$tmp/fronts/$s-$g"
    cp "$out/search/$s-$g/pareto.csv" "$out/search/$s-$g/search.json" "$tmp/fronts/$s-$g/"
  done
  quiet "$stria" plot pareto "$tmp/fronts/$s-cpas" "$tmp/fronts/$s-uniform" --output "$out/plots/pareto-fronts-$s.png" >/dev/null
done
if [ "${#runs[@]}" -gt 0 ]; then
  quiet "$stria" plot measured "${runs[@]}" --output "$out/plots/measured.png" >/dev/null
  if [ -f "$out/measured/time-model.json" ]; then
    quiet "$stria" plot measured "${runs[@]}" --time-model "$out/measured/time-model.json" \
      --output "$out/plots/measured-time.png" >/dev/null
  fi
fi
if [ "$validated" = 1 ]; then
  quiet "$stria" plot validation "$out/validate/cryptflow2/validate.csv" "$out/validate/cheetah/validate.csv" \
    --output "$out/plots/validation.png" >/dev/null
fi
echo "  $(find "$out/plots" -name '*.png' | wc -l | tr -d ' ') PNG files in $out/plots" >&2

# ---------------------------------------------------------------------------------------------
step "summary"
finish_step

total=$(awk -v a="$script_start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
count() { find "$out/$1" -type f -name "$2" 2>/dev/null | wc -l | tr -d ' '; }
{
  echo
  echo "== reproduce.sh summary ($([ "$quick" = 1 ] && echo quick || echo full) run, output in $out)"
  echo "written:"
  echo "  $out/costs/               $(count costs '*.csv') per-layer cost tables (<model>-<protocol>-<link>.csv)"
  echo "  $out/compare.csv, compare.txt  every network x protocol x link"
  echo "  $out/speedup.csv, speedup.md   StriaNet vs baseline, $(($(wc -l <"$out/speedup.csv") - 1)) rows"
  echo "  $out/search/              ${#spaces[@]} spaces x {uniform, cpas}: pareto.csv, all.csv, best/; <space>-cpas-vs-uniform.txt"
  if [ "$validated" = 1 ]; then
    echo "  $out/validate/            cryptflow2/validate.csv, cheetah/validate.csv"
  else
    echo "  $out/validate/            (skipped)"
  fi
  echo "  $out/plots/               $(count plots '*.png') PNG figures"
  echo "speedups (baseline latency / StriaNet latency; see speedup.md):"
  awk -F, 'NR > 1 { k = $1 ": " $5 " vs " $4; if (!(k in s)) order[++n] = k; s[k] = s[k] sprintf("  %s/%s %sx", $2, $3, $8) }
    END { for (i = 1; i <= n; i++) print "  " order[i] ":" s[order[i]] }' "$out/speedup.csv"
  echo "seconds per step:"
  printf '%s' "$timings"
  echo "  total                              $total s"
} >&2
