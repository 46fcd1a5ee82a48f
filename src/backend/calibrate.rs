//! `stria calibrate`: micro-benchmarks of the `fhe` operations the executors use, turned into a
//! [`CostProfile`] the pricer reads (one entry per ring degree and prime count, microseconds per
//! operation; entries not measured are scaled with [`ProfileEntry::scaled_to`]).
//!
//! Every primitive is timed through the same [`Instrumented`] methods (and so the same fhe.rs
//! calls and timers) the executors use:
//!
//! | profile field | call |
//! |---|---|
//! | `key_switch_us` | [`Instrumented::rotate`] by step 1 (a power-of-two key: one key switch) at the fresh level |
//! | `scmult_us` | [`Instrumented::mul_plain`]: `&ct * &pt`, point-wise in NTT form, including the copy of the ciphertext |
//! | `add_us` | [`Instrumented::add_assign`]: `ct += ct` |
//! | `mod_switch_us` | [`Instrumented::mod_switch`]: one `switch_down` from the fresh level (absent at one prime) |
//! | `enc_us` | [`Instrumented::encrypt`]: secret-key (seeded) encryption at the fresh level |
//! | `dec_us` | [`Instrumented::decrypt`] of a fresh-level ciphertext |
//! | `ntt_us` | one forward NTT of a polynomial over all fresh-level primes (fhe-math `change_representation`) |
//!
//! Timing: `passes` passes over all parameter sets; in each pass every set runs `warmup` untimed
//! rounds and then `repetitions` timed rounds, a round calling every operation once (interleaved,
//! so a slow phase of the machine hits all operations alike, and a slow pass does not move the
//! result). The entry records the **median** of the `passes * repetitions` timed calls. One
//! thread throughout.
//!
//! Parameter sets (the `(n, primes)` the pricer asks for, [`crate::cost::price::primes_for`]):
//!
//! - CrypTFlow2 SIMD: 3 primes of 60 bits (`RunOptions::default().simd_moduli_bits`), a 37-bit
//!   batching plaintext prime, N = 8192, 16384, 32768 and 65536 by default (the whole default
//!   run takes seconds with fhe.rs). A degree in `derive_ring_degrees` that is not measured is
//!   derived from the nearest measured SIMD degree with [`ProfileEntry::scaled_to`];
//! - Gazelle / GALA: N = 2048, one 54-bit prime (the most the HE standard allows at N = 2048),
//!   a 20-bit batching plaintext prime;
//! - Cheetah: N = 4096, primes {60, 49} (`RunOptions::default().cheetah_moduli_bits`), poly
//!   encoding, plaintext modulus 2^37.

use super::RunOptions;
use super::instrumented::{BackendError, HeParams, Instrumented, RotKind, batching_prime};
use crate::cost::price::{CostProfile, ProfileEntry, ScMultForm};
use crate::he::KeyPolicy;
use fhe::bfv::{Ciphertext, Plaintext};
use fhe_math::rq::{Poly, Representation};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What to calibrate and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalibrateOptions {
    /// Profile name.
    pub name: String,
    /// Ring degrees of the CrypTFlow2 SIMD entries (measured at `simd_moduli_bits`).
    pub ring_degrees: Vec<usize>,
    /// SIMD ring degrees (at the SIMD prime count) to add as derived entries when not measured:
    /// scaled from the nearest measured SIMD degree with [`ProfileEntry::scaled_to`].
    pub derive_ring_degrees: Vec<usize>,
    /// Passes over all parameter sets; each entry records the median over every pass's timed
    /// calls, so a slow phase of the machine during one pass does not move it.
    pub passes: usize,
    /// Timed rounds per pass (a round calls every operation once, interleaved).
    pub repetitions: usize,
    /// Untimed rounds per pass before the timed ones.
    pub warmup: usize,
    /// Accept parameter sets below 128-bit security (tests on tiny rings).
    pub insecure: bool,
    /// Seed of keys, messages and polynomials.
    pub seed: u64,
    /// Ciphertext prime sizes of the SIMD entries (fresh level).
    pub simd_moduli_bits: Vec<usize>,
    /// Bits of the SIMD batching plaintext prime.
    pub simd_plain_bits: u32,
    /// Ring degree of the Gazelle/GALA entry (`None`: skip).
    pub gazelle_ring_degree: Option<usize>,
    /// Ciphertext prime sizes of the Gazelle/GALA entry.
    pub gazelle_moduli_bits: Vec<usize>,
    /// Bits of the Gazelle/GALA batching plaintext prime.
    pub gazelle_plain_bits: u32,
    /// Ring degree of the Cheetah entry (`None`: skip).
    pub cheetah_ring_degree: Option<usize>,
    /// Ciphertext prime sizes of the Cheetah entry.
    pub cheetah_moduli_bits: Vec<usize>,
    /// Cheetah's plaintext modulus is `2^cheetah_plain_bits` (poly encoding).
    pub cheetah_plain_bits: u32,
}

