//! Non-linear layer costs (CrypTFlow2 (Rathee et al., CCS 2020) Secs. 3-5, Tables 1-3;
//! Cheetah (Huang et al., USENIX Security 2022) Sec. 4, Tables 2-4): OT-based ReLU, truncation,
//! pooling and argmax, in bits per element and rounds, and the per-layer accounting of
//! [`network_nonlinear`].
//!
//! Which rows each protocol uses:
//!
//! - [`Protocol::Cryptflow2`] (SCI_HE): shares live in the HE plaintext prime field Z_n. By
//!   default every protocol is counted as SCI's code runs it, OT call by OT call
//!   ([`super::sci_field`], `"cryptflow2_nonlinear": "code"`); `"paper-bounds"` uses the
//!   CrypTFlow2 field ("Z_n") upper bounds with `eta` bits instead, truncation then being the
//!   division bound with `d = 2^f` (CrypTFlow2 Table 2).
//! - [`Protocol::GazelleInput`], [`Protocol::GazelleOutput`], [`Protocol::Gala`]: these packings
//!   also share over the SIMD plaintext prime, so stria counts their non-linear layers with the
//!   same CrypTFlow2 field protocols (a modelling choice: Gazelle's and GALA's own garbled-circuit
//!   ReLUs are not modelled, so the HE packings compare on one non-linear baseline).
//! - [`Protocol::Cheetah`]: its own silent-OT protocols over Z_(2^l). By default counted as
//!   OpenCheetah's code sends them, Ferret's refills included ([`super::cheetah_nl`],
//!   `"cheetah_nonlinear": "code"`); `"paper"` uses the Cheetah paper's per-element formulas
//!   (Cheetah Sec. 4, Tables 2-4).
//!
//! With [`CryptflowShares::Ring`] the CrypTFlow2-family protocols use the Z_(2^l) rows of the
//! OT-only CrypTFlow2 backend instead (exact millionaires' with leaf size `m` for DReLU/ReLU,
//! the paper's bounds for truncation and average pooling).
//!
//! Communication counts both directions; one-time setup (base OTs, VOLE/Ferret setup) is
//! excluded, like the HE keys, as Cheetah Sec. 6.1 measures. Rounds use `ceil(log2 ...)`.
//!
//! Length (about 1,000 lines, half of it the rate tables and their sources): the rows of every
//! protocol, where truncations go and the per-layer accounting stay together because each row is
//! read by the one `layer_cost` that charges it; the code-exact models live in their own files
//! ([`super::sci_field`], [`super::cheetah_nl`]).

use super::{CountError, Protocol};
use crate::error::SpecError;
use crate::net::{Layer, Network, Op};
use serde::{Deserialize, Serialize};

/// Which truncation Cheetah runs where the MSB of the value is unknown (Cheetah Table 4); read by
/// the paper's formulas only (`"cheetah_nonlinear": "paper"`): OpenCheetah's code runs one
/// protocol, [`super::cheetah_nl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheetahTruncation {
    /// Faithful truncation (VOLE): `16*l + 11*f` bits.
    Faithful,
    /// One-bit approximate truncation: `13*l` bits (the default class; Cheetah Table 4).
    #[default]
    Approximate,
}

/// How SCI_HE's (prime-field) non-linear protocols are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cryptflow2Nonlinear {
    /// The bytes SCI's code sends, OT call by OT call, with its batching and padding
    /// ([`super::sci_field`]). Default.
    #[default]
    Code,
    /// The CrypTFlow2 paper's upper bounds (Tables 1-3), as stria counted before.
    PaperBounds,
}

/// How Cheetah's non-linear protocols are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheetahNonlinear {
    /// The bytes OpenCheetah's code sends, OT call by OT call, Ferret refills included
    /// ([`super::cheetah_nl`]). Default.
    #[default]
    Code,
    /// The Cheetah paper's per-element formulas (Cheetah Sec. 4, Tables 2-4), as stria counted
    /// before.
    Paper,
}

/// Where the CrypTFlow2-family protocols (SCI_HE, Gazelle, GALA) hold their shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CryptflowShares {
    /// The HE plaintext prime field Z_n with `eta` bits (SCI_HE; EzPC
    /// `SCI/src/utils/constants.h`). Default.
    #[default]
    Field,
    /// The ring Z_(2^l) of CrypTFlow2's OT-only backend.
    Ring,
}

/// Non-linear protocol parameters (CrypTFlow2 Sec. 3, Cheetah Sec. 4). Shipped as
/// `configs/nonlinear/default.json`.
///
/// Defaults and provenance: `lambda = 128` (OT security parameter); `l = 37` and `f = 12` (the
/// share bit length and scale OpenCheetah's ResNet-50 programs run with, `ell=37 k=12` in its
/// scripts, for both protocols); `eta = 37` (bits of SCI_HE's 37-bit prime, SCI
/// `utils/constants.h`); `m = 4` (SCI's `MILL_PARAM`); Cheetah counted from OpenCheetah's code
/// (with the paper's formulas, the approximate truncation `13*l`, the default class of
/// Cheetah Table 4); CrypTFlow2-family shares in the prime field, counted
/// from SCI's code on 4 threads (the thread count of the published end-to-end runs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NonlinearParams {
    /// OT security parameter.
    pub lambda: u64,
    /// Share bit width over Z_(2^l).
    pub l: u32,
    /// Fraction bits: the truncation shift.
    pub f: u32,
    /// Bit length of the prime field Z_n (SCI_HE's plaintext prime).
    pub eta: u32,
    /// Leaf size of CrypTFlow2's millionaires' tree.
    pub m: u32,
    /// Cheetah's truncation where the MSB is unknown.
    pub cheetah_truncation: CheetahTruncation,
    /// Share domain of SCI_HE, Gazelle and GALA.
    pub cryptflow2_shares: CryptflowShares,
    /// Field protocols counted from SCI's code (default) or from the paper's bounds.
    pub cryptflow2_nonlinear: Cryptflow2Nonlinear,
    /// Cheetah's protocols counted from OpenCheetah's code (default) or the paper's formulas.
    pub cheetah_nonlinear: CheetahNonlinear,
    /// How the code model charges Ferret's extensions: amortised per COT (default; layer costs
    /// add up) or replayed from the pools' state across the run (exact to a whole run).
    pub cheetah_ferret: super::cheetah_nl::Refills,
    /// Threads of the two-party run: SCI splits each ReLU, max-pool and division layer into this
    /// many chunks, each padded on its own (`Relu`, `MaxPool`, `funcFieldDivWrapper`).
    pub threads: u32,
    /// Free-text provenance; ignored by the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Default for NonlinearParams {
    fn default() -> Self {
        NonlinearParams {
            lambda: 128,
            l: 37,
            f: 12,
            eta: 37,
            m: 4,
            cheetah_truncation: CheetahTruncation::Approximate,
            cryptflow2_shares: CryptflowShares::Field,
            cryptflow2_nonlinear: Cryptflow2Nonlinear::Code,
            cheetah_nonlinear: CheetahNonlinear::Code,
            cheetah_ferret: super::cheetah_nl::Refills::Amortized,
            threads: 4,
            note: None,
        }
    }
}

