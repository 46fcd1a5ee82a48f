//! Time of a real framework run: the SEAL calls of its linear layers priced with a SEAL cost
//! profile, and per-unit terms for its OT-based protocols, fitted on calibration runs.
//!
//! stria's own latency model (`cost::price`) prices fhe.rs operations and bytes on a link; the
//! frameworks run SEAL and spend CPU time in their OT-based protocols, which bytes alone do not
//! show. This model predicts the server's `Total time in <Kind>` of an OpenCheetah program run,
//! kind by kind, from measured terms:
//!
//! 1. **SEAL compute of the linear layers** ([`seal_calls`], [`seal_us`]). stria's counts of a
//!    convolution, FC or batch norm are turned into the SEAL calls the framework's code makes
//!    for them and priced with a SEAL profile measured on the machine by
//!    `scripts/frameworks/seal-bench.sh` (same SEAL as the programs, one thread).
//! 2. **Thread count and what SEAL's primitives leave out** (serialization, transfer, key
//!    generation): a linear kind's single-thread SEAL time is multiplied by a factor fitted on
//!    the calibration runs of the same protocol and thread count, measured seconds over SEAL
//!    seconds. A linear kind no calibration run has takes `Conv`'s factor (the same machinery);
//!    with no factor at all, the SEAL time is divided by `min(threads, cores)`.
//! 3. **Per-unit terms of the non-linear protocols**, fitted on the same runs: microseconds per
//!    unit of a kind's work ([`unit_of`]): under SCI_HE per byte (IKNP-style OT extension spends
//!    CPU per OT in proportion to what it sends), under Cheetah per element (ReLU evaluations,
//!    truncated values, max-pool comparisons, average-pool divisions, argmax comparisons; its
//!    silent OT sends almost nothing). On loopback the term includes moving the bytes.
//! 4. **Set-up**: the run's total minus the sum of its kinds (base OTs, Ferret's set-up), the
//!    mean over the calibration runs of the same protocol and thread count.
//!
//! Every fitted figure is a ratio estimator: the calibration runs' measured seconds summed over
//! their units summed. A shaped link is not modelled: the committed runs are on loopback.

use crate::cost::OpCounts;
use crate::cost::price::{CostProfile, ProfileEntry};
use crate::error::SpecError;
use crate::he::Protocol;
use crate::net::{Layer, Op};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The SEAL calls a framework makes for one linear layer, by primitive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SealCalls {
    pub key_switch: u64,
    /// `multiply_plain`, in the form the profile's `scmult_form` says (the frameworks call it on
    /// coefficient-form operands, NTTs inside).
    pub scmult: u64,
    pub add: u64,
    pub add_plain: u64,
    pub mod_switch: u64,
    pub enc: u64,
    pub dec: u64,
    /// Forward or inverse NTTs of one polynomial over the level's primes, outside `scmult`.
    pub ntt: u64,
    pub encode: u64,
    pub save: u64,
    pub load: u64,
}

