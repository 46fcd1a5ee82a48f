//! Real framework runs against stria's prediction: `stria measured DIR...`.
//!
//! A run directory (as `scripts/frameworks/run.sh` writes it under `results/measured/`) holds the
//! server's and the client's logs of one OpenCheetah network program (`server.log`,
//! `client.log`) and `machine.txt` (`net:`, `protocol:`, `threads (nt):`, `link:`, `complete:`
//! lines among others). The programs end by printing, per party, `<Kind> data sent = X MiB.` for
//! every kind of layer (Conv, MatMul, BatchNorm, Truncation, Relu, Maxpool, Avgpool, ArgMax, ...)
//! and, on the server, `Total time in <Kind> = X seconds.` and `Total time taken = X
//! milliseconds.` (SCI `library_fixed_uniform.cpp` `EndComputation`). A kind's measured traffic
//! is what both parties sent; its time is the server's.
//!
//! The prediction evaluates the network spec the program runs under the run's protocol, thread
//! count and a link, and sums its layers into the same kinds: convolutions' HE bytes into
//! `Conv`, the FC's into `MatMul`, evaluated batch norms' into `BatchNorm`, truncation bits
//! (before a product or fused after a ReLU) into `Truncation`, the rest of a ReLU's into `Relu`,
//! pools and argmax into theirs. Times are the layers' predicted milliseconds under stria's
//! latency model, a ReLU's split between `Relu` and `Truncation` in proportion to their bytes;
//! or, with a fitted time model, the frameworks' time ([`super::timing`]): each kind's SEAL time
//! and units, collected here ([`KindPred::work`]), priced by the model.

use super::timing::{KindWork, Observation, TimeModel, layer_elements, seal_calls, seal_us};
use crate::cost::price::{CostProfile, primes_for};
use crate::error::SpecError;
use crate::eval::{Setting, evaluate};
use crate::he::Protocol;
use crate::net::{Network, Op};
use crate::packing::nonlinear::network_nonlinear_split;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layer kinds the frameworks log, in their print order.
pub const KINDS: [&str; 8] = [
    "Conv",
    "MatMul",
    "BatchNorm",
    "Truncation",
    "Relu",
    "Maxpool",
    "Avgpool",
    "ArgMax",
];

/// One run's logs, parsed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub dir: PathBuf,
    pub net: String,
    /// `cheetah` or `SCI_HE`, as the program names it.
    pub protocol: String,
    pub threads: u32,
    /// `cores (online):` of the machine the run was on, when `machine.txt` says.
    pub cores: Option<u32>,
    /// `lan`, `wan` or `loopback` (no shaping).
    pub link: String,
    pub complete: bool,
    /// Bytes sent by the server, per kind.
    pub server_bytes: BTreeMap<String, u64>,
    /// Bytes sent by the client, per kind.
    pub client_bytes: BTreeMap<String, u64>,
    /// The server's seconds per kind.
    pub seconds: BTreeMap<String, f64>,
    /// `Total time taken` of the server, in seconds.
    pub total_s: Option<f64>,
    /// `Total data sent` of each party, in bytes.
    pub total_server_bytes: Option<u64>,
    pub total_client_bytes: Option<u64>,
}

fn mib_to_bytes(mib: f64) -> u64 {
    (mib * (1u64 << 20) as f64).round() as u64
}

/// The canonical kind for a logged name (`MaxPool` and `Maxpool` are one kind).
fn kind_of(name: &str) -> Option<&'static str> {
    KINDS
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(name.trim()))
}

/// `(kind, value)` of a line `<Kind> <middle> = <value> <unit>`.
fn parse_line<'a>(line: &'a str, middle: &str) -> Option<(&'a str, f64)> {
    let (name, rest) = line.split_once(middle)?;
    let value = rest.split_whitespace().next()?;
    Some((name.trim(), value.parse().ok()?))
}

/// Per-kind `data sent` figures of one party's log, and its `Total data sent`.
fn sent(log: &str) -> (BTreeMap<String, u64>, Option<u64>) {
    let mut kinds = BTreeMap::new();
    let mut total = None;
    for line in log.lines() {
        if let Some(v) = line
            .strip_prefix("Total data sent = ")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
        {
            total = Some(mib_to_bytes(v));
        } else if let Some((name, v)) = parse_line(line, " data sent = ")
            && let Some(k) = kind_of(name)
        {
            kinds.insert(k.to_string(), mib_to_bytes(v));
        }
    }
    (kinds, total)
}