impl NonlinearParams {
    /// Checks the ranges the formulas need: `1 <= lambda`, `2 <= l <= 64`, `1 <= m <= l`,
    /// `f < l`, `2 <= eta <= 64`.
    pub fn validate(&self) -> Result<(), String> {
        if self.lambda == 0 {
            return Err("lambda must be positive".into());
        }
        if !(2..=64).contains(&self.l) {
            return Err(format!("l must be between 2 and 64, got {}", self.l));
        }
        if !(2..=64).contains(&self.eta) {
            return Err(format!("eta must be between 2 and 64, got {}", self.eta));
        }
        if self.m == 0 || self.m > self.l {
            return Err(format!(
                "m must be between 1 and l = {}, got {}",
                self.l, self.m
            ));
        }
        if !(1..=64).contains(&self.threads) {
            return Err(format!(
                "threads must be between 1 and 64, got {}",
                self.threads
            ));
        }
        if self.f >= self.l {
            return Err(format!(
                "f = {} must be smaller than l = {}",
                self.f, self.l
            ));
        }
        Ok(())
    }

    /// Parses and validates a JSON parameter file's text; `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<NonlinearParams, SpecError> {
        let p: NonlinearParams =
            serde_json::from_str(text).map_err(|e| SpecError::file(file, e.to_string()))?;
        p.validate().map_err(|m| SpecError::file(file, m))?;
        Ok(p)
    }

    /// Reads a JSON parameter file (for example `configs/nonlinear/default.json`).
    pub fn load(path: &std::path::Path) -> Result<NonlinearParams, SpecError> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| SpecError::file(&file, e.to_string()))?;
        Self::from_json(&text, &file)
    }
}

/// `ceil(log2 x)`, 0 for `x <= 1`.
pub fn ceil_log2(x: u64) -> u64 {
    if x <= 1 {
        0
    } else {
        (64 - (x - 1).leading_zeros()) as u64
    }
}

/// `delta = ceil(log2(6*d))` of the division protocols (CrypTFlow2 Secs. 3-5).
pub fn delta(d: u64) -> u64 {
    ceil_log2(6 * d)
}

// ---------------------------------------------------------------------------------------------
// CrypTFlow2 (Rathee et al., CCS 2020), IKNP OT extension: Secs. 3-5, Tables 1-3; Cheetah
// Table 2.
// ---------------------------------------------------------------------------------------------

/// CrypTFlow2 millionaires' on `l` bits, exact (CrypTFlow2 Sec. 3, Table 1):
/// with `q = ceil(l/m)`, `M = 2^m`, `r = l - (q-1)*m`, `R = 2^r`,
/// `lambda*(4q - ceil(log2 q) - 2) + M*(2q - 3) + 2R + 22*(q - 1) - 2*ceil(log2 q)`.
///
/// For `l <= m` (one leaf, `q = 1`) the protocol is a single `(R choose 1)-OT_1`,
/// `2*lambda + R` (the formula gives the same at `l = m`; below it the formula's `-M` term assumes
/// full leaves, so the leaf shrinks to `l` bits as CrypTFlow2's code does).
pub fn cf2_millionaires_bits(l: u64, m: u64, lambda: u64) -> u64 {
    assert!(l >= 1 && m >= 1, "millionaires' needs l, m >= 1");
    let q = l.div_ceil(m);
    if q == 1 {
        return 2 * lambda + (1u64 << l);
    }
    let lq = ceil_log2(q);
    let big_m = 1u64 << m;
    let r = l - (q - 1) * m;
    let big_r = 1u64 << r;
    lambda * (4 * q - lq - 2) + big_m * (2 * q - 3) + 2 * big_r + 22 * (q - 1) - 2 * lq
}

/// CrypTFlow2 millionaires' upper bound for `m = 4`: `lambda*l + 14*l` (CrypTFlow2 Sec. 3).
pub fn cf2_millionaires_bound(l: u64, lambda: u64) -> u64 {
    lambda * l + 14 * l
}

/// CrypTFlow2 millionaires' rounds: the comparison tree depth `ceil(log2 l)` (CrypTFlow2 Sec. 3).
pub fn cf2_millionaires_rounds(l: u64) -> u64 {
    ceil_log2(l)
}

/// CrypTFlow2 DReLU over Z_(2^l): millionaires' on `l - 1` bits (CrypTFlow2 Sec. 4.1,
/// Table 1). Bound `(lambda + 14)*(l - 1)`.
pub fn cf2_drelu_ring_bits(l: u64, m: u64, lambda: u64) -> u64 {
    cf2_millionaires_bits(l - 1, m, lambda)
}

/// CrypTFlow2 DReLU rounds over Z_(2^l): `ceil(log2 l)` (CrypTFlow2 Tables 1-3).
pub fn cf2_drelu_ring_rounds(l: u64) -> u64 {
    ceil_log2(l)
}

/// CrypTFlow2 MUX over a width-`l` domain: two `(2 choose 1)-OT_l`, `2*lambda + 4*l` bits
/// (CrypTFlow2 Sec. 4.1, Table 1). Also used for the field with `l = eta`.
pub fn cf2_mux_bits(l: u64, lambda: u64) -> u64 {
    2 * lambda + 4 * l
}

/// CrypTFlow2 MUX rounds: 2 (derived here: one OT exchange each way).
pub const CF2_MUX_ROUNDS: u64 = 2;

/// CrypTFlow2 ReLU over Z_(2^l), exact: DReLU + MUX (CrypTFlow2 Table 1;
/// 3298 = 2914 + 384 at l = 32, m = 7). Bound `lambda*l + 18*l`.
pub fn cf2_relu_ring_bits(l: u64, m: u64, lambda: u64) -> u64 {
    cf2_drelu_ring_bits(l, m, lambda) + cf2_mux_bits(l, lambda)
}

/// CrypTFlow2 ReLU over Z_(2^l), upper bound `lambda*l + 18*l` (CrypTFlow2 Tables 1-3).
pub fn cf2_relu_ring_bound(l: u64, lambda: u64) -> u64 {
    lambda * l + 18 * l
}

/// CrypTFlow2 ReLU rounds over Z_(2^l): `ceil(log2 l) + 2` (CrypTFlow2 Tables 1-3).
pub fn cf2_relu_ring_rounds(l: u64) -> u64 {
    ceil_log2(l) + CF2_MUX_ROUNDS
}

