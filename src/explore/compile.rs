//! Compiling a search space into cost tables, so that evaluating a candidate is a few table
//! look-ups and additions.
//!
//! Every knob is a *dimension* with a finite list of choices; a candidate is one choice (a digit)
//! per dimension. The network splits into *terms* (the stem, each block position, the head), and
//! each term's cost depends on only a few dimensions: a block depends on the width multiplier, its
//! stage's depth (whether it is present), its ratio choice, and the kernel shape and accumulation
//! choices that apply to it. Each term gets a table over the choices of its dimensions, filled by
//! the ordinary counter and pricer ([`crate::eval::evaluate`]) on the block as a one-block network,
//! memoized by (block parameters, input shape): identical blocks (every non-first block of a stage,
//! the same width reached by different knobs) are counted once. A candidate's cost is the sum of
//! its terms' table entries; counts and prices are sums of per-layer values (layers are priced
//! sequentially, [`crate::cost::price`]), and a block's layers do not depend on the layers around
//! it, so the sum equals the evaluation of the whole network (tests check it on random candidates
//! of every shipped space, and `stria search` re-evaluates every Pareto point whole).

use super::space::{Generator, Groups, Metric, Per, SpaceFile};
use crate::cost::OpCounts;
use crate::cost::price::{load_link, load_profile};
use crate::error::SpecError;
use crate::eval::{LayerEval, Setting, Totals, evaluate};
use crate::net::graph::build;
use crate::net::parse::parse_spec_value;
use crate::net::spec::{Accum, KernelShape};
use crate::net::{Network, NetworkSpec};
use crate::packing::nonlinear::output_untruncated;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The cost and capacity of a term or a candidate. Counts and milliseconds add up over terms;
/// `max_ct_layer` and `max_block_internal_rot` take the maximum.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metrics {
    pub latency_ms: f64,
    pub compute_ms: f64,
    /// HE compute + HE traffic + HE round trips.
    pub linear_ms: f64,
    /// Non-linear traffic + non-linear rounds.
    pub nonlinear_ms: f64,
    /// HE operation counts and traffic (sums).
    pub counts: OpCounts,
    pub nonlinear_bytes: u64,
    pub relu: u64,
    pub params: u64,
    pub macs: u64,
    /// The largest `max(ct_up, ct_down)` of any layer.
    pub max_ct_layer: u64,
    /// The largest internal-rotation count of any block.
    pub max_block_internal_rot: u64,
    /// External rotations inside the searched blocks (the stem and head are fixed).
    pub block_external_rot: u64,
    /// 0, or 1 + the index of the reason (in [`Compiled::reasons`]) this candidate cannot be
    /// built.
    pub invalid: u32,
}

impl Metrics {
    /// Sums a term into a candidate.
    #[inline(always)]
    pub fn accumulate(&mut self, t: &Metrics) {
        self.latency_ms += t.latency_ms;
        self.compute_ms += t.compute_ms;
        self.linear_ms += t.linear_ms;
        self.nonlinear_ms += t.nonlinear_ms;
        self.counts += t.counts;
        self.nonlinear_bytes += t.nonlinear_bytes;
        self.relu += t.relu;
        self.params += t.params;
        self.macs += t.macs;
        self.max_ct_layer = self.max_ct_layer.max(t.max_ct_layer);
        self.max_block_internal_rot = self.max_block_internal_rot.max(t.max_block_internal_rot);
        self.block_external_rot += t.block_external_rot;
        if self.invalid == 0 {
            self.invalid = t.invalid;
        }
    }

    /// Sums the rows of an evaluation (the stem, one block, the head, or a whole network).
    pub fn of_rows(rows: &[LayerEval]) -> Metrics {
        let t = Totals::of(rows);
        Metrics {
            latency_ms: t.price.latency_ms,
            compute_ms: t.price.compute_ms,
            linear_ms: t.linear_ms,
            nonlinear_ms: t.nonlinear_ms,
            counts: t.counts,
            nonlinear_bytes: t.nonlinear_bytes,
            relu: t.relu,
            params: t.params,
            macs: t.macs,
            max_ct_layer: rows
                .iter()
                .map(|r| r.cost.counts.ct_up.max(r.cost.counts.ct_down))
                .max()
                .unwrap_or(0),
            ..Metrics::default()
        }
    }

