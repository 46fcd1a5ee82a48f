#!/usr/bin/env bash
# Measure the SEAL primitives OpenCheetah's Cheetah and SCI_HE programs call, on
# this machine, against the SEAL 3.7.2 build they link, and write the times as a
# stria cost profile.
#
#   scripts/frameworks/seal-bench.sh [--output FILE] [--passes P] [--warmup W]
#                                    [--rounds R] [--scmult-form coeff|ntt]
#
#   --output       profile to write (default results/measured/seal-profile.json),
#                  written atomically (temporary file, then rename)
#   --passes/--warmup/--rounds
#                  timing method (default 5 passes of 2 warm-up and 20 timed
#                  rounds; every figure is the median of passes*rounds calls)
#   --scmult-form  which multiply_plain goes into `scmult_us` (default coeff:
#                  the coefficient-form product both frameworks call, NTTs
#                  inside; ntt: the point-wise product of NTT-form operands).
#                  The other figure is kept in each entry's `source`.
#
# The benchmark binary is built by scripts/frameworks/build.sh (any target; the
# target `seal-bench` builds only SEAL and the benchmark) into
# $BUILD_DIR/seal-bench/seal_bench. BUILD_DIR as for build.sh. One thread.
# Parameter sets and what each figure mirrors: scripts/frameworks/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$(dirname "$REPO")/frameworks-build}
BUILD_DIR=$(realpath -m "$BUILD_DIR")

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
OUTPUT=$REPO/results/measured/seal-profile.json
PASSES=5 WARMUP=2 ROUNDS=20 SCFORM=coeff
while [[ $# -gt 0 ]]; do
  case $1 in
    --output) OUTPUT=$2; shift 2 ;;
    --passes) PASSES=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --scmult-form) SCFORM=$2; shift 2 ;;
    *) usage ;;
  esac
done
case $SCFORM in coeff|ntt) ;; *) echo "--scmult-form must be coeff or ntt" >&2; exit 2 ;; esac
for v in "$PASSES" "$ROUNDS"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "--passes and --rounds must be positive integers" >&2; exit 2; }
done
[[ $WARMUP =~ ^[0-9]+$ ]] || { echo "--warmup must be a non-negative integer" >&2; exit 2; }

BIN=$BUILD_DIR/seal-bench/seal_bench
[[ -x $BIN ]] || { echo "$BIN not built (BUILD_DIR=$BUILD_DIR scripts/frameworks/build.sh seal-bench)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 needed" >&2; exit 1; }

mkdir -p "$(dirname "$OUTPUT")"
TMP=$(mktemp "$(dirname "$OUTPUT")/.seal-profile.XXXXXX")
RAW=$(mktemp)
trap 'rm -f "$TMP" "$RAW"' EXIT

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
T0=$(date +%s.%N)
echo "[seal-bench] $BIN --passes $PASSES --warmup $WARMUP --rounds $ROUNDS (load average $LOAD0)" >&2
# One thread: the benchmark calls SEAL from one thread (SEAL 3.7 does not thread inside these
# calls). Not pinned to a core: with other work on the cores the scheduler may pick the idle one.
"$BIN" --passes "$PASSES" --warmup "$WARMUP" --rounds "$ROUNDS" > "$RAW"
WALL=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
cpu_flags=$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
SEAL_COMMIT=$(cat "$BUILD_DIR/src/SEAL/.pinned-commit" 2>/dev/null || echo unknown)
OC_COMMIT=$(cat "$BUILD_DIR/src/OpenCheetah/.pinned-commit" 2>/dev/null || echo unknown)

RAW="$RAW" OUTPUT_TMP="$TMP" SCFORM="$SCFORM" LOAD0="$LOAD0" LOAD1="$LOAD1" START="$START" WALL="$WALL" \
CPU_MODEL="$cpu_model" CPU_FLAGS="$cpu_flags" NCORES="$(nproc --all)" SEAL_COMMIT="$SEAL_COMMIT" \
OC_COMMIT="$OC_COMMIT" KERNEL="$(uname -sr)" COMPILER="$(g++ --version | head -n1)" NICE="$(nice)" SCHED="$(cat /proc/self/autogroup 2>/dev/null || echo none)" \
python3 - <<'PY'
import json, os

env = os.environ
lines = [json.loads(l) for l in open(env["RAW"]) if l.strip()]
meta = lines[-1]
rows = lines[:-1]
scform = env["SCFORM"]

flags = env["CPU_FLAGS"].split()
shown = [f for f in ("avx2", "avx512f", "avx512ifma") if f in flags]
machine = f'{env["CPU_MODEL"]} ({env["NCORES"]} logical cores; {", ".join(shown) or "no avx2"})'
seal_short = env["SEAL_COMMIT"][:7]
oc_short = env["OC_COMMIT"][:7]
samples = meta["passes"] * meta["rounds"]
method = (f'one thread; median of {samples} timed calls ({meta["passes"]} passes of '
          f'{meta["warmup"]} warm-up and {meta["rounds"]} timed rounds, operations interleaved)')


