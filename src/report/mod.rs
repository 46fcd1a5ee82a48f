//! Reports: per-layer (or per-kind) cost tables in torchinfo style, CSV and JSON with the same
//! rows, and the side-by-side `compare` table.

pub mod measured;
pub mod timing;

use crate::cost::OpCounts;
use crate::eval::{LayerEval, Setting, Totals};
use crate::net::{Layer, Network};
use serde::Serialize;
use std::fmt::Write as _;

/// The CSV header's fixed leading columns (the contract of `stria cost --format csv`).
pub const CSV_COLUMNS: [&str; 19] = [
    "layer",
    "kind",
    "in_c",
    "in_h",
    "in_w",
    "out_c",
    "out_h",
    "out_w",
    "n",
    "cn",
    "internal_rot",
    "external_rot",
    "key_switch",
    "scmult",
    "add",
    "ct_up",
    "ct_down",
    "bytes_up",
    "bytes_down",
];

/// Columns after the contract columns, in order: more HE counts, non-linear costs, prices.
pub const CSV_EXTRA_COLUMNS: [&str; 12] = [
    "mod_switch",
    "enc",
    "dec",
    "relu",
    "trunc",
    "nonlinear_bytes",
    "rounds",
    "compute_ms",
    "comm_ms",
    "latency_ms",
    "params",
    "macs",
];

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum View {
    /// One row per layer, in network order.
    Layer,
    /// One row per layer kind (conv3x3, conv1x1, depthwise3x3, fc, relu, ...), in order of first
    /// appearance, like fvcore's by-operator view.
    Kind,
}

/// One report row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub layer: String,
    pub kind: String,
    pub in_c: Option<u32>,
    pub in_h: Option<u32>,
    pub in_w: Option<u32>,
    pub out_c: Option<u32>,
    pub out_h: Option<u32>,
    pub out_w: Option<u32>,
    pub n: Option<u64>,
    pub cn: Option<u64>,
    #[serde(flatten)]
    pub counts: OpCounts,
    pub relu: u64,
    pub trunc: u64,
    pub nonlinear_bytes: u64,
    pub rounds: u64,
    pub compute_ms: f64,
    pub comm_ms: f64,
    pub latency_ms: f64,
    /// Trainable parameters and multiply-accumulates (capacity, for comparing networks).
    pub params: u64,
    pub macs: u64,
    /// Number of layers summed into this row (1 in the layer view).
    pub layers: u64,
}

impl Row {
    fn from_layer(layer: &Layer, e: &LayerEval) -> Row {
        Row {
            layer: layer.path.clone(),
            kind: layer.kind(),
            in_c: Some(layer.input.c),
            in_h: Some(layer.input.h),
            in_w: Some(layer.input.w),
            out_c: Some(layer.output.c),
            out_h: Some(layer.output.h),
            out_w: Some(layer.output.w),
            n: e.cost.n,
            cn: e.cost.cn,
            counts: e.cost.counts,
            relu: e.nl.relu,
            trunc: e.nl.trunc,
            nonlinear_bytes: e.nonlinear_bytes,
            rounds: e.rounds,
            compute_ms: e.price.compute_ms,
            comm_ms: e.price.comm_ms,
            latency_ms: e.price.latency_ms,
            params: e.params,
            macs: e.macs,
            layers: 1,
        }
    }

    fn summary(label: &str, t: &Totals, layers: u64) -> Row {
        Row {
            layer: label.to_string(),
            kind: if label == "total" {
                String::new()
            } else {
                label.to_string()
            },
            in_c: None,
            in_h: None,
            in_w: None,
            out_c: None,
            out_h: None,
            out_w: None,
            n: None,
            cn: None,
            counts: t.counts,
            relu: t.relu,
            trunc: t.trunc,
            nonlinear_bytes: t.nonlinear_bytes,
            rounds: t.rounds,
            compute_ms: t.price.compute_ms,
            comm_ms: t.price.comm_ms,
            latency_ms: t.price.latency_ms,
            params: t.params,
            macs: t.macs,
            layers,
        }
    }
}

/// Linear (HE) versus non-linear share of the totals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Split {
    pub linear_bytes: u64,
    pub nonlinear_bytes: u64,
    pub compute_ms: f64,
    pub linear_ms: f64,
    pub nonlinear_ms: f64,
}

/// The settings a report was computed under, as recorded in JSON output.
#[derive(Debug, Clone, Serialize)]
pub struct ReportSetting {
    pub count: crate::packing::CountConfig,
    pub nonlinear: crate::packing::nonlinear::NonlinearParams,
    pub link: crate::cost::price::Link,
    pub profile: String,
}

