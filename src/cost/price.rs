//! Pricing: per-layer latency from exact operation counts, a per-op cost profile and a network link
//! (README "How each number is computed", Latency).
//!
//! Model (derived here: the project's latency model), per layer, sequential with no overlap of
//! compute and transfer:
//!
//! ```text
//! compute_ms = (key_switch*key_switch_us + scmult*scmult_us + add*add_us
//!               + mod_switch*mod_switch_us + enc*enc_us + dec*dec_us) / 1000
//! comm_ms    = (bytes_up + bytes_down + extra_bytes) * 8 / (bandwidth_mbit_s * 10^6) * 1000
//!              + rounds * rtt_ms
//! latency_ms = compute_ms + comm_ms
//! ```
//!
//! Rotations are priced through `key_switch` only (the counters already turned every rotation
//! into key switches under the key policy), so `internal_rot`/`external_rot` are not priced again;
//! `ct_up`/`ct_down` are priced through their bytes. Hoisting has no column in [`OpCounts`] and is
//! not priced.
//!
//! Units: bandwidth in Mbit/s = 10^6 bit/s. The link presets quote papers that give "MBps"; stria
//! reads **MB = 10^6 bytes**, so 377 MB/s = 3016 Mbit/s (the papers do not say whether
//! their MB is 10^6 or 2^20 bytes).

use crate::cost::{LevelMix, OpCounts};
use crate::error::SpecError;
use crate::he::Protocol;
use serde::{Deserialize, Serialize};
use std::ops::{Add, AddAssign};
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------------------------

/// A network link between client and server.
///
/// `bandwidth_mbit_s` is in Mbit/s = 10^6 bit/s (shared by both directions; transfers do not
/// overlap); `rtt_ms` is one round trip. Papers that quote "MBps" are converted with
/// MB = 10^6 bytes (377 MB/s = 3016 Mbit/s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub name: String,
    /// Bandwidth in 10^6 bit/s.
    pub bandwidth_mbit_s: f64,
    /// Round-trip time in milliseconds.
    pub rtt_ms: f64,
    /// Where the numbers come from.
    pub source: String,
}

/// Allowed link bandwidths in Mbit/s: 1 kbit/s to 1 Pbit/s.
pub const BANDWIDTH_RANGE: (f64, f64) = (1e-3, 1e9);
/// Allowed round-trip times in milliseconds: 0 to 10^7 (about 2.8 hours).
pub const RTT_RANGE: (f64, f64) = (0.0, 1e7);
/// Largest time of one operation in a cost profile, in microseconds (1000 s).
pub const MAX_OP_US: f64 = 1e9;
/// Largest ring degree of a profile entry.
pub const MAX_PROFILE_N: u64 = 1 << 20;
/// Most ciphertext primes of a profile entry.
pub const MAX_PROFILE_PRIMES: u32 = 64;

/// Names of the built-in link presets (each also shipped as `configs/links/<name>.json`).
pub const LINK_PRESETS: [&str; 6] = [
    "lan",
    "wan",
    "cf2-lan",
    "cf2-wan",
    "cheetah-lan",
    "cheetah-wan",
];

