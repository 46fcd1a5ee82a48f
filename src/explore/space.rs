//! Search space files (`configs/search/*.json`): a network template, the knobs to explore, the
//! cost setting, constraints and objectives.
//!
//! ```json
//! {
//!   "name": "strianet-cifar10",
//!   "input": {"channels": 3, "height": 32, "width": 32},
//!   "stem": [ ...layers... ],
//!   "stages": [ {"width": 64, "depth": 2, "stride": 1, "block": {"type": "stria_block", "groups": "cn"}} ],
//!   "head": [ ...layers... ],
//!   "knobs": {"ratio": {"generator": "cpas", "per": "stage", "min": 0.25, "max": 2}},
//!   "setting": {"protocol": "cryptflow2", "link": "lan"},
//!   "constraints": {"max_external_rot": 0},
//!   "objectives": {"minimize": ["latency_ms"], "maximize": ["params"]}
//! }
//! ```
//!
//! Every mistake is reported with the file and the field (`knobs.ratio.min: ...`).

use crate::error::SpecError;
use crate::he::KeyPolicy;
use crate::he::Protocol;
use crate::net::spec::{Accum, InputSpec, KernelShape};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path;

/// A parsed search space file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceFile {
    pub name: String,
    pub input: InputSpec,
    /// Layers before the first stage (spec nodes, as in a network file's `layers`).
    #[serde(default)]
    pub stem: Vec<Value>,
    pub stages: Vec<StageTemplate>,
    /// Layers after the last stage (as in a network file's `head`).
    #[serde(default)]
    pub head: Vec<Value>,
    #[serde(default)]
    pub knobs: Knobs,
    #[serde(default)]
    pub setting: SettingSpec,
    #[serde(default)]
    pub constraints: Constraints,
    #[serde(default)]
    pub objectives: Objectives,
}

/// One stage of the template: `depth` blocks of output width `width`, the first with `stride`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageTemplate {
    #[serde(default)]
    pub name: Option<String>,
    pub width: u32,
    pub depth: u32,
    #[serde(default = "one")]
    pub stride: u32,
    /// The block's fixed parameters (`type` plus any field of that block type except
    /// `out_channels`, `stride` and the middle width, which the search sets). A `stria_block`
    /// may say `"groups": "cn"`: the stage's channels per ciphertext (see [`super::Compiled`]).
    pub block: Map<String, Value>,
}

fn one() -> u32 {
    1
}

/// Which knobs the search varies; absent knobs keep the template's values.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Knobs {
    #[serde(default)]
    pub ratio: Option<RatioKnob>,
    /// Depth choices per stage (one list per stage).
    #[serde(default)]
    pub depth: Option<Vec<Vec<u32>>>,
    /// Multipliers of every stage width (the stem is fixed).
    #[serde(default)]
    pub width_multiplier: Option<Vec<f64>>,
    #[serde(default)]
    pub kernel_shape: Option<ChoiceKnob<KernelShape>>,
    #[serde(default)]
    pub accum: Option<ChoiceKnob<Accum>>,
    /// Groups of a `stria_block`'s pointwise layers: numbers or `"cn"` (the stage's channels
    /// per ciphertext); 1 makes them dense.
    #[serde(default)]
    pub groups: Option<ChoiceKnob<Groups>>,
}

/// A `groups` choice: a number, or `"cn"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Groups {
    Count(u32),
    Cn(CnWord),
}

/// The word `cn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CnWord {
    Cn,
}

/// How bottleneck (middle) widths are proposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Generator {
    /// Channel Packing-Aware Scaling (README "StriaBlock and StriaNet"): middle widths are
    /// multiples of the stage's channels per ciphertext `cn_s`.
    Cpas,
    /// The plain practice: one ratio for every stage.
    Uniform,
}

impl Generator {
    pub fn name(&self) -> &'static str {
        match self {
            Generator::Cpas => "cpas",
            Generator::Uniform => "uniform",
        }
    }
}

/// Where a knob applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Per {
    /// One choice for the whole network.
    #[default]
    Network,
    /// One choice per stage.
    Stage,
    /// One choice per block.
    Block,
}

