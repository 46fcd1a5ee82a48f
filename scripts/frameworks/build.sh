#!/usr/bin/env bash
# Build OpenCheetah's network programs (Cheetah and SCI_HE) with their pinned
# dependencies, so that stria's predictions can be compared with real runs.
#
#   scripts/frameworks/build.sh [TARGET...]
#
# TARGET defaults to: sqnet-cheetah sqnet-SCI_HE resnet50-cheetah resnet50-SCI_HE
# (any <net>-cheetah / <net>-SCI_HE target of OpenCheetah's CMakeLists works).
# Every build also compiles the SEAL micro-benchmark (seal-bench/seal_bench.cpp,
# linked against the SEAL built here) into $BUILD_DIR/seal-bench/seal_bench;
# the target `seal-bench` alone builds only the dependencies and the benchmark,
# not OpenCheetah (scripts/frameworks/seal-bench.sh runs it).
# The target `sci-probe` builds OpenCheetah's Cheetah libraries (if absent) and
# the probe sci-probe/sci_probe.cpp against them, with the flags and link order
# of the <net>-cheetah programs, into $BUILD_DIR/sci-probe/sci_probe
# (scripts/frameworks/sci-probe.sh runs it).
#
# Environment:
#   BUILD_DIR          where everything is checked out, built and installed
#                      (default: frameworks-build next to the repository, i.e.
#                      outside it). Programs end up in $BUILD_DIR/opencheetah/bin.
#   FRAMEWORK_SOURCES  a directory of local git repositories to clone from
#                      instead of GitHub. Expected layout (bare or non-bare):
#                        $FRAMEWORK_SOURCES/OpenCheetah  Alibaba-Gemini-Lab/OpenCheetah
#                        $FRAMEWORK_SOURCES/emp-tool     emp-toolkit/emp-tool
#                        $FRAMEWORK_SOURCES/emp-ot       emp-toolkit/emp-ot
#                        $FRAMEWORK_SOURCES/SEAL         microsoft/SEAL
#                        $FRAMEWORK_SOURCES/zstd         facebook/zstd
#                      Each must contain the pinned commit. Copies that leave out
#                      large blobs are fine: files whose blob is absent are
#                      skipped at checkout and listed in the build log.
#   JOBS               parallel make jobs (default: number of cores)
#
# Needs: git cmake make g++ patch, and the Debian packages libeigen3-dev
# libssl-dev libgmp-dev. Intel HEXL is not used (SEAL_USE_INTEL_HEXL=OFF).
#
# Idempotent: every finished step leaves a stamp in $BUILD_DIR/stamps and is
# skipped next time. Delete a stamp (or the whole BUILD_DIR) to redo a step.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$(dirname "$REPO")/frameworks-build}
BUILD_DIR=$(realpath -m "$BUILD_DIR")
JOBS=${JOBS:-$(nproc)}
FRAMEWORK_SOURCES=${FRAMEWORK_SOURCES:-}
[[ -z $FRAMEWORK_SOURCES ]] || FRAMEWORK_SOURCES=$(realpath -m "$FRAMEWORK_SOURCES")
if [[ $# -gt 0 ]]; then
  TARGETS=("$@")
else
  TARGETS=(sqnet-cheetah sqnet-SCI_HE resnet50-cheetah resnet50-SCI_HE)
fi

# name  upstream URL  pinned commit
PINS=(
  "OpenCheetah https://github.com/Alibaba-Gemini-Lab/OpenCheetah.git f71d4d4"
  "emp-tool    https://github.com/emp-toolkit/emp-tool.git          44b1dde"
  "emp-ot      https://github.com/emp-toolkit/emp-ot.git            7f3d4f0"
  "SEAL        https://github.com/microsoft/SEAL.git                7923472"
  "zstd        https://github.com/facebook/zstd.git                 621d798"
)

SRC=$BUILD_DIR/src            # checkouts
OBJ=$BUILD_DIR/obj            # dependency build trees
PREFIX=$BUILD_DIR/install     # dependencies are installed here
OC_BUILD=$BUILD_DIR/opencheetah
STAMPS=$BUILD_DIR/stamps
mkdir -p "$SRC" "$OBJ" "$PREFIX" "$OC_BUILD" "$STAMPS" "$BUILD_DIR/logs"
LOG=$BUILD_DIR/logs/build-$(date -u +%Y%m%dT%H%M%SZ).log
exec > >(tee -a "$LOG") 2>&1

say() { echo "[build $(date -u +%H:%M:%S)] $*"; }
die() { say "ERROR: $*"; exit 1; }

for tool in git cmake make g++ patch; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -f /usr/include/eigen3/Eigen/Core ]] || die "Eigen not found (apt-get install libeigen3-dev)"