impl Link {
    /// A built-in preset (origins in the table), identical to `configs/links/<name>.json`:
    ///
    /// | name | Mbit/s | RTT ms | origin |
    /// |---|---|---|---|
    /// | `lan` | 3000 | 0.3 | OpenCheetah scripts/throttle.sh |
    /// | `wan` | 400 | 40 | same script |
    /// | `cf2-lan` | 3016 (377 MB/s) | 0.3 | CrypTFlow2 Sec. 7 |
    /// | `cf2-wan` | 320 (40 MB/s) | 80 | CrypTFlow2 Sec. 7 |
    /// | `cheetah-lan` | 3072 (384 MB/s) | 0.3 | Cheetah Sec. 6.1 |
    /// | `cheetah-wan` | 352 (44 MB/s) | 40 | Cheetah Sec. 6.1 |
    ///
    /// MB = 10^6 bytes throughout.
    pub fn preset(name: &str) -> Option<Link> {
        let (bw, rtt, source) = match name {
            "lan" => (
                3000.0,
                0.3,
                "OpenCheetah scripts/throttle.sh LAN setting: tbf rate 3000mbit, netem delay 0.15 ms on loopback (crossed twice per round trip, so RTT 0.3 ms)",
            ),
            "wan" => (
                400.0,
                40.0,
                "OpenCheetah scripts/throttle.sh WAN setting: tbf rate 400mbit, netem delay 20 ms on loopback (crossed twice per round trip, so RTT 40 ms)",
            ),
            "cf2-lan" => (
                3016.0,
                0.3,
                "CrypTFlow2 Sec. 7 LAN testbed: 377 MBps, 0.3 ms echo latency; stria reads MB = 10^6 bytes (the paper does not say), so 377 MB/s = 3016 Mbit/s",
            ),
            "cf2-wan" => (
                320.0,
                80.0,
                "CrypTFlow2 Sec. 7 WAN testbed (transatlantic): 40 MBps, 80 ms echo latency; stria reads MB = 10^6 bytes (the paper does not say), so 40 MB/s = 320 Mbit/s",
            ),
            "cheetah-lan" => (
                3072.0,
                0.3,
                "Cheetah Sec. 6.1 LAN: about 384 MBps, about 0.3 ms RTT; stria reads MB = 10^6 bytes for bandwidth (the paper defines 1 MB = 2^20 B only for traffic), so 384 MB/s = 3072 Mbit/s",
            ),
            "cheetah-wan" => (
                352.0,
                40.0,
                "Cheetah Sec. 6.1 WAN: about 44 MBps, about 40 ms RTT; stria reads MB = 10^6 bytes for bandwidth (the paper defines 1 MB = 2^20 B only for traffic), so 44 MB/s = 352 Mbit/s",
            ),
            _ => return None,
        };
        Some(Link {
            name: name.to_string(),
            bandwidth_mbit_s: bw,
            rtt_ms: rtt,
            source: source.to_string(),
        })
    }

    /// Converts a bandwidth quoted in megabytes per second (MB = 10^6 bytes) to Mbit/s.
    pub fn mbyte_s_to_mbit_s(mbyte_s: f64) -> f64 {
        mbyte_s * 8.0
    }

    /// Checks that the bandwidth lies in [`BANDWIDTH_RANGE`] and the RTT in [`RTT_RANGE`]
    /// (finite numbers; the bounds keep every price finite).
    pub fn validate(&self) -> Result<(), String> {
        let (lo, hi) = BANDWIDTH_RANGE;
        if !(self.bandwidth_mbit_s.is_finite() && (lo..=hi).contains(&self.bandwidth_mbit_s)) {
            return Err(format!(
                "field `bandwidth_mbit_s`: between {lo} and {hi} Mbit/s, got {}",
                crate::error::show_num(self.bandwidth_mbit_s)
            ));
        }
        let (lo, hi) = RTT_RANGE;
        if !(self.rtt_ms.is_finite() && (lo..=hi).contains(&self.rtt_ms)) {
            return Err(format!(
                "field `rtt_ms`: between {lo} and {hi} ms, got {}",
                crate::error::show_num(self.rtt_ms)
            ));
        }
        Ok(())
    }

    /// Milliseconds to move `bytes` over this link (no RTT).
    pub fn transfer_ms(&self, bytes: u64) -> f64 {
        bytes as f64 * 8.0 / (self.bandwidth_mbit_s * 1e3)
    }
}

/// Parses and validates a link file's text; errors name `file`.
pub fn parse_link(text: &str, file: &str) -> Result<Link, SpecError> {
    let link: Link = serde_json::from_str(text)
        .map_err(|e| SpecError::file(file, format!("invalid link file: {e}")))?;
    link.validate()
        .map_err(|m| SpecError::file(file, format!("invalid link: {m}")))?;
    Ok(link)
}

/// A link from a preset name (`lan`, `wan`, `cf2-lan`, `cf2-wan`, `cheetah-lan`, `cheetah-wan`)
/// or a path to a JSON link file. Errors name the file (or the argument) and what is wrong.
pub fn load_link(arg: &str) -> Result<Link, SpecError> {
    if let Some(l) = Link::preset(arg) {
        return Ok(l);
    }
    let text = crate::io::read_text_capped(Path::new(arg)).map_err(|e| {
        SpecError::file(
            arg,
            format!(
                "not a link preset ({}) and cannot be read as a link file: {e}",
                LINK_PRESETS.join(", ")
            ),
        )
    })?;
    parse_link(&text, arg)
}

// ---------------------------------------------------------------------------------------------
// Cost profiles
// ---------------------------------------------------------------------------------------------