/// The bottleneck ratio knob: middle width = ratio x stage width.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioKnob {
    pub generator: Generator,
    /// CPAS: one choice per stage (default) or per block. Uniform: always one for the network.
    #[serde(default)]
    pub per: Option<Per>,
    /// Smallest and largest ratio (middle width / stage width).
    pub min: f64,
    pub max: f64,
    /// Uniform: the ratios to try (default: a geometric grid of `max_choices` points from `min`
    /// to `max`).
    #[serde(default)]
    pub values: Option<Vec<f64>>,
    /// At most this many choices per dimension (CPAS: evenly spread multiples of `cn_s`;
    /// default 8).
    #[serde(default)]
    pub max_choices: Option<usize>,
}

/// A categorical knob.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceKnob<T> {
    pub values: Vec<T>,
    /// `network` (default) or `stage`.
    #[serde(default)]
    pub per: Per,
}

/// The cost setting every candidate is priced under.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingSpec {
    #[serde(default = "cf2")]
    pub protocol: Protocol,
    /// A link preset (`lan`, `wan`, ...) or a link JSON file.
    #[serde(default = "lan")]
    pub link: String,
    /// A cost profile JSON file (default: the built-in measured profile).
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub key_policy: Option<KeyPolicy>,
    #[serde(default)]
    pub ring_degree: Option<u64>,
}

fn cf2() -> Protocol {
    Protocol::Cryptflow2
}
fn lan() -> String {
    "lan".into()
}

impl Default for SettingSpec {
    fn default() -> SettingSpec {
        SettingSpec {
            protocol: cf2(),
            link: lan(),
            profile: None,
            key_policy: None,
            ring_degree: None,
        }
    }
}

/// Focused Constraint (README "StriaBlock and StriaNet"): hard caps on the rotation-bearing factors
/// and optional bounds on the others. A candidate that breaks one is kept as infeasible.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// External rotations of the whole network (stem and head included).
    #[serde(default)]
    pub max_external_rot: Option<u64>,
    /// External rotations inside the searched blocks (the fixed stem and head excluded).
    #[serde(default)]
    pub max_block_external_rot: Option<u64>,
    /// Internal rotations of any one block.
    #[serde(default)]
    pub max_internal_rot_per_block: Option<u64>,
    /// Ciphertexts of any one layer (the larger of `ct_up` and `ct_down`).
    #[serde(default)]
    pub max_ct_per_layer: Option<u64>,
    #[serde(default)]
    pub max_latency_ms: Option<f64>,
    #[serde(default)]
    pub max_comm_bytes: Option<u64>,
    #[serde(default)]
    pub min_params: Option<u64>,
    #[serde(default)]
    pub max_params: Option<u64>,
    #[serde(default)]
    pub min_macs: Option<u64>,
    #[serde(default)]
    pub max_macs: Option<u64>,
}

/// A column a constraint or an objective can refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    LatencyMs,
    CommBytes,
    Params,
    Macs,
    Rotations,
    ExternalRot,
    InternalRot,
    KeySwitch,
    Scmult,
    Relu,
}

impl Metric {
    pub fn name(&self) -> &'static str {
        match self {
            Metric::LatencyMs => "latency_ms",
            Metric::CommBytes => "comm_bytes",
            Metric::Params => "params",
            Metric::Macs => "macs",
            Metric::Rotations => "rotations",
            Metric::ExternalRot => "external_rot",
            Metric::InternalRot => "internal_rot",
            Metric::KeySwitch => "key_switch",
            Metric::Scmult => "scmult",
            Metric::Relu => "relu",
        }
    }
}

/// The Pareto objectives (at most [`super::pareto::MAX_OBJECTIVES`] in all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objectives {
    #[serde(default)]
    pub minimize: Vec<Metric>,
    #[serde(default)]
    pub maximize: Vec<Metric>,
}

impl Default for Objectives {
    /// Latency against capacity (parameters).
    fn default() -> Objectives {
        Objectives {
            minimize: vec![Metric::LatencyMs],
            maximize: vec![Metric::Params],
        }
    }
}