/// Reads and parses a run directory.
pub fn read_run(dir: &Path) -> Result<Run, SpecError> {
    let read = |name: &str| -> Result<String, SpecError> {
        let p = dir.join(name);
        crate::io::read_text_capped(&p)
            .map_err(|e| SpecError::file(&p.display().to_string(), e.to_string()))
    };
    let machine = read("machine.txt")?;
    let field = |key: &str| {
        machine
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_string())
    };
    let file = dir.join("machine.txt").display().to_string();
    let need =
        |key: &str| field(key).ok_or_else(|| SpecError::file(&file, format!("no `{key}` line")));
    let net = need("net:")?;
    let protocol = need("protocol:")?;
    let threads = need("threads (nt):")?
        .parse()
        .map_err(|_| SpecError::file(&file, "`threads (nt):` is not a number"))?;
    let cores = field("cores (online):").and_then(|v| v.parse().ok());
    let link = field("link:").unwrap_or_else(|| "loopback".into());
    let complete = field("complete:").is_some_and(|v| v.starts_with("yes"));
    let server = read("server.log")?;
    let client = read("client.log")?;
    let (server_bytes, total_server_bytes) = sent(&server);
    let (client_bytes, total_client_bytes) = sent(&client);
    let mut seconds = BTreeMap::new();
    let mut total_s = None;
    for line in server.lines() {
        if let Some(rest) = line.strip_prefix("Total time in ")
            && let Some((name, v)) = parse_line(rest, " = ")
            && let Some(k) = kind_of(name)
        {
            seconds.insert(k.to_string(), v);
        } else if let Some(ms) = line
            .strip_prefix("Total time taken = ")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
        {
            total_s = Some(ms / 1000.0);
        }
    }
    if server_bytes.is_empty() || client_bytes.is_empty() {
        return Err(SpecError::file(
            &dir.display().to_string(),
            "no per-kind `data sent` lines in server.log and client.log (a run stopped early?)",
        ));
    }
    Ok(Run {
        dir: dir.to_path_buf(),
        net,
        protocol,
        threads,
        cores,
        link,
        complete,
        server_bytes,
        client_bytes,
        seconds,
        total_s,
        total_server_bytes,
        total_client_bytes,
    })
}

/// stria's protocol for a program's protocol name.
pub fn protocol_of(run: &Run) -> Result<Protocol, SpecError> {
    match run.protocol.as_str() {
        "cheetah" => Ok(Protocol::Cheetah),
        "SCI_HE" => Ok(Protocol::Cryptflow2),
        other => Err(SpecError::file(
            &run.dir.join("machine.txt").display().to_string(),
            format!("protocol `{other}`: stria models `cheetah` and `SCI_HE` runs"),
        )),
    }
}

/// The shipped spec of the graph a program runs (`configs/models/`), relative to `root`.
pub fn default_spec(run: &Run, root: &Path) -> Result<PathBuf, SpecError> {
    let stem = match (run.net.as_str(), run.protocol.as_str()) {
        ("sqnet", _) => "sqnet",
        ("resnet50", "SCI_HE") => "resnet50-cf2",
        ("resnet50", "cheetah") => "resnet50-cheetah",
        ("densenet121", "SCI_HE") => "densenet121-cf2",
        ("densenet121", "cheetah") => "densenet121-cheetah",
        (net, _) => {
            return Err(SpecError::file(
                &run.dir.join("machine.txt").display().to_string(),
                format!("no shipped spec for network `{net}`; pass --spec"),
            ));
        }
    };
    Ok(root.join("configs/models").join(format!("{stem}.json")))
}

/// Adapts `s` to what a run's program does: its thread count, and for OpenCheetah's SCI_HE programs (every run `scripts/frameworks/run.sh` makes)
/// OpenCheetah's SCI_HE build (SEAL 3.7.2 with zstd) and SEAL 3.7's rotation rule.
pub fn adapt(run: &Run, s: &mut Setting) {
    s.nonlinear.threads = run.threads;
    if s.count.protocol == Protocol::Cryptflow2 {
        s.count.sci_build = crate::he::SciBuild::OpenCheetah;
        s.count.key_policy = crate::he::KeyPolicy::Pow2Naf;
    }
}

/// One kind's prediction: bytes (both directions), stria's latency model's milliseconds, and
/// the work the framework time model prices ([`super::timing`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct KindPred {
    pub bytes: u64,
    pub ms: f64,
    pub work: KindWork,
}