/// Whether a profile's ScMult is point-wise on NTT-form operands or includes the NTTs
/// (derived here: measured on SEAL, they differ by about 8x). Decides how ScMult scales with N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScMultForm {
    /// Point-wise product of NTT-form operands: cost shape `N*L` (linear).
    Ntt,
    /// SEAL BFV `multiply_plain` on a coefficient-form ciphertext (NTTs inside): cost shape
    /// `N*log2(N)*L`.
    Coeff,
}

/// Per-operation times (microseconds, one operation, one thread) at one ring degree `n` and one
/// number of ciphertext primes `primes` carried by the operand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileEntry {
    /// Ring degree N (a power of two).
    pub n: u64,
    /// Number of ciphertext (data) primes L the operand carries.
    pub primes: u32,
    /// Where these numbers come from. Entries scaled from another entry start with `derived`.
    pub source: String,
    /// Which ScMult the time is for.
    pub scmult_form: ScMultForm,
    /// One key switch (a rotation by a step that has its own key).
    pub key_switch_us: f64,
    pub scmult_us: f64,
    pub add_us: f64,
    /// Absent where no figure exists (for example at one prime, which cannot be mod-switched);
    /// pricing a layer with mod switches against such an entry is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mod_switch_us: Option<f64>,
    /// Ciphertext + plaintext addition; `add_us` when absent (SEAL's add_plain costs about an
    /// add; fhe.rs converts the plaintext first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_plain_us: Option<f64>,
    pub enc_us: f64,
    pub dec_us: f64,
    /// One forward NTT of all primes (informational; not used by [`price_layer`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntt_us: Option<f64>,
    /// Encoding one plaintext (SIMD batch encoding, or the coefficient copy of Cheetah's
    /// polynomial encoding). Measured by the SEAL micro-benchmark; used by the frameworks' time
    /// model (`report::timing`), not by [`price_layer`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encode_us: Option<f64>,
    /// Serializing one fresh-level ciphertext the way the framework sends it (SEAL `save`, with
    /// the framework's compression). Same use as `encode_us`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_us: Option<f64>,
    /// Deserializing one such ciphertext (SEAL `load`). Same use as `encode_us`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_us: Option<f64>,
}

/// Cost shape of one linear op (Add, NTT-form ScMult) at fixed L: `N`.
fn linear_factor(from: u64, to: u64) -> f64 {
    to as f64 / from as f64
}

/// Cost shape of NTT-like ops (coefficient-form ScMult, ModSwitch, Enc, Dec, NTT) and of a key
/// switch at fixed L: `N*log2(N)`.
fn nlogn_factor(from: u64, to: u64) -> f64 {
    (to as f64 * (to as f64).log2()) / (from as f64 * (from as f64).log2())
}

impl ProfileEntry {
    /// True if the entry was scaled from another one rather than published or measured.
    pub fn is_derived(&self) -> bool {
        self.source.starts_with("derived")
    }