def us(v):
    return round(float(v), 2)


entries = []
for r in rows:
    fw, n, L = r["framework"], r["n"], r["primes"]
    coeff, nttf = r["scmult_us"], r["scmult_nttform_us"]
    sc = coeff if scform == "coeff" else nttf
    other = (f'NTT-form point-wise multiply_plain (both operands already in NTT form) = {nttf:.2f} us'
             if scform == "coeff" else
             f'coefficient-form multiply_plain as the framework calls it (NTTs inside) = {coeff:.2f} us')
    if fw == "Cheetah":
        ks = ("key switch = rotate_rows by one step (one key switch) on a ciphertext with the same data primes; "
              "Cheetah never rotates, and SEAL 3.7 makes no Galois keys for its context (no special prime, t = 2^37 "
              f'does not batch), so this is measured in a stand-in context: {r["ks_context"]}')
        sc_what = ("ScMult = multiply_plain(ct, pt, out) of a coefficient-form ciphertext and a dense coefficient-form "
                   "plaintext mod t (hom_conv2d_ss.cc HomConv2DSS::conv2DOneFilter; BFV filters are not put in NTT "
                   "form: HomConv2DSS::encodeFilters), including the copy into the destination")
        add_plain = "add_plain = add_plain(ct, pt, out) (HomConv2DSS::conv2DSS adding the two input shares)"
        ms = ("mod switch = mod_switch_to_inplace to the last level, 2 -> 1 prime (truncate_for_decryption)"
              if L > 1 else "no mod switch (last level)")
        enc = ("enc = Encryptor(sk)::encrypt_symmetric returning Serializable<Ciphertext> (seeded), as "
               "HomConv2DSS::encryptImage (always at the first level, 2 primes)")
        dec = (f'dec = Decryptor::decrypt at {L} prime(s) (HomConv2DSS::decryptToTensor decrypts the server\'s '
               'results at 1 prime)')
        encode = ("encode = Plaintext resize to N and modulo_poly_coeffs of N coefficients mod t "
                  "(gemini/cheetah/tensor_encoder.cc, the last step of TensorEncoder's encoders); the batch "
                  "encoding HomBNSS uses for batch norm with CRT plain primes (hom_bn_ss.cc, BatchEncoder::encode "
                  f'of 4096 slots, 37-bit batching prime) = {r["encode_batch_us"]:.2f} us')
    else:
        ks = ("key switch = rotate_rows(ct, 1, gal_keys, out) (one key switch; conv-field.cpp filter_rotations / "
              f'HE_output_rotations, fc-field.cpp); rotate_columns = {r["rotate_columns_us"]:.2f} us')
        sc_what = ("ScMult = multiply_plain(ct, pt, out) of a coefficient-form ciphertext and a batch-encoded "
                   "plaintext (conv-field.cpp HE_conv_OP, fc-field.cpp, elemwise-prod-field.cpp), NTTs inside, "
                   "including the copy into the destination")
        add_plain = "add_plain = add_plain(ct, pt, out) (not called by SCI_HE's linear layers)"
        ms = ("mod switch = mod_switch_to_next_inplace (conv-field.cpp HE_conv_OP, non_strided_conv)"
              if L > 1 else "no mod switch (last level)")
        enc = ("enc = Encryptor(public key)::encrypt of a batch-encoded plaintext, not seeded (conv-field.cpp "
               "HE_encrypt, HE_preprocess_noise), always at the first level (3 primes)")
        dec = f'dec = Decryptor::decrypt at {L} prime(s) (conv-field.cpp HE_decrypt decrypts at 1 prime)'
        encode = "encode = BatchEncoder::encode of a full slot vector (conv-field.cpp HE_encrypt, HE_preprocess_filters_OP)"
    ntt = (f'ntt = transform_to_ntt_inplace of a coefficient-form plaintext at this level ({L} prime(s)); '
           f'seal::util forward NTT of one polynomial over the same primes = {r["ntt_fwd_util_us"]:.2f} us, '
           f'inverse = {r["ntt_inv_util_us"]:.2f} us')
    save = f'save/load = {r["save_what"]}; {r["save_bytes"]} bytes'
    source = (f'measured by scripts/frameworks/seal-bench.sh ({fw}): SEAL 3.7.2 (commit {seal_short}, '
              f'OpenCheetah\'s SEAL.patch, zstd, no HEXL), BFV, {r["params"]}; ciphertexts at {L} data prime(s); '
              f'{method}. {ks}; {sc_what}; {other}; add = add_inplace(ct, ct); {add_plain}; {ms}; {enc}; {dec}; '
              f'{ntt}; {encode}; {save}')
    e = {
        "n": n,
        "primes": L,
        "source": source,
        "scmult_form": scform,
        "key_switch_us": us(r["key_switch_us"]),
        "scmult_us": us(sc),
        "add_us": us(r["add_us"]),
    }
    if "mod_switch_us" in r:
        e["mod_switch_us"] = us(r["mod_switch_us"])
    e.update({
        "add_plain_us": us(r["add_plain_us"]),
        "enc_us": us(r["enc_us"]),
        "dec_us": us(r["dec_us"]),
        "ntt_us": us(r["ntt_us"]),
        "encode_us": us(r["encode_us"]),
        "save_us": us(r["save_us"]),
        "load_us": us(r["load_us"]),
    })
    entries.append(e)