    /// HE and non-linear traffic, both directions.
    pub fn comm_bytes(&self) -> u64 {
        self.counts.bytes_up + self.counts.bytes_down + self.nonlinear_bytes
    }

    /// The value of a metric, as f64 (for objectives and constraints).
    #[inline(always)]
    pub fn get(&self, m: Metric) -> f64 {
        match m {
            Metric::LatencyMs => self.latency_ms,
            Metric::CommBytes => self.comm_bytes() as f64,
            Metric::Params => self.params as f64,
            Metric::Macs => self.macs as f64,
            Metric::Rotations => self.counts.rotations() as f64,
            Metric::ExternalRot => self.counts.external_rot as f64,
            Metric::InternalRot => self.counts.internal_rot as f64,
            Metric::KeySwitch => self.counts.key_switch as f64,
            Metric::Scmult => self.counts.scmult as f64,
            Metric::Relu => self.relu as f64,
        }
    }

    /// Equal counts and capacity, milliseconds equal up to rounding (relative 1e-9): the
    /// table sum against the whole-network evaluation.
    pub fn same_as(&self, o: &Metrics) -> bool {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        let Metrics {
            latency_ms,
            compute_ms,
            linear_ms,
            nonlinear_ms,
            max_block_internal_rot: _,
            ..
        } = *self;
        let strip = |m: &Metrics| Metrics {
            latency_ms: 0.0,
            compute_ms: 0.0,
            linear_ms: 0.0,
            nonlinear_ms: 0.0,
            max_block_internal_rot: 0,
            ..*m
        };
        close(latency_ms, o.latency_ms)
            && close(compute_ms, o.compute_ms)
            && close(linear_ms, o.linear_ms)
            && close(nonlinear_ms, o.nonlinear_ms)
            && strip(self) == strip(o)
    }
}

/// What a dimension chooses.
#[derive(Debug, Clone)]
pub enum DimKind {
    /// One ratio for every stage (uniform generator).
    UniformRatio(Vec<f64>),
    /// CPAS: middle width in units of the stage's `cn_s` (`block` = Some for per-block knobs).
    Units {
        stage: usize,
        block: Option<usize>,
        units: Vec<u32>,
    },
    Depth {
        stage: usize,
        values: Vec<u32>,
    },
    WidthMult(Vec<f64>),
    Kernel {
        stage: Option<usize>,
        values: Vec<KernelShape>,
    },
    Accum {
        stage: Option<usize>,
        values: Vec<Accum>,
    },
    Groups {
        stage: Option<usize>,
        values: Vec<Groups>,
    },
}

/// One dimension of the space: its column name, the printable value of each choice, and what
/// it chooses.
#[derive(Debug, Clone)]
pub struct Dim {
    pub name: String,
    pub labels: Vec<String>,
    pub kind: DimKind,
}