/// A full cost report of one network under one setting.
#[derive(Debug, Clone, Serialize)]
pub struct CostReport {
    pub network: String,
    pub setting: ReportSetting,
    pub view: View,
    pub layers: Vec<Row>,
    pub total: Row,
    /// Layers with HE work.
    pub he_layers: u64,
    pub split: Split,
}

impl CostReport {
    pub fn new(net: &Network, s: &Setting, evals: &[LayerEval], view: View) -> CostReport {
        let t = Totals::of(evals);
        let layers = match view {
            View::Layer => net
                .layers
                .iter()
                .zip(evals)
                .map(|(l, e)| Row::from_layer(l, e))
                .collect(),
            View::Kind => {
                let mut kinds: Vec<(String, Vec<LayerEval>)> = Vec::new();
                for (l, e) in net.layers.iter().zip(evals) {
                    let k = l.kind();
                    match kinds.iter_mut().find(|(name, _)| *name == k) {
                        Some((_, v)) => v.push(*e),
                        None => kinds.push((k, vec![*e])),
                    }
                }
                kinds
                    .iter()
                    .map(|(k, v)| Row::summary(k, &Totals::of(v), v.len() as u64))
                    .collect()
            }
        };
        CostReport {
            network: net.name.clone(),
            setting: ReportSetting {
                count: s.count,
                nonlinear: s.nonlinear.clone(),
                link: s.link.clone(),
                profile: s.profile.name.clone(),
            },
            view,
            layers,
            total: Row::summary("total", &t, net.layers.len() as u64),
            he_layers: evals.iter().filter(|e| e.cost.n.is_some()).count() as u64,
            split: Split {
                linear_bytes: t.counts.bytes_up + t.counts.bytes_down,
                nonlinear_bytes: t.nonlinear_bytes,
                compute_ms: t.price.compute_ms,
                linear_ms: t.linear_ms,
                nonlinear_ms: t.nonlinear_ms,
            },
        }
    }

