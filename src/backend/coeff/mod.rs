//! Cheetah coefficient packing executed on real BFV ciphertexts (Huang et al., "Cheetah", USENIX
//! Security 2022, Secs. 3.1-3.3; OpenCheetah `include/gemini/cheetah/hom_conv2d_ss.cc`,
//! `hom_fc_ss.cc`, `hom_bn_ss.cc`), on the `fhe` crate: HomConv (dense, strided, grouped in both
//! group layouts, depthwise in both layouts), HomFC and HomBN, run with exactly the partition the
//! closed-form counter `packing::coeff` chooses, through the counting
//! [`Instrumented`](super::Instrumented) evaluator. Strided groups (`c mod G == j`) are packed
//! with every group contiguous, the counter's plan: packed position `j*g_in + k` holds channel
//! `j + k*G`, the kernels follow, and returned ciphertext `j*g_out + k` is output channel
//! `j + k*G`.
//!
//! Two-party semantics follow OpenCheetah (`hom_conv2d_ss.cc`, `hom_fc_ss.cc`, `hom_bn_ss.cc`;
//! read, not copied):
//!
//! 1. The layer input is additively shared mod `t = 2^l`, `x = x_c + x_s`. A layer that reads the
//!    network input is held whole by the client (`x_s = 0`, no AddPlain).
//! 2. The client encodes its share block by block (input coefficient `c*Hw*Ww + i*Ww + j`),
//!    encrypts with the secret key (seeded) and sends the `in_ct` ciphertexts (`send_up`).
//! 3. The server adds its own share as a plaintext (AddPlain, counted in `add`), multiplies by every
//!    non-zero kernel-block polynomial (reversed kernel, `O = Hw*Ww*(Cw-1) + Ww*(h-1) + (h-1)`),
//!    accumulating over channel blocks (the first product of an output needs no add), switches
//!    every output down to the first prime (counted `mod_switch`), subtracts a uniform random mask
//!    polynomial and returns `out_ct` ciphertexts (`send_down`).
//! 4. The client decrypts and reads the output coefficients; `client + mask` must equal the
//!    integer layer reduced mod `t`, exactly.
//!
//! Deliberate differences from OpenCheetah, none of which the counter counts:
//! - masking (`sub_poly_inplace`, a plaintext subtraction on c0 only) is not counted as an add;
//!   OpenCheetah's noise flooding (uniform noise of `log q - log t - 1` bits) and re-randomisation
//!   (adding a public-key encryption of zero) are not run, so the reported noise budget is the
//!   budget *before* flooding (what flooding may consume);
//! - `truncate_for_decryption` / `removeUnusedCoeffs` are not run: fhe.rs serializes every
//!   coefficient at the full prime width, so returned ciphertexts are larger than the counter's
//!   SEAL 3.7 wire size ([`predicted_bytes_down_ideal`] reports both and their ratio);
//! - HomBN: OpenCheetah's mask is added with `add_plain_inplace` (not counted either) and its CRT
//!   primes come from SEAL's `CoeffModulus::Create` (the largest primes of the given size, `= 1 mod
//!   2N`); stria takes the same (largest) primes, one `Instrumented` per prime, and sums counts.
//!
//! Noise: fhe.rs encodes `floor(q*m/t)` exactly and lifts a plaintext multiplier from `[0, t)`
//! without centring (SEAL's `multiply_plain` centres it), so a negative weight multiplies the noise
//! by about `t` instead of `|w|`: the budgets reported here are about `l` bits below SEAL's for the
//! same layer. They stay positive at OpenCheetah's `{60, 49}`, `t = 2^37`.
//!
//! Weights are drawn non-zero (`1..=max_value` with a random sign) so that the blocks OpenCheetah
//! skips (`Plaintext::is_zero`) are exactly the structurally empty ones the counter skips.
//!
//! Files, each next to the counter's function for the same layer in `src/packing/coeff.rs`:
//! `conv.rs` (HomConv, `HomConv2DSS::conv2DSS`; counter `packing::coeff::conv`), `fc.rs` (HomFC,
//! `HomFCSS::matVecMul`; `packing::coeff::fc`), `bn.rs` (HomBN, `HomBNSS::bn` and `bn_direct`;
//! `packing::coeff::batchnorm`, `batchnorm_direct`), `two_party.rs` (the plan every layer is
//! lowered to and its two-party execution, shared by the three); this file: [`run_layer`] and
//! fhe.rs's serialized sizes.

mod bn;
mod conv;
mod fc;
mod two_party;

pub use bn::largest_batching_primes;
use bn::{run_bn, run_bn_direct};
use conv::run_conv;
use fc::run_fc;

use super::instrumented::{BackendError, Result};
use super::{LayerRun, RunOptions};
use crate::net::{Layer, Op};
use crate::packing::CountConfig;
use crate::packing::coeff as cc;

