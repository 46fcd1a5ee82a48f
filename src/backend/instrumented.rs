//! The instrumented BFV evaluator: every rotation (with its step and key switches), product,
//! addition, modulus switch, encryption, decryption and serialized byte goes through here, is
//! counted in an [`OpCounts`] and timed.
//!
//! fhe.rs facts this relies on (fhe 0.1.1: `src/bfv/keys/evaluation_key.rs`, `ciphertext.rs`;
//! tlepoint/fhe.rs `crates/fhe/src/bfv/`): `rotates_columns_by(ct, i)` shifts each row
//! left by `i` (`1 <= i < N/2`) with one Galois key per step; `rotates_rows` swaps the rows;
//! keys are leveled (a ciphertext must be at its key's level); serialization bit-packs
//! coefficients and a fresh secret-key encryption carries a seed instead of c1. SEAL's
//! power-of-two key set is emulated by composing one rotation per NAF digit, exactly as SEAL's
//! `Evaluator::rotate_internal` does (a digit of magnitude N/2 is skipped).

use crate::cost::OpCounts;
use crate::he::{KeyPolicy, rotation_steps};
use fhe::bfv::{
    BfvParameters, BfvParametersBuilder, Ciphertext, Encoding, EvaluationKey, EvaluationKeyBuilder,
    Plaintext, SecretKey,
};
use fhe_traits::{FheDecoder, FheDecrypter, FheEncoder, FheEncrypter, Serialize};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// An error of the HE backend (parameters refused, an fhe.rs failure, a wrong result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError(pub String);

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BackendError {}

impl From<fhe::Error> for BackendError {
    fn from(e: fhe::Error) -> Self {
        BackendError(format!("fhe: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, BackendError>;

/// BFV parameters of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeParams {
    /// Ring degree N.
    pub n: usize,
    /// Bit sizes of the ciphertext primes (fhe.rs generates primes `= 1 mod 2N`).
    pub moduli_bits: Vec<usize>,
    /// Plaintext modulus: a prime `= 1 mod 2N` for SIMD, any value (e.g. 2^l) for coefficients.
    pub plain_modulus: u64,
    /// Accept parameters below 128-bit security (tests on tiny rings).
    pub insecure: bool,
}

impl HeParams {
    /// Total modulus bits.
    pub fn log_q(&self) -> u32 {
        self.moduli_bits.iter().sum::<usize>() as u32
    }

    /// Builds fhe.rs parameters, refusing sets below 128-bit security (HE standard table,
    /// `he::max_secure_log_q`) unless `insecure`.
    pub fn build(&self) -> Result<Arc<BfvParameters>> {
        if let Some(w) = crate::he::security_warning(self.n as u64, self.log_q())
            && !self.insecure
        {
            return Err(BackendError(format!(
                "refusing to run: {w}. Pass --insecure to run anyway (for tests and small experiments only)"
            )));
        }
        Ok(BfvParametersBuilder::new()
            .set_degree(self.n)
            .set_plaintext_modulus(self.plain_modulus)
            .set_moduli_sizes(&self.moduli_bits)
            .build_arc()?)
    }
}

/// Smallest prime `p = 1 mod 2n` with exactly `bits` bits (a batching-friendly plaintext modulus).
pub fn batching_prime(bits: u32, n: u64) -> Option<u64> {
    let m = 2 * n;
    let lo = 1u64 << (bits - 1);
    let mut p = lo.div_ceil(m) * m + 1;
    while p < (1u64 << bits) {
        if is_prime(p) {
            return Some(p);
        }
        p += m;
    }
    None
}

/// Deterministic Miller-Rabin primality test for 64-bit integers.
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    for p in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        if n.is_multiple_of(p) {
            return n == p;
        }
    }
    let (mut d, mut s) = (n - 1, 0);
    while d.is_multiple_of(2) {
        d /= 2;
        s += 1;
    }
    let mul = |a: u64, b: u64| ((a as u128 * b as u128) % n as u128) as u64;
    let pow = |mut b: u64, mut e: u64| {
        let mut r = 1u64;
        while e > 0 {
            if e & 1 == 1 {
                r = mul(r, b);
            }
            b = mul(b, b);
            e >>= 1;
        }
        r
    };
    'witness: for a in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        let mut x = pow(a, d);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = mul(x, x);
            if x == n - 1 {
                continue 'witness;
            }
        }
        return false;
    }
    true
}

