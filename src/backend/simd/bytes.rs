//! Byte accounting of the executors: the exact sizes fhe.rs serializes (its protobuf wire format,
//! `fhe_traits::Serialize::to_bytes`), the online traffic a layer's SCI_HE plan sends in that
//! format, and the memory of the encoded weight masks.

use super::conv::{conv_jobs, job_returned};
use super::fc::fc_geometry;
use super::{Result, RunOptions};
use crate::net::{Layer, Op};
use crate::packing::CountConfig;
use serde::Serialize;

/// Bytes of a protobuf varint.
fn varint_len(mut v: u64) -> u64 {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Serialized size of one fhe.rs polynomial (`fhe_math` protobuf `Rq`) of degree `n` over primes of
/// the given bit widths: `representation` (2 B), `degree` (1 + varint), the bit-packed coefficients
/// (`ceil(n*b/8)` bytes per prime, 1 + varint length prefix) and `allow_variable_time = true`
/// (2 B; every ciphertext polynomial of an encryption carries the flag and sums keep it).
fn fhe_poly_bytes(n: u64, prime_bits: &[usize]) -> u64 {
    let coeffs: u64 = prime_bits.iter().map(|&b| (n * b as u64).div_ceil(8)).sum();
    2 + (1 + varint_len(n)) + (1 + varint_len(coeffs) + coeffs) + 2
}

/// Exact serialized size (`fhe_traits::Serialize::to_bytes`) of one fhe.rs BFV ciphertext of two
/// polynomials at ring degree `n` and `level` (the last `level` primes of `prime_bits` dropped).
/// `seeded`: a fresh secret-key encryption, which carries a 32-byte seed (field: 34 B) instead of
/// c1.
///
/// With `C = sum over carried primes of ceil(n*b/8)` (the bit-packed coefficients) and `v(x)` the
/// protobuf varint length of x, one polynomial is `P = C + 6 + v(n) + v(C)` bytes and one
/// ciphertext field `1 + v(P) + P`; the level field is 0 B at level 0, else `1 + v(level)`:
///
/// - full: `2*(C + 7 + v(n) + v(C) + v(P)) + level field`, i.e. `2C + 30` at level 0 for
///   `128 <= n < 16384` and `2^14 <= C < 2^21` (`2C + 32` from `n = 16384`; smaller `C` saves a
///   few bytes), plus 2 B below level 0;
/// - seeded (level 0 only): `C + 7 + v(n) + v(C) + v(P) + 34`, i.e. `C + 49` in the same range
///   (`C + 50` from `n = 16384`).
///
/// Pinned against `to_bytes` in tests/backend_simd.rs; with fhe 0.1.1 at N = 4096 and primes of
/// 36, 36 and 37 bits a seeded fresh ciphertext serializes to 55,857 B and a full one to 111,646 B
/// (`C = 55,808`).
pub fn fhe_ct_bytes(n: u64, prime_bits: &[usize], level: usize, seeded: bool) -> u64 {
    let carried = &prime_bits[..prime_bits.len().saturating_sub(level)];
    let poly = fhe_poly_bytes(n, carried);
    let field = 1 + varint_len(poly) + poly;
    let level_field = if level == 0 {
        0
    } else {
        1 + varint_len(level as u64)
    };
    if seeded {
        field + 2 + 32 + level_field
    } else {
        2 * field + level_field
    }
}

/// Online traffic of a layer's SCI_HE plan in fhe.rs's wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FheBytes {
    /// Client -> server: the input ciphertexts, fresh and seeded, at all primes.
    pub up: u64,
    /// Server -> client: the results, after two modulus switches (level 2).
    pub down: u64,
}

/// The bytes [`super::run_layer`] will serialize for `layer`, from the plan's ciphertext counts and
/// [`fhe_ct_bytes`] (exact, given fhe.rs primes of exactly the requested bit sizes).
pub fn predicted_fhe_bytes(
    layer: &Layer,
    cfg: &CountConfig,
    opts: &RunOptions,
) -> Result<FheBytes> {
    let bits = &opts.simd_moduli_bits;
    let per = |n: u64, up: u64, down: u64| FheBytes {
        up: up * fhe_ct_bytes(n, bits, 0, true),
        down: down * fhe_ct_bytes(n, bits, 2, false),
    };
    match &layer.op {
        Op::Conv(c) => {
            let jobs = conv_jobs(layer.input, layer.output.c, c, cfg.ring_degree)?;
            let (ci, co, groups) = (layer.input.c as u64, layer.output.c as u64, c.groups as u64);
            Ok(jobs.iter().fold(FheBytes::default(), |acc, j| {
                let b = per(j.layout.n, j.layout.inp_ct, job_returned(j, ci, co, groups));
                FheBytes {
                    up: acc.up + b.up,
                    down: acc.down + b.down,
                }
            }))
        }
        Op::Fc => {
            let (n, ..) = fc_geometry(layer.input.c as u64, layer.output.c as u64, cfg)?;
            Ok(per(n, 1, 1))
        }
        Op::BatchNorm { folded: false } => {
            let n = cfg.ring_degree;
            let ct = layer.input.elems().div_ceil(n);
            Ok(per(n, ct, ct))
        }
        _ => Ok(FheBytes::default()),
    }
}

/// Plaintext bytes (value and NTT form at all `primes`) of one encoded SIMD plaintext.
pub fn pt_bytes(n: u64, primes: usize) -> u64 {
    n * 8 * (1 + primes as u64)
}