/// The SEAL calls behind stria's counts of one linear layer under `protocol`. Both frameworks
/// multiply coefficient-form BFV ciphertexts by coefficient-form plaintexts (SEAL 3.7
/// `Evaluator::multiply_plain`, NTTs inside), so a product is one `scmult` of a `"coeff"`
/// profile entry.
///
/// - **SCI_HE** (OpenCheetah's copy of SCI, `SCI/src/LinearHE/conv-field.cpp`): the server
///   batch-encodes every filter mask (`HE_preprocess_filters_OP`), one per product, and
///   multiplies and adds them in `HE_conv_OP`; rotations (`filter_rotations`,
///   `HE_output_rotations`), additions and mod switches are stria's counts. Per returned
///   ciphertext the server encodes, encrypts and mod-switches a noise mask
///   (`HE_preprocess_noise`); the client encodes and encrypts each input ciphertext
///   (`HE_encrypt`) and decrypts each result (`HE_decrypt`). `fc-field.cpp` and
///   `elemwise-prod-field.cpp` follow the same pattern. Every ciphertext sent is saved once and
///   loaded once (`send_encrypted_vector`, `recv_encrypted_vector`).
/// - **Cheetah** (OpenCheetah `include/gemini/cheetah/hom_conv2d_ss.cc`, with `hom_fc_ss.cc` and
///   `hom_bn_ss.cc` alike): the server adds its plaintext share to each received ciphertext
///   (`conv2DSS`, `add_plain`), multiplies and adds (`conv2DOneFilter`, filters encoded by
///   `encodeFilters`, counted as one encode per product: an upper bound, they cost microseconds),
///   masks each result with a public-key encryption of zero (`addRandomMask`) and drops it to
///   the last prime (`truncate_for_decryption`, priced as a mod switch); the client encodes and
///   encrypts its share and decrypts the results.
/// - Gazelle/GALA are not programs the frameworks run: their calls are stria's counts.
pub fn seal_calls(protocol: Protocol, c: &OpCounts) -> SealCalls {
    let wire = c.ct_up + c.ct_down;
    match protocol {
        Protocol::Cryptflow2 => SealCalls {
            key_switch: c.key_switch,
            scmult: c.scmult,
            add: c.add,
            add_plain: 0,
            mod_switch: c.mod_switch + c.ct_down,
            enc: c.enc + c.ct_down,
            dec: c.dec,
            ntt: 0,
            encode: c.scmult + c.enc + c.ct_down,
            save: wire,
            load: wire,
        },
        Protocol::Cheetah => SealCalls {
            key_switch: c.key_switch,
            scmult: c.scmult,
            add: c.add + c.ct_down,
            add_plain: c.ct_up,
            mod_switch: c.mod_switch + c.ct_down,
            enc: c.enc + c.ct_down,
            dec: c.dec,
            ntt: 0,
            encode: c.scmult + c.enc,
            save: wire,
            load: wire,
        },
        Protocol::GazelleInput | Protocol::GazelleOutput | Protocol::Gala => SealCalls {
            key_switch: c.key_switch,
            scmult: c.scmult,
            add: c.add,
            mod_switch: c.mod_switch,
            enc: c.enc,
            dec: c.dec,
            ..SealCalls::default()
        },
    }
}

/// Microseconds of `calls` priced with one profile entry (single thread). A primitive the entry
/// does not list (`encode_us`, `save_us`, `load_us`, `ntt_us`, `mod_switch_us` are optional) is
/// an error when it is called.
pub fn seal_us(calls: &SealCalls, e: &ProfileEntry, profile: &str) -> Result<f64, SpecError> {
    let opt = |v: Option<f64>, k: u64, field: &str| -> Result<f64, SpecError> {
        match (k, v) {
            (0, _) => Ok(0.0),
            (k, Some(v)) => Ok(k as f64 * v),
            (k, None) => Err(SpecError::file(
                profile,
                format!(
                    "entry (n = {}, primes = {}) has no `{field}` but the framework's code calls \
                     it {k} times",
                    e.n, e.primes
                ),
            )),
        }
    };
    Ok(calls.key_switch as f64 * e.key_switch_us
        + calls.scmult as f64 * e.scmult_us
        + calls.add as f64 * e.add_us
        + calls.add_plain as f64 * e.add_plain_us.unwrap_or(e.add_us)
        + calls.enc as f64 * e.enc_us
        + calls.dec as f64 * e.dec_us
        + opt(e.mod_switch_us, calls.mod_switch, "mod_switch_us")?
        + opt(e.ntt_us, calls.ntt, "ntt_us")?
        + opt(e.encode_us, calls.encode, "encode_us")?
        + opt(e.save_us, calls.save, "save_us")?
        + opt(e.load_us, calls.load, "load_us")?)
}

/// Convolutions, FC and batch norms: the kinds priced by their SEAL calls.
pub fn is_linear(kind: &str) -> bool {
    matches!(kind, "Conv" | "MatMul" | "BatchNorm")
}

/// What a kind's fitted term multiplies under a protocol (as the programs name it): the
/// single-thread SEAL microseconds of a linear kind (its term is a factor: measured per
/// predicted), and for a non-linear kind under SCI_HE the bytes of its traffic, since its OT
/// extensions
/// (IKNP, KKOT) send a correction per OT, so that their CPU time follows their bytes; under
/// Cheetah, whose silent OT (Ferret) sends next to nothing per OT, the elements its protocol
/// processes ([`layer_elements`]).
pub fn unit_of(protocol: &str, kind: &str) -> &'static str {
    match (protocol, kind) {
        (_, "Conv" | "MatMul" | "BatchNorm") => "SEAL microsecond",
        ("SCI_HE", _) => "byte",
        (_, "Relu") => "ReLU evaluation",
        (_, "Truncation") => "truncated element",
        (_, "Maxpool") => "comparison",
        (_, "Avgpool") => "division",
        (_, "ArgMax") => "comparison",
        _ => "unit",
    }
}