impl Dim {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// A term: its table starts at `base` in [`Compiled::entries`]; `dims` are (dimension, stride).
#[derive(Debug, Clone)]
struct Term {
    dims: Vec<(usize, usize)>,
    base: usize,
}

/// A space ready for fast evaluation.
pub struct Compiled {
    pub space: SpaceFile,
    /// The space file's path (for error messages) and a fingerprint of its text.
    pub file: String,
    pub fingerprint: u64,
    pub generator: Option<Generator>,
    pub dims: Vec<Dim>,
    /// Channels per ciphertext of a 1x1 layer at each stage's output resolution, under the
    /// space's protocol (the `cn_s` of Channel Packing-Aware Scaling, README "StriaBlock and
    /// StriaNet").
    pub cn: Vec<u32>,
    /// Each stage's input and output resolution.
    pub resolution: Vec<((u32, u32), (u32, u32))>,
    /// Why some table entries cannot be built (first come first listed).
    pub reasons: Vec<String>,
    pub setting: Setting,
    /// Total number of candidates (product of dimension sizes).
    pub total: u64,
    terms: Vec<Term>,
    entries: Vec<Metrics>,
    /// (dimension sizes) for decoding indices, last dimension fastest.
    radix: Vec<u64>,
    stem_out: (u32, u32, u32),
    /// The stem leaves unreduced fixed-point products at its output (see
    /// [`crate::packing::nonlinear::truncation_plan`]): the first block starts from them.
    stem_untruncated: bool,
    /// Blocks the memo counted (distinct block configurations).
    pub distinct_blocks: usize,
}

/// Builds the setting of a space: protocol, link, profile, key policy and ring degree.
pub fn space_setting(space: &SpaceFile, file: &str) -> Result<Setting, SpecError> {
    let s = &space.setting;
    let link = load_link(&s.link)
        .map_err(|e| SpecError::file(file, format!("field `setting.link`: {e}")))?;
    let mut setting = Setting::new(s.protocol, link);
    setting.profile = match &s.profile {
        Some(p) => load_profile(p)
            .map_err(|e| SpecError::file(file, format!("field `setting.profile`: {e}")))?,
        None => crate::cost::price::CostProfile::default_profile(),
    };
    if let Some(k) = s.key_policy {
        setting.count.key_policy = k;
    }
    if let Some(n) = s.ring_degree {
        setting.count.ring_degree = n;
    }
    Ok(setting)
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// `round(v * m)`, at least 1.
fn scale(v: u32, m: f64) -> u32 {
    ((v as f64 * m).round() as u32).max(1)
}

impl Compiled {
    /// Compiles a space; `generator` overrides the ratio knob's generator (`--generator`).
    pub fn new(
        space: SpaceFile,
        text: &str,
        file: &str,
        generator: Option<Generator>,
    ) -> Result<Compiled, SpecError> {
        let mut space = space;
        if let (Some(g), Some(r)) = (generator, space.knobs.ratio.as_mut()) {
            if r.generator != g {
                r.generator = g;
                r.per = None;
            }
        } else if generator.is_some() {
            return Err(SpecError::file(
                file,
                "--generator needs a `knobs.ratio` in the space file",
            ));
        }
        let setting = space_setting(&space, file)?;
        let mut c = Compiled {
            fingerprint: fnv1a(text) ^ fnv1a(&format!("{generator:?}")),
            generator: space.knobs.ratio.as_ref().map(|r| r.generator),
            file: file.to_string(),
            dims: Vec::new(),
            cn: Vec::new(),
            resolution: Vec::new(),
            reasons: Vec::new(),
            setting,
            total: 1,
            terms: Vec::new(),
            entries: Vec::new(),
            radix: Vec::new(),
            stem_out: (0, 0, 0),
            stem_untruncated: false,
            distinct_blocks: 0,
            space,
        };
        c.shapes()?;
        c.make_dims()?;
        c.tables()?;
        Ok(c)
    }

    fn err(&self, m: impl Into<String>) -> SpecError {
        SpecError::file(&self.file, m)
    }

    /// Builds and evaluates a piece (stem, one block, head) as a network of its own.
    /// `untruncated`: the piece's input holds unreduced products (it decides where the piece
    /// truncates, exactly as inside the whole network).
    fn piece(
        &self,
        input: (u32, u32, u32),
        spec: Value,
        reads_input: bool,
        untruncated: bool,
    ) -> Result<(Network, Metrics), String> {
        let net = self.build_piece(input, spec, reads_input, untruncated)?;
        let rows = evaluate(&net, &self.setting).map_err(|e| e.to_string())?;
        let m = Metrics::of_rows(&rows);
        Ok((net, m))
    }

    /// Builds a piece as a network of its own; `reads_input`: the piece starts at the network
    /// input (the stem, or the first stage when there is no stem).
    fn build_piece(
        &self,
        input: (u32, u32, u32),
        spec: Value,
        reads_input: bool,
        untruncated: bool,
    ) -> Result<Network, String> {
        let mut obj = match spec {
            Value::Object(o) => o,
            _ => unreachable!("pieces are objects"),
        };
        obj.insert("name".into(), json!(self.space.name));
        obj.insert(
            "input".into(),
            json!({"channels": input.0, "height": input.1, "width": input.2,
                   "untruncated": untruncated}),
        );
        let spec = parse_spec_value(Value::Object(obj), &self.file).map_err(|e| e.to_string())?;
        let mut net = build(&spec, &self.file).map_err(|e| e.to_string())?;
        if !reads_input {
            // A block or the head reads an intermediate tensor (secret-shared), not the
            // client's own input: Cheetah's share handling differs (coeff::conv).
            for l in &mut net.layers {
                l.reads_input = false;
            }
        }
        Ok(net)
    }

    /// Stem output, stage resolutions and `cn_s`, from the template at its default values.
    fn shapes(&mut self) -> Result<(), SpecError> {
        let i = self.space.input;
        let mut cur = (i.channels, i.height, i.width);
        if !self.space.stem.is_empty() {
            let (net, m) = self
                .piece(cur, json!({"layers": self.space.stem}), true, false)
                .map_err(|e| self.err(format!("stem: {e}")))?;
            self.stem_untruncated = output_untruncated(&net);
            let o = net.layers.last().expect("non-empty stem").output;
            cur = (o.c, o.h, o.w);
            // The stem's term: constant.
            self.push_term(Vec::new(), vec![m]);
        }
        self.stem_out = cur;
        for s in 0..self.space.stages.len() {
            let st = &self.space.stages[s];
            let w = st.width;
            // The stage's output resolution from a plain strided 1x1 (every searched block type
            // pads its spatial kernel to keep `ceil(H / s)`), then the cn of a 1x1 there.
            let net = self
                .build_piece(
                    cur,
                    json!({"layers": [{"type": "conv", "out_channels": w, "kernel": 1,
                                       "stride": st.stride}]}),
                    true,
                    false,
                )
                .map_err(|e| self.err(format!("field `stages[{s}]`: {e}")))?;
            let o = net.layers[0].output;
            let probe = self
                .build_piece(
                    (w, o.h, o.w),
                    json!({"layers": [{"type": "conv", "out_channels": w, "kernel": 1}]}),
                    false,
                    false,
                )
                .map_err(|e| self.err(format!("field `stages[{s}]`: {e}")))?;
            let cost = crate::packing::count_layer(&probe.layers[0], &self.setting.count)
                .map_err(|e| self.err(format!("field `stages[{s}]`: {e}")))?;
            let cn = cost.cn.unwrap_or(1).clamp(1, u32::MAX as u64) as u32;
            self.cn.push(cn);
            self.resolution.push(((cur.1, cur.2), (o.h, o.w)));
            cur = (w, o.h, o.w);
        }
        Ok(())
    }

    fn make_dims(&mut self) -> Result<(), SpecError> {
        let k = self.space.knobs.clone();
        let stages = self.space.stages.clone();
        if let Some(w) = &k.width_multiplier {
            self.dims.push(Dim {
                name: "width_mult".into(),
                labels: w.iter().map(|x| x.to_string()).collect(),
                kind: DimKind::WidthMult(w.clone()),
            });
        }
        if let Some(d) = &k.depth {
            for (s, values) in d.iter().enumerate() {
                self.dims.push(Dim {
                    name: format!("s{s}.depth"),
                    labels: values.iter().map(|x| x.to_string()).collect(),
                    kind: DimKind::Depth {
                        stage: s,
                        values: values.clone(),
                    },
                });
            }
        }
        if let Some(r) = &k.ratio {
            let choices = r.max_choices.unwrap_or(8);
            match r.generator {
                Generator::Uniform => {
                    let values = r
                        .values
                        .clone()
                        .unwrap_or_else(|| geometric(r.min, r.max, choices));
                    self.dims.push(Dim {
                        name: "ratio".into(),
                        labels: values.iter().map(|x| x.to_string()).collect(),
                        kind: DimKind::UniformRatio(values),
                    });
                }
                Generator::Cpas => {
                    let per_block = r.per == Some(Per::Block);
                    for (s, st) in stages.iter().enumerate() {
                        let units = cpas_units(st.width, self.cn[s], r.min, r.max, choices);
                        let max_depth = self.max_depth(s);
                        let blocks: Vec<Option<usize>> = if per_block {
                            (0..max_depth).map(Some).collect()
                        } else {
                            vec![None]
                        };
                        for b in blocks {
                            let name = match b {
                                Some(b) => format!("s{s}.b{b}.mid"),
                                None => format!("s{s}.mid"),
                            };
                            self.dims.push(Dim {
                                name,
                                labels: units
                                    .iter()
                                    .map(|u| (u * self.cn[s]).to_string())
                                    .collect(),
                                kind: DimKind::Units {
                                    stage: s,
                                    block: b,
                                    units: units.clone(),
                                },
                            });
                        }
                    }
                }
            }
        }
        for (knob, field) in [
            (
                k.kernel_shape.as_ref().map(|c| (c.per, c.values.len())),
                "kernel_shape",
            ),
            (k.accum.as_ref().map(|c| (c.per, c.values.len())), "accum"),
            (k.groups.as_ref().map(|c| (c.per, c.values.len())), "groups"),
        ] {
            let Some((per, _)) = knob else { continue };
            if let Some(s) = stages
                .iter()
                .position(|st| st.block.get("type").and_then(Value::as_str) != Some("stria_block"))
            {
                return Err(self.err(format!(
                    "field `knobs.{field}`: applies to stria_block stages only, stage {s} is not one"
                )));
            }
            let scopes: Vec<Option<usize>> = match per {
                Per::Stage => (0..stages.len()).map(Some).collect(),
                _ => vec![None],
            };
            for stage in scopes {
                let name = match stage {
                    Some(s) => format!("s{s}.{field}"),
                    None => field.to_string(),
                };
                let dim = if field == "kernel_shape" {
                    let values = k.kernel_shape.as_ref().expect("present").values.clone();
                    Dim {
                        name,
                        labels: values.iter().map(json_label).collect(),
                        kind: DimKind::Kernel { stage, values },
                    }
                } else if field == "accum" {
                    let values = k.accum.as_ref().expect("present").values.clone();
                    Dim {
                        name,
                        labels: values.iter().map(|v| v.name().to_string()).collect(),
                        kind: DimKind::Accum { stage, values },
                    }
                } else {
                    let values = k.groups.as_ref().expect("present").values.clone();
                    Dim {
                        name,
                        labels: values.iter().map(json_label).collect(),
                        kind: DimKind::Groups { stage, values },
                    }
                };
                self.dims.push(dim);
            }
        }
        let mut total: u128 = 1;
        for d in &self.dims {
            total = total.saturating_mul(d.len() as u128);
        }
        if total > 1u128 << 63 {
            return Err(self.err(format!(
                "the space has more than 2^63 candidates ({} dimensions); lower \
                 `knobs.ratio.max_choices` or fix some knobs",
                self.dims.len()
            )));
        }
        self.total = total as u64;
        self.radix = self.dims.iter().map(|d| d.len() as u64).collect();
        Ok(())
    }

    fn max_depth(&self, s: usize) -> usize {
        match &self.space.knobs.depth {
            Some(d) => *d[s].iter().max().expect("non-empty") as usize,
            None => self.space.stages[s].depth as usize,
        }
    }

    /// The dimensions the block at (stage `s`, position `b`) depends on.
    fn block_dims(&self, s: usize, b: usize) -> Vec<usize> {
        self.dims
            .iter()
            .enumerate()
            .filter(|(_, d)| match &d.kind {
                DimKind::WidthMult(_) | DimKind::UniformRatio(_) => true,
                DimKind::Depth { stage, values } => {
                    *stage == s && values.iter().any(|&v| (v as usize) <= b)
                }
                DimKind::Units { stage, block, .. } => *stage == s && block.is_none_or(|x| x == b),
                DimKind::Kernel { stage, .. }
                | DimKind::Accum { stage, .. }
                | DimKind::Groups { stage, .. } => stage.is_none_or(|x| x == s),
            })
            .map(|(i, _)| i)
            .collect()
    }

    fn width_mult(&self, digits: &[u32]) -> f64 {
        self.dims
            .iter()
            .zip(digits)
            .find_map(|(d, &x)| match &d.kind {
                DimKind::WidthMult(v) => Some(v[x as usize]),
                _ => None,
            })
            .unwrap_or(1.0)
    }

    /// Stage `s`'s depth under `digits`.
    pub fn depth(&self, s: usize, digits: &[u32]) -> usize {
        self.dims
            .iter()
            .zip(digits)
            .find_map(|(d, &x)| match &d.kind {
                DimKind::Depth { stage, values } if *stage == s => {
                    Some(values[x as usize] as usize)
                }
                _ => None,
            })
            .unwrap_or(self.space.stages[s].depth as usize)
    }

    /// The block node (JSON) at (stage `s`, position `b`) and its input shape, under `digits`.
    pub fn block_node(&self, s: usize, b: usize, digits: &[u32]) -> (Value, (u32, u32, u32)) {
        let st = &self.space.stages[s];
        let wm = self.width_mult(digits);
        let width = |s: usize| scale(self.space.stages[s].width, wm);
        let (res_in, res_out) = self.resolution[s];
        let input = if b == 0 {
            let c = if s == 0 {
                self.stem_out.0
            } else {
                width(s - 1)
            };
            (c, res_in.0, res_in.1)
        } else {
            (width(s), res_out.0, res_out.1)
        };
        let mut obj: Map<String, Value> = st.block.clone();
        let ty = obj
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        obj.insert("out_channels".into(), json!(width(s)));
        if b == 0 && st.stride != 1 {
            obj.insert("stride".into(), json!(st.stride));
        }
        for (d, &x) in self.dims.iter().zip(digits) {
            if let DimKind::Groups { stage, values } = &d.kind
                && stage.is_none_or(|y| y == s)
            {
                obj.insert(
                    "groups".into(),
                    serde_json::to_value(values[x as usize]).expect("enum"),
                );
            }
        }
        if obj.get("groups").and_then(Value::as_str) == Some("cn") {
            obj.insert("groups".into(), json!(self.cn[s]));
        }
        let groups = obj.get("groups").and_then(Value::as_u64).unwrap_or(16) as f64;
        for (d, &x) in self.dims.iter().zip(digits) {
            let x = x as usize;
            match &d.kind {
                DimKind::UniformRatio(v) => {
                    let c = width(s) as f64;
                    let mid = if ty == "stria_block" {
                        groups * (v[x] * c / groups).round().max(1.0)
                    } else {
                        (v[x] * c).round().max(1.0)
                    };
                    obj.insert("width".into(), json!(mid as u64));
                }
                DimKind::Units {
                    stage,
                    block,
                    units,
                } if *stage == s && block.is_none_or(|y| y == b) => {
                    let mid = self.cn[s] as f64 * (units[x] as f64 * wm).round().max(1.0);
                    obj.insert("width".into(), json!(mid as u64));
                }
                DimKind::Kernel { stage, values } if stage.is_none_or(|y| y == s) => {
                    obj.insert(
                        "kernel_shape".into(),
                        serde_json::to_value(values[x]).expect("enum"),
                    );
                }
                DimKind::Accum { stage, values } if stage.is_none_or(|y| y == s) => {
                    obj.insert(
                        "accum".into(),
                        serde_json::to_value(values[x]).expect("enum"),
                    );
                }
                _ => {}
            }
        }
        (Value::Object(obj), input)
    }

    fn head_input(&self, digits: &[u32]) -> (u32, u32, u32) {
        let last = self.space.stages.len() - 1;
        let wm = self.width_mult(digits);
        let (_, res) = self.resolution[last];
        (scale(self.space.stages[last].width, wm), res.0, res.1)
    }

    /// Fills every term's table.
    fn tables(&mut self) -> Result<(), SpecError> {
        // The stem's term is in place already (`shapes`).
        let mut memo: HashMap<BlockKey, Metrics> = HashMap::new();
        // Whether blocks hand unreduced products to the next block: read off the first block
        // that builds; every other block must agree, or the per-block tables could not place the
        // next block's truncations exactly.
        let mut blocks_untruncated: Option<bool> = None;
        for s in 0..self.space.stages.len() {
            for b in 0..self.max_depth(s) {
                let dims = self.block_dims(s, b);
                let mut table = Vec::new();
                let mut digits = vec![0u32; self.dims.len()];
                let combos: usize = dims.iter().map(|&d| self.dims[d].len()).product();
                for idx in 0..combos {
                    let mut rest = idx;
                    for &d in dims.iter().rev() {
                        let n = self.dims[d].len();
                        digits[d] = (rest % n) as u32;
                        rest /= n;
                    }
                    if b >= self.depth(s, &digits) {
                        table.push(Metrics::default());
                        continue;
                    }
                    let (node, input) = self.block_node(s, b, &digits);
                    let untruncated = if s == 0 && b == 0 {
                        self.stem_untruncated
                    } else {
                        blocks_untruncated.unwrap_or(false)
                    };
                    let key = (node.to_string(), input, untruncated);
                    let m = match memo.get(&key) {
                        Some(m) => *m,
                        None => {
                            let piece = json!({"stages": [{"blocks": [node]}]});
                            let first = s == 0 && b == 0 && self.space.stem.is_empty();
                            let m = match self.piece(input, piece, first, untruncated) {
                                Ok((net, mut m)) => {
                                    let out = output_untruncated(&net);
                                    if *blocks_untruncated.get_or_insert(out) != out {
                                        return Err(self.err(format!(
                                            "block {b} of stage {s} leaves its output at a \
                                             different fixed-point scale than other blocks \
                                             (truncated or not), so the next block's \
                                             truncations would depend on the choice; stria's \
                                             per-block tables cannot price that"
                                        )));
                                    }
                                    m.max_block_internal_rot = m.counts.internal_rot;
                                    m.block_external_rot = m.counts.external_rot;
                                    m
                                }
                                Err(e) => {
                                    let e = e.replace(
                                        "stages[0].blocks[0]",
                                        &format!("stages[{s}].blocks[{b}]"),
                                    );
                                    let at = match self.reasons.iter().position(|r| *r == e) {
                                        Some(i) => i,
                                        None => {
                                            self.reasons.push(e);
                                            self.reasons.len() - 1
                                        }
                                    };
                                    Metrics {
                                        invalid: at as u32 + 1,
                                        ..Metrics::default()
                                    }
                                }
                            };
                            memo.insert(key, m);
                            m
                        }
                    };
                    table.push(m);
                }
                // A block no choice can build makes every candidate invalid: say so at once.
                if let Some(first) = table.iter().find(|m| m.invalid != 0)
                    && table.iter().all(|m| m.invalid != 0)
                {
                    return Err(self.err(format!(
                        "field `stages[{s}].block`: no choice of the knobs builds block {b} of stage \
                         {s}: {}",
                        self.reasons[first.invalid as usize - 1]
                    )));
                }
                self.push_term(dims, table);
            }
        }
        if !self.space.head.is_empty() {
            let dims: Vec<usize> = self
                .dims
                .iter()
                .enumerate()
                .filter(|(_, d)| matches!(d.kind, DimKind::WidthMult(_)))
                .map(|(i, _)| i)
                .collect();
            let combos: usize = dims.iter().map(|&d| self.dims[d].len()).product();
            let mut table = Vec::new();
            for idx in 0..combos {
                let mut digits = vec![0u32; self.dims.len()];
                if let Some(&d) = dims.first() {
                    digits[d] = idx as u32;
                }
                let (_, m) = self
                    .piece(
                        self.head_input(&digits),
                        json!({"layers": self.space.head}),
                        false,
                        blocks_untruncated.unwrap_or(self.stem_untruncated),
                    )
                    .map_err(|e| self.err(format!("head: {e}")))?;
                table.push(m);
            }
            self.push_term(dims, table);
        }
        self.distinct_blocks = memo.len();
        Ok(())
    }

    fn push_term(&mut self, dims: Vec<usize>, table: Vec<Metrics>) {
        let mut stride = 1;
        let mut with_strides = Vec::new();
        for &d in dims.iter().rev() {
            with_strides.push((d, stride));
            stride *= self.dims[d].len();
        }
        with_strides.reverse();
        self.terms.push(Term {
            dims: with_strides,
            base: self.entries.len(),
        });
        self.entries.extend(table);
    }

    /// A candidate's cost and capacity: the sum of its terms.
    #[inline]
    pub fn eval(&self, digits: &[u32]) -> Metrics {
        let mut m = Metrics::default();
        for t in &self.terms {
            let mut idx = t.base;
            for &(d, stride) in &t.dims {
                idx += digits[d] as usize * stride;
            }
            m.accumulate(&self.entries[idx]);
        }
        m
    }

    /// The digits of candidate `index` (`0 <= index < total`), last dimension fastest.
    #[inline]
    pub fn decode(&self, mut index: u64, digits: &mut [u32]) {
        for (d, &r) in digits.iter_mut().zip(&self.radix).rev() {
            *d = (index % r) as u32;
            index /= r;
        }
    }

    /// Advances `digits` to the next index (odometer); false after the last.
    #[inline]
    pub fn increment(&self, digits: &mut [u32]) -> bool {
        for (d, &r) in digits.iter_mut().zip(&self.radix).rev() {
            *d += 1;
            if (*d as u64) < r {
                return true;
            }
            *d = 0;
        }
        false
    }

    /// The dimension sizes.
    pub fn radix(&self) -> &[u64] {
        &self.radix
    }

    /// The full network spec of a candidate, as written to `best/*.json`.
    pub fn network_json(&self, digits: &[u32], name: &str) -> Value {
        let stages: Vec<Value> = (0..self.space.stages.len())
            .map(|s| {
                let blocks: Vec<Value> = (0..self.depth(s, digits))
                    .map(|b| self.block_node(s, b, digits).0)
                    .collect();
                let mut st = Map::new();
                if let Some(n) = &self.space.stages[s].name {
                    st.insert("name".into(), json!(n));
                }
                st.insert("blocks".into(), Value::Array(blocks));
                Value::Object(st)
            })
            .collect();
        let i = self.space.input;
        let mut obj = Map::new();
        obj.insert("name".into(), json!(name));
        obj.insert(
            "input".into(),
            json!({"channels": i.channels, "height": i.height, "width": i.width}),
        );
        if !self.space.stem.is_empty() {
            obj.insert("layers".into(), Value::Array(self.space.stem.clone()));
        }
        obj.insert("stages".into(), Value::Array(stages));
        if !self.space.head.is_empty() {
            obj.insert("head".into(), Value::Array(self.space.head.clone()));
        }
        Value::Object(obj)
    }

    /// Builds and evaluates a candidate as a whole network (the slow, reference path).
    pub fn evaluate_whole(
        &self,
        digits: &[u32],
        name: &str,
    ) -> Result<(NetworkSpec, Metrics), String> {
        let v = self.network_json(digits, name);
        let spec = parse_spec_value(v, &self.file).map_err(|e| e.to_string())?;
        let net = build(&spec, &self.file).map_err(|e| e.to_string())?;
        let rows = evaluate(&net, &self.setting).map_err(|e| e.to_string())?;
        let mut m = Metrics::of_rows(&rows);
        // Per-block internal rotations: group rows by their `stages[s].blocks[b]` prefix.
        let mut per_block: HashMap<String, u64> = HashMap::new();
        for (layer, r) in net.layers.iter().zip(&rows) {
            if let Some(prefix) = block_prefix(&layer.path) {
                *per_block.entry(prefix).or_default() += r.cost.counts.internal_rot;
                m.block_external_rot += r.cost.counts.external_rot;
            }
        }
        m.max_block_internal_rot = per_block.values().copied().max().unwrap_or(0);
        Ok((spec, m))
    }
}

/// `stages[2].blocks[1]` of `stages[2].blocks[1].conv2` (or `layer3.blocks[1]` in a named stage).
/// A block's memo key: its spec, its input shape and whether its input arrives unreduced.
type BlockKey = (String, (u32, u32, u32), bool);

fn block_prefix(path: &str) -> Option<String> {
    let mut parts = path.splitn(3, '.');
    let a = parts.next()?;
    let b = parts.next()?;
    b.starts_with("blocks[").then(|| format!("{a}.{b}"))
}

fn json_label<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

/// `n` ratios spread geometrically from `min` to `max` (rounded to 4 significant digits).
pub fn geometric(min: f64, max: f64, n: usize) -> Vec<f64> {
    if n <= 1 || min == max {
        return vec![min];
    }
    let mut v: Vec<f64> = (0..n)
        .map(|i| {
            let x = min * (max / min).powf(i as f64 / (n - 1) as f64);
            let p = 10f64.powi(3 - x.log10().floor() as i32);
            (x * p).round() / p
        })
        .collect();
    v.dedup();
    v
}

/// Channel Packing-Aware Scaling (derived here; README "StriaBlock and StriaNet"): the multiples
/// `k` of `cn` with `min * width <= k * cn <= max * width`; when none falls in the range, the
/// nearest one (`max(1, round(r * width / cn))` at the middle ratio). At most `choices` of them,
/// spread evenly and always keeping both ends.
pub fn cpas_units(width: u32, cn: u32, min: f64, max: f64, choices: usize) -> Vec<u32> {
    let cn = cn.max(1) as f64;
    let lo = (min * width as f64 / cn).ceil().max(1.0) as u32;
    let hi = (max * width as f64 / cn).floor() as u32;
    if lo > hi {
        let mid = ((min * max).sqrt() * width as f64 / cn).round().max(1.0) as u32;
        return vec![mid];
    }
    // The candidates are lo..=hi; pick by index without listing them (memory ~ `choices`).
    let len = (hi - lo) as usize + 1;
    if len <= choices {
        return (lo..=hi).collect();
    }
    let mut v: Vec<u32> = (0..choices)
        .map(|i| lo + ((i * (len - 1) + (choices - 1) / 2) / (choices - 1).max(1)) as u32)
        .collect();
    v.dedup();
    v
}
