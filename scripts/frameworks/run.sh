#!/usr/bin/env bash
# Run one of OpenCheetah's network programs, server and client on 127.0.0.1,
# and keep both logs with a description of the machine.
#
#   scripts/frameworks/run.sh NET PROTOCOL [--threads T] [--link lan|wan]
#                             [--port P] [--timeout SECONDS]
#
#   NET        sqnet, resnet50, ... (program $BUILD_DIR/opencheetah/bin/NET-PROTOCOL,
#              built by scripts/frameworks/build.sh)
#   PROTOCOL   cheetah or SCI_HE
#   --threads  nt= of both parties (default 1; at most 4 for SCI)
#   --link     shape loopback like OpenCheetah's scripts/throttle.sh (tc, needs
#              root): lan = 3000 Mbit/s + 0.15 ms delay each way, wan = 400
#              Mbit/s + 20 ms each way. Without --link loopback is left as is
#              (directory name says "loopback"). The shaping is removed when
#              the run ends, also on error or interrupt.
#   --timeout  stop both parties after this many seconds; the run's directory
#              then gets the suffix -partial and a README line saying so.
#
# Server weights are random (scripts/frameworks/gen_model.py, seed 1, scale
# 2^12): weights do not change the protocols' cost. The client input is
# OpenCheetah's pretrained/NET_input_scale12_pred*.inp when present, else a
# random input from the same generator. Fixed point k=12, ring ell=37, as in
# OpenCheetah's scripts. Ferret's OT data directory is emptied before each run,
# so every run includes Ferret's set-up.
#
# Output: results/measured/NET-PROTOCOL-LINK-tT/{server.log,client.log,machine.txt}
# (an existing directory of that name is replaced).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$(dirname "$REPO")/frameworks-build}
BUILD_DIR=$(realpath -m "$BUILD_DIR")

usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 2 ]] || usage
NET=$1 PROTO=$2; shift 2
THREADS=1 LINK=loopback PORT=12345 TIMEOUT=
while [[ $# -gt 0 ]]; do
  case $1 in
    --threads) THREADS=$2; shift 2 ;;
    --link) LINK=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    *) usage ;;
  esac
done
case $PROTO in cheetah|SCI_HE) ;; *) echo "PROTOCOL must be cheetah or SCI_HE" >&2; exit 2 ;; esac
case $LINK in loopback|lan|wan) ;; *) echo "--link must be lan or wan" >&2; exit 2 ;; esac
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || { echo "--threads must be a positive integer" >&2; exit 2; }

SRC=$BUILD_DIR/src/OpenCheetah
BIN=$BUILD_DIR/opencheetah/bin/$NET-$PROTO
[[ -x $BIN ]] || { echo "$BIN not built (scripts/frameworks/build.sh $NET-$PROTO)" >&2; exit 1; }
NETCPP=$SRC/networks/main_$NET.cpp
[[ -f $NETCPP ]] || { echo "$NETCPP not found" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "GNU time (/usr/bin/time) needed" >&2; exit 1; }

NAME=$NET-$PROTO-$LINK-t$THREADS
OUT=$REPO/results/measured/$NAME
WORK=$BUILD_DIR/run/$NAME
K=12 ELL=37 SEED=1

# Inputs: random server model (cached), client input from OpenCheetah if present.
mkdir -p "$BUILD_DIR/models"
MODEL=$BUILD_DIR/models/${NET}_random_scale${K}_seed$SEED.inp
if [[ ! -s $MODEL ]]; then
  python3 "$HERE/gen_model.py" "$NETCPP" "$MODEL.tmp" --scale $K --seed $SEED
  mv "$MODEL.tmp" "$MODEL"
fi
INPUT=$(ls "$SRC"/pretrained/${NET}_input_scale${K}_pred*.inp 2>/dev/null | head -n1 || true)
if [[ -z $INPUT ]]; then
  INPUT=$BUILD_DIR/models/${NET}_random_input_scale${K}_seed$SEED.inp
  [[ -s $INPUT ]] || python3 "$HERE/gen_model.py" "$NETCPP" "$INPUT" --scale $K --seed $SEED --party client
fi