impl Default for CalibrateOptions {
    fn default() -> Self {
        let run = RunOptions::default();
        CalibrateOptions {
            name: "measured".to_string(),
            ring_degrees: vec![8192, 16384, 32768, 65536],
            derive_ring_degrees: vec![65536],
            passes: 5,
            repetitions: 15,
            warmup: 2,
            insecure: false,
            seed: 1,
            simd_moduli_bits: run.simd_moduli_bits,
            simd_plain_bits: run.simd_plain_bits,
            gazelle_ring_degree: Some(2048),
            gazelle_moduli_bits: vec![54],
            gazelle_plain_bits: 20,
            cheetah_ring_degree: Some(4096),
            cheetah_moduli_bits: run.cheetah_moduli_bits,
            cheetah_plain_bits: 37,
        }
    }
}

/// Median of `samples` (mean of the two middle values for an even count); `None` when empty or
/// when a sample is NaN.
pub fn median(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() || samples.iter().any(|x| x.is_nan()) {
        return None;
    }
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// Which plaintext encoding a parameter set uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Enc {
    Simd,
    Poly,
}

/// One parameter set to measure.
struct Set {
    label: &'static str,
    n: usize,
    moduli_bits: Vec<usize>,
    plain_modulus: u64,
    encoding: Enc,
}

/// The operations timed per parameter set, in the order of one interleaved round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    KeySwitch,
    ScMult,
    Add,
    AddPlain,
    ModSwitch,
    Encrypt,
    Decrypt,
    Ntt,
}

const OPS: [Op; 8] = [
    Op::KeySwitch,
    Op::ScMult,
    Op::Add,
    Op::AddPlain,
    Op::ModSwitch,
    Op::Encrypt,
    Op::Decrypt,
    Op::Ntt,
];

/// The evaluator, operands and collected samples (microseconds) of one parameter set; it lives
/// across passes so that keys are made once.
struct Bench<'a> {
    set: &'a Set,
    he: Instrumented,
    pt_a: Plaintext,
    pt_b: Plaintext,
    ct_a: Ciphertext,
    ct_b: Ciphertext,
    acc: Ciphertext,
    poly: Poly,
    samples: Vec<Vec<f64>>,
}