    /// CSV text: header, one row per layer (or kind), then the `total` row (shape, n and cn
    /// cells empty).
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header: Vec<&str> = CSV_COLUMNS
            .iter()
            .chain(CSV_EXTRA_COLUMNS.iter())
            .copied()
            .collect();
        w.write_record(&header).expect("in-memory write");
        for r in self.layers.iter().chain(std::iter::once(&self.total)) {
            w.write_record(csv_record(r)).expect("in-memory write");
        }
        String::from_utf8(w.into_inner().expect("in-memory flush")).expect("CSV is UTF-8")
    }

    /// Pretty JSON with the same data plus the settings.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes") + "\n"
    }

    /// torchinfo-style table with a totals footer and the linear / non-linear split.
    pub fn to_table(&self) -> String {
        let first = match self.view {
            View::Layer => "Layer (path)",
            View::Kind => "Kind (layers)",
        };
        let heads = [
            first, "Kind", "Output", "N", "cn", "InRot", "ExRot", "KeySw", "ScMult", "Add",
            "ct up", "ct dn", "HE up", "HE down", "NL bytes", "Rnds", "ms",
        ];
        let opt = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
        let rows: Vec<Vec<String>> = self
            .layers
            .iter()
            .map(|r| {
                let c = &r.counts;
                let first = match self.view {
                    View::Layer => r.layer.clone(),
                    View::Kind => format!("{} ({})", r.kind, r.layers),
                };
                let out = match (r.out_c, r.out_h, r.out_w) {
                    (Some(c), Some(h), Some(w)) => format!("{c}x{h}x{w}"),
                    _ => "-".into(),
                };
                vec![
                    first,
                    r.kind.clone(),
                    out,
                    opt(r.n),
                    opt(r.cn),
                    c.internal_rot.to_string(),
                    c.external_rot.to_string(),
                    c.key_switch.to_string(),
                    c.scmult.to_string(),
                    c.add.to_string(),
                    c.ct_up.to_string(),
                    c.ct_down.to_string(),
                    human_bytes(c.bytes_up),
                    human_bytes(c.bytes_down),
                    human_bytes(r.nonlinear_bytes),
                    r.rounds.to_string(),
                    format!("{:.2}", r.latency_ms),
                ]
            })
            .collect();
        let mut heads: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
        let mut rows = rows;
        if self.view == View::Kind {
            // Kind, shape, N and cn say nothing about a group of layers: drop those columns.
            heads.drain(1..5);
            for r in rows.iter_mut() {
                r.drain(1..5);
            }
        }
        let mut out = String::new();
        let s = &self.setting;
        let _ = writeln!(
            out,
            "{} under {} (key policy {}, ring degree {}); link {} ({} Mbit/s, RTT {} ms); profile {}",
            self.network,
            s.count.protocol,
            s.count.key_policy,
            s.count.ring_degree,
            s.link.name,
            s.link.bandwidth_mbit_s,
            s.link.rtt_ms,
            s.profile
        );
        let left = if self.view == View::Kind { 1 } else { 3 };
        out.push_str(&render_table(&heads, &rows, left));
        let t = &self.total;
        let c = &t.counts;
        let _ = writeln!(
            out,
            "Layers: {} ({} with HE work)",
            t.layers, self.he_layers
        );
        let _ = writeln!(
            out,
            "Rotations: {} ({} internal + {} external), key switches: {}",
            c.rotations(),
            c.internal_rot,
            c.external_rot,
            c.key_switch
        );
        let _ = writeln!(
            out,
            "ScMult: {}, Add: {}, ModSwitch: {}, Enc: {}, Dec: {}",
            c.scmult, c.add, c.mod_switch, c.enc, c.dec
        );
        let _ = writeln!(
            out,
            "Ciphertexts: {} up, {} down; HE traffic: {} up + {} down",
            c.ct_up,
            c.ct_down,
            human_bytes(c.bytes_up),
            human_bytes(c.bytes_down)
        );
        let _ = writeln!(
            out,
            "Non-linear: {} ReLU evaluations, {} truncated elements, {}; {} rounds in all",
            t.relu,
            t.trunc,
            human_bytes(t.nonlinear_bytes),
            t.rounds
        );
        let sp = &self.split;
        let _ = writeln!(
            out,
            "Latency: {:.3} s = linear {:.3} s (HE compute {:.3} s, HE transfer and round trips {:.3} s) + non-linear {:.3} s",
            t.latency_ms / 1e3,
            sp.linear_ms / 1e3,
            sp.compute_ms / 1e3,
            (sp.linear_ms - sp.compute_ms) / 1e3,
            sp.nonlinear_ms / 1e3
        );
        let total_bytes = (sp.linear_bytes + sp.nonlinear_bytes).max(1) as f64;
        let _ = writeln!(
            out,
            "Traffic: {} = linear {} ({:.1}%) + non-linear {} ({:.1}%)",
            human_bytes(sp.linear_bytes + sp.nonlinear_bytes),
            human_bytes(sp.linear_bytes),
            100.0 * sp.linear_bytes as f64 / total_bytes,
            human_bytes(sp.nonlinear_bytes),
            100.0 * sp.nonlinear_bytes as f64 / total_bytes
        );
        out
    }
}

fn csv_record(r: &Row) -> Vec<String> {
    let o32 = |v: Option<u32>| v.map(|x| x.to_string()).unwrap_or_default();
    let o64 = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
    let c = &r.counts;
    let mut rec = vec![
        r.layer.clone(),
        r.kind.clone(),
        o32(r.in_c),
        o32(r.in_h),
        o32(r.in_w),
        o32(r.out_c),
        o32(r.out_h),
        o32(r.out_w),
        o64(r.n),
        o64(r.cn),
    ];
    rec.extend(
        [
            c.internal_rot,
            c.external_rot,
            c.key_switch,
            c.scmult,
            c.add,
            c.ct_up,
            c.ct_down,
            c.bytes_up,
            c.bytes_down,
            c.mod_switch,
            c.enc,
            c.dec,
            r.relu,
            r.trunc,
            r.nonlinear_bytes,
            r.rounds,
        ]
        .iter()
        .map(u64::to_string),
    );
    rec.extend(
        [r.compute_ms, r.comm_ms, r.latency_ms]
            .iter()
            .map(|v| format!("{v:.6}")),
    );
    rec.extend([r.params.to_string(), r.macs.to_string()]);
    rec
}

