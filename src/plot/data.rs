//! The data behind each figure, and how it is read: networks are evaluated with the default
//! (measured) profile and default non-linear parameters; CSV files are read by column name.

use anyhow::{Context, Result, anyhow, bail, ensure};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::cost::price::{CostProfile, load_link};
use crate::eval::{LayerEval, Setting, evaluate};
use crate::he::Protocol;
use crate::net::{Network, load_network};

/// One HE layer of the `layers` figure.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerBar {
    /// Layer path (abbreviated when drawn).
    pub name: String,
    pub internal_rot: u64,
    pub external_rot: u64,
    pub scmult: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
}

/// `stria plot layers`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayersData {
    pub network: String,
    pub protocol: String,
    pub link: String,
    /// Layers with HE work, in network order.
    pub layers: Vec<LayerBar>,
}

/// One HE layer of one packing.
#[derive(Debug, Clone, PartialEq)]
pub struct PackingPoint {
    /// Index among the network's HE layers (0 = first).
    pub depth: usize,
    pub name: String,
    /// Channels per ciphertext.
    pub cn: u64,
    /// Ciphertexts sent up (the packed input).
    pub ct_up: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PackingSeries {
    pub protocol: String,
    pub points: Vec<PackingPoint>,
}

/// `stria plot packing`.
#[derive(Debug, Clone, PartialEq)]
pub struct PackingData {
    pub network: String,
    pub series: Vec<PackingSeries>,
}

/// One (network, protocol, link) of `stria plot compare`. The three parts add up to the
/// estimated latency.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareEntry {
    pub network: String,
    pub protocol: String,
    pub link: String,
    /// HE computation (`price.compute_ms`).
    pub compute_ms: f64,
    /// HE ciphertext transfer and the HE round trip (`linear_ms - compute_ms`).
    pub he_comm_ms: f64,
    /// Non-linear protocol bytes and rounds (`nonlinear_ms`).
    pub nonlinear_ms: f64,
}

impl CompareEntry {
    pub fn total_ms(&self) -> f64 {
        self.compute_ms + self.he_comm_ms + self.nonlinear_ms
    }
}

/// `stria plot compare`.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareData {
    pub entries: Vec<CompareEntry>,
}

/// One row of a `stria search` CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub generator: String,
    pub feasible: bool,
    pub latency_ms: f64,
    pub comm_bytes: u64,
    pub params: u64,
    pub macs: u64,
}

/// The candidates of one generator (in one search directory).
#[derive(Debug, Clone, PartialEq)]
pub struct ParetoSeries {
    pub label: String,
    /// Generator name, which picks the colour.
    pub generator: String,
    /// Every candidate evaluated (empty when the directory has no all.csv).
    pub all: Vec<Candidate>,
    /// The Pareto front.
    pub front: Vec<Candidate>,
}

/// `stria plot pareto`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParetoData {
    pub series: Vec<ParetoSeries>,
}