/// CrypTFlow2 ReLU over the prime field Z_n, upper bound `(3/2)*lambda*(eta + 1) + 31*eta`
/// (CrypTFlow2 Table 1), rounded up for odd lambda. Stria has no exact
/// field formula, so SCI_HE's ReLU is counted at this bound (conservative).
pub fn cf2_relu_field_bits(eta: u64, lambda: u64) -> u64 {
    (3 * lambda * (eta + 1)).div_ceil(2) + 31 * eta
}

/// CrypTFlow2 ReLU rounds over Z_n: `ceil(log2 eta) + 4` (CrypTFlow2 Tables 1-3).
pub fn cf2_relu_field_rounds(eta: u64) -> u64 {
    ceil_log2(eta) + 4
}

/// CrypTFlow2 truncation by `f` bits over Z_(2^l), upper bound `lambda*(l + f + 2) + 19*l + 14*f`
/// (CrypTFlow2 Sec. 5, Table 3).
pub fn cf2_trunc_ring_bits(l: u64, f: u64, lambda: u64) -> u64 {
    lambda * (l + f + 2) + 19 * l + 14 * f
}

/// CrypTFlow2 truncation rounds over Z_(2^l): `ceil(log2 l) + 3` (derived here: the
/// comparison tree depth plus the constant rounds of the protocol's OT exchanges).
pub fn cf2_trunc_ring_rounds(l: u64) -> u64 {
    ceil_log2(l) + 3
}

/// CrypTFlow2 Avgpool_d (division by d) over Z_(2^l), upper bound
/// `(lambda + 21)*(l + 3*delta)`, `delta = ceil(log2(6d))` (CrypTFlow2 Table 2).
pub fn cf2_avgpool_ring_bits(l: u64, d: u64, lambda: u64) -> u64 {
    (lambda + 21) * (l + 3 * delta(d))
}

/// CrypTFlow2 Avgpool_d rounds over Z_(2^l): `ceil(log2(l*delta)) + 4` (CrypTFlow2 Tables 1-3).
pub fn cf2_avgpool_ring_rounds(l: u64, d: u64) -> u64 {
    ceil_log2(l * delta(d)) + 4
}

/// CrypTFlow2 Avgpool_d over Z_n, upper bound `((3/2)*lambda + 34)*(eta + 2*delta)`
/// (CrypTFlow2 Table 2), rounded up for odd lambda.
pub fn cf2_avgpool_field_bits(eta: u64, d: u64, lambda: u64) -> u64 {
    ((3 * lambda + 68) * (eta + 2 * delta(d))).div_ceil(2)
}

/// CrypTFlow2 Avgpool_d rounds over Z_n: `ceil(log2(eta*delta)) + 6` (CrypTFlow2 Tables 1-3).
pub fn cf2_avgpool_field_rounds(eta: u64, d: u64) -> u64 {
    ceil_log2(eta * delta(d)) + 6
}

/// SCI_HE truncation by `f` bits over Z_n: division by `d = 2^f`, counted with the Avgpool_d over
/// Z_n bound (CrypTFlow2 Table 2; derived here: CrypTFlow2's division protocol covers a
/// truncation as division by `2^f`, an approximation, since CrypTFlow2 gives no dedicated field
/// truncation cost).
pub fn cf2_trunc_field_bits(eta: u64, f: u64, lambda: u64) -> u64 {
    cf2_avgpool_field_bits(eta, 1u64 << f, lambda)
}

/// SCI_HE truncation rounds: those of Avgpool_(2^f) over Z_n.
pub fn cf2_trunc_field_rounds(eta: u64, f: u64) -> u64 {
    cf2_avgpool_field_rounds(eta, 1u64 << f)
}

/// CrypTFlow2 Maxpool_d over Z_(2^l): `d - 1` sequential steps, each DReLU of a difference + MUX
/// (CrypTFlow2 Table 1; derived here: `max(a, b) = b + ReLU(a - b)`).
pub fn cf2_maxpool_ring_bits(l: u64, d: u64, m: u64, lambda: u64) -> u64 {
    d.saturating_sub(1) * cf2_relu_ring_bits(l, m, lambda)
}

/// CrypTFlow2 Maxpool_d over Z_n: `d - 1` steps of `max(a, b) = b + ReLU(a - b)`, each a field
/// ReLU (DReLU + MUX) at its bound.
pub fn cf2_maxpool_field_bits(eta: u64, d: u64, lambda: u64) -> u64 {
    d.saturating_sub(1) * cf2_relu_field_bits(eta, lambda)
}

/// CrypTFlow2 Argmax_d over Z_(2^l): Maxpool_d plus a second MUX per step for the index
/// (derived here from CrypTFlow2's ReLU and MUX costs).
pub fn cf2_argmax_ring_bits(l: u64, d: u64, m: u64, lambda: u64) -> u64 {
    d.saturating_sub(1) * (cf2_relu_ring_bits(l, m, lambda) + cf2_mux_bits(l, lambda))
}

/// CrypTFlow2 Argmax_d over Z_n: Maxpool_d over Z_n plus a field MUX per step for the index.
pub fn cf2_argmax_field_bits(eta: u64, d: u64, lambda: u64) -> u64 {
    d.saturating_sub(1) * (cf2_relu_field_bits(eta, lambda) + cf2_mux_bits(eta, lambda))
}

/// Rounds of Maxpool_d: `(d - 1)` sequential steps of `step` rounds each (derived
/// here); every window is processed in parallel, so this does not grow with the element count.
pub fn sequential_rounds(d: u64, step: u64) -> u64 {
    d.saturating_sub(1) * step
}

/// Rounds of Argmax_d over one long vector: the `d - 1` comparisons are arranged as a tournament
/// tree, `ceil(log2 d)` levels of `step` rounds (the comparisons of a level run in parallel; the
/// index MUX runs alongside the value MUX). Over 1001 classes this is 10 levels instead of 1000
/// sequential steps; the communication is the same `d - 1` comparisons either way.
pub fn tree_rounds(d: u64, step: u64) -> u64 {
    ceil_log2(d) * step
}

// ---------------------------------------------------------------------------------------------
// Cheetah (Huang et al., USENIX Security 2022) (VOLE-style silent OT): Sec. 4, Tables 2-4.
//
// Rounds: the Cheetah paper gives none; derived here: they follow CrypTFlow2's comparison tree
// depth (log2(l) plus a constant).
// Stria's choice (an estimate): millionaires'/DReLU `ceil(log2 l)`, MUX 2, ReLU `ceil(log2 l) + 2`, faithful
// truncation `ceil(log2 l) + 3` (CrypTFlow2's constants), approximate truncation (and the
// truncation-class division of average pooling) `ceil(log2 l) + 2` (one MSB comparison tree plus
// one OT exchange; the low-part wrap comparison is dropped), known-MSB truncation 1 (a single
// batch of COTs, no comparison).
// ---------------------------------------------------------------------------------------------

/// Cheetah millionaires' (m = 4, VOLE, ROT): `< 11*l`; stria uses `11*l` (Cheetah Table 2).
pub fn cheetah_millionaires_bits(l: u64) -> u64 {
    11 * l
}

