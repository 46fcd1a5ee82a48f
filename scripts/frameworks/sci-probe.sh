#!/usr/bin/env bash
# Run OpenCheetah's Sigmoid and ElemWiseSecretSharedVectorMult, and the building
# blocks Sigmoid is made of, through the probe sci-probe/sci_probe.cpp (Cheetah
# build, both parties on 127.0.0.1), and write what each call sent, or how it
# failed, as a CSV.
#
#   scripts/frameworks/sci-probe.sh [--output FILE] [--port P] [--timeout SECONDS]
#
#   --output   CSV to write (default results/measured/cheetah-math.csv), written
#              atomically (temporary file, then rename)
#   --port     first port (default 31400; a run with T threads uses P..P+T-1, and
#              every run its own ports)
#   --timeout  seconds a run may take (default 300; `timeout` in the status
#              column if a run took longer); when one party ends, the other is
#              stopped 5 seconds later
#
# The probe is built by `scripts/frameworks/build.sh sci-probe` into
# $BUILD_DIR/sci-probe/sci_probe (BUILD_DIR as for build.sh). The parties run at
# nice 19. Columns:
#
#   run      one process pair; its calls run in order (Ferret's pools carry over)
#   seq      position of the call in its run
#   op       sig, mul, or a building block (msb, mux, b2a, lut, trd, zext; see
#            sci_probe.cpp)
#   n        elements
#   threads  OpenCheetah's nt
#   ell      OpenCheetah's bitlength
#   args     the op's widths, as sci_probe.cpp prints them
#   server_bytes, client_bytes
#            bytes each party sent during the call (sum over threads of
#            ioArr[i]->counter), empty if the call failed
#   status   ok, or how the call failed: `throw:<what()>` for an uncaught
#            exception, `crash:<function>` for a SIGSEGV or SIGBUS (the innermost
#            frame of LinearOT, AuxProtocols or MathFunctions in the stack; the runs
#            of sig and mul go under gdb when it is installed),
#            `timeout`, or `failed` for anything else
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$(dirname "$REPO")/frameworks-build}
BUILD_DIR=$(realpath -m "$BUILD_DIR")