/// One predicted-against-measured point: milliseconds of a layer (`plot validation`) or MiB
/// of a layer kind (`plot measured`).
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationPoint {
    pub layer: String,
    pub predicted: f64,
    pub measured: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidationSeries {
    pub label: String,
    pub points: Vec<ValidationPoint>,
}

impl ValidationSeries {
    /// Mean of |measured - predicted| / measured, in percent.
    pub fn mape(&self) -> f64 {
        if self.points.is_empty() {
            return 0.0;
        }
        100.0
            * self
                .points
                .iter()
                .map(|p| (p.measured - p.predicted).abs() / p.measured)
                .sum::<f64>()
            / self.points.len() as f64
    }
}

/// `stria plot validation` and `stria plot measured`: predicted (x) against measured (y),
/// log-log, with what the axes show.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationData {
    pub series: Vec<ValidationSeries>,
    /// Title, x and y axis descriptions, and the noun the legend counts points in.
    pub text: [&'static str; 4],
}

/// The texts of `stria plot validation`.
pub const VALIDATION_TEXT: [&str; 4] = [
    "Predicted vs measured latency per layer",
    "predicted by the cost model (ms, log scale)",
    "measured on real HE (ms, log scale)",
    "layers",
];

/// The texts of `stria plot measured`.
pub const MEASURED_TEXT: [&str; 4] = [
    "Predicted vs measured traffic per layer kind, real framework runs",
    "predicted by stria (MiB both ways, log scale)",
    "measured from the framework's logs (MiB, log scale)",
    "kinds",
];

/// The texts of `stria plot measured --time-model`.
pub const MEASURED_TIME_TEXT: [&str; 4] = [
    "Predicted vs measured seconds per layer kind, real framework runs",
    "predicted by the framework time model (s, log scale)",
    "measured: the server's time per kind (s, log scale)",
    "kinds",
];

fn load(config: &Path) -> Result<Network> {
    load_network(config).map_err(|e| anyhow!("{e}"))
}

/// The setting `stria cost` uses by default: the protocol's own counting settings, default
/// non-linear parameters and the default (measured) profile.
fn setting(protocol: Protocol, link: &str) -> Result<Setting> {
    let link = load_link(link).map_err(|e| anyhow!("{e}"))?;
    let mut s = Setting::new(protocol, link);
    s.profile = CostProfile::default_profile();
    Ok(s)
}

fn eval(net: &Network, config: &Path, s: &Setting) -> Result<Vec<LayerEval>> {
    evaluate(net, s).map_err(|e| {
        anyhow!(
            "{} under {}: {e}",
            config.display(),
            s.count.protocol.name()
        )
    })
}

/// Evaluates `config` under `protocol` and `link` for the `layers` figure.
pub fn layers_data(config: &Path, protocol: Protocol, link: &str) -> Result<LayersData> {
    let net = load(config)?;
    let s = setting(protocol, link)?;
    let evals = eval(&net, config, &s)?;
    let layers = net
        .layers
        .iter()
        .zip(&evals)
        .filter(|(_, e)| e.cost.n.is_some())
        .map(|(l, e)| {
            let c = &e.cost.counts;
            LayerBar {
                name: l.path.clone(),
                internal_rot: c.internal_rot,
                external_rot: c.external_rot,
                scmult: c.scmult,
                bytes_up: c.bytes_up,
                bytes_down: c.bytes_down,
            }
        })
        .collect::<Vec<_>>();
    ensure!(
        !layers.is_empty(),
        "{}: no layer with HE work under {}",
        config.display(),
        protocol.name()
    );
    Ok(LayersData {
        network: net.name.clone(),
        protocol: protocol.name().into(),
        link: s.link.name.clone(),
        layers,
    })
}

/// Counts `config` under CrypTFlow2 and Cheetah for the `packing` figure. Depth is the index
/// among layers with HE work under either packing.
pub fn packing_data(config: &Path) -> Result<PackingData> {
    let net = load(config)?;
    let protocols = [Protocol::Cryptflow2, Protocol::Cheetah];
    let evals = protocols
        .iter()
        .map(|&p| eval(&net, config, &setting(p, "lan")?))
        .collect::<Result<Vec<_>>>()?;
    let he: Vec<usize> = (0..net.layers.len())
        .filter(|&i| evals.iter().any(|e| e[i].cost.n.is_some()))
        .collect();
    ensure!(
        !he.is_empty(),
        "{}: no layer with HE work",
        config.display()
    );
    let series = protocols
        .iter()
        .zip(&evals)
        .map(|(p, ev)| PackingSeries {
            protocol: p.name().into(),
            points: he
                .iter()
                .enumerate()
                .filter_map(|(depth, &i)| {
                    let c = &ev[i].cost;
                    c.cn.map(|cn| PackingPoint {
                        depth,
                        name: net.layers[i].path.clone(),
                        cn,
                        ct_up: c.counts.ct_up,
                    })
                })
                .collect(),
        })
        .collect();
    Ok(PackingData {
        network: net.name.clone(),
        series,
    })
}

/// Evaluates every config under every protocol and link for the `compare` figure.
pub fn compare_data(
    configs: &[PathBuf],
    protocols: &[Protocol],
    links: &[String],
) -> Result<CompareData> {
    ensure!(!configs.is_empty(), "compare needs at least one network");
    ensure!(!protocols.is_empty(), "compare needs at least one protocol");
    ensure!(!links.is_empty(), "compare needs at least one link");
    let mut entries = Vec::new();
    for config in configs {
        let net = load(config)?;
        for &p in protocols {
            for l in links {
                let s = setting(p, l)?;
                let evals = eval(&net, config, &s)?;
                let (mut compute, mut linear, mut nonlinear) = (0.0, 0.0, 0.0);
                for e in &evals {
                    compute += e.price.compute_ms;
                    linear += e.linear_ms;
                    nonlinear += e.nonlinear_ms;
                }
                entries.push(CompareEntry {
                    network: net.name.clone(),
                    protocol: p.name().into(),
                    link: s.link.name.clone(),
                    compute_ms: compute,
                    he_comm_ms: linear - compute,
                    nonlinear_ms: nonlinear,
                });
            }
        }
    }
    Ok(CompareData { entries })
}

/// A CSV file read by column name.
struct Table {
    file: String,
    heads: HashMap<String, usize>,
    rows: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    /// Reads `path`; `capped`: at most [`crate::io::MAX_INPUT_BYTES`] (every CSV but a
    /// search's `all.csv`, which may hold millions of rows and is read as a stream).
    fn read(path: &Path, capped: bool) -> Result<Table> {
        let file = path.display().to_string();
        let source: Box<dyn std::io::Read> = if capped {
            let bytes =
                crate::io::read_capped(path).with_context(|| format!("cannot read {file}"))?;
            Box::new(std::io::Cursor::new(bytes))
        } else {
            Box::new(std::fs::File::open(path).with_context(|| format!("cannot read {file}"))?)
        };
        let mut r = csv::ReaderBuilder::new()
            .flexible(false)
            .trim(csv::Trim::All)
            .from_reader(source);
        let heads = r
            .headers()
            .with_context(|| format!("{file}: cannot read the header row"))?
            .iter()
            .enumerate()
            .map(|(i, h)| (h.to_string(), i))
            .collect();
        let mut rows = Vec::new();
        for rec in r.records() {
            let rec = rec.with_context(|| format!("{file}: malformed CSV"))?;
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            rows.push((line, rec));
        }
        Ok(Table { file, heads, rows })
    }

    fn col(&self, name: &str) -> Result<usize> {
        self.heads.get(name).copied().ok_or_else(|| {
            let mut have: Vec<&str> = self.heads.keys().map(String::as_str).collect();
            have.sort();
            anyhow!(
                "{}: missing column `{name}` (columns: {})",
                self.file,
                have.join(", ")
            )
        })
    }

    fn parse<T: std::str::FromStr>(
        &self,
        line: u64,
        rec: &csv::StringRecord,
        col: usize,
        name: &str,
    ) -> Result<T> {
        let v = rec.get(col).unwrap_or("");
        v.parse().map_err(|_| {
            anyhow!(
                "{} line {line}: column `{name}`: cannot parse `{v}`",
                self.file
            )
        })
    }
}

fn parse_bool(t: &Table, line: u64, v: &str, name: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => bail!(
            "{} line {line}: column `{name}`: expected true or false, got `{v}`",
            t.file
        ),
    }
}

