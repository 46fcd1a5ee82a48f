//! Closed-form counters: how a resolved layer is laid onto ciphertexts and what that costs.
//!
//! `simd` is the CrypTFlow2 SCI_HE counter (CrypTFlow2 (Rathee et al., CCS 2020) Sec. 6.1; EzPC
//! `SCI/src/LinearHE/`); `gazelle` holds the Gazelle input/output-rotation and GALA
//! kernel-grouping formulas (Gazelle Table 4; GALA Sec. III-B, Table III).
//!
//! Convolutions carry an accumulation strategy (`Conv::accum`, derived here) and a group
//! layout (`Conv::group_layout`). The SIMD counters count each strategy as its own plan (`simd`'s
//! module documentation); Cheetah has no rotations, so the strategies do not change its counts,
//! while the strided group layout does (`coeff::conv`). `auto` is counted as `he-rotate`: the
//! cheaper of `he-rotate` and `share-side` depends on the link, which counting does not know, so
//! the evaluation counts both with [`count_layer_as`] / [`level_mix_as`] and prices them. A
//! `shuffle` (channel permutation) costs nothing.

pub mod cheetah_math;
pub mod cheetah_nl;
pub mod coeff;
pub mod gazelle;
pub mod nonlinear;
pub mod sci_field;
pub mod simd;

use crate::cost::{LevelMix, OpCounts};
use crate::he::KeyPolicy;
pub use crate::he::protocol::{Protocol, SciBuild};
use crate::net::graph::Accum;
use crate::net::{Conv, Layer, Network, Op};
use serde::Serialize;

/// Counting settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CountConfig {
    pub protocol: Protocol,
    pub key_policy: KeyPolicy,
    /// CrypTFlow2: the minimum ring degree of the per-layer choice (default 8192). Gazelle/GALA:
    /// the ring degree (default 2048). Cheetah: the ring degree (default 4096).
    pub ring_degree: u64,
    /// Cheetah's moduli, share width, partition and depthwise layout.
    pub cheetah: coeff::CheetahParams,
    /// CrypTFlow2: whose SCI_HE build the bytes follow (EzPC's with SEAL 3.3.2, or OpenCheetah's
    /// with SEAL 3.7.2 and zstd). Operation counts are the same.
    pub sci_build: SciBuild,
}

impl CountConfig {
    /// These settings for counting `net`: a Cheetah batch-norm protocol not set here is the
    /// network's own (its spec's `cheetah_batchnorm`).
    pub fn for_network(&self, net: &Network) -> CountConfig {
        let mut c = *self;
        c.cheetah.batchnorm = c.cheetah.batchnorm.or(net.cheetah_batchnorm);
        c
    }

    /// The framework's own settings for `protocol`.
    pub fn new(protocol: Protocol) -> CountConfig {
        CountConfig {
            protocol,
            key_policy: protocol.default_key_policy(),
            ring_degree: protocol.default_ring_degree(),
            cheetah: coeff::CheetahParams::default(),
            sci_build: SciBuild::default(),
        }
    }

    /// Bits of the ciphertext modulus the protocol uses at its largest (fresh) level, for the
    /// security check: SCI_HE {60, 60, 60, 38} = 218 bits (utils-HE.cpp); Gazelle's single 60-bit q.
    pub fn log_q(&self) -> u32 {
        match self.protocol {
            Protocol::Cryptflow2 => 218,
            Protocol::Cheetah => self.cheetah.q_bits,
            _ => gazelle::LOG_Q,
        }
    }

    /// Ring degrees that may be used (for the security warning): every power of two from the
    /// configured degree up to SCI_HE's maximum for CrypTFlow2; the fixed degree otherwise.
    pub fn check_security(&self) -> Option<String> {
        crate::he::security_warning(self.ring_degree, self.log_q())
    }
}

/// Counts of one layer, with the ring degree `n` and channels per ciphertext `cn` used (for a
/// strided convolution, those of its first and largest sub-convolution; `None` for layers with no
/// HE work).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct LayerCost {
    pub counts: OpCounts,
    pub n: Option<u64>,
    pub cn: Option<u64>,
}