# Link shaping, undone on exit.
SHAPED=0 SERVER_PID= CLIENT_PID=
cleanup() {
  local rc=$?
  local pid
  for pid in $CLIENT_PID $SERVER_PID; do   # /usr/bin/time, timeout and the program
    kill $(pgrep -P "$pid") $(pgrep -P "$(pgrep -P "$pid" | head -n1)" 2>/dev/null) "$pid" 2>/dev/null || true
  done
  if [[ $SHAPED == 1 ]]; then
    tc qdisc del dev lo root 2>/dev/null || true
    echo "[run] loopback shaping removed"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
SHAPING="none"
if [[ $LINK != loopback ]]; then
  [[ $(id -u) == 0 ]] || { echo "--link needs root (tc)" >&2; exit 1; }
  if tc qdisc show dev lo | grep -v noqueue | grep -q ' root '; then
    echo "loopback already has a root qdisc; not touching it:" >&2
    tc qdisc show dev lo >&2
    exit 1
  fi
  if [[ $LINK == lan ]]; then RATE=3000mbit DELAY=0.15msec; else RATE=400mbit DELAY=20msec; fi
  SHAPED=1
  tc qdisc add dev lo root handle 1: tbf rate $RATE burst 100000 limit 10000
  if ! tc qdisc add dev lo parent 1:1 handle 10: netem delay $DELAY; then
    echo "tc netem failed (is sch_netem available in this kernel?); no run" >&2
    exit 1
  fi
  SHAPING="tc on lo: tbf rate $RATE burst 100000 limit 10000; netem delay $DELAY (each direction)"
  echo "[run] $SHAPING"
fi

rm -rf "$WORK"; mkdir -p "$WORK/data"
cd "$WORK"
ARGS="k=$K ell=$ELL nt=$THREADS p=$PORT"
TO=(); [[ -n $TIMEOUT ]] && TO=(timeout "$TIMEOUT")
START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "[run] $NAME: server and client on 127.0.0.1:$PORT, logs in $WORK"
T0=$(date +%s.%N)
/usr/bin/time -v -o server.time "${TO[@]}" "$BIN" r=1 $ARGS < "$MODEL" > server.log 2>&1 &
SERVER_PID=$!
sleep 1
/usr/bin/time -v -o client.time "${TO[@]}" "$BIN" r=2 $ARGS ip=127.0.0.1 < "$INPUT" > client.log 2>&1 &
CLIENT_PID=$!
set +e
wait "$CLIENT_PID"; CLIENT_RC=$?; CLIENT_PID=
wait "$SERVER_PID"; SERVER_RC=$?; SERVER_PID=
set -e
WALL=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
END=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for p in server client; do
  { echo; echo "# /usr/bin/time -v"; cat $p.time 2>/dev/null || true; } >> $p.log
done

COMPLETE=1
if [[ $SERVER_RC != 0 || $CLIENT_RC != 0 ]] || ! grep -q 'Total data sent' server.log \
   || ! grep -q 'Total data sent' client.log; then
  COMPLETE=0
fi
[[ $COMPLETE == 1 ]] || OUT=$OUT-partial
rm -rf "$OUT"; mkdir -p "$OUT"
cp server.log client.log "$OUT/"

cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
cpu_flags=$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
{
  echo "net: $NET"
  echo "protocol: $PROTO"
  echo "program: $(basename "$BIN") ($BIN)"
  echo "threads (nt): $THREADS"
  echo "link: $LINK"
  echo "shaping: $SHAPING"
  echo "fixed point: k=$K ell=$ELL"
  echo "server model: random weights, scripts/frameworks/gen_model.py --seed $SEED --scale $K"
  echo "client input: $(basename "$INPUT")"
  echo "start: $START"
  echo "end: $END"
  echo "wall time (both parties, incl. reading inputs): $WALL s"
  echo "exit status: server $SERVER_RC, client $CLIENT_RC${TIMEOUT:+ (timeout $TIMEOUT s)}"
  echo "complete: $([[ $COMPLETE == 1 ]] && echo yes || echo 'NO: partial run, logs end where it stopped')"
  echo "nice: $(nice)"
  echo "scheduling group: $(cat /proc/self/autogroup 2>/dev/null || echo none)"
  echo "load average at start: $LOAD0"
  echo "load average at end: $LOAD1"
  echo "OpenCheetah commit: $(cat "$SRC/.pinned-commit" 2>/dev/null || echo unknown)"
  echo "OpenCheetah patches: $(cd "$HERE/patches" && ls *.patch | tr '\n' ' ')"
  echo "cpu model: $cpu_model"
  echo "cores (online): $(nproc --all)"
  echo "sockets / cores per socket / threads per core: $(lscpu | awk -F: '/^Socket\(s\)/{s=$2} /^Core\(s\) per socket/{c=$2} /^Thread\(s\) per core/{t=$2} END{gsub(/ /,"",s);gsub(/ /,"",c);gsub(/ /,"",t); print s" / "c" / "t}')"
  echo "memory: $(awk '/MemTotal/{print $2" kB"}' /proc/meminfo)"
  echo "kernel: $(uname -sr)"
  echo "compiler: $(g++ --version | head -n1)"
  echo "cpu flags: $cpu_flags"
} > "$OUT/machine.txt"
if [[ $COMPLETE == 0 ]]; then
  {
    echo "PARTIAL run: stopped (exit status server $SERVER_RC, client $CLIENT_RC) after $WALL s;" \
         "the logs end at the last layer reached."
    echo "Last layer started (server.log): $(grep -E ' called ' server.log | tail -n1 || true)"
  } > "$OUT/README"
fi
echo "[run] $NAME: wall $WALL s, server rc=$SERVER_RC client rc=$CLIENT_RC -> $OUT"
grep -h -E 'Total (time taken|data sent)' "$OUT/server.log" "$OUT/client.log" || true
[[ $COMPLETE == 1 ]]