/// Reads the candidates of a `stria search` CSV (columns by name; others ignored).
fn read_candidates(path: &Path, capped: bool) -> Result<Vec<Candidate>> {
    let t = Table::read(path, capped)?;
    let [g, f, lat, comm, params, macs] = [
        "generator",
        "feasible",
        "latency_ms",
        "comm_bytes",
        "params",
        "macs",
    ]
    .map(|c| t.col(c));
    let (g, f, lat, comm, params, macs) = (g?, f?, lat?, comm?, params?, macs?);
    t.rows
        .iter()
        // Candidates the spec rejects (`invalid`) have no cost to draw.
        .filter(|(_, r)| !r.get(lat).unwrap_or("").is_empty())
        .map(|(line, r)| {
            Ok(Candidate {
                generator: r.get(g).unwrap_or("").to_string(),
                feasible: parse_bool(&t, *line, r.get(f).unwrap_or(""), "feasible")?,
                latency_ms: t.parse(*line, r, lat, "latency_ms")?,
                comm_bytes: t.parse(*line, r, comm, "comm_bytes")?,
                params: t.parse(*line, r, params, "params")?,
                macs: t.parse(*line, r, macs, "macs")?,
            })
        })
        .collect()
}

/// Reads `DIR/pareto.csv` (required) and `DIR/all.csv` (when present): `(all, front)`.
pub fn read_pareto_dir(dir: &Path) -> Result<(Vec<Candidate>, Vec<Candidate>)> {
    ensure!(dir.is_dir(), "{}: not a directory", dir.display());
    let front_path = dir.join("pareto.csv");
    ensure!(
        front_path.is_file(),
        "{}: missing pareto.csv (written by `stria search`)",
        dir.display()
    );
    let front = read_candidates(&front_path, true)?;
    let all_path = dir.join("all.csv");
    let all = if all_path.is_file() {
        read_candidates(&all_path, false)?
    } else {
        Vec::new()
    };
    Ok((all, front))
}