/// Reads and parses a space file.
pub fn load_space(path: &Path) -> Result<(SpaceFile, String), SpecError> {
    let file = path.display().to_string();
    let text = crate::io::read_text_capped(path)
        .map_err(|e| SpecError::file(&file, format!("cannot read file: {e}")))?;
    Ok((parse_space(&text, &file)?, text))
}

/// Parses space JSON text; `file` names the source in errors.
pub fn parse_space(text: &str, file: &str) -> Result<SpaceFile, SpecError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| SpecError::file(file, format!("not valid JSON: {e}")))?;
    let space: SpaceFile =
        crate::net::parse::from_value(value).map_err(|m| SpecError::file(file, m))?;
    check(&space).map_err(|m| SpecError::file(file, m))?;
    Ok(space)
}

/// Most stages in a template.
pub const MAX_STAGES: usize = 16;
/// Largest depth of a stage (the template's `depth` and every `knobs.depth` choice).
pub const MAX_DEPTH: u32 = 64;
/// Most blocks in a candidate: the sum over the stages of their largest depth.
pub const MAX_BLOCKS: u32 = 256;
/// Most choices in any knob list (`depth[i]`, `width_multiplier`, `ratio.values`,
/// `kernel_shape`, `accum`, `groups`) and the largest `ratio.max_choices`.
pub const MAX_CHOICES: usize = 64;
/// Smallest and largest bottleneck ratio (`ratio.min`, `ratio.max`, `ratio.values`).
pub const RATIO_RANGE: (f64, f64) = (1.0 / 64.0, 64.0);
/// Largest width multiplier (the smallest is any positive number).
pub const MAX_WIDTH_MULTIPLIER: f64 = 64.0;

fn in_ratio_range(x: f64) -> bool {
    x.is_finite() && (RATIO_RANGE.0..=RATIO_RANGE.1).contains(&x)
}

