//! Real HE backend on the `fhe` crate (BFV): the layer algorithms the counters describe, executed on
//! real ciphertexts through an instrumented evaluator, with decryption checked against plaintext
//! integer arithmetic.
//!
//! `instrumented`: the counting, timing evaluator and the two-party state. Executors, one per
//! packing and one file per plan: `simd/` (CrypTFlow2 SCI_HE) and `coeff/` (Cheetah), each with a
//! `run_layer` returning a [`LayerRun`]; `validate` runs them against the counters, `calibrate`
//! times the operations.

pub mod calibrate;
pub mod coeff;
pub mod instrumented;
pub mod simd;
pub mod validate;

pub use instrumented::{BackendError, HeParams, Instrumented, OpTimes, RotKind, batching_prime};

use crate::cost::OpCounts;
use crate::net::Conv;

/// Keeps ciphertext-sized buffers (hundreds of KiB) on the heap instead of fresh `mmap`s.
///
/// glibc serves allocations above its mmap threshold (128 KiB at start) with new mappings whose
/// pages fault on first touch and are unmapped on free; every ciphertext copy then pays page faults
/// that a steady-state server does not (measured: products inside a layer ran about 2x the
/// calibrated cost). Raising the thresholds once per process makes a layer cost the sum of its
/// operations. Calibration and validation both call this, so they measure the same allocator.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before any worker threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}
use serde::Serialize;

/// Integer weights `[o][ig][dy][dx]` of a convolution with `co` outputs and `g_in` inputs per
/// group: `draw()` at every tap of `c` (in that order), zero elsewhere.
pub(crate) fn conv_weights(
    co: usize,
    g_in: usize,
    c: &Conv,
    mut draw: impl FnMut() -> i64,
) -> Vec<i64> {
    let (kh, kw) = (c.kh as usize, c.kw as usize);
    let mut w = vec![0i64; co * g_in * kh * kw];
    for o in 0..co {
        for ig in 0..g_in {
            for &(dy, dx) in &c.taps {
                w[((o * g_in + ig) * kh + dy as usize) * kw + dx as usize] = draw();
            }
        }
    }
    w
}

/// Options of a real-HE run of one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOptions {
    /// Seed of every random choice (inputs, weights, shares, masks, keys); printed by callers.
    pub seed: u64,
    /// Accept parameters below 128-bit security.
    pub insecure: bool,
    /// Largest absolute value of random inputs and weights (small, so the integer result is
    /// exact below the plaintext modulus).
    pub max_value: u64,
    /// Bits of the SIMD plaintext prime (a batching prime `= 1 mod 2N` is chosen).
    pub simd_plain_bits: u32,
    /// Ciphertext prime sizes for SIMD runs (fresh level; the counter's 3 data primes).
    pub simd_moduli_bits: Vec<usize>,
    /// Ciphertext prime sizes for Cheetah runs (default {60, 49}).
    pub cheetah_moduli_bits: Vec<usize>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: 1,
            insecure: false,
            max_value: 7,
            simd_plain_bits: 37,
            simd_moduli_bits: vec![60, 60, 60],
            cheetah_moduli_bits: vec![60, 49],
        }
    }
}

/// What a real-HE run of one layer observed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerRun {
    /// Operations the instrumented evaluator performed (bytes: real serialized sizes).
    pub observed: OpCounts,
    /// Time per operation kind.
    pub times: OpTimes,
    /// Wall time of the server's layer computation plus the client's encryption and decryption.
    pub wall_ns: u64,
    /// Decrypted (and reconstructed) output equals the plaintext integer computation mod t.
    pub correct: bool,
    /// Smallest remaining noise budget over the returned ciphertexts, in bits.
    pub noise_budget_bits: Option<u32>,
    /// Ring degree(s) used (the first sub-convolution's for strided layers).
    pub n: u64,
}