impl<'a> Bench<'a> {
    fn new(set: &'a Set, opts: &CalibrateOptions) -> Result<Bench<'a>, BackendError> {
        let params = HeParams {
            n: set.n,
            moduli_bits: set.moduli_bits.clone(),
            plain_modulus: set.plain_modulus,
            insecure: opts.insecure,
        };
        let mut he = Instrumented::new(&params, KeyPolicy::Pow2, opts.seed)?;
        let mut rng = StdRng::seed_from_u64(opts.seed ^ 0x5eed_ca1b);
        let t = set.plain_modulus;
        let mut encode = |he: &Instrumented| -> Result<Plaintext, BackendError> {
            let v: Vec<u64> = (0..set.n).map(|_| rng.random_range(0..t)).collect();
            match set.encoding {
                Enc::Simd => he.encode_simd(&v, 0),
                Enc::Poly => he.encode_poly(&v, 0),
            }
        };
        let pt_a = encode(&he)?;
        let pt_b = encode(&he)?;
        let ct_a = he.encrypt(&pt_a)?;
        let ct_b = he.encrypt(&pt_b)?;
        let ctx = he.par.context_at_level(0)?.clone();
        let poly = Poly::random(&ctx, Representation::PowerBasis, &mut rng);
        Ok(Bench {
            set,
            acc: ct_a.clone(),
            he,
            pt_a,
            pt_b,
            ct_a,
            ct_b,
            poly,
            samples: vec![Vec::new(); OPS.len()],
        })
    }

    fn primes(&self) -> usize {
        self.set.moduli_bits.len()
    }

    /// Runs `op` once through the instrumented evaluator; the nanoseconds its timer recorded.
    fn time(&mut self, op: Op) -> Result<Option<u64>, BackendError> {
        let he = &mut self.he;
        let ns = match op {
            Op::KeySwitch => {
                let (before, ks) = (he.times.key_switch_ns, he.counts.key_switch);
                let out = he.rotate(&self.ct_a, 1, RotKind::Internal)?;
                std::hint::black_box(&out);
                if he.counts.key_switch != ks + 1 {
                    return Err(BackendError(
                        "calibrate: a rotation by 1 did not cost exactly one key switch".into(),
                    ));
                }
                he.times.key_switch_ns - before
            }
            Op::ScMult => {
                let before = he.times.scmult_ns;
                let out = he.mul_plain(&self.ct_a, &self.pt_b);
                std::hint::black_box(&out);
                he.times.scmult_ns - before
            }
            Op::Add => {
                let before = he.times.add_ns;
                he.add_assign(&mut self.acc, &self.ct_b);
                std::hint::black_box(&self.acc);
                he.times.add_ns - before
            }
            Op::AddPlain => {
                let before = he.times.add_ns;
                he.add_plain_assign(&mut self.acc, &self.pt_b);
                std::hint::black_box(&self.acc);
                he.times.add_ns - before
            }
            Op::ModSwitch => {
                if self.set.moduli_bits.len() < 2 {
                    return Ok(None);
                }
                let mut c = self.ct_a.clone();
                let before = he.times.mod_switch_ns;
                he.mod_switch(&mut c)?;
                std::hint::black_box(&c);
                he.times.mod_switch_ns - before
            }
            Op::Encrypt => {
                let before = he.times.enc_ns;
                let c = he.encrypt(&self.pt_a)?;
                std::hint::black_box(&c);
                he.times.enc_ns - before
            }
            Op::Decrypt => {
                let before = he.times.dec_ns;
                let p = he.decrypt(&self.ct_a)?;
                std::hint::black_box(&p);
                he.times.dec_ns - before
            }
            Op::Ntt => {
                let mut p = self.poly.clone();
                let start = Instant::now();
                p.change_representation(Representation::Ntt);
                let ns = start.elapsed().as_nanos() as u64;
                std::hint::black_box(&p);
                ns
            }
        };
        Ok(Some(ns))
    }

    /// One pass: `warmup` untimed rounds, then `reps` timed rounds; each round runs every
    /// operation once (interleaved, so a slow phase of the machine hits all of them alike).
    fn pass(&mut self, warmup: usize, reps: usize) -> Result<(), BackendError> {
        for round in 0..warmup + reps {
            for (i, op) in OPS.into_iter().enumerate() {
                if let Some(ns) = self.time(op)?
                    && round >= warmup
                {
                    self.samples[i].push(ns as f64 / 1e3);
                }
            }
        }
        Ok(())
    }

    fn median_of(&self, op: Op) -> Option<f64> {
        let i = OPS.iter().position(|o| *o == op).expect("op listed");
        median(&self.samples[i]).map(round_us)
    }

    fn tag(&self) -> String {
        format!(
            "{} N = {}, {} prime(s) of {:?} bits",
            self.set.label,
            self.set.n,
            self.primes(),
            self.set.moduli_bits
        )
    }

    /// The profile entry: medians over every pass's timed calls.
    fn entry(&self, opts: &CalibrateOptions) -> Result<ProfileEntry, BackendError> {
        let set = self.set;
        let primes = self.primes();
        let need = |op: Op| {
            self.median_of(op).ok_or_else(|| {
                BackendError(format!(
                    "calibrate: no timed calls of {op:?} at {}",
                    self.tag()
                ))
            })
        };
        let (w, r, p) = (opts.warmup, opts.repetitions, opts.passes);
        let t = set.plain_modulus;
        let bits = set
            .moduli_bits
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let plain = match set.encoding {
            Enc::Simd => format!("SIMD encoding, batching plaintext prime t = {t}"),
            Enc::Poly => format!(
                "poly (coefficient) encoding, plaintext modulus t = 2^{}",
                t.trailing_zeros()
            ),
        };
        let ms = if primes > 1 {
            format!(
                "mod switch = one switch_down ({primes} -> {} primes); ",
                primes - 1
            )
        } else {
            "no mod switch (one prime cannot be switched down); ".to_string()
        };
        let source = format!(
            "measured by stria calibrate ({}): {} with {}, N = {}, {primes} ciphertext prime(s) of \
             {{{bits}}} bits, {plain}; one thread; median of {} timed calls ({p} passes of {w} \
             warm-up and {r} timed rounds, operations interleaved). key switch = one rotate by step \
             1 (power-of-two key, one key switch) at the fresh level; ScMult = ct * pt point-wise \
             in NTT form, including the ciphertext copy; add = ct += ct; add_plain = ct += pt; {ms}enc = secret-key \
             (seeded) encryption; dec = decryption of a fresh-level ciphertext; ntt = one forward \
             NTT of a polynomial over the same {primes} prime(s)",
            set.label,
            fhe_version(),
            lock_version("tfhe-ntt").unwrap_or_else(|| "tfhe-ntt".into()),
            set.n,
            p * r,
        );
        Ok(ProfileEntry {
            n: set.n as u64,
            primes: primes as u32,
            source,
            scmult_form: ScMultForm::Ntt,
            key_switch_us: need(Op::KeySwitch)?,
            scmult_us: need(Op::ScMult)?,
            add_us: need(Op::Add)?,
            add_plain_us: Some(need(Op::AddPlain)?),
            mod_switch_us: if primes > 1 {
                Some(need(Op::ModSwitch)?)
            } else {
                None
            },
            enc_us: need(Op::Encrypt)?,
            dec_us: need(Op::Decrypt)?,
            ntt_us: Some(need(Op::Ntt)?),
            encode_us: None,
            save_us: None,
            load_us: None,
        })
    }
}

/// Rounds to 0.01 us (the timer is not finer than that anyway) so the file stays readable.
fn round_us(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn summary(e: &ProfileEntry) -> String {
    format!(
        "key switch {:.1} us, ScMult {:.1} us, add {:.1} us, mod switch {}, enc {:.1} us, dec {:.1} us, NTT {:.1} us",
        e.key_switch_us,
        e.scmult_us,
        e.add_us,
        e.mod_switch_us
            .map(|v| format!("{v:.1} us"))
            .unwrap_or_else(|| "-".into()),
        e.enc_us,
        e.dec_us,
        e.ntt_us.unwrap_or(0.0)
    )
}

/// `"fhe <version>"` of the `fhe` crate this binary was built with (from Cargo.lock), else
/// `"fhe 0.1.1"`.
pub fn fhe_version() -> String {
    lock_version("fhe").unwrap_or_else(|| "fhe 0.1.1".to_string())
}

/// `"<name> <version>"` of a package in the crate's Cargo.lock, read at build time.
fn lock_version(name: &str) -> Option<String> {
    const LOCK: &str = include_str!("../../Cargo.lock");
    let header = format!("name = \"{name}\"");
    let mut lines = LOCK.lines();
    while let Some(l) = lines.next() {
        if l.trim() == header {
            let v = lines.next()?.trim().strip_prefix("version = \"")?;
            return Some(format!("{name} {}", v.trim_end_matches('"')));
        }
    }
    None
}

/// CPU model, logical core count and the vector extensions the NTT can use, from /proc/cpuinfo.
pub fn machine_description() -> String {
    let cores = std::thread::available_parallelism()
        .map(|c| c.get())
        .unwrap_or(1);
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        info.lines()
            .find(|l| l.split(':').next().map(str::trim) == Some(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let model = field("model name").unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let flags = field("flags").unwrap_or_default();
    let have: Vec<&str> = ["avx2", "avx512f", "avx512ifma"]
        .into_iter()
        .filter(|f| flags.split_whitespace().any(|x| x == *f))
        .collect();
    let feat = if have.is_empty() {
        String::new()
    } else {
        format!("; {}", have.join(", "))
    };
    let logical = info.lines().filter(|l| l.starts_with("processor")).count();
    let cores_txt = if logical > 0 && logical != cores {
        format!("{cores} usable of {logical} logical cores")
    } else {
        format!("{cores} logical cores")
    };
    format!("{model} ({cores_txt}{feat})")
}

/// Today's date (UTC) from the system clock, `YYYY-MM-DD`.
pub fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Micro-benchmarks every primitive the pricer needs at every `(n, primes)` of `opts` and returns
/// the cost profile (medians, microseconds, one thread). `progress` receives one line per step.
///
/// Errors: no repetitions, a parameter set below 128-bit security without `insecure`, or an fhe.rs
/// failure.
pub fn calibrate(
    opts: &CalibrateOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<CostProfile, BackendError> {
    if opts.repetitions == 0 || opts.passes == 0 {
        return Err(BackendError(
            "calibrate: repetitions and passes must be at least 1".into(),
        ));
    }
    let mut sets = Vec::new();
    if let Some(n) = opts.gazelle_ring_degree {
        let t = batching_prime(opts.gazelle_plain_bits, n as u64).ok_or_else(|| {
            BackendError(format!(
                "calibrate: no {}-bit batching prime for N = {n}",
                opts.gazelle_plain_bits
            ))
        })?;
        sets.push(Set {
            label: "Gazelle/GALA",
            n,
            moduli_bits: opts.gazelle_moduli_bits.clone(),
            plain_modulus: t,
            encoding: Enc::Simd,
        });
    }
    if let Some(n) = opts.cheetah_ring_degree {
        if opts.cheetah_plain_bits == 0 || opts.cheetah_plain_bits >= 62 {
            return Err(BackendError(format!(
                "calibrate: Cheetah plaintext bits must be in 1..62, got {}",
                opts.cheetah_plain_bits
            )));
        }
        sets.push(Set {
            label: "Cheetah",
            n,
            moduli_bits: opts.cheetah_moduli_bits.clone(),
            plain_modulus: 1u64 << opts.cheetah_plain_bits,
            encoding: Enc::Poly,
        });
    }
    for &n in &opts.ring_degrees {
        let t = batching_prime(opts.simd_plain_bits, n as u64).ok_or_else(|| {
            BackendError(format!(
                "calibrate: no {}-bit batching prime for N = {n}",
                opts.simd_plain_bits
            ))
        })?;
        sets.push(Set {
            label: "CrypTFlow2 SIMD",
            n,
            moduli_bits: opts.simd_moduli_bits.clone(),
            plain_modulus: t,
            encoding: Enc::Simd,
        });
    }
    // The lower levels the protocols run at (SCI_HE rotates partial sums at 2 primes and decrypts
    // at 1; Cheetah decrypts at its first prime): measured on the first k primes of each set.
    let lower: Vec<Set> = sets
        .iter()
        .filter(|s| s.moduli_bits.len() > 1)
        .flat_map(|s| {
            (1..s.moduli_bits.len()).map(move |k| Set {
                label: s.label,
                n: s.n,
                moduli_bits: s.moduli_bits[..k].to_vec(),
                plain_modulus: s.plain_modulus,
                encoding: s.encoding,
            })
        })
        .collect();
    sets.extend(lower);
    // One set per (n, primes): the first listed wins.
    let mut seen = Vec::new();
    sets.retain(|s| {
        let key = (s.n, s.moduli_bits.len());
        let fresh = !seen.contains(&key);
        seen.push(key);
        fresh
    });
    // Refuse insecure sets before spending time on the others.
    for s in &sets {
        let log_q: usize = s.moduli_bits.iter().sum();
        if let Some(w) = crate::he::security_warning(s.n as u64, log_q as u32)
            && !opts.insecure
        {
            return Err(BackendError(format!(
                "refusing to calibrate {}: {w}. Pass --insecure to run anyway (for tests and small experiments only)",
                s.label
            )));
        }
    }

    let start = Instant::now();
    let mut benches: Vec<Bench> = Vec::with_capacity(sets.len());
    for s in &sets {
        progress(&format!(
            "{} N = {}, {} prime(s): making keys and operands",
            s.label,
            s.n,
            s.moduli_bits.len()
        ));
        benches.push(Bench::new(s, opts)?);
    }
    for pass in 1..=opts.passes {
        for b in benches.iter_mut() {
            progress(&format!("pass {pass}/{}: {}", opts.passes, b.tag()));
            b.pass(opts.warmup, opts.repetitions)?;
        }
    }
    let mut entries: Vec<ProfileEntry> = Vec::with_capacity(benches.len());
    for b in &benches {
        let e = b.entry(opts)?;
        progress(&format!("{}: {}", b.tag(), summary(&e)));
        entries.push(e);
    }
    drop(benches);

    let simd_primes = opts.simd_moduli_bits.len() as u32;
    for &n in &opts.derive_ring_degrees {
        let n = n as u64;
        if entries.iter().any(|e| e.n == n && e.primes == simd_primes) {
            continue;
        }
        let base = entries
            .iter()
            .filter(|e| e.primes == simd_primes && !e.is_derived())
            .filter(|e| opts.ring_degrees.contains(&(e.n as usize)))
            .min_by_key(|e| {
                (
                    (e.n.trailing_zeros() as i64 - n.trailing_zeros() as i64).abs(),
                    e.n,
                )
            })
            .cloned();
        if let Some(b) = base {
            let mut d = b.scaled_to(n);
            for v in [
                &mut d.key_switch_us,
                &mut d.scmult_us,
                &mut d.add_us,
                &mut d.enc_us,
                &mut d.dec_us,
            ] {
                *v = round_us(*v);
            }
            d.mod_switch_us = d.mod_switch_us.map(round_us);
            d.ntt_us = d.ntt_us.map(round_us);
            d.add_plain_us = d.add_plain_us.map(round_us);
            progress(&format!(
                "N = {n}, {simd_primes} primes: not measured, derived from N = {}",
                b.n
            ));
            entries.push(d);
        }
    }
    entries.sort_by_key(|e| (e.primes, e.n));

    let elapsed = start.elapsed().as_secs_f64();
    let profile = CostProfile {
        name: opts.name.clone(),
        machine: machine_description(),
        library: format!(
            "{} (BFV, RNS, features = [\"tfhe-ntt\"], {}), {}",
            fhe_version(),
            lock_version("tfhe-ntt").unwrap_or_else(|| "tfhe-ntt".into()),
            lock_version("fhe-math").unwrap_or_else(|| "fhe-math".into()),
        ),
        threads: 1,
        date: today(),
        note: format!(
            "Measured by `stria calibrate` on the machine named in `machine`, one thread, build \
             profile: {}. Operations ran through the instrumented evaluator the executors use \
             (same fhe.rs calls, same timers) in {} passes over all parameter sets; each pass ran {} \
             untimed warm-up rounds and then {} timed rounds, a round calling every operation once \
             (interleaved). Every time is the MEDIAN of the {} timed calls, in microseconds per \
             operation, rounded to 0.01 us. ScMult is fhe.rs's \
             point-wise ct * pt on NTT-form operands (scmult_form \"ntt\", including the ciphertext \
             copy), unlike SEAL's coefficient-form multiply_plain that SCI_HE calls; key switching \
             uses fhe.rs's one RNS digit per prime and no special prime (two digits at one prime). \
             Entries whose source starts with 'derived' were not measured but scaled from a measured \
             entry by the operations' cost shapes (a*N*L for additions and NTT-form products, \
             a*N*log2(N)*L*(L+1) for key switches, a*N*log2(N)*L for the rest). Whole \
             calibration took {:.1} s.",
            if cfg!(debug_assertions) {
                "debug (dependencies optimised)"
            } else {
                "release"
            },
            opts.passes,
            opts.warmup,
            opts.repetitions,
            opts.passes * opts.repetitions,
            elapsed
        ),
        entries,
        file: String::new(),
    };
    Ok(profile)
}

/// The profile as pretty JSON text (with a final newline), as `parse_profile` reads it.
pub fn profile_json(profile: &CostProfile) -> String {
    let mut s = serde_json::to_string_pretty(profile).expect("a cost profile serializes");
    s.push('\n');
    s
}

/// Writes `profile` to `path` through [`crate::io::write_output`] (atomically for a regular file).
pub fn write_profile(profile: &CostProfile, path: &Path) -> std::io::Result<()> {
    crate::io::write_output(path, profile_json(profile).as_bytes())
}