/// Reads every directory; one series per (directory, generator). Labels carry the directory
/// name when there are several directories.
pub fn pareto_data(dirs: &[PathBuf]) -> Result<ParetoData> {
    ensure!(!dirs.is_empty(), "pareto needs at least one directory");
    let mut series: Vec<ParetoSeries> = Vec::new();
    let mut read = Vec::new();
    for dir in dirs {
        read.push(read_pareto_dir(dir)?);
    }
    // A generator found in one directory only is labelled by its name alone.
    let dirs_with = |g: &str| {
        read.iter()
            .filter(|(all, front)| all.iter().chain(front).any(|c| c.generator == g))
            .count()
    };
    for (dir, (all, front)) in dirs.iter().zip(&read) {
        let mut gens: Vec<String> = Vec::new();
        for c in all.iter().chain(front) {
            if !gens.contains(&c.generator) {
                gens.push(c.generator.clone());
            }
        }
        let dir_name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| dir.display().to_string());
        for g in gens {
            let shown = if g.is_empty() { "(no generator)" } else { &g };
            let label = if dirs_with(&g) > 1 {
                format!("{dir_name}: {shown}")
            } else {
                shown.to_string()
            };
            series.push(ParetoSeries {
                label,
                generator: g.clone(),
                all: all.iter().filter(|c| c.generator == g).cloned().collect(),
                front: front.iter().filter(|c| c.generator == g).cloned().collect(),
            });
        }
    }
    ensure!(
        series
            .iter()
            .any(|s| !s.all.is_empty() || !s.front.is_empty()),
        "no candidates in {}",
        dirs.iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(ParetoData { series })
}