/// Predicted traffic, time and work per kind. A run is a whole network in order, so Cheetah's
/// Ferret extensions are replayed from the pools' state as the run has them
/// (`Refills::Replay`), not amortised per COT as the per-layer default does. With `seal`, each
/// linear layer's SEAL calls ([`seal_calls`]) are priced with that profile's entry for the
/// layer's ring degree at the protocol's fresh level.
pub fn predict(
    net: &Network,
    s: &Setting,
    seal: Option<&CostProfile>,
) -> Result<BTreeMap<String, KindPred>, SpecError> {
    let mut s = s.clone();
    s.nonlinear.cheetah_ferret = crate::packing::cheetah_nl::Refills::Replay;
    let s = &s;
    let evals = evaluate(net, s).map_err(|e| SpecError::file(&net.name, e.to_string()))?;
    let split = network_nonlinear_split(net, s.count.protocol, &s.nonlinear)
        .map_err(|e| SpecError::file(&net.name, e.to_string()))?;
    let mut out: BTreeMap<String, KindPred> = BTreeMap::new();
    // The unit of the non-linear kinds' fitted terms (`timing::unit_of`).
    let by_bytes = s.count.protocol == Protocol::Cryptflow2;
    let mut put = |k: &str, bytes: u64, ms: f64, seal_us: f64, units: u64| {
        let e = out.entry(k.to_string()).or_default();
        e.bytes += bytes;
        e.ms += ms;
        e.work.seal_us += seal_us;
        e.work.units += units;
    };
    for ((layer, e), (nl, trunc_bits)) in net.layers.iter().zip(&evals).zip(&split) {
        let he = e.cost.counts.bytes_up + e.cost.counts.bytes_down;
        let trunc = trunc_bits.div_ceil(8);
        let nlb = e.nonlinear_bytes;
        // Truncation time: its share of the layer's non-linear time, by bytes.
        let trunc_ms = if nlb > 0 {
            e.nonlinear_ms * trunc as f64 / nlb as f64
        } else {
            0.0
        };
        put(
            "Truncation",
            trunc,
            trunc_ms,
            0.0,
            if by_bytes { trunc } else { nl.trunc },
        );
        let rest_ms = e.price.latency_ms - trunc_ms;
        let seal_us = match (seal, e.cost.n) {
            (Some(p), Some(n)) => {
                let entry = p.entry(n, primes_for(s.count.protocol))?;
                seal_us(
                    &seal_calls(s.count.protocol, &e.cost.counts),
                    &entry,
                    &p.file,
                )?
            }
            _ => 0.0,
        };
        let linear = |k: &str, put: &mut dyn FnMut(&str, u64, f64, f64, u64)| {
            let bytes = he + nlb - trunc;
            // A linear kind's term multiplies its SEAL time (`timing::unit_of`), not units.
            put(k, bytes, rest_ms, seal_us, 0)
        };
        match layer.op {
            Op::Conv(_) => linear("Conv", &mut put),
            Op::Fc => linear("MatMul", &mut put),
            Op::BatchNorm { folded: false } => linear("BatchNorm", &mut put),
            _ => {
                if let Some((k, elements)) = layer_elements(layer, nl.relu) {
                    let bytes = nlb - trunc;
                    put(
                        k,
                        bytes,
                        rest_ms,
                        0.0,
                        if by_bytes { bytes } else { elements },
                    );
                }
            }
        }
    }
    Ok(out)
}

/// One kind of one run: predicted against measured.
#[derive(Debug, Clone, Serialize)]
pub struct KindRow {
    pub run: String,
    pub kind: String,
    pub predicted_bytes: u64,
    pub measured_bytes: u64,
    /// `(predicted - measured) / measured`, percent; empty when nothing was measured.
    pub bytes_error_pct: Option<f64>,
    pub predicted_s: f64,
    pub measured_s: Option<f64>,
    pub time_error_pct: Option<f64>,
}

fn rel(pred: f64, meas: f64) -> Option<f64> {
    (meas > 0.0).then(|| 100.0 * (pred - meas) / meas)
}