/// Renders rows under a header with `=` rules; the first `left` columns are left-aligned.
pub fn render_table(heads: &[String], rows: &[Vec<String>], left: usize) -> String {
    let mut width: Vec<usize> = heads.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let line_len: usize = width.iter().sum::<usize>() + 2 * (width.len().saturating_sub(1));
    let rule = "=".repeat(line_len);
    let mut out = String::new();
    let fmt_row = |cells: &[String], out: &mut String| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            if i < left {
                let _ = write!(s, "{:<w$}", cell, w = width[i]);
            } else {
                let _ = write!(s, "{:>w$}", cell, w = width[i]);
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    out.push_str(&rule);
    out.push('\n');
    fmt_row(heads, &mut out);
    out.push_str(&rule);
    out.push('\n');
    for r in rows {
        fmt_row(r, &mut out);
    }
    out.push_str(&rule);
    out.push('\n');
    out
}

/// Binary units: `B`, `KiB`, `MiB`, `GiB` with two decimals.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.2} {}", UNITS[u])
}

/// Writes `contents` to `path`: [`crate::io::write_output`], the one output writer (atomic for
/// regular files and new paths, straight through for devices and FIFOs, symlinks followed, no
/// temporary file left on an error).
pub fn write_atomic(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    crate::io::write_output(path, contents)
}

/// One row of `stria compare`: a (network, protocol, link) triple.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareRow {
    pub network: String,
    pub protocol: String,
    pub link: String,
    pub internal_rot: u64,
    pub external_rot: u64,
    pub key_switch: u64,
    pub scmult: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub nonlinear_bytes: u64,
    pub rounds: u64,
    pub params: u64,
    pub macs: u64,
    pub compute_s: f64,
    pub linear_comm_s: f64,
    pub nonlinear_s: f64,
    pub latency_s: f64,
    /// Latency of the first row divided by this row's.
    pub speedup: f64,
}

impl CompareRow {
    pub fn new(net: &Network, s: &Setting, evals: &[LayerEval]) -> CompareRow {
        let t = Totals::of(evals);
        CompareRow {
            network: net.name.clone(),
            protocol: s.count.protocol.to_string(),
            link: s.link.name.clone(),
            internal_rot: t.counts.internal_rot,
            external_rot: t.counts.external_rot,
            key_switch: t.counts.key_switch,
            scmult: t.counts.scmult,
            bytes_up: t.counts.bytes_up,
            bytes_down: t.counts.bytes_down,
            nonlinear_bytes: t.nonlinear_bytes,
            rounds: t.rounds,
            params: t.params,
            macs: t.macs,
            compute_s: t.price.compute_ms / 1e3,
            linear_comm_s: (t.linear_ms - t.price.compute_ms) / 1e3,
            nonlinear_s: t.nonlinear_ms / 1e3,
            latency_s: t.price.latency_ms / 1e3,
            speedup: 1.0,
        }
    }
}

/// Sets each row's speedup relative to the first row.
pub fn set_speedups(rows: &mut [CompareRow]) {
    if let Some(base) = rows.first().map(|r| r.latency_s) {
        for r in rows.iter_mut() {
            r.speedup = if r.latency_s > 0.0 {
                base / r.latency_s
            } else {
                f64::INFINITY
            };
        }
    }
}

/// The comparison as a table.
pub fn compare_table(rows: &[CompareRow]) -> String {
    let heads: Vec<String> = [
        "Network",
        "Protocol",
        "Link",
        "Params M",
        "GMACs",
        "InRot",
        "ExRot",
        "ScMult",
        "MiB up",
        "MiB down",
        "NL MiB",
        "HE s",
        "HE comm s",
        "NL s",
        "Total s",
        "Speedup",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    let mib = |b: u64| format!("{:.1}", b as f64 / (1u64 << 20) as f64);
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.network.clone(),
                r.protocol.clone(),
                r.link.clone(),
                format!("{:.2}", r.params as f64 / 1e6),
                format!("{:.3}", r.macs as f64 / 1e9),
                r.internal_rot.to_string(),
                r.external_rot.to_string(),
                r.scmult.to_string(),
                mib(r.bytes_up),
                mib(r.bytes_down),
                mib(r.nonlinear_bytes),
                format!("{:.2}", r.compute_s),
                format!("{:.2}", r.linear_comm_s),
                format!("{:.2}", r.nonlinear_s),
                format!("{:.2}", r.latency_s),
                format!("{:.2}x", r.speedup),
            ]
        })
        .collect();
    render_table(&heads, &body, 3)
}

/// The comparison as CSV (units in the column names).
pub fn compare_csv(rows: &[CompareRow]) -> String {
    rows_csv(rows)
}

/// Serializable rows as CSV, one record per row, the header from the field names.
pub fn rows_csv<T: Serialize>(rows: &[T]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).expect("in-memory write");
    }
    String::from_utf8(w.into_inner().expect("in-memory flush")).expect("CSV is UTF-8")
}