/// Cheetah DReLU over Z_(2^l): millionaires' on `l - 1` bits, `11*(l - 1)` (Cheetah Sec. 4, Table 2).
pub fn cheetah_drelu_bits(l: u64) -> u64 {
    11 * (l - 1)
}

/// Cheetah MUX: two silent `(2 choose 1)-OT_l`, `2*(2l + 1)` bits (Cheetah Sec. 4, Tables 2-4).
pub fn cheetah_mux_bits(l: u64) -> u64 {
    2 * (2 * l + 1)
}

/// Cheetah ReLU: DReLU + MUX = `11*(l - 1) + 2*(2l + 1) = 15*l - 9` bits (derived here
/// from Cheetah Table 2 and Sec. 4; 546 at l = 37).
pub fn cheetah_relu_bits(l: u64) -> u64 {
    cheetah_drelu_bits(l) + cheetah_mux_bits(l)
}

/// Cheetah ReLU rounds: `ceil(log2 l) + 2` (see the round choice above).
pub fn cheetah_relu_rounds(l: u64) -> u64 {
    ceil_log2(l) + 2
}

/// Cheetah faithful truncation (VOLE): `16*l + 11*f` bits (Cheetah Table 4).
pub fn cheetah_trunc_faithful_bits(l: u64, f: u64) -> u64 {
    16 * l + 11 * f
}

/// Cheetah one-bit approximate truncation: `13*l` bits (Cheetah Table 4).
pub fn cheetah_trunc_approx_bits(l: u64) -> u64 {
    13 * l
}

/// Cheetah truncation with known MSB (after a ReLU): `f + 4` bits (Cheetah Sec. 4,
/// Table 4).
pub fn cheetah_trunc_known_msb_bits(f: u64) -> u64 {
    f + 4
}

/// Rounds of Cheetah's faithful truncation: `ceil(log2 l) + 3`.
pub fn cheetah_trunc_faithful_rounds(l: u64) -> u64 {
    ceil_log2(l) + 3
}

/// Rounds of Cheetah's approximate truncation: `ceil(log2 l) + 2`.
pub fn cheetah_trunc_approx_rounds(l: u64) -> u64 {
    ceil_log2(l) + 2
}

/// Rounds of Cheetah's known-MSB truncation: 1.
pub const CHEETAH_KNOWN_MSB_ROUNDS: u64 = 1;

/// Cheetah Maxpool_d: `(d - 1)` x (DReLU + MUX) (derived here from Cheetah's DReLU and MUX).
pub fn cheetah_maxpool_bits(l: u64, d: u64) -> u64 {
    d.saturating_sub(1) * cheetah_relu_bits(l)
}

/// Cheetah Argmax_d: `(d - 1)` x (DReLU + MUX + index MUX) (derived here, as Maxpool_d).
pub fn cheetah_argmax_bits(l: u64, d: u64) -> u64 {
    d.saturating_sub(1) * (cheetah_relu_bits(l) + cheetah_mux_bits(l))
}

/// Cheetah Avgpool_d per output: the window sum is local, the division is one truncation-class
/// protocol at the default `13*l` (derived here from Cheetah
/// Table 4), whatever `cheetah_truncation` says
/// (the faithful formula is for a power-of-two shift by `f`).
pub fn cheetah_avgpool_bits(l: u64) -> u64 {
    13 * l
}

// ---------------------------------------------------------------------------------------------
// Network accounting (ResNet-50's layer counts: Cheetah Sec. 6, Table 9).
// ---------------------------------------------------------------------------------------------

/// Non-linear cost of one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct NlCost {
    /// ReLU evaluations: the elements of a ReLU layer; two per element for ReLU6
    /// (`min(max(x, 0), 6) = ReLU(x) - ReLU(x - 6)`, the two ReLUs in parallel).
    pub relu: u64,
    /// Elements truncated by `f` bits (attributed to the conv / fc / unfolded BN that produced them).
    pub trunc: u64,
    /// Non-linear communication of the layer, both directions, in bits.
    pub bits: u64,
    /// Non-linear rounds of the layer (not counting the HE round trip of a linear layer).
    pub rounds: u64,
}

impl std::ops::Add for NlCost {
    type Output = NlCost;
    /// Sums elements and bits; rounds add up too, as the layers run one after another.
    fn add(self, o: NlCost) -> NlCost {
        NlCost {
            relu: self.relu + o.relu,
            trunc: self.trunc + o.trunc,
            bits: self.bits + o.bits,
            rounds: self.rounds + o.rounds,
        }
    }
}

impl std::iter::Sum for NlCost {
    fn sum<I: Iterator<Item = NlCost>>(iter: I) -> NlCost {
        iter.fold(NlCost::default(), |a, b| a + b)
    }
}

/// Bits and rounds per element of each non-linear function, resolved for one protocol.
#[derive(Debug, Clone, Copy)]
struct Rates {
    relu: (u64, u64),
    /// Truncation where the MSB is unknown.
    trunc: (u64, u64),
    /// Truncation of a value about to go through a ReLU (Cheetah's known-MSB protocol); equal to
    /// `trunc` for the CrypTFlow2 family.
    trunc_before_relu: (u64, u64),
    mux: u64,
    family: Family,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Field,
    Ring,
    Cheetah,
}

impl Rates {
    fn new(protocol: Protocol, p: &NonlinearParams) -> Rates {
        let (lambda, l, f, eta, m) = (p.lambda, p.l as u64, p.f as u64, p.eta as u64, p.m as u64);
        let family = match (protocol, p.cryptflow2_shares) {
            (Protocol::Cheetah, _) => Family::Cheetah,
            (_, CryptflowShares::Field) => Family::Field,
            (_, CryptflowShares::Ring) => Family::Ring,
        };
        match family {
            Family::Field => {
                let t = (
                    cf2_trunc_field_bits(eta, f, lambda),
                    cf2_trunc_field_rounds(eta, f),
                );
                Rates {
                    relu: (cf2_relu_field_bits(eta, lambda), cf2_relu_field_rounds(eta)),
                    trunc: t,
                    trunc_before_relu: t,
                    mux: cf2_mux_bits(eta, lambda),
                    family,
                }
            }
            Family::Ring => {
                let t = (cf2_trunc_ring_bits(l, f, lambda), cf2_trunc_ring_rounds(l));
                Rates {
                    relu: (cf2_relu_ring_bits(l, m, lambda), cf2_relu_ring_rounds(l)),
                    trunc: t,
                    trunc_before_relu: t,
                    mux: cf2_mux_bits(l, lambda),
                    family,
                }
            }
            Family::Cheetah => Rates {
                relu: (cheetah_relu_bits(l), cheetah_relu_rounds(l)),
                trunc: match p.cheetah_truncation {
                    CheetahTruncation::Faithful => (
                        cheetah_trunc_faithful_bits(l, f),
                        cheetah_trunc_faithful_rounds(l),
                    ),
                    CheetahTruncation::Approximate => {
                        (cheetah_trunc_approx_bits(l), cheetah_trunc_approx_rounds(l))
                    }
                },
                trunc_before_relu: (cheetah_trunc_known_msb_bits(f), CHEETAH_KNOWN_MSB_ROUNDS),
                mux: cheetah_mux_bits(l),
                family,
            },
        }
    }