# Consistency check of the largest degree against N = 8192 at the same primes: key switch and the
# coefficient-form ScMult are N log N operations, so their ratio should be near N log N's.
import math
by = {(r["n"], r["primes"]): r for r in rows}
check = ""
if (8192, 3) in by and (32768, 3) in by:
    a, b = by[(8192, 3)], by[(32768, 3)]
    nlogn = (32768 * 15) / (8192 * 13)
    check = (f'Check: n = 32768 over n = 8192 at 3 primes: key switch {b["key_switch_us"] / a["key_switch_us"]:.2f}x, '
             f'coefficient-form ScMult {b["scmult_us"] / a["scmult_us"]:.2f}x, N log N {nlogn:.2f}x; the n = 32768 '
             "operations work on 1.5 MB ciphertexts and slow down most when other work shares the caches and memory. ")

note = (
    "Measured by scripts/frameworks/seal-bench.sh on the machine named in `machine`: a C++ micro-benchmark "
    "(scripts/frameworks/seal-bench/seal_bench.cpp, g++ -O2) linked against the SEAL that "
    f"scripts/frameworks/build.sh builds for OpenCheetah {oc_short} (SEAL 3.7.2 {seal_short} with OpenCheetah's "
    "SEAL.patch, zstd on, Intel HEXL off), the library the Cheetah and SCI_HE programs link. One thread, "
    "not pinned to a core. The SEAL calls, their operand forms and parameters are the frameworks' own "
    "(each entry's source names the framework file and function). Entries: Cheetah N = 4096 at 2 and 1 primes; "
    "SCI_HE N = 8192 (its usual degree) and N = 32768 (conv-field.cpp makes keys for this degree when a "
    "convolution's image needs it, e.g. the first convolution of sqnet and ResNet-50) at 3, 2 and 1 primes. "
    f'Operations ran in {meta["passes"]} passes over all parameter sets; each pass ran {meta["warmup"]} untimed '
    f'warm-up rounds and then {meta["rounds"]} timed rounds, a round calling every operation once (interleaved). '
    f"Every time is the MEDIAN of the {samples} timed calls, in microseconds per operation, rounded to 0.01 us. "
    f'ScMult (scmult_form "{scform}"): '
    + ("SEAL's multiply_plain on a coefficient-form ciphertext and plaintext, NTTs inside, as both frameworks "
       "call it (neither keeps ciphertexts or plaintexts in NTT form with BFV); each source also gives the "
       "point-wise product of NTT-form operands. "
       if scform == "coeff" else
       "point-wise multiply_plain of NTT-form operands; the frameworks call the coefficient-form product, "
       "given in each source. ")
    + check
    + "SEAL 3.7 always encrypts at the first level, so enc_us of the lower-level entries is the fresh-level "
    "encryption. Ciphertext save uses SEAL's default compression (zstd in this build), as the frameworks' "
    "send_ciphertext does. "
    f'Load average (1, 5, 15 min) before: {env["LOAD0"]}, after: {env["LOAD1"]} (other work shared the cores; '
    f'nice {env["NICE"]}, scheduling group {env["SCHED"]}). Set-up (contexts, keys, operands) {meta["setup_s"]} s; whole benchmark '
    f'{env["WALL"]} s wall. Kernel {env["KERNEL"]}; compiler {env["COMPILER"]}.'
)

profile = {
    "name": "seal-3.7.2",
    "machine": machine,
    "library": (f"SEAL 3.7.2 (commit {seal_short}) with OpenCheetah's SEAL.patch (OpenCheetah {oc_short}), "
                "zstd, no Intel HEXL, BFV; g++ -O2"),
    "threads": 1,
    "date": env["START"][:10],
    "note": note,
    "entries": entries,
}
with open(env["OUTPUT_TMP"], "w") as f:
    json.dump(profile, f, indent=2)
    f.write("\n")
PY
mv "$TMP" "$OUTPUT"
trap 'rm -f "$RAW"' EXIT
echo "[seal-bench] wrote $OUTPUT in $WALL s (load average $LOAD0 -> $LOAD1)" >&2