/// Nanoseconds spent per operation kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OpTimes {
    pub key_switch_ns: u64,
    pub scmult_ns: u64,
    pub add_ns: u64,
    pub mod_switch_ns: u64,
    pub enc_ns: u64,
    pub dec_ns: u64,
}

impl OpTimes {
    pub fn total_ns(&self) -> u64 {
        self.key_switch_ns
            + self.scmult_ns
            + self.add_ns
            + self.mod_switch_ns
            + self.enc_ns
            + self.dec_ns
    }
}

/// Which counter a rotation feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotKind {
    /// Rotation of an input ciphertext (kernel-window alignment).
    Internal,
    /// Rotation of a partial sum (cross-channel alignment).
    External,
}

/// Client and server of one two-party run in one process: the client owns the secret key and
/// makes the Galois keys (setup, not timed); the server evaluates through the counted methods.
pub struct Instrumented {
    pub par: Arc<BfvParameters>,
    sk: SecretKey,
    policy: KeyPolicy,
    rng: StdRng,
    /// Galois keys per (level, left step in 1..N/2); step 0 stands for the row swap.
    keys: HashMap<(usize, usize), EvaluationKey>,
    pub counts: OpCounts,
    pub times: OpTimes,
    /// Rotations performed, with their signed step and key switches (for inspection in tests).
    pub rotation_log: Vec<(RotKind, i64, u64)>,
}

impl Instrumented {
    /// Creates both parties' state; `seed` makes every random choice reproducible.
    pub fn new(params: &HeParams, policy: KeyPolicy, seed: u64) -> Result<Instrumented> {
        let par = params.build()?;
        let mut rng = StdRng::seed_from_u64(seed);
        let sk = SecretKey::random(&par, &mut rng);
        Ok(Instrumented {
            par,
            sk,
            policy,
            rng,
            keys: HashMap::new(),
            counts: OpCounts::default(),
            times: OpTimes::default(),
            rotation_log: Vec::new(),
        })
    }

    pub fn degree(&self) -> usize {
        self.par.degree()
    }

    pub fn plain_modulus(&self) -> u64 {
        self.par.plaintext()
    }

    /// Resets counters and timers (keys stay).
    pub fn reset(&mut self) {
        self.counts = OpCounts::default();
        self.times = OpTimes::default();
        self.rotation_log.clear();
    }

    /// Encodes (server or client side; not counted: SEAL encodes too, and stria prices encoding
    /// into the products' plaintext preparation, done once per layer).
    pub fn encode(&self, values: &[u64], encoding: Encoding) -> Result<Plaintext> {
        Ok(Plaintext::try_encode(values, encoding, &self.par)?)
    }

    pub fn encode_simd(&self, values: &[u64], level: usize) -> Result<Plaintext> {
        self.encode(values, Encoding::simd_at_level(level))
    }

    pub fn encode_poly(&self, values: &[u64], level: usize) -> Result<Plaintext> {
        self.encode(values, Encoding::poly_at_level(level))
    }

    /// Client: secret-key encryption (seeded: c1 travels as a seed). Counted as `enc`.
    pub fn encrypt(&mut self, pt: &Plaintext) -> Result<Ciphertext> {
        let t = Instant::now();
        let ct = self.sk.try_encrypt(pt, &mut self.rng)?;
        self.times.enc_ns += t.elapsed().as_nanos() as u64;
        self.counts.enc += 1;
        Ok(ct)
    }

    /// Client: decryption. Counted as `dec`.
    pub fn decrypt(&mut self, ct: &Ciphertext) -> Result<Plaintext> {
        let t = Instant::now();
        let pt = self.sk.try_decrypt(ct)?;
        self.times.dec_ns += t.elapsed().as_nanos() as u64;
        self.counts.dec += 1;
        Ok(pt)
    }

    pub fn decode_simd(pt: &Plaintext) -> Result<Vec<u64>> {
        Ok(Vec::<u64>::try_decode(pt, Encoding::simd())?)
    }

    pub fn decode_poly(pt: &Plaintext) -> Result<Vec<u64>> {
        Ok(Vec::<u64>::try_decode(pt, Encoding::poly())?)
    }