    /// Bits and rounds of one division by `d` (average pooling).
    fn avgpool(&self, d: u64, p: &NonlinearParams) -> (u64, u64) {
        let (lambda, l, eta) = (p.lambda, p.l as u64, p.eta as u64);
        match self.family {
            Family::Field => (
                cf2_avgpool_field_bits(eta, d, lambda),
                cf2_avgpool_field_rounds(eta, d),
            ),
            Family::Ring => (
                cf2_avgpool_ring_bits(l, d, lambda),
                cf2_avgpool_ring_rounds(l, d),
            ),
            Family::Cheetah => (cheetah_avgpool_bits(l), cheetah_trunc_approx_rounds(l)),
        }
    }
}

/// Where a truncation by `f` bits runs, decided by [`truncation_plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    /// None charged to this layer.
    None,
    /// The layer's input holds unreduced products (scale `2f`) and the layer multiplies again
    /// (conv, fc, unfolded BN): the input is truncated first, its MSB unknown (SCI `ScaleDown`,
    /// OpenCheetah's truncation of an arbitrary share). Counts the input's elements.
    BeforeProduct(u64),
    /// A ReLU (or ReLU6) reads unreduced products and truncates its own output, whose MSB is
    /// known to be zero (SCI/OpenCheetah `Relu` with `doTruncation`). Counts the output's
    /// elements.
    AfterRelu(u64),
    /// A concatenation (or a `mul`) truncates each operand that holds unreduced products, in
    /// place and with its MSB unknown (SCI `ScaleDown`), before joining (multiplying) them: the
    /// elements of its first operand (`src`) and of its second (`src2`), 0 for an operand
    /// already at scale `f`. The second is truncated first, as the programs order the calls.
    Operands(u64, u64),
}

/// Where the frameworks truncate, one entry per layer, in one pass over the network.
///
/// SCI's and OpenCheetah's network programs (Athos-compiled `networks/main_*.cpp`) keep fixed-point
/// values at scale `f` and let a product (conv, fc, a batch norm evaluated as an element-wise
/// product) leave its output at scale `2f`, unreduced. The reduction is put off until it must
/// happen: a ReLU reading a `2f` tensor truncates after the activation (`Relu(..., sf,
/// doTruncation)`, known MSB); a product reading a `2f` tensor truncates its input first
/// (`ScaleDown`, unknown MSB, once per tensor: the code truncates in place, so later readers see
/// the reduced tensor). Max-pooling, average pooling (a division by the window, not a
/// rescaling), additions (the lower-scale addend is scaled up locally, for free), flatten,
/// channel shuffles and folded batch norms keep their input's scale. A concatenation is one of
/// the compiler's uninterpreted function calls (`Concat2T444`), which take every secret
/// argument at scale `f`: each operand at `2f` is truncated first, in place
/// (`IRBuilderCSF.visitUninterpFuncCall` in EzPC's `Athos/SeeDot/IR/IRBuilderCSF.py`;
/// DenseNet-121's programs truncate each dense layer's 3x3 convolution output before it joins
/// the concatenation). A network output left at `2f` (the logits before argmax) is not
/// truncated. In SCI's ResNet-50 this gives 49 truncations before a batch norm and 49 after a
/// ReLU; a plain convolution output is never truncated on its own.
pub fn truncation_plan(net: &Network) -> Vec<Truncation> {
    scale_pass(net).0
}

/// [`truncation_plan`] and whether the last layer's output is left at scale `2f`.
fn scale_pass(net: &Network) -> (Vec<Truncation>, bool) {
    let tensors = net
        .layers
        .iter()
        .map(|l| l.dst.max(l.src).max(l.src2.unwrap_or(0)))
        .max()
        .unwrap_or(0)
        + 1;
    // `wide[t]`: tensor t holds unreduced products (scale 2f).
    let mut wide = vec![false; tensors];
    wide[0] = net.input_untruncated;
    let plan = net
        .layers
        .iter()
        .map(|layer| {
            let src = wide[layer.src];
            let (out, t) = match layer.op {
                Op::Conv(_) | Op::Fc | Op::BatchNorm { folded: false } => {
                    wide[layer.src] = false;
                    let t = if src {
                        Truncation::BeforeProduct(layer.input.elems())
                    } else {
                        Truncation::None
                    };
                    (true, t)
                }
                Op::Relu | Op::Relu6 => {
                    let t = if src {
                        Truncation::AfterRelu(layer.output.elems())
                    } else {
                        Truncation::None
                    };
                    (false, t)
                }
                // A sum: the lower-scale addend is scaled up locally.
                Op::Add => (src || layer.src2.is_some_and(|s| wide[s]), Truncation::None),
                // A concatenation, and a product of two shared tensors: every operand at `2f` is
                // truncated first, in place; a concatenation's output is at scale f, a product's
                // at 2f.
                Op::Concat => (false, truncate_operands(net, layer, &mut wide)),
                Op::Mul => (true, truncate_operands(net, layer, &mut wide)),
                // SCI's `Sigmoid` (`SCI/src/library_fixed.h`) takes the input's scale and the
                // output's as arguments (`scale_in`, `scale_out`): no truncation of its own, its
                // output at scale f.
                Op::Sigmoid => (false, Truncation::None),
                Op::BatchNorm { folded: true }
                | Op::MaxPool(_)
                | Op::AvgPool(_)
                | Op::GlobalAvgPool
                | Op::Flatten
                | Op::Shuffle { .. }
                | Op::Argmax => (src, Truncation::None),
            };
            wide[layer.dst] = out;
            t
        })
        .collect();
    let last = net
        .layers
        .last()
        .map_or(net.input_untruncated, |l| wide[l.dst]);
    (plan, last)
}

/// The truncations of a two-operand call that takes its secret arguments at scale f (Athos'
/// uninterpreted calls such as `Concat2T444`, and a product of two shares): each operand held at
/// `2f` is truncated in place, once even when both operands are the same tensor.
fn truncate_operands(net: &Network, layer: &Layer, wide: &mut [bool]) -> Truncation {
    let first = if wide[layer.src] {
        layer.input.elems()
    } else {
        0
    };
    wide[layer.src] = false;
    let second = match layer.src2 {
        Some(s2) if wide[s2] => {
            wide[s2] = false;
            net_shape_elems(net, s2)
        }
        _ => 0,
    };
    if first + second > 0 {
        Truncation::Operands(first, second)
    } else {
        Truncation::None
    }
}