impl LayerCost {
    /// Records `n` and `cn` of a sub-convolution unless an earlier (the first, largest) one did.
    pub(crate) fn note_layout(&mut self, n: u64, cn: u64) {
        if self.n.is_none() {
            self.n = Some(n);
            self.cn = Some(cn);
        }
    }
}

/// A layer the protocol cannot run (for example an image too large for any ring degree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for CountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "layer `{}`: {}", self.path, self.message)
    }
}

impl std::error::Error for CountError {}

/// Counts one layer under `cfg`. A convolution uses its own accumulation strategy (`auto` counts
/// as `he-rotate`). A layer no model of the protocol prices ([`nonlinear::pricing`]) is an error.
pub fn count_layer(layer: &Layer, cfg: &CountConfig) -> Result<LayerCost, CountError> {
    let accum = match &layer.op {
        Op::Conv(c) => c.accum,
        _ => Accum::HeRotate,
    };
    count_layer_as(layer, cfg, accum)
}

/// [`count_layer`] with a convolution's accumulation strategy replaced by `accum` (other layers
/// are counted as usual). The evaluation resolves `auto` layers with it: it counts both
/// `he-rotate` and `share-side` and prices them on the link.
pub fn count_layer_as(
    layer: &Layer,
    cfg: &CountConfig,
    accum: Accum,
) -> Result<LayerCost, CountError> {
    nonlinear::check_layer_priced(layer, cfg.protocol)?;
    let r = match &layer.op {
        Op::Conv(c) => conv(layer, c, accum, cfg),
        Op::Fc if cfg.protocol == Protocol::Cheetah => Ok(coeff::fc(
            layer.input.c as u64,
            layer.output.c as u64,
            layer.reads_input,
            &cfg.cheetah,
            cfg.ring_degree,
        )),
        Op::BatchNorm { folded: false } if cfg.protocol == Protocol::Cheetah => {
            let i = layer.input;
            let (c, h, w) = (i.c as u64, i.h as u64, i.w as u64);
            let n = cfg.ring_degree;
            if coeff::bn_uses_direct(c, h, w, &cfg.cheetah, n) {
                Ok(coeff::batchnorm_direct(
                    c,
                    h,
                    w,
                    layer.reads_input,
                    &cfg.cheetah,
                    n,
                ))
            } else {
                Ok(coeff::batchnorm(
                    layer.input.elems(),
                    layer.reads_input,
                    &cfg.cheetah,
                    n,
                ))
            }
        }
        Op::Fc => match cfg.protocol {
            Protocol::Gala => gazelle::fc_gala(layer.input.c as u64, layer.output.c as u64, cfg),
            Protocol::Cryptflow2 => simd::fc(layer.input.c as u64, layer.output.c as u64, cfg),
            _ => gazelle::fc_hybrid(layer.input.c as u64, layer.output.c as u64, cfg),
        },
        Op::BatchNorm { folded: false } => match cfg.protocol {
            Protocol::Cryptflow2 => Ok(simd::elementwise(layer.input.elems(), cfg)),
            _ => Ok(gazelle::elementwise(layer.input.elems(), cfg)),
        },
        // Folded BN, non-linear layers and local operations: no HE work (non-linear protocol costs
        // are a separate model).
        _ => Ok(LayerCost::default()),
    };
    r.map_err(|message| CountError {
        path: layer.path.clone(),
        message,
    })
}

fn conv(layer: &Layer, c: &Conv, accum: Accum, cfg: &CountConfig) -> Result<LayerCost, String> {
    match cfg.protocol {
        Protocol::Cryptflow2 => simd::conv_as(layer.input, layer.output.c, c, accum, cfg),
        Protocol::Cheetah => coeff::conv(
            layer.input,
            layer.output,
            c,
            layer.reads_input,
            &cfg.cheetah,
            cfg.ring_degree,
        ),
        p => gazelle::conv_as(layer.input, layer.output.c, c, accum, p, cfg),
    }
}