/// The elements a non-linear layer's protocol processes, by kind (see [`unit_of`]): ReLU
/// evaluations, max-pool comparisons (`d - 1` per output), average-pool divisions (one per
/// output), argmax comparisons (one per input element but one). Truncations are counted by the
/// caller from the layer's non-linear cost.
pub fn layer_elements(layer: &Layer, relu: u64) -> Option<(&'static str, u64)> {
    match &layer.op {
        Op::Relu | Op::Relu6 => Some(("Relu", relu)),
        Op::MaxPool(p) => Some((
            "Maxpool",
            layer.output.elems() * (p.kh as u64 * p.kw as u64).saturating_sub(1),
        )),
        Op::AvgPool(_) | Op::GlobalAvgPool => Some(("Avgpool", layer.output.elems())),
        Op::Argmax => Some(("ArgMax", layer.input.elems().saturating_sub(1))),
        _ => None,
    }
}

/// A kind's predicted parts: SEAL microseconds (single thread) and units of its fitted term.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct KindWork {
    pub seal_us: f64,
    pub units: u64,
}

/// One fitted term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Term {
    /// `SCI_HE` or `cheetah`, as the programs name them.
    pub protocol: String,
    pub threads: u32,
    pub kind: String,
    /// What the term multiplies (see [`unit_of`]).
    pub unit: String,
    /// Microseconds per unit.
    pub us_per_unit: f64,
    /// Units and measured seconds it was fitted on.
    pub fitted_units: u64,
    pub fitted_seconds: f64,
}

/// Set-up seconds of one protocol and thread count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    pub protocol: String,
    pub threads: u32,
    pub seconds: f64,
}

/// A fitted time model (`stria measured --fit-time`), written as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeModel {
    pub name: String,
    pub note: String,
    /// Cores of the machine the runs share (server and client on one machine).
    pub cores: u32,
    /// The run directories (names) the terms were fitted on.
    pub calibration_runs: Vec<String>,
    /// The SEAL profile the linear layers are priced with.
    pub seal_profile: CostProfile,
    pub terms: Vec<Term>,
    pub setup: Vec<Setup>,
}

impl TimeModel {
    /// Parallel speed-up of the linear layers at `threads`.
    pub fn speedup(&self, threads: u32) -> f64 {
        threads.clamp(1, self.cores.max(1)) as f64
    }

    fn term(&self, protocol: &str, threads: u32, kind: &str) -> Option<&Term> {
        self.terms
            .iter()
            .find(|t| t.protocol == protocol && t.threads == threads && t.kind == kind)
    }

    /// Predicted seconds of one kind. A linear kind is its single-thread SEAL microseconds times
    /// the fitted factor of that kind (or of `Conv`, the same machinery, when no calibration run
    /// had the kind), or divided by `min(threads, cores)` when there is neither; a non-linear
    /// kind is its units times its fitted cost. Errors name the model file when no term fits.
    pub fn kind_seconds(
        &self,
        file: &str,
        protocol: &str,
        threads: u32,
        kind: &str,
        w: &KindWork,
    ) -> Result<f64, SpecError> {
        if is_linear(kind) {
            let factor = self
                .term(protocol, threads, kind)
                .or_else(|| self.term(protocol, threads, "Conv"))
                .map(|t| t.us_per_unit);
            return Ok(match factor {
                Some(f) => w.seal_us * f / 1e6,
                None => w.seal_us / self.speedup(threads) / 1e6,
            });
        }
        if w.units == 0 {
            return Ok(0.0);
        }
        match self.term(protocol, threads, kind) {
            Some(t) => Ok(t.us_per_unit * w.units as f64 / 1e6),
            None => Err(SpecError::file(
                file,
                format!(
                    "no fitted term for {kind} under {protocol} at {threads} thread(s); fit the \
                     model on a run with that protocol and thread count"
                ),
            )),
        }
    }

    /// Set-up seconds for a protocol and thread count (0 when no calibration run had them).
    pub fn setup_seconds(&self, protocol: &str, threads: u32) -> Option<f64> {
        self.setup
            .iter()
            .find(|s| s.protocol == protocol && s.threads == threads)
            .map(|s| s.seconds)
    }
}

/// One calibration observation: a run's protocol, threads, per-kind work and measured seconds.
pub struct Observation {
    pub run: String,
    pub protocol: String,
    pub threads: u32,
    pub work: BTreeMap<String, KindWork>,
    pub measured_s: BTreeMap<String, f64>,
    pub total_s: Option<f64>,
}