/// Elements of tensor `id` of `net` (0: the input; otherwise the output of the layer writing it).
fn net_shape_elems(net: &Network, id: usize) -> u64 {
    if id == 0 {
        return net.input.elems();
    }
    net.layers
        .iter()
        .find(|l| l.dst == id)
        .map_or(0, |l| l.output.elems())
}

/// True when the network's output tensor is left at scale `2f` by [`truncation_plan`]'s rules:
/// a network piece ending there hands unreduced products to whatever reads it next.
pub fn output_untruncated(net: &Network) -> bool {
    scale_pass(net).1
}

/// Per-layer cost model of one protocol.
enum Model {
    /// Per-element rates (Cheetah, the Z_(2^l) rows, the field paper bounds).
    Rates(Rates),
    /// SCI_HE's field protocols as its code sends them ([`super::sci_field`]).
    SciField { eta: u64, p: u64, threads: u64 },
    /// Cheetah's protocols as OpenCheetah sends them ([`super::cheetah_nl`]); the Ferret pools
    /// carry over from layer to layer.
    CheetahCode {
        l: u64,
        f: u64,
        state: std::cell::RefCell<super::cheetah_nl::CheetahState>,
    },
}

fn per(n: u64, (bits, rounds): (u64, u64)) -> (u64, u64) {
    (n * bits, if n > 0 { rounds } else { 0 })
}

impl Model {
    fn new(protocol: Protocol, p: &NonlinearParams) -> Model {
        if protocol == Protocol::Cheetah && p.cheetah_nonlinear == CheetahNonlinear::Code {
            return Model::CheetahCode {
                l: p.l as u64,
                f: p.f as u64,
                state: std::cell::RefCell::new(super::cheetah_nl::CheetahState::new(
                    p.threads as u64,
                    p.cheetah_ferret,
                )),
            };
        }
        let field = protocol != Protocol::Cheetah && p.cryptflow2_shares == CryptflowShares::Field;
        if field && p.cryptflow2_nonlinear == Cryptflow2Nonlinear::Code {
            let (eta, prime) = super::sci_field::sci_prime(p.eta);
            Model::SciField {
                eta: eta as u64,
                p: prime,
                threads: p.threads as u64,
            }
        } else {
            Model::Rates(Rates::new(protocol, p))
        }
    }

    /// (bits, rounds) of `n` ReLUs; `truncates`: a truncation follows (OpenCheetah's ReLU then
    /// compares fewer bits).
    fn relu(&self, n: u64, truncates: bool) -> (u64, u64) {
        match self {
            Model::CheetahCode { l, f, state } => cheetah_bits(
                state
                    .borrow_mut()
                    .threaded(n, &|h: &mut super::cheetah_nl::RunHandle, c| {
                        h.relu(c, *l, *f, truncates)
                    }),
            ),
            &Model::Rates(r) => per(n, r.relu),
            &Model::SciField { eta, threads, .. } => {
                sci_bits(n, threads, |c| super::sci_field::relu_field(c, eta))
            }
        }
    }

    /// (bits, rounds) of truncating `n` elements by `f` bits.
    fn trunc(&self, n: u64, msb_known: bool, f: u32) -> (u64, u64) {
        match self {
            Model::CheetahCode { state, .. } => cheetah_bits(
                state
                    .borrow_mut()
                    .threaded(n, &|h: &mut super::cheetah_nl::RunHandle, c| {
                        h.truncate(c, f as u64)
                    }),
            ),
            &Model::Rates(r) => per(
                n,
                if msb_known {
                    r.trunc_before_relu
                } else {
                    r.trunc
                },
            ),
            &Model::SciField { eta, p, threads } => sci_bits(n, threads, |c| {
                super::sci_field::field_div(c, 1u64 << f, msb_known, eta, p)
            }),
        }
    }

    /// (bits, rounds) of max-pooling `n` outputs over windows of `d`.
    fn maxpool(&self, n: u64, d: u64) -> (u64, u64) {
        let steps = d.saturating_sub(1);
        match self {
            Model::CheetahCode { l, state, .. } => cheetah_bits(state.borrow_mut().threaded(
                n,
                &|h: &mut super::cheetah_nl::RunHandle, c| {
                    for _ in 0..steps {
                        h.relu_exact(c, *l);
                    }
                },
            )),
            &Model::Rates(r) => (
                n * steps * r.relu.0,
                if n > 0 {
                    sequential_rounds(d, r.relu.1)
                } else {
                    0
                },
            ),
            &Model::SciField { eta, threads, .. } => sci_bits(n, threads, |c| {
                let one = super::sci_field::relu_field(c, eta);
                super::sci_field::Traffic {
                    alice: steps * one.alice,
                    bob: steps * one.bob,
                    rounds: steps * one.rounds,
                }
            }),
        }
    }

    /// (bits, rounds) of dividing `n` window sums by `d`.
    fn avgpool(&self, n: u64, d: u64, p: &NonlinearParams) -> (u64, u64) {
        match self {
            Model::CheetahCode { l, state, .. } => cheetah_bits(
                state
                    .borrow_mut()
                    .threaded(n, &|h: &mut super::cheetah_nl::RunHandle, c| {
                        h.avgpool(c, d, *l)
                    }),
            ),
            &Model::Rates(r) => per(n, r.avgpool(d, p)),
            &Model::SciField { eta, p, threads } => sci_bits(n, threads, |c| {
                super::sci_field::field_div(c, d, false, eta, p)
            }),
        }
    }

    /// (bits, rounds) of an argmax over `d` values.
    fn argmax(&self, d: u64) -> (u64, u64) {
        match self {
            Model::CheetahCode { l, state, .. } => cheetah_bits(state.borrow_mut().argmax(d, *l)),
            &Model::Rates(r) => (
                d.saturating_sub(1) * (r.relu.0 + r.mux),
                tree_rounds(d, r.relu.1),
            ),
            &Model::SciField { eta, .. } => {
                let t = super::sci_field::argmax(d, eta);
                (8 * t.bytes(), t.rounds)
            }
        }
    }
}

/// Bits and rounds of an SCI layer over `n` elements split across threads.
fn sci_bits(n: u64, threads: u64, f: impl Fn(u64) -> super::sci_field::Traffic) -> (u64, u64) {
    if n == 0 {
        return (0, 0);
    }
    let t = super::sci_field::threaded(n, threads, f);
    (8 * t.bytes(), t.rounds)
}

/// Bits and rounds of a Cheetah layer.
fn cheetah_bits(t: super::sci_field::Traffic) -> (u64, u64) {
    (8 * t.bytes(), t.rounds)
}