/// The operations of `cost` (the layer's counts under `cfg`) by the level where the protocol runs
/// them (see [`LevelMix`]): SCI_HE's three levels, Cheetah's two (decryption at the first prime
/// only; AddPlain of the server share apart from ciphertext additions), Gazelle/GALA's one.
pub fn level_mix(
    layer: &Layer,
    cfg: &CountConfig,
    cost: &LayerCost,
) -> Result<LevelMix, CountError> {
    let accum = match &layer.op {
        Op::Conv(c) => c.accum,
        _ => Accum::HeRotate,
    };
    level_mix_as(layer, cfg, accum, cost)
}

/// [`level_mix`] of `cost = count_layer_as(layer, cfg, accum)`.
pub fn level_mix_as(
    layer: &Layer,
    cfg: &CountConfig,
    accum: Accum,
    cost: &LayerCost,
) -> Result<LevelMix, CountError> {
    let c = &cost.counts;
    if cost.n.is_none() {
        return Ok(LevelMix::default());
    }
    let r = match (cfg.protocol, &layer.op) {
        (Protocol::Cryptflow2, Op::Conv(conv)) => {
            simd::conv_level_mix_as(layer.input, layer.output.c, conv, accum, cfg)
        }
        (Protocol::Cryptflow2, Op::Fc) => Ok(simd::fc_level_mix(c)),
        (Protocol::Cryptflow2, _) => Ok(simd::elementwise_level_mix(c)),
        (Protocol::Cheetah, _) => {
            let add_plain = if layer.reads_input { 0 } else { c.ct_up };
            Ok(LevelMix {
                key_switch: [c.key_switch, 0, 0],
                scmult: [c.scmult, 0, 0],
                add: [c.add - add_plain, 0, 0],
                add_plain: [add_plain, 0, 0],
                mod_switch: [c.mod_switch, 0, 0],
                enc: [c.enc, 0, 0],
                dec: [0, c.dec, 0],
            })
        }
        _ => Ok(LevelMix::fresh(c)),
    };
    r.map_err(|message| CountError {
        path: layer.path.clone(),
        message,
    })
}

/// Counts every layer of a network, in order; the first layer no model of the protocol prices
/// ([`nonlinear::pricing`]) is an error.
pub fn count_network(net: &Network, cfg: &CountConfig) -> Result<Vec<LayerCost>, CountError> {
    let cfg = &cfg.for_network(net);
    // Filled in place: layers without HE work keep the default, SCI_HE convolutions accumulate
    // straight into their slot (the count of a whole network must take microseconds);
    // `conv_into` dispatches on the layer's accumulation strategy and group layout.
    let mut out = vec![LayerCost::default(); net.layers.len()];
    for (l, slot) in net.layers.iter().zip(out.iter_mut()) {
        nonlinear::check_layer_priced(l, cfg.protocol)?;
        match &l.op {
            Op::Conv(c) if cfg.protocol == Protocol::Cryptflow2 => {
                simd::conv_into(l.input, l.output.c, c, cfg, slot).map_err(|message| {
                    CountError {
                        path: l.path.clone(),
                        message,
                    }
                })?;
            }
            Op::Conv(_) | Op::Fc | Op::BatchNorm { folded: false } => *slot = count_layer(l, cfg)?,
            _ => {}
        }
    }
    Ok(out)
}

/// One phase `(r, c)` of Gazelle's strided decomposition (Gazelle (Juvekar et al., USENIX Security
/// 2018) Sec. 6.1, Fig. 10; EzPC `conv-field.cpp` `ConvField::convolution`): the taps `(dy, dx)` of
/// the kernel with `dy = r mod sh` and `dx = c mod sw`, re-indexed as `((dy - r)/sh, (dx - c)/sw)`
/// in the sub-filter.
pub(crate) fn phase_taps(
    c: &Conv,
    r: u32,
    col: u32,
) -> impl Iterator<Item = (u64, u64)> + Clone + '_ {
    // Stride 1 (the common case) keeps every tap: skip the modulo tests.
    let unit = c.sh == 1 && c.sw == 1;
    c.taps
        .iter()
        .filter(move |(dy, dx)| unit || (dy % c.sh == r && dx % c.sw == col))
        .map(move |(dy, dx)| {
            if unit {
                (*dy as u64, *dx as u64)
            } else {
                (((dy - r) / c.sh) as u64, ((dx - col) / c.sw) as u64)
            }
        })
}

/// `ceil(a / b)` for `b > 0`.
pub(crate) fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}
