//! The two-party harness every plan shares: the client's input drawn and secret-shared mod t, the
//! party state per ring degree (the evaluator and SCI_HE's setup-time zero ciphertext), the server's
//! random masks (`HE_preprocess_noise` in `SCI/src/LinearHE/conv-field.cpp`), the client's
//! encryption and the final switch, decryption and decoding of the results, the online clock, and
//! the reconstruction check (both output shares add up to the plaintext integer layer mod t).

use super::super::{HeParams, Instrumented, LayerRun, OpTimes, RotKind, batching_prime};
use super::{Result, RunOptions, fail};
use crate::cost::OpCounts;
use crate::packing::CountConfig;
use fhe::bfv::{Ciphertext, Plaintext};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::time::Instant;

/// Seed offset of the server's mask stream (independent of the data stream seeded by `opts.seed`).
const MASK_STREAM: u64 = 0x5eed_5eed_5eed_5eed;

/// The data stream of a layer: inputs, weights and the server's input share.
pub fn data_rng(opts: &RunOptions) -> StdRng {
    StdRng::seed_from_u64(opts.seed)
}

/// The server's mask stream of a layer.
pub fn mask_rng(opts: &RunOptions) -> StdRng {
    StdRng::seed_from_u64(opts.seed ^ MASK_STREAM)
}

/// The plaintext prime: a batching prime of `opts.simd_plain_bits` bits for ring degrees up to `n`.
pub fn plain_prime(opts: &RunOptions, n: u64) -> Result<u64> {
    batching_prime(opts.simd_plain_bits, n).ok_or_else(|| {
        fail(format!(
            "no {}-bit batching prime for N = {n}",
            opts.simd_plain_bits
        ))
    })
}

/// `len` random input values in `[-m, m]`.
pub fn draw_input(rng: &mut StdRng, len: usize, m: i64) -> Vec<i64> {
    (0..len).map(|_| small(rng, m)).collect()
}

/// Secret-shares `x` mod t: the server's share `x_s` drawn uniformly, the client's `x - x_s`.
/// Returns `(x_s, x_c)`.
pub fn share(rng: &mut StdRng, x: &[i64], t: u64) -> (Vec<u64>, Vec<u64>) {
    let xs: Vec<u64> = (0..x.len()).map(|_| rng.random_range(0..t)).collect();
    let xc: Vec<u64> = x
        .iter()
        .zip(&xs)
        .map(|(&v, &s)| submod(modt(v, t), s, t))
        .collect();
    (xs, xc)
}

/// One of the server's random masks: `n` slots, uniform mod t.
pub fn draw_mask(rng: &mut StdRng, n: u64, t: u64) -> Vec<u64> {
    (0..n).map(|_| rng.random_range(0..t)).collect()
}

/// Whether the client's and the server's output shares add up to `expected` mod t.
pub fn reconstructs(client: &[u64], server: &[u64], expected: &[u64], t: u64) -> bool {
    client
        .iter()
        .zip(server)
        .zip(expected)
        .all(|((&a, &b), &e)| addmod(a, b, t) == e)
}

/// What a layer run observed, from its party pairs (one per ring degree).
pub fn layer_run(
    parties: &[Party],
    wall_ns: u64,
    correct: bool,
    budgets: &[u32],
    n: u64,
) -> LayerRun {
    let mut observed = OpCounts::default();
    let mut times = OpTimes::default();
    for p in parties {
        observed += p.he.counts;
        sum_times(&mut times, &p.he.times);
    }
    LayerRun {
        observed,
        times,
        wall_ns,
        correct,
        noise_budget_bits: budgets.iter().copied().min(),
        n,
    }
}

/// A random value in `[-m, m]`.
pub fn small(rng: &mut StdRng, m: i64) -> i64 {
    rng.random_range(-m..=m)
}

/// A random non-zero value in `[-m, m]` (`m >= 1`).
pub fn small_nonzero(rng: &mut StdRng, m: i64) -> i64 {
    let v = rng.random_range(1..=m.max(1));
    if rng.random_bool(0.5) { v } else { -v }
}

pub fn modt(v: i64, t: u64) -> u64 {
    v.rem_euclid(t as i64) as u64
}

pub fn mulmod(a: u64, b: u64, t: u64) -> u64 {
    ((a as u128 * b as u128) % t as u128) as u64
}

pub fn submod(a: u64, b: u64, t: u64) -> u64 {
    if a >= b { a - b } else { a + t - b }
}

pub fn addmod(a: u64, b: u64, t: u64) -> u64 {
    let s = a + b;
    if s >= t { s - t } else { s }
}