    /// This entry scaled to ring degree `n` at the same number of primes, by the cost shapes
    /// below (derived here; the key-switch shape follows CHET (Dathathri et al., PLDI 2019)
    /// Table 1; the `L` factors cancel at fixed L):
    ///
    /// - Add, and ScMult in NTT form: `a*N*L` -> times `n / self.n`;
    /// - key switch: `a*N*log2(N)*L*(L+1)` -> times `n*log2(n) / (self.n*log2(self.n))`;
    /// - ScMult in coefficient form, ModSwitch, Enc, Dec, NTT: `a*N*log2(N)*L` -> the same
    ///   `N*log2(N)` factor.
    ///
    /// The result's `source` starts with `derived`.
    pub fn scaled_to(&self, n: u64) -> ProfileEntry {
        let lin = linear_factor(self.n, n);
        let nln = nlogn_factor(self.n, n);
        let sc = match self.scmult_form {
            ScMultForm::Ntt => lin,
            ScMultForm::Coeff => nln,
        };
        ProfileEntry {
            n,
            primes: self.primes,
            source: format!(
                "derived from the (n = {}, primes = {}) entry by the cost shapes \
                 a*N*L (linear ops), a*N*log2(N)*L*(L+1) (key switch) and a*N*log2(N)*L \
                 (NTT-like ops): \
                 linear ops x {lin}, key switch and NTT-like ops x {nln}; base: {}",
                self.n, self.primes, self.source
            ),
            scmult_form: self.scmult_form,
            key_switch_us: self.key_switch_us * nln,
            scmult_us: self.scmult_us * sc,
            add_us: self.add_us * lin,
            mod_switch_us: self.mod_switch_us.map(|v| v * nln),
            add_plain_us: self.add_plain_us.map(|v| v * nln),
            enc_us: self.enc_us * nln,
            dec_us: self.dec_us * nln,
            ntt_us: self.ntt_us.map(|v| v * nln),
            encode_us: self.encode_us.map(|v| v * nln),
            save_us: self.save_us.map(|v| v * lin),
            load_us: self.load_us.map(|v| v * lin),
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.n < 2 || !self.n.is_power_of_two() || self.n > MAX_PROFILE_N {
            return Err(format!(
                "field `n`: a power of two between 2 and {MAX_PROFILE_N}, got {}",
                self.n
            ));
        }
        if self.primes == 0 || self.primes > MAX_PROFILE_PRIMES {
            return Err(format!(
                "field `primes`: between 1 and {MAX_PROFILE_PRIMES}, got {}",
                self.primes
            ));
        }
        let times = [
            ("key_switch_us", Some(self.key_switch_us)),
            ("scmult_us", Some(self.scmult_us)),
            ("add_us", Some(self.add_us)),
            ("mod_switch_us", self.mod_switch_us),
            ("add_plain_us", self.add_plain_us),
            ("enc_us", Some(self.enc_us)),
            ("dec_us", Some(self.dec_us)),
            ("ntt_us", self.ntt_us),
            ("encode_us", self.encode_us),
            ("save_us", self.save_us),
            ("load_us", self.load_us),
        ];
        for (field, v) in times {
            if let Some(v) = v
                && !(v.is_finite() && (0.0..=MAX_OP_US).contains(&v))
            {
                return Err(format!(
                    "field `{field}`: between 0 and {MAX_OP_US} microseconds, got {}",
                    crate::error::show_num(v)
                ));
            }
        }
        Ok(())
    }
}

/// A per-operation cost table (derived here: keyed by ring degree and primes, with the machine,
/// library and thread count it was taken on) with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostProfile {
    pub name: String,
    /// CPU model and features (or "mixed", with details per entry).
    pub machine: String,
    /// HE library and version.
    pub library: String,
    /// Thread count the times were taken with.
    pub threads: u32,
    pub date: String,
    pub note: String,
    pub entries: Vec<ProfileEntry>,
    /// The file the profile was loaded from (set by the loaders; named in lookup errors).
    #[serde(skip)]
    pub file: String,
}

/// Text of the shipped `configs/profiles/published-priors.json`.
const PUBLISHED_PRIORS: &str = include_str!("../../configs/profiles/published-priors.json");
const MEASURED: &str = include_str!("../../configs/profiles/measured.json");

impl CostProfile {
    /// The shipped `configs/profiles/published-priors.json`: priors built only from the published
    /// per-op figures (Gazelle Table 6, GALA Table I, SEAL and HEXL issue threads; see its `note`
    /// and each entry's `source`).
    pub fn published_priors() -> CostProfile {
        parse_profile(PUBLISHED_PRIORS, "configs/profiles/published-priors.json")
            .expect("the shipped published-priors profile is valid")
    }

    /// The shipped `configs/profiles/measured.json`: every primitive measured on the project's
    /// machine by `stria calibrate` (fhe.rs BFV, one thread, medians). The default profile.
    pub fn measured() -> CostProfile {
        parse_profile(MEASURED, "configs/profiles/measured.json")
            .expect("the shipped measured profile is valid")
    }

    /// The default profile: [`CostProfile::measured`].
    pub fn default_profile() -> CostProfile {
        CostProfile::measured()
    }