/// Reads a validate.csv (columns `layer`, `predicted_ms`, `measured_ms`; others ignored). The
/// label is the parent directory for a file named validate.csv (`results/validate/cheetah`
/// -> `cheetah`), the file stem otherwise.
pub fn read_validation(path: &Path) -> Result<ValidationSeries> {
    let t = Table::read(path, true)?;
    let (layer, pred, meas) = (
        t.col("layer")?,
        t.col("predicted_ms")?,
        t.col("measured_ms")?,
    );
    let points = t
        .rows
        .iter()
        .map(|(line, r)| {
            let p = ValidationPoint {
                layer: r.get(layer).unwrap_or("").to_string(),
                predicted: t.parse(*line, r, pred, "predicted_ms")?,
                measured: t.parse(*line, r, meas, "measured_ms")?,
            };
            ensure!(
                p.predicted > 0.0 && p.measured > 0.0,
                "{} line {line}: predicted_ms and measured_ms must be positive (log scale, MAPE)",
                t.file
            );
            Ok(p)
        })
        .collect::<Result<Vec<_>>>()?;
    ensure!(!points.is_empty(), "{}: no rows", t.file);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let label = match path.parent().and_then(|p| p.file_name()) {
        Some(parent) if stem == "validate" => parent.to_string_lossy().to_string(),
        _ => stem,
    };
    Ok(ValidationSeries { label, points })
}

pub fn validation_data(files: &[PathBuf]) -> Result<ValidationData> {
    ensure!(!files.is_empty(), "validation needs at least one CSV file");
    Ok(ValidationData {
        series: files
            .iter()
            .map(|f| read_validation(f))
            .collect::<Result<_>>()?,
        text: VALIDATION_TEXT,
    })
}

/// `stria plot measured`: one series per run directory, one point per layer kind with traffic
/// both predicted and measured (MiB), predicted as `stria measured` does (lan link for an
/// unshaped loopback, the run's threads, the shipped spec of the program's graph); with a time
/// model, one point per kind with seconds both predicted (by the model) and measured.
pub fn measured_data(dirs: &[PathBuf], time_model: Option<&Path>) -> Result<ValidationData> {
    use crate::report::{measured, timing};
    ensure!(
        !dirs.is_empty(),
        "measured needs at least one run directory"
    );
    let model = match time_model {
        Some(p) => {
            let mut m = timing::load(p).map_err(|e| anyhow!("{e}"))?;
            m.seal_profile.file = p.display().to_string();
            Some(m)
        }
        None => None,
    };
    let file = time_model
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let root = std::env::current_dir()?;
    let mut series = Vec::new();
    for dir in dirs {
        let run = measured::read_run(dir).map_err(|e| anyhow!("{e}"))?;
        let protocol = measured::protocol_of(&run).map_err(|e| anyhow!("{e}"))?;
        let net = load(&measured::default_spec(&run, &root).map_err(|e| anyhow!("{e}"))?)?;
        let link = if run.link == "wan" { "wan" } else { "lan" };
        let mut s = setting(protocol, link)?;
        measured::adapt(&run, &mut s);
        let seal = model.as_ref().map(|m| &m.seal_profile);
        let predicted = measured::predict(&net, &s, seal).map_err(|e| anyhow!("{e}"))?;
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        let rows = measured::compare(&run, &predicted, model.as_ref().map(|m| (m, file.as_str())))
            .map_err(|e| anyhow!("{e}"))?;
        let points = rows
            .into_iter()
            .filter(|r| r.kind != "total")
            .filter_map(|r| match &model {
                Some(_) => match r.measured_s {
                    Some(m) if m > 0.0 && r.predicted_s > 0.0 => Some(ValidationPoint {
                        layer: r.kind,
                        predicted: r.predicted_s,
                        measured: m,
                    }),
                    _ => None,
                },
                None => (r.predicted_bytes > 0 && r.measured_bytes > 0).then(|| ValidationPoint {
                    layer: r.kind,
                    predicted: mib(r.predicted_bytes),
                    measured: mib(r.measured_bytes),
                }),
            })
            .collect();
        let label = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        series.push(ValidationSeries { label, points });
    }
    Ok(ValidationData {
        series,
        text: if model.is_some() {
            MEASURED_TIME_TEXT
        } else {
            MEASURED_TEXT
        },
    })
}
