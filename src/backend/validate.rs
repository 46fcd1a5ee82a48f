//! `stria validate`: run layers on real HE and hold them against the model: predicted vs observed
//! counts (must be equal), predicted vs serialized bytes, predicted vs measured milliseconds.

use super::{BackendError, LayerRun, RunOptions};
use crate::cost::OpCounts;
use crate::cost::price::{CostProfile, primes_for};
use crate::net::{Layer, Network, Op};
use crate::packing::{CountConfig, Protocol, count_layer};
use serde::Serialize;

/// The count columns that must agree exactly between the closed form and the execution (bytes
/// differ by construction: the counter prices SEAL's or OpenCheetah's wire format, the backend
/// serializes fhe.rs ciphertexts; they are reported side by side).
pub const EXACT_COLUMNS: [&str; 10] = [
    "internal_rot",
    "external_rot",
    "key_switch",
    "scmult",
    "add",
    "ct_up",
    "ct_down",
    "mod_switch",
    "enc",
    "dec",
];

fn column(c: &OpCounts, name: &str) -> u64 {
    match name {
        "internal_rot" => c.internal_rot,
        "external_rot" => c.external_rot,
        "key_switch" => c.key_switch,
        "scmult" => c.scmult,
        "add" => c.add,
        "ct_up" => c.ct_up,
        "ct_down" => c.ct_down,
        "mod_switch" => c.mod_switch,
        "enc" => c.enc,
        "dec" => c.dec,
        "bytes_up" => c.bytes_up,
        "bytes_down" => c.bytes_down,
        _ => unreachable!("unknown column {name}"),
    }
}

/// Columns where predicted and observed counts differ (empty when they agree).
pub fn count_mismatches(predicted: &OpCounts, observed: &OpCounts) -> Vec<String> {
    EXACT_COLUMNS
        .iter()
        .filter(|c| column(predicted, c) != column(observed, c))
        .map(|c| {
            format!(
                "{c}: predicted {} observed {}",
                column(predicted, c),
                column(observed, c)
            )
        })
        .collect()
}

/// One validated layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidateRow {
    pub layer: String,
    pub kind: String,
    pub n: u64,
    pub predicted_rot: u64,
    pub predicted_key_switch: u64,
    pub predicted_scmult: u64,
    pub predicted_ct_up: u64,
    pub predicted_ct_down: u64,
    pub observed_rot: u64,
    pub observed_key_switch: u64,
    pub observed_scmult: u64,
    pub observed_ct_up: u64,
    pub observed_ct_down: u64,
    /// Every exact column agrees.
    pub counts_equal: bool,
    pub mismatches: String,
    pub predicted_bytes: u64,
    pub serialized_bytes: u64,
    pub predicted_ms: f64,
    pub measured_ms: f64,
    pub error_pct: f64,
    pub correct: bool,
    pub noise_budget_bits: Option<u32>,
}

/// Whether a layer has HE work under `cfg` (what `validate` can run).
pub fn is_he_layer(layer: &Layer) -> bool {
    matches!(
        layer.op,
        Op::Conv(_) | Op::Fc | Op::BatchNorm { folded: false }
    )
}

/// `*`-wildcard match of a layer path (`stages[1].*.conv2`); a pattern without `*` matches paths
/// containing it.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    if !pattern.contains('*') {
        return path.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = path;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(k) => rest = &rest[k + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Runs one layer on real HE under `protocol`.
pub fn run_layer(
    layer: &Layer,
    cfg: &CountConfig,
    opts: &RunOptions,
) -> Result<LayerRun, BackendError> {
    match cfg.protocol {
        Protocol::Cryptflow2 => super::simd::run_layer(layer, cfg, opts),
        Protocol::Cheetah => super::coeff::run_layer(layer, cfg, opts),
        p => Err(BackendError(format!(
            "the real HE backend runs cryptflow2 and cheetah layers; {p} is a counting-only model"
        ))),
    }
}

/// Validates one layer: predicted counts, the real run, and the comparison.
pub fn validate_layer(
    layer: &Layer,
    cfg: &CountConfig,
    profile: &CostProfile,
    opts: &RunOptions,
) -> Result<ValidateRow, BackendError> {
    let predicted = count_layer(layer, cfg).map_err(|e| BackendError(e.to_string()))?;
    let run = run_layer(layer, cfg, opts)?;
    let p = predicted.counts;
    let o = run.observed;
    let mismatches = count_mismatches(&p, &o);
    let zero_link = crate::cost::price::Link {
        name: "none".into(),
        bandwidth_mbit_s: f64::INFINITY,
        rtt_ms: 0.0,
        source: String::new(),
    };
    // Predicted compute time of the counted operations at the ring degree the run used.
    let mix = crate::packing::level_mix(layer, cfg, &predicted)
        .map_err(|e| BackendError(e.to_string()))?;
    let price = crate::cost::price::price_layer_mix(
        &p,
        &mix,
        predicted.n,
        primes_for(cfg.protocol),
        0,
        0,
        profile,
        &zero_link,
    )
    .map_err(|e| BackendError(e.to_string()))?;
    let measured_ms = run.times.total_ns() as f64 / 1e6;
    let error_pct = if measured_ms > 0.0 {
        100.0 * (price.compute_ms - measured_ms) / measured_ms
    } else {
        0.0
    };
    Ok(ValidateRow {
        layer: layer.path.clone(),
        kind: layer.kind(),
        n: run.n,
        predicted_rot: p.rotations(),
        predicted_key_switch: p.key_switch,
        predicted_scmult: p.scmult,
        predicted_ct_up: p.ct_up,
        predicted_ct_down: p.ct_down,
        observed_rot: o.rotations(),
        observed_key_switch: o.key_switch,
        observed_scmult: o.scmult,
        observed_ct_up: o.ct_up,
        observed_ct_down: o.ct_down,
        counts_equal: mismatches.is_empty(),
        mismatches: mismatches.join("; "),
        predicted_bytes: p.bytes_up + p.bytes_down,
        serialized_bytes: o.bytes_up + o.bytes_down,
        predicted_ms: price.compute_ms,
        measured_ms,
        error_pct,
        correct: run.correct,
        noise_budget_bits: run.noise_budget_bits,
    })
}

/// Mean absolute percentage error of the time predictions.
pub fn mape(rows: &[ValidateRow]) -> f64 {
    if rows.is_empty() {
        return 0.0;
    }
    rows.iter().map(|r| r.error_pct.abs()).sum::<f64>() / rows.len() as f64
}

/// The layers `validate` runs: those matching `pattern` (all HE layers when `None`).
pub fn select_layers<'a>(net: &'a Network, pattern: Option<&str>) -> Vec<&'a Layer> {
    net.layers
        .iter()
        .filter(|l| is_he_layer(l) && pattern.is_none_or(|p| path_matches(p, &l.path)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(path_matches("conv", "stages[0].blocks[1].conv2"));
        assert!(path_matches(
            "stages[0].*.conv2",
            "stages[0].blocks[1].conv2"
        ));
        assert!(!path_matches(
            "stages[1].*.conv2",
            "stages[0].blocks[1].conv2"
        ));
        assert!(path_matches("*conv1", "conv1"));
        assert!(path_matches("*", "anything"));
    }
}