    /// The costs at ring degree `n` with `primes` ciphertext primes.
    ///
    /// Exact `(n, primes)` match first. Otherwise the nearest entry with the same `primes` (by
    /// `|log2(n) - log2(entry.n)|`, ties to the smaller ring degree) scaled to `n` by
    /// [`ProfileEntry::scaled_to`]. No scaling across prime counts: without an entry at `primes`
    /// the lookup fails with an error naming the profile file and the missing `(n, primes)`.
    pub fn entry(&self, n: u64, primes: u32) -> Result<ProfileEntry, SpecError> {
        if let Some(e) = self.entries.iter().find(|e| e.n == n && e.primes == primes) {
            return Ok(e.clone());
        }
        let missing = |why: &str| {
            SpecError::file(
                &self.file,
                format!(
                    "cost profile `{}` has no entry for (n = {n}, primes = {primes}) {why}",
                    self.name
                ),
            )
        };
        if n < 2 || !n.is_power_of_two() {
            return Err(missing("and n is not a power of two >= 2"));
        }
        let dist =
            |e: &ProfileEntry| (e.n.trailing_zeros() as i64 - n.trailing_zeros() as i64).abs();
        let nearest = self
            .entries
            .iter()
            .filter(|e| e.primes == primes)
            .min_by_key(|e| (dist(e), e.n));
        match nearest {
            Some(e) => Ok(e.scaled_to(n)),
            None => {
                let have: Vec<String> = self
                    .entries
                    .iter()
                    .map(|e| format!("({}, {})", e.n, e.primes))
                    .collect();
                Err(missing(&format!(
                    "and none with {primes} primes to derive it from (entries (n, primes): {})",
                    have.join(", ")
                )))
            }
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.entries.is_empty() {
            return Err(
                "`entries` is empty: a profile needs at least one (n, primes) entry".into(),
            );
        }
        if self.threads == 0 {
            return Err("threads must be at least 1".into());
        }
        for (i, e) in self.entries.iter().enumerate() {
            e.validate().map_err(|m| format!("entries[{i}]: {m}"))?;
            if let Some(j) = self.entries[..i]
                .iter()
                .position(|o| o.n == e.n && o.primes == e.primes)
            {
                return Err(format!(
                    "entries[{i}] repeats (n = {}, primes = {}) of entries[{j}]",
                    e.n, e.primes
                ));
            }
        }
        Ok(())
    }
}

/// Parses and validates a cost-profile file's text; errors name `file`.
pub fn parse_profile(text: &str, file: &str) -> Result<CostProfile, SpecError> {
    let mut p: CostProfile = serde_json::from_str(text)
        .map_err(|e| SpecError::file(file, format!("invalid cost profile: {e}")))?;
    p.validate()
        .map_err(|m| SpecError::file(file, format!("invalid cost profile: {m}")))?;
    p.file = file.to_string();
    Ok(p)
}

/// Loads and validates a cost profile (JSON). Errors name the file and what is wrong (not JSON,
/// unknown or missing field, no entries, negative or non-finite times, duplicate entries).
pub fn load_profile(path: impl AsRef<Path>) -> Result<CostProfile, SpecError> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let text = crate::io::read_text_capped(path)
        .map_err(|e| SpecError::file(&file, format!("cannot read cost profile: {e}")))?;
    parse_profile(&text, &file)
}

// ---------------------------------------------------------------------------------------------
// Pricing
// ---------------------------------------------------------------------------------------------

/// The number of ciphertext primes a protocol's HE operations are priced at:
///
/// - `Cryptflow2` -> 3: SCI_HE's `{60, 60, 60, 38}` with the last prime special, so fresh
///   ciphertexts (inputs, rotations of inputs, products) carry 3 primes. SCI_HE's external
///   rotations run at 2 and returned ciphertexts carry 1 (EzPC `conv-field.cpp`); pricing
///   everything at the fresh level overestimates those.
/// - `Cheetah` -> 2: OpenCheetah's `{60, 49}` with no special prime (it never key-switches).
/// - `GazelleInput`, `GazelleOutput`, `Gala` -> 1: Gazelle's single 60-bit modulus at n = 2048,
///   which GALA reuses.
pub fn primes_for(protocol: Protocol) -> u32 {
    match protocol {
        Protocol::Cryptflow2 => 3,
        Protocol::Cheetah => 2,
        Protocol::GazelleInput | Protocol::GazelleOutput | Protocol::Gala => 1,
    }
}

/// Time of one layer (or a sum of layers), in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Price {
    pub compute_ms: f64,
    pub comm_ms: f64,
    /// `compute_ms + comm_ms` (derived here: compute and transfer do not overlap).
    pub latency_ms: f64,
}

impl Add for Price {
    type Output = Price;
    fn add(self, o: Price) -> Price {
        Price {
            compute_ms: self.compute_ms + o.compute_ms,
            comm_ms: self.comm_ms + o.comm_ms,
            latency_ms: self.latency_ms + o.latency_ms,
        }
    }
}

impl AddAssign for Price {
    fn add_assign(&mut self, o: Price) {
        *self = *self + o;
    }
}