/// Fits the per-unit terms and set-ups on `obs` (see the module comment).
pub fn fit(
    name: &str,
    cores: u32,
    seal_profile: CostProfile,
    obs: &[Observation],
) -> Result<TimeModel, String> {
    if obs.is_empty() {
        return Err("no calibration runs".into());
    }
    let mut model = TimeModel {
        name: name.to_string(),
        note: String::new(),
        cores,
        calibration_runs: obs.iter().map(|o| o.run.clone()).collect(),
        seal_profile,
        terms: Vec::new(),
        setup: Vec::new(),
    };
    // (protocol, threads, kind) -> (units, measured seconds)
    let mut acc: BTreeMap<(String, u32, String), (u64, f64)> = BTreeMap::new();
    let mut setups: BTreeMap<(String, u32), Vec<f64>> = BTreeMap::new();
    for o in obs {
        let mut kinds_s = 0.0;
        for (kind, w) in &o.work {
            let Some(&m) = o.measured_s.get(kind) else {
                continue;
            };
            kinds_s += m;
            let e = acc
                .entry((o.protocol.clone(), o.threads, kind.clone()))
                .or_default();
            // A linear kind: measured seconds per single-thread SEAL second. Otherwise: seconds
            // per unit.
            e.0 += if is_linear(kind) {
                w.seal_us.round() as u64
            } else {
                w.units
            };
            e.1 += m;
        }
        if let Some(t) = o.total_s {
            setups
                .entry((o.protocol.clone(), o.threads))
                .or_default()
                .push((t - kinds_s).max(0.0));
        }
    }
    for ((protocol, threads, kind), (units, resid)) in acc {
        if units == 0 {
            continue;
        }
        model.terms.push(Term {
            unit: unit_of(&protocol, &kind).to_string(),
            us_per_unit: (resid * 1e6 / units as f64 * 1e6).round() / 1e6,
            fitted_units: units,
            fitted_seconds: (resid * 1e3).round() / 1e3,
            protocol,
            threads,
            kind,
        });
    }
    for ((protocol, threads), v) in setups {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        model.setup.push(Setup {
            protocol,
            threads,
            seconds: (mean * 1e3).round() / 1e3,
        });
    }
    Ok(model)
}

