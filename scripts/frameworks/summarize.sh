#!/usr/bin/env bash
# Per-kind totals of one or more runs made by scripts/frameworks/run.sh:
#
#   scripts/frameworks/summarize.sh results/measured/<run>/ [...]
#
# For each run: one row per layer kind with a non-zero figure, time from the
# server's "Total time in <kind> = s seconds" line, traffic from both parties'
# "<kind> data sent = x MiB" lines (each party counts what it sent), then the
# run's totals ("Total time taken", "Total data sent").
set -euo pipefail
[[ $# -ge 1 ]] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
for dir in "$@"; do
  dir=${dir%/}
  echo "## $(basename "$dir")"
  awk '
    FNR == 1 { party = (FILENAME ~ /server\.log$/) ? "s" : "c" }
    /^Total time in / && party == "s" {
      k = $4; t[k] = $6; if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
    / data sent = / && $1 != "Total" {
      k = $1; v = $(NF - 1); kk = tolower(k)
      if (!(kk in name)) { name[kk] = k; if (!(kk in seenl)) { seenl[kk] = 1; lorder[++m] = kk } }
      if (party == "s") sv[kk] = v; else cv[kk] = v }
    /^Total time taken = / { tt[party] = $5 / 1000 }
    /^Total data sent = / { td[party] = $5 }
    END {
      printf "%-12s %10s %14s %14s %12s\n", "kind", "time_s", "MiB_srv->cli", "MiB_cli->srv", "MiB_total"
      for (i = 1; i <= m; i++) {
        kk = lorder[i]; tm = ""
        for (j = 1; j <= n; j++) if (tolower(order[j]) == kk) tm = t[order[j]]
        if (tm + 0 == 0 && sv[kk] + cv[kk] == 0) continue
        printf "%-12s %10s %14.3f %14.3f %12.3f\n", name[kk], tm, sv[kk], cv[kk], sv[kk] + cv[kk]
      }
      printf "%-12s %10.3f %14.3f %14.3f %12.3f\n", "TOTAL", tt["s"], td["s"], td["c"], td["s"] + td["c"]
    }' "$dir/server.log" "$dir/client.log"
  grep -h '^wall time' "$dir/machine.txt" || true
  echo
done