/// The run's directory name.
pub fn run_name(run: &Run) -> String {
    run.dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Rows per kind (those with measured or predicted traffic or time) and a `total` row. Times are
/// stria's latency model's, or with `time` (a fitted model and its file) the framework time
/// model's ([`super::timing`]); the total then adds the model's set-up seconds.
pub fn compare(
    run: &Run,
    predicted: &BTreeMap<String, KindPred>,
    time: Option<(&TimeModel, &str)>,
) -> Result<Vec<KindRow>, SpecError> {
    let name = run_name(run);
    let mut rows = Vec::new();
    let (mut pb, mut mb, mut ps) = (0u64, 0u64, 0.0f64);
    for k in KINDS {
        let measured = run.server_bytes.get(k).copied().unwrap_or(0)
            + run.client_bytes.get(k).copied().unwrap_or(0);
        let p = predicted.get(k).copied().unwrap_or_default();
        let measured_s = run.seconds.get(k).copied();
        if measured == 0 && p.bytes == 0 && measured_s.unwrap_or(0.0) == 0.0 {
            continue;
        }
        let secs = match time {
            Some((m, file)) => m.kind_seconds(file, &run.protocol, run.threads, k, &p.work)?,
            None => p.ms / 1000.0,
        };
        pb += p.bytes;
        mb += measured;
        ps += secs;
        rows.push(KindRow {
            run: name.clone(),
            kind: k.to_string(),
            predicted_bytes: p.bytes,
            measured_bytes: measured,
            bytes_error_pct: rel(p.bytes as f64, measured as f64),
            predicted_s: secs,
            measured_s,
            time_error_pct: measured_s.and_then(|m| rel(secs, m)),
        });
    }
    if let Some((m, _)) = time {
        ps += m.setup_seconds(&run.protocol, run.threads).unwrap_or(0.0);
    }
    rows.push(KindRow {
        run: name,
        kind: "total".into(),
        predicted_bytes: pb,
        measured_bytes: mb,
        bytes_error_pct: rel(pb as f64, mb as f64),
        predicted_s: ps,
        measured_s: run.total_s,
        time_error_pct: run.total_s.and_then(|m| rel(ps, m)),
    });
    Ok(rows)
}

/// A run and its prediction as a calibration observation for [`super::timing::fit`].
pub fn observation(run: &Run, predicted: &BTreeMap<String, KindPred>) -> Observation {
    Observation {
        run: run_name(run),
        protocol: run.protocol.clone(),
        threads: run.threads,
        work: predicted.iter().map(|(k, p)| (k.clone(), p.work)).collect(),
        measured_s: run.seconds.clone(),
        total_s: run.total_s,
    }
}

/// Mean absolute percentage error over the per-kind rows (not the totals) that have one.
pub fn mape(rows: &[KindRow], f: impl Fn(&KindRow) -> Option<f64>) -> Option<f64> {
    let v: Vec<f64> = rows
        .iter()
        .filter(|r| r.kind != "total")
        .filter_map(f)
        .map(f64::abs)
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The rows as a table with a MAPE line per measure.
pub fn table(rows: &[KindRow]) -> String {
    let heads: Vec<String> = [
        "Run",
        "Kind",
        "Pred MiB",
        "Meas MiB",
        "Bytes err",
        "Pred s",
        "Meas s",
        "Time err",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    let mib = |b: u64| format!("{:.3}", b as f64 / (1u64 << 20) as f64);
    let pct = |e: Option<f64>| e.map_or("-".to_string(), |e| format!("{e:+.1}%"));
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.run.clone(),
                r.kind.clone(),
                mib(r.predicted_bytes),
                mib(r.measured_bytes),
                pct(r.bytes_error_pct),
                format!("{:.2}", r.predicted_s),
                r.measured_s.map_or("-".into(), |s| format!("{s:.2}")),
                pct(r.time_error_pct),
            ]
        })
        .collect();
    let mut t = super::render_table(&heads, &body, 2);
    let m = |e: Option<f64>| e.map_or("-".to_string(), |e| format!("{e:.1}%"));
    t.push_str(&format!(
        "MAPE over kinds: bytes {}, time {}\n",
        m(mape(rows, |r| r.bytes_error_pct)),
        m(mape(rows, |r| r.time_error_pct))
    ));
    t
}

/// The rows as CSV (units in the column names).
pub fn csv(rows: &[KindRow]) -> String {
    super::rows_csv(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse() {
        assert_eq!(kind_of("MaxPool"), Some("Maxpool"));
        assert_eq!(kind_of("AvgPool"), Some("Avgpool"));
        assert_eq!(kind_of("Sigmoid"), None);
        let (k, total) = sent(
            "Conv data sent = 1.5 MiB.\nSigmoid data sent = 0 MiB.\nTotal data sent = 2 MiB.\n\
             Relu data (sent+received) = 9 MiB.\n",
        );
        assert_eq!(k.get("Conv"), Some(&(3 << 19)));
        assert_eq!(k.len(), 1);
        assert_eq!(total, Some(2 << 20));
    }
}