/// The fitted terms and set-ups as a table.
pub fn terms_table(m: &TimeModel) -> String {
    let heads: Vec<String> = [
        "Protocol",
        "Threads",
        "Kind",
        "Unit",
        "us per unit",
        "Units fitted",
        "Measured s",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    let mut body: Vec<Vec<String>> = m
        .terms
        .iter()
        .map(|t| {
            vec![
                t.protocol.clone(),
                t.threads.to_string(),
                t.kind.clone(),
                t.unit.clone(),
                format!("{:.6}", t.us_per_unit),
                t.fitted_units.to_string(),
                format!("{:.3}", t.fitted_seconds),
            ]
        })
        .collect();
    for s in &m.setup {
        body.push(vec![
            s.protocol.clone(),
            s.threads.to_string(),
            "set-up".into(),
            "run".into(),
            format!("{:.6}", s.seconds * 1e6),
            "1".into(),
            format!("{:.3}", s.seconds),
        ]);
    }
    let mut t = super::render_table(&heads, &body, 3);
    t.push_str(&format!(
        "fitted on {} run(s): {}; linear layers: SEAL profile `{}` times their factor (over \
         min(threads, {}) where none was fitted)\n",
        m.calibration_runs.len(),
        m.calibration_runs.join(", "),
        m.seal_profile.name,
        m.cores
    ));
    t
}

/// Reads a time model file.
pub fn load(path: &std::path::Path) -> Result<TimeModel, SpecError> {
    let file = path.display().to_string();
    let text =
        crate::io::read_text_capped(path).map_err(|e| SpecError::file(&file, e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| SpecError::file(&file, format!("time model: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> OpCounts {
        OpCounts {
            key_switch: 7,
            scmult: 10,
            add: 9,
            ct_up: 2,
            ct_down: 3,
            mod_switch: 1,
            enc: 2,
            dec: 3,
            ..OpCounts::default()
        }
    }

    #[test]
    fn sci_he_calls() {
        let c = seal_calls(Protocol::Cryptflow2, &counts());
        // One encode per filter mask, per input and per noise mask; noise encrypted and switched.
        assert_eq!(c.encode, 10 + 2 + 3);
        assert_eq!((c.enc, c.mod_switch), (2 + 3, 1 + 3));
        assert_eq!((c.save, c.load), (5, 5));
        assert_eq!((c.key_switch, c.scmult, c.ntt), (7, 10, 0));
    }

    #[test]
    fn cheetah_calls() {
        let c = seal_calls(Protocol::Cheetah, &counts());
        // The server's share added to each received ciphertext; each result masked and dropped.
        assert_eq!((c.add_plain, c.add), (2, 9 + 3));
        assert_eq!((c.enc, c.mod_switch), (2 + 3, 1 + 3));
        assert_eq!(c.encode, 10 + 2);
    }

    fn entry() -> ProfileEntry {
        ProfileEntry {
            n: 4096,
            primes: 2,
            source: "test".into(),
            scmult_form: crate::cost::price::ScMultForm::Ntt,
            key_switch_us: 100.0,
            scmult_us: 10.0,
            add_us: 1.0,
            mod_switch_us: Some(5.0),
            add_plain_us: None,
            enc_us: 20.0,
            dec_us: 30.0,
            ntt_us: Some(2.0),
            encode_us: Some(3.0),
            save_us: Some(4.0),
            load_us: None,
        }
    }

    #[test]
    fn priced_and_missing_fields() {
        let calls = SealCalls {
            scmult: 2,
            ntt: 3,
            encode: 1,
            save: 1,
            ..SealCalls::default()
        };
        assert_eq!(
            seal_us(&calls, &entry(), "p.json").unwrap(),
            20.0 + 6.0 + 3.0 + 4.0
        );
        let e = seal_us(&SealCalls { load: 2, ..calls }, &entry(), "p.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.json") && e.contains("load_us"), "{e}");
    }

    #[test]
    fn fit_ratio_and_prediction() {
        let mk = |run: &str, relu: u64, conv_seal_us: f64, m: [f64; 2], total: f64| Observation {
            run: run.into(),
            protocol: "cheetah".into(),
            threads: 2,
            work: BTreeMap::from([
                (
                    "Relu".to_string(),
                    KindWork {
                        seal_us: 0.0,
                        units: relu,
                    },
                ),
                (
                    "Conv".to_string(),
                    KindWork {
                        seal_us: conv_seal_us,
                        units: 123,
                    },
                ),
            ]),
            measured_s: BTreeMap::from([("Relu".to_string(), m[0]), ("Conv".to_string(), m[1])]),
            total_s: Some(total),
        };
        let obs = [
            mk("a", 1_000_000, 2e6, [3.0, 1.5], 5.5),
            mk("b", 3_000_000, 6e6, [5.0, 4.5], 11.5),
        ];
        let p = CostProfile::published_priors();
        let m = fit("t", 2, p, &obs).unwrap();
        // Relu: (3 + 5) s over 4M elements = 2 us per element. Conv: (1.5 + 4.5) s measured over
        // (2 + 6) s of single-thread SEAL time = 0.75. Set-up: mean of 1 and 2 s.
        assert_eq!(m.terms.len(), 2);
        let term = |k: &str| m.terms.iter().find(|t| t.kind == k).unwrap();
        assert!((term("Relu").us_per_unit - 2.0).abs() < 1e-9);
        assert_eq!(term("Conv").unit, "SEAL microsecond");
        assert!((term("Conv").us_per_unit - 0.75).abs() < 1e-9);
        assert_eq!(m.setup_seconds("cheetah", 2), Some(1.5));
        let relu = KindWork {
            seal_us: 0.0,
            units: 500_000,
        };
        let s = m
            .kind_seconds("m.json", "cheetah", 2, "Relu", &relu)
            .unwrap();
        assert!((s - 1.0).abs() < 1e-9);
        // A linear kind: SEAL seconds times the factor; MatMul takes Conv's; without any factor
        // (another thread count) the SEAL time over min(threads, cores).
        let lin = KindWork {
            seal_us: 4e6,
            units: 0,
        };
        let s = m
            .kind_seconds("m.json", "cheetah", 2, "MatMul", &lin)
            .unwrap();
        assert!((s - 3.0).abs() < 1e-9);
        let s = m
            .kind_seconds("m.json", "cheetah", 4, "Conv", &lin)
            .unwrap();
        assert!((s - 2.0).abs() < 1e-9);
        // A non-linear kind without a term is an error naming the model file.
        let e = m
            .kind_seconds("m.json", "SCI_HE", 2, "Relu", &relu)
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.json") && e.contains("SCI_HE"), "{e}");
        assert!(
            m.kind_seconds("m.json", "cheetah", 2, "Maxpool", &relu)
                .is_err()
        );
    }
}