impl std::iter::Sum for Price {
    fn sum<I: Iterator<Item = Price>>(iter: I) -> Price {
        iter.fold(Price::default(), Add::add)
    }
}

/// Prices one layer (derived here: the model of the module documentation).
///
/// - `compute_ms = (key_switch*key_switch_us + scmult*scmult_us + add*add_us
///   + mod_switch*mod_switch_us + enc*enc_us + dec*dec_us) / 1000`, with the entry for
///   `(n, primes)` from [`CostProfile::entry`]; 0 when `n` is `None` (no HE work).
/// - `comm_ms = (bytes_up + bytes_down + extra_bytes) * 8 / (bandwidth_mbit_s * 10^6) * 1000
///   + rounds * rtt_ms`. `extra_bytes` is traffic the counts do not carry (e.g. non-linear
///   protocol bytes); `rounds` are round trips.
/// - `latency_ms = compute_ms + comm_ms`.
///
/// Errors: no usable profile entry, or mod switches counted against an entry without
/// `mod_switch_us` (both name the profile file).
pub fn price_layer(
    counts: &OpCounts,
    n: Option<u64>,
    primes: u32,
    extra_bytes: u64,
    rounds: u64,
    profile: &CostProfile,
    link: &Link,
) -> Result<Price, SpecError> {
    price_layer_mix(
        counts,
        &LevelMix::fresh(counts),
        n,
        primes,
        extra_bytes,
        rounds,
        profile,
        link,
    )
}

/// [`price_layer`] with each operation charged at the level where it runs: `mix` index `i` is
/// priced with the profile's entry for exactly `(n, primes - i)`; a profile with no such entry
/// prices it at the fresh level (the published priors list fresh levels only; `stria calibrate`
/// measures the lower ones).
#[allow(clippy::too_many_arguments)]
pub fn price_layer_mix(
    counts: &OpCounts,
    mix: &LevelMix,
    n: Option<u64>,
    primes: u32,
    extra_bytes: u64,
    rounds: u64,
    profile: &CostProfile,
    link: &Link,
) -> Result<Price, SpecError> {
    let mut compute_us = 0.0;
    if let Some(n) = n {
        let fresh = profile.entry(n, primes)?;
        for i in 0..3usize {
            let has_ops = [
                mix.key_switch,
                mix.scmult,
                mix.add,
                mix.add_plain,
                mix.mod_switch,
                mix.enc,
                mix.dec,
            ]
            .iter()
            .any(|a| a[i] > 0);
            if !has_ops {
                continue;
            }
            // Lower levels: only an entry listed at exactly that prime count; the nearest-entry
            // derivation would borrow another protocol's parameter set.
            let e = match (i, primes as usize > i) {
                (1.., true) => profile
                    .entries
                    .iter()
                    .find(|e| e.n == n && e.primes == primes - i as u32)
                    .cloned()
                    .unwrap_or_else(|| fresh.clone()),
                _ => fresh.clone(),
            };
            let mod_switch_us = match (mix.mod_switch[i], e.mod_switch_us.or(fresh.mod_switch_us)) {
                (0, _) => 0.0,
                (_, Some(v)) => v,
                (k, None) => {
                    return Err(SpecError::file(
                        &profile.file,
                        format!(
                            "cost profile `{}` has no mod_switch_us for (n = {n}, primes = {}) \
                             but the layer counts {k} mod switches",
                            profile.name,
                            primes as usize - i
                        ),
                    ));
                }
            };
            compute_us += mix.key_switch[i] as f64 * e.key_switch_us
                + mix.scmult[i] as f64 * e.scmult_us
                + mix.add[i] as f64 * e.add_us
                + mix.add_plain[i] as f64 * e.add_plain_us.unwrap_or(e.add_us)
                + mix.mod_switch[i] as f64 * mod_switch_us
                + mix.enc[i] as f64 * e.enc_us
                + mix.dec[i] as f64 * e.dec_us;
        }
    }
    // Summed in f64 so that no byte total can overflow.
    let bytes = counts.bytes_up as f64 + counts.bytes_down as f64 + extra_bytes as f64;
    let compute_ms = compute_us / 1e3;
    let comm_ms = bytes * 8.0 / (link.bandwidth_mbit_s * 1e3) + rounds as f64 * link.rtt_ms;
    Ok(Price {
        compute_ms,
        comm_ms,
        latency_ms: compute_ms + comm_ms,
    })
}