/// The online-phase stopwatch of the executors (the `wall_ns` of [`super::run_layer`] and
/// [`crate::backend::coeff::run_layer`]): started when the client starts encoding its input,
/// stopped after its last decoding, paused around what the online phase excludes (serialization
/// for the byte counts, noise measurement, masks encoded late).
#[derive(Debug, Default)]
pub(crate) struct OnlineClock {
    elapsed_ns: u64,
    since: Option<Instant>,
}

impl OnlineClock {
    pub(crate) fn start(&mut self) {
        if self.since.is_none() {
            self.since = Some(Instant::now());
        }
    }

    pub(crate) fn stop(&mut self) {
        if let Some(s) = self.since.take() {
            self.elapsed_ns += s.elapsed().as_nanos() as u64;
        }
    }

    /// Runs `f` with the clock stopped (resumed after, if it was running).
    pub(crate) fn paused<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let running = self.since.is_some();
        self.stop();
        let out = f();
        if running {
            self.start();
        }
        out
    }

    /// Nanoseconds counted so far.
    pub(crate) fn ns(&self) -> u64 {
        self.elapsed_ns + self.since.map_or(0, |s| s.elapsed().as_nanos() as u64)
    }
}

/// `acc += ct`, one counted add. An empty accumulator becomes `ct + zero`: SCI_HE starts every
/// accumulator at its zero ciphertext and adds into it; adding the zero to the first term instead
/// is the same counted add on the same values, without copying the zero.
pub fn accumulate(
    he: &mut Instrumented,
    acc: &mut Option<Ciphertext>,
    ct: Ciphertext,
    zero: &Ciphertext,
) {
    match acc {
        Some(a) => he.add_assign(a, &ct),
        None => {
            let mut ct = ct;
            he.add_assign(&mut ct, zero);
            *acc = Some(ct);
        }
    }
}

/// The accumulators of a plan's results, an empty one being the zero ciphertext `zero` (SCI_HE's
/// accumulators start at it).
pub fn or_zero(acc: Vec<Option<Ciphertext>>, zero: &Ciphertext) -> Vec<Ciphertext> {
    acc.into_iter()
        .map(|r| r.unwrap_or_else(|| zero.clone()))
        .collect()
}

/// One party-pair state per ring degree: the evaluator and SCI_HE's setup-time zero ciphertext.
pub struct Party {
    pub he: Instrumented,
    pub zero: Ciphertext,
}

impl Party {
    pub fn new(n: u64, t: u64, cfg: &CountConfig, opts: &RunOptions) -> Result<Party> {
        let params = HeParams {
            n: n as usize,
            moduli_bits: opts.simd_moduli_bits.clone(),
            plain_modulus: t,
            insecure: opts.insecure,
        };
        let seed = opts.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut he = Instrumented::new(&params, cfg.key_policy, seed)?;
        let zero = he.encrypt(&he.encode_simd(&vec![0; n as usize], 0)?)?;
        he.reset();
        Ok(Party { he, zero })
    }

    /// Generates the Galois keys of `steps` (level, signed step; step `None` is the row swap) by
    /// rotating the zero ciphertext, then resets counters and timers (setup, not counted).
    pub fn warm_up(&mut self, steps: &BTreeSet<(usize, Option<i64>)>) -> Result<()> {
        let mut at_level = vec![self.zero.clone()];
        for &(level, step) in steps {
            while at_level.len() <= level {
                let mut z = at_level.last().unwrap().clone();
                self.he.mod_switch(&mut z)?;
                at_level.push(z);
            }
            let z = &at_level[level];
            match step {
                Some(s) => {
                    self.he.rotate(z, s, RotKind::Internal)?;
                }
                None => {
                    self.he.swap_rows(z, RotKind::External)?;
                }
            }
        }
        self.he.reset();
        Ok(())
    }

    /// The zero ciphertext one level down (SCI_HE's `zero_next_level`; one counted switch).
    pub fn zero_next_level(&mut self) -> Result<Ciphertext> {
        let mut z = self.zero.clone();
        self.he.mod_switch(&mut z)?;
        Ok(z)
    }

    /// Whether a rotation by `step` is the identity (a copy in SEAL and in
    /// [`Instrumented::rotate`], not counted: the executors use the ciphertext itself).
    pub fn is_identity(&self, step: i64) -> bool {
        step.rem_euclid(self.he.degree() as i64 / 2) == 0
    }