say "repository: $REPO"
say "BUILD_DIR=$BUILD_DIR JOBS=$JOBS FRAMEWORK_SOURCES=${FRAMEWORK_SOURCES:-<GitHub>}"
say "targets: ${TARGETS[*]}"
say "log: $LOG"

# step NAME CMD...: run CMD once, timed; skip it if its stamp exists.
step() {
  local name=$1; shift
  if [[ -f $STAMPS/$name.done ]]; then
    say "skip $name (done $(cat "$STAMPS/$name.done"))"
    return
  fi
  say "start $name"
  local t0=$SECONDS
  "$@"
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - t0)) s" > "$STAMPS/$name.done"
  say "done $name in $((SECONDS - t0)) s"
}

pin() { # pin NAME 2|3: upstream URL (2) or pinned commit (3)
  local line n u c
  for line in "${PINS[@]}"; do
    read -r n u c <<< "$line"
    if [[ $n == "$1" ]]; then
      if [[ $2 == 2 ]]; then echo "$u"; else echo "$c"; fi
      return
    fi
  done
  die "no pin for $1"
}

# checkout NAME: clone at the pinned commit into $SRC/NAME. Works with copies
# missing some blobs: clone without checkout, move the index to the commit,
# then write out only the files whose blob is present.
checkout() {
  local name=$1 url commit from dest
  url=$(pin "$name" 2); commit=$(pin "$name" 3)
  from=${FRAMEWORK_SOURCES:+$FRAMEWORK_SOURCES/$name}
  from=${from:-$url}
  dest=$SRC/$name
  rm -rf "$dest"
  say "clone $name from $from at $commit"
  git clone -q --no-checkout "$from" "$dest"
  git -C "$dest" reset -q "$commit"
  local missing=0 mode sha stage path
  while read -r mode sha stage path; do
    [[ $mode == 160000 ]] && continue          # submodule: not needed here
    if git -C "$dest" cat-file -e "$sha" 2>/dev/null; then
      printf '%s\0' "$path"
    else
      say "  absent from this copy (not checked out): $path" >&2
      missing=$((missing + 1))
    fi
  done < <(git -C "$dest" ls-files -s) | git -C "$dest" checkout-index -f -z --stdin
  git -C "$dest" rev-parse HEAD > "$dest/.pinned-commit"
}

apply_patch() { # apply_patch DIR PATCHFILE
  say "patch $1 < $2"
  patch --no-backup-if-mismatch -N -p1 -d "$1" -i "$2"
}