/// Checks that do not need the network: ranges and list lengths. Every knob has a documented
/// bound (the constants above and the network limits of [`crate::net::graph`]), so the work and
/// memory of compiling a space stay proportional to the choices it lists.
fn check(s: &SpaceFile) -> Result<(), String> {
    use crate::net::graph::{MAX_CHANNELS, MAX_KERNEL};
    if s.stages.is_empty() {
        return Err("field `stages`: the template needs at least one stage".into());
    }
    if s.stages.len() > MAX_STAGES {
        return Err(format!(
            "field `stages`: at most {MAX_STAGES} stages, got {}",
            s.stages.len()
        ));
    }
    for (i, st) in s.stages.iter().enumerate() {
        if st.width == 0 || st.depth == 0 || st.stride == 0 {
            return Err(format!(
                "field `stages[{i}]`: width, depth and stride must be positive"
            ));
        }
        if st.width > MAX_CHANNELS {
            return Err(format!(
                "field `stages[{i}].width`: between 1 and {MAX_CHANNELS}, got {}",
                st.width
            ));
        }
        if st.depth > MAX_DEPTH {
            return Err(format!(
                "field `stages[{i}].depth`: between 1 and {MAX_DEPTH}, got {}",
                st.depth
            ));
        }
        if st.stride > MAX_KERNEL {
            return Err(format!(
                "field `stages[{i}].stride`: between 1 and {MAX_KERNEL}, got {}",
                st.stride
            ));
        }
        for f in ["out_channels", "stride", "width", "ratio", "expansion"] {
            if st.block.contains_key(f) {
                return Err(format!(
                    "field `stages[{i}].block.{f}`: set by the search from the stage (`width`, \
                     `stride`) and the knobs; remove it from the block template"
                ));
            }
        }
        match st.block.get("type").and_then(Value::as_str) {
            Some("bottleneck" | "stria_block" | "basic") => {}
            Some(t) => {
                return Err(format!(
                    "field `stages[{i}].block.type`: `{t}` cannot be a searched block (expected \
                     bottleneck, stria_block or basic)"
                ));
            }
            None => {
                return Err(format!(
                    "field `stages[{i}].block.type`: missing (bottleneck, stria_block or basic)"
                ));
            }
        }
    }
    let k = &s.knobs;
    if let Some(r) = &k.ratio {
        if !(r.min.is_finite() && r.max.is_finite() && r.min > 0.0 && r.min <= r.max) {
            return Err(format!(
                "field `knobs.ratio`: need 0 < min <= max, got min {} and max {}",
                r.min, r.max
            ));
        }
        for (f, v) in [("min", r.min), ("max", r.max)] {
            if !in_ratio_range(v) {
                return Err(format!(
                    "field `knobs.ratio.{f}`: between {} and {}, got {}",
                    RATIO_RANGE.0,
                    RATIO_RANGE.1,
                    crate::error::show_num(v)
                ));
            }
        }
        if let Some(m) = r.max_choices
            && (m == 0 || m > MAX_CHOICES)
        {
            return Err(format!(
                "field `knobs.ratio.max_choices`: between 1 and {MAX_CHOICES}, got {m}"
            ));
        }
        if let Some(v) = &r.values
            && v.len() > MAX_CHOICES
        {
            return Err(format!(
                "field `knobs.ratio.values`: at most {MAX_CHOICES} ratios, got {}",
                v.len()
            ));
        }
        if let Some(v) = &r.values
            && let Some(x) = v
                .iter()
                .find(|&&x| x.is_finite() && x > 0.0 && !in_ratio_range(x))
        {
            return Err(format!(
                "field `knobs.ratio.values`: each between {} and {}, got {}",
                RATIO_RANGE.0,
                RATIO_RANGE.1,
                crate::error::show_num(*x)
            ));
        }
        if let Some(v) = &r.values {
            if r.generator == Generator::Cpas {
                return Err(
                    "field `knobs.ratio.values`: only the uniform generator takes a list \
                            of ratios (CPAS proposes multiples of cn_s between min and max)"
                        .into(),
                );
            }
            if v.is_empty() || v.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
                return Err(
                    "field `knobs.ratio.values`: a non-empty list of positive ratios".into(),
                );
            }
        }
        if r.per == Some(Per::Network) && r.generator == Generator::Cpas {
            return Err(
                "field `knobs.ratio.per`: CPAS proposes per-stage widths (`stage` or \
                        `block`)"
                    .into(),
            );
        }
        if r.per.is_some_and(|p| p != Per::Network) && r.generator == Generator::Uniform {
            return Err(
                "field `knobs.ratio.per`: the uniform generator uses one ratio for the \
                        whole network"
                    .into(),
            );
        }
        for (i, st) in s.stages.iter().enumerate() {
            if st.block.get("type").and_then(Value::as_str) == Some("basic") {
                return Err(format!(
                    "field `knobs.ratio`: stage {i} has `basic` blocks, which have no middle width"
                ));
            }
        }
    }
    if let Some(d) = &k.depth {
        if d.len() != s.stages.len() {
            return Err(format!(
                "field `knobs.depth`: one list per stage ({} stages), got {}",
                s.stages.len(),
                d.len()
            ));
        }
        if let Some(i) = d.iter().position(|l| l.is_empty() || l.contains(&0)) {
            return Err(format!(
                "field `knobs.depth[{i}]`: a non-empty list of positive depths"
            ));
        }
        for (i, l) in d.iter().enumerate() {
            if l.len() > MAX_CHOICES {
                return Err(format!(
                    "field `knobs.depth[{i}]`: at most {MAX_CHOICES} choices, got {}",
                    l.len()
                ));
            }
            if let Some(x) = l.iter().find(|&&x| x > MAX_DEPTH) {
                return Err(format!(
                    "field `knobs.depth[{i}]`: depths between 1 and {MAX_DEPTH}, got {x}"
                ));
            }
        }
    }
    let blocks: u32 = s
        .stages
        .iter()
        .enumerate()
        .map(|(i, st)| {
            k.depth
                .as_ref()
                .and_then(|d| d.get(i))
                .and_then(|l| l.iter().max().copied())
                .unwrap_or(st.depth)
                .max(st.depth)
        })
        .sum();
    if blocks > MAX_BLOCKS {
        return Err(format!(
            "fields `stages[*].depth` / `knobs.depth`: at most {MAX_BLOCKS} blocks in a \
             candidate (the sum of the stages' largest depths), got {blocks}"
        ));
    }
    if let Some(w) = &k.width_multiplier {
        if w.len() > MAX_CHOICES {
            return Err(format!(
                "field `knobs.width_multiplier`: at most {MAX_CHOICES} choices, got {}",
                w.len()
            ));
        }
        if let Some(x) = w
            .iter()
            .find(|&&x| x.is_finite() && x > MAX_WIDTH_MULTIPLIER)
        {
            return Err(format!(
                "field `knobs.width_multiplier`: each between 0 (excluded) and \
                 {MAX_WIDTH_MULTIPLIER}, got {}",
                crate::error::show_num(*x)
            ));
        }
    }
    for (field, len) in [
        (
            "kernel_shape",
            k.kernel_shape.as_ref().map(|c| c.values.len()),
        ),
        ("accum", k.accum.as_ref().map(|c| c.values.len())),
        ("groups", k.groups.as_ref().map(|c| c.values.len())),
    ] {
        if let Some(n) = len
            && n > MAX_CHOICES
        {
            return Err(format!(
                "field `knobs.{field}.values`: at most {MAX_CHOICES} choices, got {n}"
            ));
        }
    }
    if let Some(g) = k.groups.as_ref().and_then(|c| {
        c.values
            .iter()
            .find(|v| matches!(v, Groups::Count(n) if *n > MAX_CHANNELS))
    }) {
        return Err(format!(
            "field `knobs.groups.values`: groups between 1 and {MAX_CHANNELS}, got {g:?}"
        ));
    }
    if let Some(w) = &k.width_multiplier
        && (w.is_empty() || w.iter().any(|x| !(x.is_finite() && *x > 0.0)))
    {
        return Err("field `knobs.width_multiplier`: a non-empty list of positive numbers".into());
    }
    if k.kernel_shape.as_ref().is_some_and(|c| c.values.is_empty()) {
        return Err("field `knobs.kernel_shape.values`: empty".into());
    }
    if k.accum.as_ref().is_some_and(|c| c.values.is_empty()) {
        return Err("field `knobs.accum.values`: empty".into());
    }
    if k.groups.as_ref().is_some_and(|c| c.values.is_empty()) {
        return Err("field `knobs.groups.values`: empty".into());
    }
    if k.groups
        .as_ref()
        .is_some_and(|c| c.values.contains(&Groups::Count(0)))
    {
        return Err("field `knobs.groups.values`: groups must be positive".into());
    }
    if k.kernel_shape.as_ref().is_some_and(|c| c.per == Per::Block)
        || k.accum.as_ref().is_some_and(|c| c.per == Per::Block)
        || k.groups.as_ref().is_some_and(|c| c.per == Per::Block)
    {
        return Err(
            "fields `knobs.kernel_shape.per` / `knobs.accum.per` / `knobs.groups.per`: \
             `network` or `stage`"
                .into(),
        );
    }
    let o = &s.objectives;
    let n = o.minimize.len() + o.maximize.len();
    if n == 0 || n > super::pareto::MAX_OBJECTIVES {
        return Err(format!(
            "field `objectives`: between 1 and {} metrics to minimize or maximize, got {n}",
            super::pareto::MAX_OBJECTIVES
        ));
    }
    if let Some(m) = o.minimize.iter().find(|m| o.maximize.contains(m)) {
        return Err(format!(
            "field `objectives`: `{}` is both minimized and maximized",
            m.name()
        ));
    }
    if let Some(s) = &s.setting.ring_degree
        && !(s.is_power_of_two() && (1024..=65536).contains(s))
    {
        return Err(format!(
            "field `setting.ring_degree`: a power of two between 1024 and 65536, got {s}"
        ));
    }
    Ok(())
}
