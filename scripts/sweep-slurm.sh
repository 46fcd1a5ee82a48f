#!/usr/bin/env bash
# Runs `stria search` as a Slurm job array, one deterministic shard per task, then merges the
# shards and recomputes the Pareto front in a job that starts when every shard has succeeded.
#
#   scripts/sweep-slurm.sh SPACE.json SHARDS [stria search options ...]
#   scripts/sweep-slurm.sh configs/search/resnet50-blocks.json 64 --budget 10000000000 --no-keep-all
#
# Environment: SWEEP_OUT (output root, default results/sweep/<space name>), STRIA_BIN (default
# target/release/stria, built beforehand on a shared file system), SBATCH_ARGS (extra sbatch
# options for every job, e.g. "--partition=cpu --time=02:00:00 --cpus-per-task=8"), SBATCH (the
# submit command, default sbatch). Every shard runs with --resume, so a requeued or restarted task
# continues from its checkpoint. The union of the shards equals the unsharded run (tests/search.rs).
set -euo pipefail

if [ $# -lt 2 ]; then
  sed -n '2,13p' "$0" >&2
  exit 2
fi
space=$1
shards=$2
shift 2
case $shards in
  '' | *[!0-9]* | 0) echo "SHARDS must be a positive integer, got '$shards'" >&2; exit 2 ;;
esac
[ -f "$space" ] || { echo "no such space file: $space" >&2; exit 2; }

name=$(basename "$space" .json)
out=${SWEEP_OUT:-results/sweep/$name}
stria=${STRIA_BIN:-target/release/stria}
sbatch=${SBATCH:-sbatch}
[ -x "$stria" ] || { echo "$stria is not built (cargo build --release)" >&2; exit 2; }
mkdir -p "$out/logs"

# Quote the extra search options once, for the job scripts.
extra=""
for a in "$@"; do extra="$extra '${a//\'/\'\\\'\'}'"; done

# shellcheck disable=SC2086
array_id=$($sbatch --parsable ${SBATCH_ARGS:-} --job-name="stria-$name" \
  --array=0-$((shards - 1)) --output="$out/logs/shard-%a.log" \
  --wrap "'$stria' search '$space' --shard \$SLURM_ARRAY_TASK_ID/$shards --resume --output '$out/shard-'\$SLURM_ARRAY_TASK_ID $extra")
array_id=${array_id%%;*}
echo "submitted $shards shards of $space as job array $array_id (outputs $out/shard-K)" >&2

# shellcheck disable=SC2086
merge_id=$($sbatch --parsable ${SBATCH_ARGS:-} --job-name="stria-$name-merge" \
  --dependency="afterok:$array_id" --output="$out/logs/merge.log" \
  --wrap "'$stria' merge '$out'/shard-* --output '$out/merged'")
merge_id=${merge_id%%;*}
echo "submitted the merge as job $merge_id (afterok:$array_id): $out/merged/{pareto.csv,all.csv,best/}" >&2