    /// Client -> server: serializes the ciphertexts (counted: `ct_up`, `bytes_up`) and returns
    /// what the server deserializes.
    pub fn send_up(&mut self, cts: Vec<Ciphertext>) -> Result<Vec<Ciphertext>> {
        for ct in &cts {
            self.counts.bytes_up += ct.to_bytes().len() as u64;
            self.counts.ct_up += 1;
        }
        Ok(cts)
    }

    /// Server -> client (counted: `ct_down`, `bytes_down`).
    pub fn send_down(&mut self, cts: Vec<Ciphertext>) -> Result<Vec<Ciphertext>> {
        for ct in &cts {
            self.counts.bytes_down += ct.to_bytes().len() as u64;
            self.counts.ct_down += 1;
        }
        Ok(cts)
    }

    /// `a * pt` (counted: `scmult`).
    pub fn mul_plain(&mut self, a: &Ciphertext, pt: &Plaintext) -> Ciphertext {
        let t = Instant::now();
        let r = a * pt;
        self.times.scmult_ns += t.elapsed().as_nanos() as u64;
        self.counts.scmult += 1;
        r
    }

    /// `acc += b` (counted: `add`).
    pub fn add_assign(&mut self, acc: &mut Ciphertext, b: &Ciphertext) {
        let t = Instant::now();
        *acc += b;
        self.times.add_ns += t.elapsed().as_nanos() as u64;
        self.counts.add += 1;
    }

    /// `acc += pt` (counted: `add`).
    pub fn add_plain_assign(&mut self, acc: &mut Ciphertext, pt: &Plaintext) {
        let t = Instant::now();
        *acc += pt;
        self.times.add_ns += t.elapsed().as_nanos() as u64;
        self.counts.add += 1;
    }

    /// Drops the last prime (counted: `mod_switch`).
    pub fn mod_switch(&mut self, ct: &mut Ciphertext) -> Result<()> {
        let t = Instant::now();
        ct.switch_down()?;
        self.times.mod_switch_ns += t.elapsed().as_nanos() as u64;
        self.counts.mod_switch += 1;
        Ok(())
    }

    /// The Galois key for a left row rotation by `step` (0: the row swap) at `level`, made on first
    /// use (setup, not timed).
    fn key(&mut self, level: usize, step: usize) -> Result<&EvaluationKey> {
        if !self.keys.contains_key(&(level, step)) {
            let mut b = EvaluationKeyBuilder::new_leveled(&self.sk, level, level)?;
            if step == 0 {
                b.enable_row_rotation()?;
            } else {
                b.enable_column_rotation(step)?;
            }
            let k = b.build(&mut self.rng)?;
            self.keys.insert((level, step), k);
        }
        Ok(&self.keys[&(level, step)])
    }

    /// One key switch: left rotation of both rows by `left` (1..N/2), or the row swap for 0.
    fn key_switch(&mut self, ct: &Ciphertext, left: usize) -> Result<Ciphertext> {
        let level = self.level(ct)?;
        let key = self.key(level, left)?;
        let t = Instant::now();
        let r = if left == 0 {
            key.rotates_rows(ct)?
        } else {
            key.rotates_columns_by(ct, left)?
        };
        self.times.key_switch_ns += t.elapsed().as_nanos() as u64;
        self.counts.key_switch += 1;
        Ok(r)
    }

    /// Rotates both rows by the signed `step` (positive: left, SEAL's `rotate_rows` convention).
    /// A zero step is a copy (not counted). Per-step keys: one key switch; power-of-two keys: the
    /// chain of key-switched rotations of the pinned SEAL version ([`rotation_steps`]: SEAL 3.3.2's
    /// binary decomposition for `pow2`, SEAL 3.7's NAF for `pow2-naf`).
    pub fn rotate(&mut self, ct: &Ciphertext, step: i64, kind: RotKind) -> Result<Ciphertext> {
        let half = (self.degree() / 2) as i64;
        let left = |s: i64| s.rem_euclid(half) as usize;
        if left(step) == 0 {
            return Ok(ct.clone());
        }
        let before = self.counts.key_switch;
        let out = match self.policy {
            KeyPolicy::PerStep => self.key_switch(ct, left(step))?,
            KeyPolicy::Pow2 | KeyPolicy::Pow2Naf => {
                let mut cur: Option<Ciphertext> = None;
                for d in rotation_steps(step, self.degree() as u64, self.policy) {
                    let src = cur.as_ref().unwrap_or(ct);
                    cur = Some(self.key_switch(src, left(d))?);
                }
                cur.unwrap_or_else(|| ct.clone())
            }
        };
        self.count_rotation(kind, step, self.counts.key_switch - before);
        Ok(out)
    }