usage() { sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
OUTPUT=$REPO/results/measured/cheetah-math.csv
PORT=31400 TIMEOUT=300
while [[ $# -gt 0 ]]; do
  case $1 in
    --output) OUTPUT=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    *) usage ;;
  esac
done

BIN=$BUILD_DIR/sci-probe/sci_probe
[[ -x $BIN ]] || { echo "$BIN not built (BUILD_DIR=$BUILD_DIR scripts/frameworks/build.sh sci-probe)" >&2; exit 1; }
command -v c++filt >/dev/null || { echo "c++filt needed (binutils)" >&2; exit 1; }

mkdir -p "$(dirname "$OUTPUT")"
TMP=$(mktemp "$(dirname "$OUTPUT")/.cheetah-math.XXXXXX")
WORK=$(mktemp -d)
trap 'rm -rf "$TMP" "$WORK"' EXIT

# The runs: name, threads, ell, ops.
RUNS=(
  # Sigmoid's building blocks at OpenCheetah's l = 37, f = 12 (the widths
  # MathFunctions::sigmoid(bw 37, s 12) passes them), then 250,000 MSBs, which
  # drain the pool where the server sends and run one Ferret extension, then a
  # multiplexer on the refilled pool.
  "blocks-37 1 37 msb:1000:37,msb:1003:14,mux:1000:37:37,mux:1001:14:14,b2a:1000:14,b2a:999:37,lut:1000:8:14,lut:1001:4:22,lut:1000:2:1,trd:1000:12:26,trd:1001:7:12,zext:1000:14:37:1,zext:1000:16:21:0,msb:250000:37,mux:1000:37:37"
  # The same blocks at the widths of sigmoid(bw 32, s 8), on 2 threads (the
  # blocks run on thread 0).
  "blocks-32 2 32 msb:1000:32,msb:1003:10,mux:1003:32:32,mux:1000:10:10,b2a:1001:10,lut:1003:8:10,lut:1000:3:16,trd:1000:8:18,trd:1003:5:10,zext:1001:10:32:1,zext:1000:12:17:0"
  # The two protocols themselves, one call per process (a failed call ends it).
  "sig-37-t1 1 37 sig:1000:37:37:12:12"
  "sig-37-t1-odd 1 37 sig:1003:37:37:12:12"
  "sig-37-t2 2 37 sig:1000:37:37:12:12"
  "sig-32-t1 1 32 sig:1000:32:32:8:8"
  "sig-32-t2 2 32 sig:1003:32:32:8:8"
  "mul-37-t1 1 37 mul:1000"
  "mul-37-t2 2 37 mul:1003"
  "mul-32-t1 1 32 mul:1000"
)

# failure NAME...: how a party failed, from its output and stderr (NAME.out,
# NAME.err): an exception's what(), or the innermost LinearOT, AuxProtocols or
# MathFunctions frame of the stack printed at a SIGSEGV or SIGBUS (by gdb, or by
# the probe's own handler when run without gdb).
failure() {
  local f fn
  for f in "$@"; do
    if grep -q "what():" "$f.err"; then
      echo "throw:$(grep -m1 'what():' "$f.err" | sed 's/.*what(): *//' | tr -d ',')"
      return
    fi
  done
  for f in "$@"; do
    if cat "$f.out" "$f.err" | grep -qE 'crash,SIG|received signal SIG(SEGV|BUS)'; then
      fn=$(cat "$f.out" "$f.err" | c++filt | grep -oE '(LinearOT|AuxProtocols|MathFunctions)::[A-Za-z_0-9]+' | head -1)
      echo "crash:${fn:-unknown}"
      return
    fi
  done
  echo "failed"
}

# A call that fails may overflow a thread's stack, where no handler of the
# probe's can print it; such runs go under gdb, which prints the stack at the
# signal (the traffic of a failed call is not measured).
GDB=()
if command -v gdb >/dev/null; then GDB=(gdb -q -batch -ex run -ex bt --args); fi

echo "run,seq,op,n,threads,ell,args,server_bytes,client_bytes,status" > "$TMP"
p=$PORT
for line in "${RUNS[@]}"; do
  read -r name threads ell ops <<< "$line"
  dir=$WORK/$name
  mkdir -p "$dir/data"
  args=(p=$p nt=$threads ell=$ell k=12 ops=$ops check=0)
  wrap=()
  [[ $ops == sig:* || $ops == mul:* ]] && wrap=("${GDB[@]}")
  echo "[sci-probe] $name: nt=$threads ell=$ell port $p"
  ( cd "$dir" && exec nice -n 19 timeout "$TIMEOUT" "${wrap[@]}" "$BIN" r=1 "${args[@]}" > server.out 2> server.err ) &
  spid=$!
  sleep 0.5
  ( cd "$dir" && exec nice -n 19 timeout "$TIMEOUT" "${wrap[@]}" "$BIN" r=2 "${args[@]}" > client.out 2> client.err ) &
  cpid=$!
  # When one party ends, give the other 5 seconds, then stop it.
  wait -n "$spid" "$cpid" || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    if kill -0 "$spid" 2>/dev/null || kill -0 "$cpid" 2>/dev/null; then sleep 0.5; else break; fi
  done
  kill "$spid" "$cpid" 2>/dev/null || true
  src=0 crc=0
  wait "$spid" 2>/dev/null || src=$?
  wait "$cpid" 2>/dev/null || crc=$?
  status=$(failure "$dir/server" "$dir/client")
  if [[ $status == failed ]] && [[ $src == 124 || $crc == 124 ]]; then status=timeout; fi
  # One row per call the run was given: measured bytes if both parties printed
  # them, else the run's failure.
  seq=0
  IFS=, read -ra calls <<< "$ops"
  for call in "${calls[@]}"; do
    s=$(grep "^probe,$seq," "$dir/server.out" || true)
    c=$(grep "^probe,$seq," "$dir/client.out" || true)
    op=${call%%:*}
    rest=${call#*:}
    n=${rest%%:*}
    if [[ -n $s && -n $c ]]; then
      a=$(cut -d, -f5 <<< "$s")
      echo "$name,$seq,$op,$n,$threads,$ell,$a,$(cut -d, -f8 <<< "$s"),$(cut -d, -f8 <<< "$c"),ok" >> "$TMP"
    else
      a=${rest#*:}
      [[ $a == "$rest" ]] && a=$ell
      echo "$name,$seq,$op,$n,$threads,$ell,$a,,,$status" >> "$TMP"
    fi
    seq=$((seq + 1))
  done
  p=$((p + 4))
done

mv "$TMP" "$OUTPUT"
trap 'rm -rf "$WORK"' EXIT
echo "[sci-probe] wrote $OUTPUT"
cat "$OUTPUT"