/// Runs one layer under Cheetah: `Op::Conv` (any groups, strides, taps), `Op::Fc` and an unfolded
/// `Op::BatchNorm`, with ring degree `cfg.ring_degree`, ciphertext primes
/// `opts.cheetah_moduli_bits` and plaintext modulus `2^cfg.cheetah.plain_bits` (HomBN: the CRT
/// primes of [`cc::bn_crt`]). Random inputs and weights come from `opts.seed`.
///
/// `wall_ns` is the online phase, as OpenCheetah splits it: from the client's encoding of its
/// input share, through its encryption, the server's evaluation from the received ciphertexts to
/// the returned ones (AddPlain of its share, products, additions, modulus switches, masking), to
/// the client's decryption and decoding of the results (HomBN: summed over the CRT primes). Not in
/// `wall_ns`:
/// - the server's preprocessing, done before the client's ciphertexts arrive: the kernel (HomBN:
///   scale) polynomials, its input share and its random output masks, each encoded once;
/// - key generation (setup);
/// - serialization (`to_bytes` in `send_up` / `send_down`, run only to count the bytes);
/// - the reconstruction of the output shares, data drawing, the reference computation and the
///   noise measurement.
///
/// `times` is the sum of the priced primitives inside that phase, so `wall_ns / times.total_ns()`
/// is the overhead of everything else the online phase does (client encoding and decoding, the
/// uncounted mask subtraction, accumulator bookkeeping).
pub fn run_layer(layer: &Layer, cfg: &CountConfig, opts: &RunOptions) -> Result<LayerRun> {
    match &layer.op {
        Op::Conv(c) => run_conv(layer, c, cfg, opts),
        Op::Fc => run_fc(layer, cfg, opts),
        Op::BatchNorm { folded: false } => {
            let i = layer.input;
            let (c, h, w) = (i.c as u64, i.h as u64, i.w as u64);
            if cc::bn_uses_direct(c, h, w, &cfg.cheetah, cfg.ring_degree) {
                run_bn_direct(layer, cfg, opts)
            } else {
                run_bn(layer, cfg, opts)
            }
        }
        _ => Err(BackendError(format!(
            "layer `{}` ({}) has no HE work under Cheetah",
            layer.path,
            layer.kind()
        ))),
    }
}

/// Serialized size in bytes of one fhe.rs 0.1.1 ciphertext (protobuf `fhers.bfv.Ciphertext` of
/// `fhers.rq.Rq` polynomials in NTT form), exactly:
///
/// - each polynomial: its coefficients bit-packed at each prime's width,
///   `D = sum_i ceil(N * bits_i / 8)`, plus the `Rq` fields (representation 2 B, degree
///   `1 + varint(N)`, coefficients `1 + varint(D)`, `allow_variable_time` 2 B: encryption sets it
///   and every operation keeps it) and the repeated-field header `1 + varint(len)`;
/// - a fresh secret-key encryption (`seeded`) sends c0 and a 32-byte seed (`2 + 32` B) instead of
///   c1: `N*B/8 + 32 + ~17` B with `B` the sum of prime widths;
/// - any other ciphertext sends both polynomials: `2*N*B/8 + ~30` B; a non-zero `level` adds
///   `1 + varint(level)` B.
///
/// `prime_bits` lists the widths of the primes the ciphertext still carries.
pub fn fhe_ciphertext_bytes(n: u64, prime_bits: &[u64], seeded: bool, level: u64) -> u64 {
    let data: u64 = prime_bits.iter().map(|b| (n * b).div_ceil(8)).sum();
    let rq = 2 + 1 + varint_len(n) + 1 + varint_len(data) + data + 2;
    let poly = 1 + varint_len(rq) + rq;
    let polys = if seeded { poly + 2 + 32 } else { 2 * poly };
    let lvl = if level > 0 { 1 + varint_len(level) } else { 0 };
    polys + lvl
}

fn varint_len(mut v: u64) -> u64 {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Client-to-server bytes of one fresh ciphertext under `opts` (the fhe.rs seeded size model).
pub fn fhe_bytes_up_per_ct(n: u64, opts: &RunOptions) -> u64 {
    let bits: Vec<u64> = opts.cheetah_moduli_bits.iter().map(|&b| b as u64).collect();
    fhe_ciphertext_bytes(n, &bits, true, 0)
}

/// Server-to-client bytes of one returned ciphertext under `opts`: both polynomials at the first
/// prime only (every coefficient at full width: fhe.rs cannot drop low bits).
pub fn fhe_bytes_down_per_ct(n: u64, opts: &RunOptions) -> u64 {
    let bits = opts.cheetah_moduli_bits.first().copied().unwrap_or(0) as u64;
    let level = opts.cheetah_moduli_bits.len().saturating_sub(1) as u64;
    fhe_ciphertext_bytes(n, &[bits], false, level)
}

/// Server-to-client bytes: the counter's ideal (truncated) size against fhe.rs.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BytesDown {
    /// `count_layer(..).bytes_down`: OpenCheetah's wire size (`truncate_for_decryption` low bits
    /// zeroed, `removeUnusedCoeffs` words zeroed, SEAL 3.7 `save()` with zstd; an expected size).
    pub ideal: u64,
    /// `out_ct * fhe_bytes_down_per_ct`: the fhe.rs size model of the same ciphertexts.
    pub fhe_model: u64,
    /// What the run serialized.
    pub observed: u64,
    /// `observed / ideal`: the overhead of an untruncated library.
    pub ratio: f64,
}

/// The counter's server-to-client wire size for `layer` against the real fhe.rs serialized size of
/// `run` (fhe.rs cannot drop low bits or zero unused words, so `ratio > 1`).
pub fn predicted_bytes_down_ideal(
    layer: &Layer,
    cfg: &CountConfig,
    opts: &RunOptions,
    run: &LayerRun,
) -> Result<BytesDown> {
    let lc = crate::packing::count_layer(layer, cfg).map_err(|e| BackendError(e.to_string()))?;
    let ideal = lc.counts.bytes_down;
    let observed = run.observed.bytes_down;
    Ok(BytesDown {
        ideal,
        fhe_model: lc.counts.ct_down * fhe_bytes_down_per_ct(cfg.ring_degree, opts),
        observed,
        ratio: observed as f64 / ideal.max(1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(
            (varint_len(127), varint_len(128), varint_len(16384)),
            (1, 2, 3)
        );
    }
}