    /// `ct` rotated by `step`, borrowing `ct` itself for the identity.
    pub fn rotate_cow<'a>(
        &mut self,
        ct: &'a Ciphertext,
        step: i64,
        kind: RotKind,
    ) -> Result<Cow<'a, Ciphertext>> {
        Ok(if self.is_identity(step) {
            Cow::Borrowed(ct)
        } else {
            Cow::Owned(self.he.rotate(ct, step, kind)?)
        })
    }

    /// `ct` rotated by `step`, consuming it (returned as is for the identity).
    pub fn rotate_owned(&mut self, ct: Ciphertext, step: i64, kind: RotKind) -> Result<Ciphertext> {
        if self.is_identity(step) {
            Ok(ct)
        } else {
            self.he.rotate(&ct, step, kind)
        }
    }

    /// Encodes a mask vector, `None` if it is all zero (SCI_HE skips those products).
    pub fn encode_mask(&self, mask: &[u64]) -> Result<Option<Plaintext>> {
        if mask.iter().any(|&v| v != 0) {
            Ok(Some(self.he.encode_simd(mask, 0)?))
        } else {
            Ok(None)
        }
    }

    /// Encrypts the server's pre-encoded mask and switches it down once (`HE_preprocess_noise`).
    pub fn mask_ct(&mut self, noise: &Plaintext, switch: bool) -> Result<Ciphertext> {
        let mut ct = self.he.encrypt(noise)?;
        if switch {
            self.he.mod_switch(&mut ct)?;
        }
        Ok(ct)
    }

    /// Multiplies `src` by the encoded mask (none: all zero, skipped) and adds the product into
    /// `acc` (see [`accumulate`]).
    pub fn mac(
        &mut self,
        acc: &mut Option<Ciphertext>,
        src: &Ciphertext,
        mask: Option<&Plaintext>,
    ) {
        if let Some(pt) = mask {
            let prod = self.he.mul_plain(src, pt);
            accumulate(&mut self.he, acc, prod, &self.zero);
        }
    }

    /// The client's encoding and encryption of its packed share vectors, sent up (serialized with
    /// the clock paused).
    pub fn encrypt_input(
        &mut self,
        packed: &[Vec<u64>],
        clock: &mut OnlineClock,
    ) -> Result<Vec<Ciphertext>> {
        let mut cts = Vec::with_capacity(packed.len());
        for v in packed {
            let pt = self.he.encode_simd(v, 0)?;
            cts.push(self.he.encrypt(&pt)?);
        }
        clock.paused(|| self.he.send_up(cts))
    }

    /// `acc += src * mask` for every ciphertext of `srcs` (the rotations of one input ciphertext),
    /// the masks taken in order from `masks` (see [`Party::mac`]).
    pub fn mac_each(
        &mut self,
        acc: &mut Option<Ciphertext>,
        srcs: &[Cow<'_, Ciphertext>],
        masks: &mut std::slice::Iter<'_, Option<Plaintext>>,
    ) {
        for src in srcs {
            let mask = masks.next().expect("one mask per product");
            self.mac(acc, src, mask.as_ref());
        }
    }

    /// A sum of products switched down once; an empty one is the zero ciphertext (SCI_HE's
    /// accumulator, never added to).
    pub fn switched(&mut self, acc: Option<Ciphertext>) -> Result<Ciphertext> {
        let mut acc = acc.unwrap_or_else(|| self.zero.clone());
        self.he.mod_switch(&mut acc)?;
        Ok(acc)
    }

    /// Final modulus switch, noise budgets, transfer, decryption and decoding of the results.
    pub fn finish(
        &mut self,
        mut results: Vec<Ciphertext>,
        budgets: &mut Vec<u32>,
        clock: &mut OnlineClock,
    ) -> Result<Vec<Vec<u64>>> {
        for ct in results.iter_mut() {
            self.he.mod_switch(ct)?;
        }
        let results = clock.paused(|| -> Result<Vec<Ciphertext>> {
            for ct in &results {
                budgets.push(
                    self.he
                        .noise_budget(ct)
                        .ok_or_else(|| fail("could not measure the noise of a result"))?,
                );
            }
            self.he.send_down(results)
        })?;
        let mut out = Vec::with_capacity(results.len());
        for ct in &results {
            let pt = self.he.decrypt(ct)?;
            out.push(Instrumented::decode_simd(&pt)?);
        }
        Ok(out)
    }
}

fn sum_times(a: &mut OpTimes, b: &OpTimes) {
    a.key_switch_ns += b.key_switch_ns;
    a.scmult_ns += b.scmult_ns;
    a.add_ns += b.add_ns;
    a.mod_switch_ns += b.mod_switch_ns;
    a.enc_ns += b.enc_ns;
    a.dec_ns += b.dec_ns;
}