    /// Swaps the two rows (one key switch under either policy).
    pub fn swap_rows(&mut self, ct: &Ciphertext, kind: RotKind) -> Result<Ciphertext> {
        let out = self.key_switch(ct, 0)?;
        self.count_rotation(kind, 0, 1);
        Ok(out)
    }

    fn count_rotation(&mut self, kind: RotKind, step: i64, ks: u64) {
        match kind {
            RotKind::Internal => self.counts.internal_rot += 1,
            RotKind::External => self.counts.external_rot += 1,
        }
        self.rotation_log.push((kind, step, ks));
    }

    /// The level of `ct` (0 = all primes).
    pub fn level(&self, ct: &Ciphertext) -> Result<usize> {
        Ok(self.par.level_of_context(ct[0].ctx())?)
    }

    /// Remaining noise budget of `ct` in bits (test and report use only).
    pub fn noise_budget(&self, ct: &Ciphertext) -> Option<u32> {
        // SAFETY: measure_noise only reads the secret key to decrypt; it is the documented test hook.
        let noise = unsafe { self.sk.measure_noise(ct) }.ok()?;
        let level = self.level(ct).ok()?;
        let q_bits: usize = self.par.moduli_sizes()[..self.par.moduli().len() - level]
            .iter()
            .sum();
        let t_bits = 64 - self.par.plaintext().leading_zeros() as usize;
        Some(q_bits.saturating_sub(t_bits + 1).saturating_sub(noise) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::he::rotation_key_switches;

    fn small(policy: KeyPolicy) -> Instrumented {
        let n = 64u64;
        let t = batching_prime(20, n).unwrap();
        let p = HeParams {
            n: n as usize,
            moduli_bits: vec![50, 50, 50],
            plain_modulus: t,
            insecure: true,
        };
        Instrumented::new(&p, policy, 7).unwrap()
    }

    #[test]
    fn batching_primes() {
        let p = batching_prime(37, 8192).unwrap();
        assert!(is_prime(p) && (p - 1).is_multiple_of(16384) && p >> 36 == 1);
        assert!(!is_prime(4293918721 * 3));
        assert!(is_prime(4293918721)); // SCI_HE's 32-bit prime
    }

    #[test]
    fn refuses_insecure_parameters() {
        let p = HeParams {
            n: 1024,
            moduli_bits: vec![50, 50],
            plain_modulus: 12289,
            insecure: false,
        };
        let e = p.build().unwrap_err();
        assert!(e.0.contains("128-bit") && e.0.contains("--insecure"), "{e}");
    }

    #[test]
    fn rotations_match_seal_semantics_and_counts() {
        for policy in [KeyPolicy::PerStep, KeyPolicy::Pow2, KeyPolicy::Pow2Naf] {
            let mut he = small(policy);
            let n = he.degree();
            let half = n / 2;
            let v: Vec<u64> = (0..n as u64).collect();
            let ct = he.encrypt(&he.encode_simd(&v, 0).unwrap()).unwrap();
            for step in [1i64, 3, -5, 7, 11, -(half as i64 - 1), 0, 17, -29] {
                he.reset();
                let r = he.rotate(&ct, step, RotKind::Internal).unwrap();
                let out = Instrumented::decode_simd(&he.decrypt(&r).unwrap()).unwrap();
                // Row-wise left rotation by `step` (SEAL rotate_rows), each row separately.
                for row in 0..2 {
                    for j in 0..half {
                        let src = (j as i64 + step).rem_euclid(half as i64) as usize;
                        assert_eq!(out[row * half + j], v[row * half + src], "step {step}");
                    }
                }
                assert_eq!(
                    he.counts.key_switch,
                    rotation_key_switches(step, n as u64, policy),
                    "step {step}"
                );
                assert_eq!(he.counts.internal_rot, (step != 0) as u64);
            }
            he.reset();
            let s = he.swap_rows(&ct, RotKind::External).unwrap();
            let out = Instrumented::decode_simd(&he.decrypt(&s).unwrap()).unwrap();
            assert_eq!(out[0], v[half]);
            assert_eq!((he.counts.external_rot, he.counts.key_switch), (1, 1));
        }
    }
}