/// Which protocol prices which operation: the one place that says so. Every costing path asks it
/// through [`check_priced`] (the HE counters [`super::count_layer`] and [`super::count_network`],
/// and the non-linear accounting [`network_nonlinear`]) before it counts a layer, so an operation
/// no protocol model covers is an error naming the layer, never a zero. Every operation but
/// `sigmoid` and `mul` is priced under every protocol. A protocol that comes to price one of
/// these two is enabled here, and its model added to the operation's arm in `layer_cost`.
///
/// - `cryptflow2` (SCI_HE): SCI has no sigmoid in its SCI_HE build (EzPC's and OpenCheetah's
///   `SCI/src/library_fixed.h`, `Sigmoid`: `assert(false && "Sigmoid not supported in
///   SCI_HE.")`), and no product of two secret-shared tensors (`SCI/src/library_fixed_uniform.cpp`,
///   `ElemWiseSecretSharedVectorMult`, computes the product under `SCI_OT` only; the SCI_HE
///   build leaves the output untouched).
/// - `gazelle-input`, `gazelle-output`, `gala`: neither paper defines a protocol for either
///   (stria counts their non-linear layers with SCI's field protocols, which have none).
/// - `cheetah`: OpenCheetah's Cheetah library has both (`Sigmoid`, `MathFunctions::sigmoid`;
///   `ElemWiseSecretSharedVectorMult`, `LinearOT::hadamard_cross_terms`), but at f71d4d4 its
///   build cannot run either: every secret x secret product crashes, and at the programs' 37-bit
///   shares the sigmoid throws before its first one ([`super::cheetah_math`], which says where
///   each call stops and is held against the calls of `results/measured/cheetah-math.csv`).
///   Cheetah's paper defines neither protocol, so `cheetah_nonlinear: paper` refuses them too.
pub fn pricing(op: &Op, protocol: Protocol) -> Result<(), String> {
    let what = match op {
        Op::Sigmoid => "a sigmoid",
        Op::Mul => "an element-wise product of two computed tensors (mul)",
        _ => return Ok(()),
    };
    let why = match (op, protocol) {
        (Op::Sigmoid, Protocol::Cryptflow2) => {
            "SCI_HE has no sigmoid: EzPC's and OpenCheetah's SCI refuse it in their SCI_HE build \
             (`SCI/src/library_fixed.h`, `Sigmoid` asserts \"Sigmoid not supported in SCI_HE.\")"
                .to_string()
        }
        (_, Protocol::Cryptflow2) => "SCI_HE has no product of two secret-shared tensors: \
             `ElemWiseSecretSharedVectorMult` (`SCI/src/library_fixed_uniform.cpp`) computes it \
             in the SCI_OT build only"
            .to_string(),
        (op, Protocol::Cheetah) => super::cheetah_math::cheetah_refusal(*op == Op::Sigmoid),
        (_, p) => format!(
            "no {p} protocol is defined for it (Gazelle and GALA specify ReLU, max-pooling and \
             linear layers; stria counts their non-linear layers with SCI's field protocols, \
             which have none for it)"
        ),
    };
    Err(format!("{what} cannot be costed under {protocol}: {why}"))
}

/// [`pricing`] of every layer of `net`: the first layer no `protocol` model prices, as an error
/// naming its path.
pub fn check_priced(net: &Network, protocol: Protocol) -> Result<(), CountError> {
    net.layers
        .iter()
        .try_for_each(|l| check_layer_priced(l, protocol))
}

/// [`pricing`] of one layer, as an error naming its path.
pub fn check_layer_priced(layer: &Layer, protocol: Protocol) -> Result<(), CountError> {
    pricing(&layer.op, protocol).map_err(|message| CountError {
        path: layer.path.clone(),
        message,
    })
}

/// A layer's cost and the bits of it that are truncation (`protocol`: the one `m` models).
fn layer_cost(
    layer: &Layer,
    protocol: Protocol,
    t: Truncation,
    m: &Model,
    p: &NonlinearParams,
) -> Result<(NlCost, u64), CountError> {
    check_layer_priced(layer, protocol)?;
    let out = layer.output.elems();
    // In the order the frameworks run them (the Cheetah model's Ferret pools are stateful): a
    // truncation before a product first, one after a ReLU last.
    let before = match t {
        Truncation::BeforeProduct(n) => Some((n, m.trunc(n, false, p.f))),
        _ => None,
    };
    let truncates = matches!(t, Truncation::AfterRelu(_));
    let (relu, (bits, rounds)) = match &layer.op {
        Op::Relu => (out, m.relu(out, truncates)),
        Op::Relu6 => {
            let (b, r) = m.relu(out, truncates);
            (2 * out, (2 * b, r))
        }
        Op::MaxPool(pool) => (0, m.maxpool(out, pool.kh as u64 * pool.kw as u64)),
        Op::AvgPool(pool) => (0, m.avgpool(out, pool.kh as u64 * pool.kw as u64, p)),
        Op::GlobalAvgPool => (
            0,
            m.avgpool(out, layer.input.h as u64 * layer.input.w as u64, p),
        ),
        Op::Argmax => (0, m.argmax(layer.input.elems())),
        Op::Conv(_)
        | Op::Fc
        | Op::BatchNorm { .. }
        | Op::Add
        | Op::Concat
        | Op::Flatten
        | Op::Shuffle { .. } => (0, (0, 0)),
        // Reached only once `pricing` lets a protocol price them; that protocol's model goes here.
        Op::Sigmoid | Op::Mul => {
            return Err(CountError {
                path: layer.path.clone(),
                message: format!(
                    "{} is priced under {protocol} by `pricing`, but no cost model is wired in for it",
                    layer.kind()
                ),
            });
        }
    };
    let (trunc, (tb, tr)) = match (before, t) {
        (Some(x), _) => x,
        (None, Truncation::AfterRelu(n)) => (n, m.trunc(n, true, p.f)),
        (None, Truncation::Operands(first, second)) => {
            // Two calls, the second operand's first; their rounds run one after the other.
            let call = |n: u64| {
                if n > 0 {
                    m.trunc(n, false, p.f)
                } else {
                    (0, 0)
                }
            };
            let (b2, r2) = call(second);
            let (b1, r1) = call(first);
            (first + second, (b1 + b2, r1 + r2))
        }
        _ => (0, (0, 0)),
    };
    let cost = NlCost {
        relu,
        trunc,
        bits: bits + tb,
        rounds: rounds + tr,
    };
    Ok((cost, tb))
}

