//! One evaluation of a network under one setting: HE counts (packing), non-linear protocol costs
//! and prices (compute + link), layer by layer. Counting never depends on the link or the profile;
//! pricing is applied on top.

use crate::cost::OpCounts;
use crate::cost::price::{CostProfile, Link, Price, price_layer_mix, primes_for};
use crate::error::SpecError;
use crate::net::Network;
use crate::net::spec::Accum;
use crate::net::{Layer, Op};
use crate::packing::nonlinear::{NlCost, NonlinearParams, network_nonlinear};
use crate::packing::{
    CountConfig, CountError, LayerCost, count_layer_as, count_network, level_mix, level_mix_as,
};
use serde::Serialize;

/// Everything an evaluation depends on.
#[derive(Debug, Clone)]
pub struct Setting {
    pub count: CountConfig,
    pub nonlinear: NonlinearParams,
    pub link: Link,
    pub profile: CostProfile,
}

impl Setting {
    /// The framework's own counting settings for `protocol`, the default non-linear parameters,
    /// the given link and the default (measured) cost profile. Cheetah's plaintext modulus is
    /// `2^l` with `l` from the non-linear parameters.
    pub fn new(protocol: crate::he::Protocol, link: Link) -> Setting {
        let nonlinear = NonlinearParams::default();
        let mut count = CountConfig::new(protocol);
        count.cheetah.plain_bits = nonlinear.l;
        Setting {
            count,
            nonlinear,
            link,
            profile: CostProfile::published_priors(),
        }
    }
}

/// One layer's evaluation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LayerEval {
    pub cost: LayerCost,
    pub nl: NlCost,
    /// Non-linear traffic, `ceil(bits / 8)`.
    pub nonlinear_bytes: u64,
    /// Round trips: one per HE layer plus the non-linear protocol rounds.
    pub rounds: u64,
    pub price: Price,
    /// The HE part of the latency: compute + HE bytes + the HE round trip.
    pub linear_ms: f64,
    /// The non-linear part: non-linear bytes + non-linear rounds.
    pub nonlinear_ms: f64,
    /// Capacity of the layer: trainable parameters and multiply-accumulates.
    pub params: u64,
    pub macs: u64,
}

/// Column sums of an evaluation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Totals {
    pub counts: OpCounts,
    pub relu: u64,
    pub trunc: u64,
    pub nonlinear_bytes: u64,
    pub rounds: u64,
    pub price: Price,
    pub linear_ms: f64,
    pub nonlinear_ms: f64,
    pub params: u64,
    pub macs: u64,
}

impl Totals {
    pub fn of(rows: &[LayerEval]) -> Totals {
        rows.iter().fold(Totals::default(), |mut t, r| {
            t.counts += r.cost.counts;
            t.relu += r.nl.relu;
            t.trunc += r.nl.trunc;
            t.nonlinear_bytes += r.nonlinear_bytes;
            t.rounds += r.rounds;
            t.price += r.price;
            t.linear_ms += r.linear_ms;
            t.nonlinear_ms += r.nonlinear_ms;
            t.params += r.params;
            t.macs += r.macs;
            t
        })
    }
}

/// Why an evaluation failed: a layer the protocol cannot run, or a profile without an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    Count(CountError),
    Price { path: String, error: SpecError },
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvalError::Count(e) => write!(f, "{e}"),
            EvalError::Price { path, error } => write!(f, "pricing layer `{path}`: {error}"),
        }
    }
}

impl std::error::Error for EvalError {}

/// Evaluates every layer of `net` under `s`.
///
/// A convolution with `accum: auto` is counted both ways (`he-rotate` and `share-side`) and takes
/// whichever has the lower latency on this setting's link and profile: `auto` is the one place
/// where the counts of a layer depend on the link, by design.
pub fn evaluate(net: &Network, s: &Setting) -> Result<Vec<LayerEval>, EvalError> {
    // The counting settings with the network's own choices (a copy; pricing needs only the
    // protocol, which is the same).
    let count = &s.count.for_network(net);
    let costs = count_network(net, count).map_err(EvalError::Count)?;
    let nl = network_nonlinear(net, s.count.protocol, &s.nonlinear).map_err(EvalError::Count)?;
    net.layers
        .iter()
        .zip(costs)
        .zip(nl)
        .map(|((layer, cost), nl)| {
            let auto = matches!(&layer.op, Op::Conv(c) if c.accum == Accum::Auto);
            if !auto {
                let mix = level_mix(layer, count, &cost).map_err(EvalError::Count)?;
                return price(layer, cost, &mix, nl, s);
            }
            let mut best: Option<LayerEval> = None;
            for accum in [Accum::HeRotate, Accum::ShareSide] {
                let cost = count_layer_as(layer, count, accum).map_err(EvalError::Count)?;
                let mix = level_mix_as(layer, count, accum, &cost).map_err(EvalError::Count)?;
                let e = price(layer, cost, &mix, nl, s)?;
                if best.is_none_or(|b| e.price.latency_ms < b.price.latency_ms) {
                    best = Some(e);
                }
            }
            Ok(best.expect("two candidates"))
        })
        .collect()
}

/// Prices one layer's counts and non-linear costs.
fn price(
    layer: &Layer,
    cost: LayerCost,
    mix: &crate::cost::LevelMix,
    nl: NlCost,
    s: &Setting,
) -> Result<LayerEval, EvalError> {
    let he_round = cost.n.is_some() as u64;
    let nonlinear_bytes = nl.bits.div_ceil(8);
    let rounds = he_round + nl.rounds;
    let price = price_layer_mix(
        &cost.counts,
        mix,
        cost.n,
        primes_for(s.count.protocol),
        nonlinear_bytes,
        rounds,
        &s.profile,
        &s.link,
    )
    .map_err(|error| EvalError::Price {
        path: layer.path.clone(),
        error,
    })?;
    let he_bytes = cost.counts.bytes_up + cost.counts.bytes_down;
    let linear_ms =
        price.compute_ms + s.link.transfer_ms(he_bytes) + he_round as f64 * s.link.rtt_ms;
    Ok(LayerEval {
        cost,
        nl,
        nonlinear_bytes,
        rounds,
        price,
        linear_ms,
        nonlinear_ms: price.latency_ms - linear_ms,
        params: layer.params(),
        macs: layer.macs(),
    })
}