src_opencheetah() {
  checkout OpenCheetah
  local p
  for p in "$HERE"/patches/*.patch; do apply_patch "$SRC/OpenCheetah" "$p"; done
}
src_emp_tool() {
  checkout emp-tool
  [[ -f $SRC/OpenCheetah/patch/emp-tool.patch ]] || die "OpenCheetah's patch/emp-tool.patch missing"
  apply_patch "$SRC/emp-tool" "$SRC/OpenCheetah/patch/emp-tool.patch"
}
src_seal() {
  checkout SEAL
  [[ -f $SRC/OpenCheetah/patch/SEAL.patch ]] || die "OpenCheetah's patch/SEAL.patch missing"
  apply_patch "$SRC/SEAL" "$SRC/OpenCheetah/patch/SEAL.patch"
}

cmake_install() { # cmake_install NAME SOURCE_DIR CMAKE_ARGS...
  local name=$1 src=$2; shift 2
  rm -rf "$OBJ/$name"; mkdir -p "$OBJ/$name"
  cmake -S "$src" -B "$OBJ/$name" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_PREFIX_PATH="$PREFIX" "$@"
  make -C "$OBJ/$name" -j"$JOBS" install
}

build_emp_tool() { cmake_install emp-tool "$SRC/emp-tool"; }
build_emp_ot()   { cmake_install emp-ot "$SRC/emp-ot"; }
build_zstd() {
  # Static, position-independent: it is linked into OpenCheetah's shared
  # libgemini (Debian's libzstd.a is not built with -fPIC).
  cmake_install zstd "$SRC/zstd/build/cmake" \
    -DZSTD_BUILD_PROGRAMS=OFF -DZSTD_BUILD_SHARED=OFF -DZSTD_BUILD_STATIC=ON \
    -DZSTD_BUILD_TESTS=OFF -DZSTD_MULTITHREAD_SUPPORT=OFF \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON
}
build_seal() {
  # As OpenCheetah's scripts/build-deps.sh, but without Intel HEXL.
  cmake_install SEAL "$SRC/SEAL" \
    -DSEAL_USE_MSGSL=OFF -DSEAL_USE_ZLIB=OFF -DSEAL_USE_ZSTD=ON \
    -Dzstd_DIR="$PREFIX/lib/cmake/zstd" -DSEAL_USE_INTEL_HEXL=OFF \
    -DSEAL_BUILD_DEPS=OFF -DSEAL_THROW_ON_TRANSPARENT_CIPHERTEXT=ON
}
configure_opencheetah() {
  # As OpenCheetah's scripts/build.sh, with the system's Eigen.
  cmake -S "$SRC/OpenCheetah" -B "$OC_BUILD" -DCMAKE_BUILD_TYPE=Release \
        -DSCI_BUILD_NETWORKS=ON -DUSE_APPROX_RESHARE=ON \
        -DCMAKE_PREFIX_PATH="$PREFIX"
}
build_target() { make -C "$OC_BUILD" -j"$JOBS" "$1"; }
build_seal_bench() {
  # One translation unit, against the static SEAL and zstd installed above.
  mkdir -p "$BUILD_DIR/seal-bench"
  g++ -std=c++17 -O2 -DNDEBUG -I"$PREFIX/include/SEAL-3.7" \
      "$HERE/seal-bench/seal_bench.cpp" -o "$BUILD_DIR/seal-bench/seal_bench.tmp" \
      "$PREFIX/lib/libseal-3.7.a" "$PREFIX/lib/libzstd.a" -lpthread
  mv "$BUILD_DIR/seal-bench/seal_bench.tmp" "$BUILD_DIR/seal-bench/seal_bench"
}

# The probe: compiled as OpenCheetah's CMake compiles a <net>-cheetah program
# (its flags.make: SCI_OT=1 USE_CHEETAH=1, the same include paths) with the
# gemini sources such a program compiles itself, and linked against the same
# archives in the same order (its link.txt), all in $BUILD_DIR/sci-probe.
OC_LIBS=(gemini SCI-Cheetah Cheetah-Linear SCI-Cheetah-BuildingBlocks SCI-Math SCI-LinearOT SCI-BuildingBlocks)
build_sci_probe() {
  local out=$BUILD_DIR/sci-probe oc=$SRC/OpenCheetah lib=$OC_BUILD/lib f missing=0
  for f in "${OC_LIBS[@]}"; do
    [[ -f $lib/lib$f.a || -f $lib/lib$f.so ]] || missing=1
  done
  if [[ $missing == 1 ]]; then make -C "$OC_BUILD" -j"$JOBS" SCI-Cheetah gemini; fi
  mkdir -p "$out/obj"
  local flags=(-O3 -DNDEBUG -fPIC -D_GLIBCXX_USE_CXX11_ABI=0 -pthread -maes -msse4.1 -mavx
               -mavx2 -faligned-new -mrdseed -fopenmp -std=gnu++17
               "-DEMP_CIRCUIT_PATH=$PREFIX/include/emp-tool/circuits/files/"
               -DSCI_OT=1 -DUSE_APPROX_RESHARE=1 -DUSE_CHEETAH=1
               -I"$oc" -I"$PREFIX/include" -I"$oc/include" -I"$oc/SCI/src"
               -isystem /usr/include/eigen3 -isystem "$PREFIX/include/SEAL-3.7")
  local objs=()
  for f in shape_inference tensor_shape tensor_encoder hom_conv2d_ss hom_fc_ss hom_bn_ss; do
    g++ "${flags[@]}" -c "$oc/include/gemini/cheetah/$f.cc" -o "$out/obj/$f.o"
    objs+=("$out/obj/$f.o")
  done
  g++ "${flags[@]}" -c "$HERE/sci-probe/sci_probe.cpp" -o "$out/obj/sci_probe.o"
  g++ -O3 -rdynamic "$out/obj/sci_probe.o" "${objs[@]}" -o "$out/sci_probe.tmp" \
      -Wl,-rpath,"$lib" "$lib/libgemini.so" "$lib/libSCI-Cheetah.a" "$lib/libCheetah-Linear.a" \
      "$PREFIX/lib/libseal-3.7.a" "$PREFIX/lib/libzstd.a" "$lib/libSCI-Cheetah-BuildingBlocks.a" \
      "$lib/libSCI-Math.a" "$lib/libSCI-LinearOT.a" "$lib/libSCI-BuildingBlocks.a" \
      -lssl -lcrypto -lgomp -lpthread
  mv "$out/sci_probe.tmp" "$out/sci_probe"
}

T0=$SECONDS
step src-opencheetah src_opencheetah
step src-emp-tool    src_emp_tool
step src-emp-ot      checkout emp-ot
step src-zstd        checkout zstd
step src-seal        src_seal
step emp-tool        build_emp_tool
step emp-ot          build_emp_ot
step zstd            build_zstd
step seal            build_seal
# The benchmark's stamp names its source's hash: an edited seal_bench.cpp is rebuilt.
BENCH_HASH=$(sha1sum "$HERE/seal-bench/seal_bench.cpp" | cut -c1-12)
step "seal-bench-$BENCH_HASH" build_seal_bench
[[ -x $BUILD_DIR/seal-bench/seal_bench ]] || die "seal_bench was not produced"
OC_TARGETS=()
PROBE=0
for t in "${TARGETS[@]}"; do
  case $t in
    seal-bench) ;;
    sci-probe) PROBE=1 ;;
    *) OC_TARGETS+=("$t") ;;
  esac
done
if [[ ${#OC_TARGETS[@]} -gt 0 ]]; then
  step configure       configure_opencheetah
  for t in "${OC_TARGETS[@]}"; do
    step "target-$t" build_target "$t"
    [[ -x $OC_BUILD/bin/$t ]] || die "$t was not produced"
  done
fi
if [[ $PROBE == 1 ]]; then
  step configure configure_opencheetah
  PROBE_HASH=$(sha1sum "$HERE/sci-probe/sci_probe.cpp" | cut -c1-12)
  step "sci-probe-$PROBE_HASH" build_sci_probe
  [[ -x $BUILD_DIR/sci-probe/sci_probe ]] || die "sci_probe was not produced"
fi
say "all done in $((SECONDS - T0)) s; programs in $OC_BUILD/bin"