/// Non-linear cost of every layer of `net` under `protocol`, one entry per layer, in order
/// (derived here; truncations sit where SCI's and OpenCheetah's network programs put them):
///
/// - ReLU: its elements, each one ReLU; ReLU6: two ReLUs per element (run in parallel).
/// - Truncations where [`truncation_plan`] puts them: after a ReLU reading unreduced products
///   (known MSB: SCI's division without its DReLU; Cheetah's paper formula `f + 4` bits), or
///   before a product reading them (unknown MSB: SCI's full division; Cheetah's paper
///   approximate or faithful protocol). OpenCheetah's code runs the same `truncate_msb0` for
///   both. The truncation is charged to the ReLU, or to the product that needs it.
/// - Max-pool: `d - 1` comparisons (DReLU + MUX) per output element, `d = kh*kw`, rounds
///   sequential over the `d - 1` steps.
/// - Average pool: one division by `d` per output element (`d = kh*kw`, or `H*W` of the input for
///   a global average pool); not counted as a truncation.
/// - Argmax over the input's elements: a tournament of comparisons carrying value and index.
/// - Add, flatten, shuffle (a channel permutation), folded BN: nothing.
///
/// Under `cryptflow2` (and the Gazelle/GALA packings, which share over the same prime field) with
/// the default `"cryptflow2_nonlinear": "code"`, every figure is the byte count of SCI's code
/// ([`super::sci_field`]), threads and padding included; under `cheetah` with the default
/// `"cheetah_nonlinear": "code"`, that of OpenCheetah's code ([`super::cheetah_nl`]), Ferret
/// refills charged to the layer that triggers them.
///
/// Rounds are those of the layer's non-linear protocols (elements are batched); the caller adds
/// the HE round trip of each linear layer. `p` is assumed valid ([`NonlinearParams::validate`]).
/// A layer `protocol` does not price ([`pricing`]) is an error naming it.
pub fn network_nonlinear(
    net: &Network,
    protocol: Protocol,
    p: &NonlinearParams,
) -> Result<Vec<NlCost>, CountError> {
    Ok(network_nonlinear_split(net, protocol, p)?
        .into_iter()
        .map(|(c, _)| c)
        .collect())
}

/// [`network_nonlinear`] with, per layer, the bits of its cost that are truncation (the
/// frameworks log truncations as a kind of their own, apart from the ReLU they follow).
pub fn network_nonlinear_split(
    net: &Network,
    protocol: Protocol,
    p: &NonlinearParams,
) -> Result<Vec<(NlCost, u64)>, CountError> {
    check_priced(net, protocol)?;
    let model = Model::new(protocol, p);
    net.layers
        .iter()
        .zip(truncation_plan(net))
        .map(|(layer, t)| layer_cost(layer, protocol, t, &model, p))
        .collect()
}

/// [`network_nonlinear_split`] under Cheetah's code model ([`super::cheetah_nl`], whatever
/// `cheetah_nonlinear` says), with the Ferret and IKNP state the run ends in (chosen-choice COTs
/// and, with [`super::cheetah_nl::Refills::Replay`], extensions per pool and thread).
pub fn cheetah_code_run(
    net: &Network,
    p: &NonlinearParams,
) -> Result<(Vec<(NlCost, u64)>, super::cheetah_nl::CheetahState), CountError> {
    check_priced(net, Protocol::Cheetah)?;
    let q = NonlinearParams {
        cheetah_nonlinear: CheetahNonlinear::Code,
        ..p.clone()
    };
    let model = Model::new(Protocol::Cheetah, &q);
    let costs = net
        .layers
        .iter()
        .zip(truncation_plan(net))
        .map(|(layer, t)| layer_cost(layer, Protocol::Cheetah, t, &model, &q))
        .collect::<Result<_, _>>()?;
    match model {
        Model::CheetahCode { state, .. } => Ok((costs, state.into_inner())),
        _ => unreachable!("Cheetah's code model"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_log2_values() {
        assert_eq!(
            [1, 2, 3, 4, 5, 32, 33, 37].map(ceil_log2),
            [0, 1, 2, 2, 3, 5, 6, 6]
        );
        assert_eq!(delta(49), 9); // 6*49 = 294 -> 2^9 = 512
        assert_eq!(delta(4096), 15); // 6*2^12 = 24576 -> 2^15
    }

    #[test]
    fn millionaires_quoted_l32() {
        // CrypTFlow2's quoted figures: 3844 bits at m = 4, 2930 at m = 7 (l = 32).
        assert_eq!(cf2_millionaires_bits(32, 4, 128), 3844);
        assert_eq!(cf2_millionaires_bits(32, 7, 128), 2930);
        // Both under the m = 4 bound lambda*l + 14*l = 4544.
        assert_eq!(cf2_millionaires_bound(32, 128), 4544);
    }

    #[test]
    fn millionaires_single_leaf() {
        // l = m: one (M choose 1)-OT_1 = 2*lambda + M; the general formula agrees there.
        assert_eq!(cf2_millionaires_bits(4, 4, 128), 256 + 16);
        assert_eq!(cf2_millionaires_bits(3, 4, 128), 256 + 8);
    }

    #[test]
    fn relu_ring_quoted_l32_m7() {
        // 3298 = 2914 (millionaires' on 31 bits) + 384 (MUX).
        assert_eq!(cf2_drelu_ring_bits(32, 7, 128), 2914);
        assert_eq!(cf2_mux_bits(32, 128), 384);
        assert_eq!(cf2_relu_ring_bits(32, 7, 128), 3298);
        assert_eq!(cf2_relu_ring_rounds(32), 7);
    }

    #[test]
    fn l37_f12_quoted() {
        // CrypTFlow2 ReLU 4684 bits (m = 4) = 4280 + 404, bound 5402; truncation bound 7399.
        assert_eq!(cf2_drelu_ring_bits(37, 4, 128), 4280);
        assert_eq!(cf2_relu_ring_bits(37, 4, 128), 4684);
        assert_eq!(cf2_relu_ring_bound(37, 128), 5402);
        assert_eq!(cf2_trunc_ring_bits(37, 12, 128), 7399);
        // Cheetah: ReLU 15*37 - 9 = 546, known-MSB 16, approximate 481, faithful 724.
        assert_eq!(cheetah_relu_bits(37), 546);
        assert_eq!(cheetah_relu_bits(37), 15 * 37 - 9);
        assert_eq!(cheetah_trunc_known_msb_bits(12), 16);
        assert_eq!(cheetah_trunc_approx_bits(37), 481);
        assert_eq!(cheetah_trunc_faithful_bits(37, 12), 724);
    }

    #[test]
    fn field_truncation_is_avgpool_of_2_pow_f() {
        // delta = ceil(log2(6*4096)) = 15; (192 + 34)*(37 + 30) = 15142.
        assert_eq!(cf2_trunc_field_bits(37, 12, 128), 15142);
        assert_eq!(cf2_trunc_field_rounds(37, 12), 10 + 6); // ceil(log2(37*15 = 555)) + 6
    }

    #[test]
    fn params_validate() {
        assert!(NonlinearParams::default().validate().is_ok());
        let bad = NonlinearParams {
            m: 0,
            ..NonlinearParams::default()
        };
        assert!(bad.validate().is_err());
        assert!(NonlinearParams::from_json(r#"{"l": 37, "bogus": 1}"#, "x.json").is_err());
        let p =
            NonlinearParams::from_json(r#"{"cheetah_truncation": "faithful"}"#, "x.json").unwrap();
        assert_eq!(p.cheetah_truncation, CheetahTruncation::Faithful);
        assert_eq!(p.l, 37);
    }
}
