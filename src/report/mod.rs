//! Per-layer reports: a torchinfo-style table, CSV and JSON with the same rows.

use crate::cost::OpCounts;
use crate::net::{Layer, Network};
use crate::packing::{CountConfig, LayerCost};
use serde::Serialize;
use std::fmt::Write as _;

/// The CSV header's fixed leading columns (issue contract); more columns follow after them.
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

/// Extra columns after the contract columns.
pub const CSV_EXTRA_COLUMNS: [&str; 3] = ["mod_switch", "enc", "dec"];

/// One report row: a layer with its shapes and counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub layer: String,
    pub kind: String,
    pub in_c: u32,
    pub in_h: u32,
    pub in_w: u32,
    pub out_c: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub n: Option<u64>,
    pub cn: Option<u64>,
    #[serde(flatten)]
    pub counts: OpCounts,
}

impl Row {
    pub fn new(layer: &Layer, cost: &LayerCost) -> Row {
        Row {
            layer: layer.path.clone(),
            kind: layer.kind(),
            in_c: layer.input.c,
            in_h: layer.input.h,
            in_w: layer.input.w,
            out_c: layer.output.c,
            out_h: layer.output.h,
            out_w: layer.output.w,
            n: cost.n,
            cn: cost.cn,
            counts: cost.counts,
        }
    }
}

/// A full cost report of one network under one setting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostReport {
    pub network: String,
    pub config: CountConfig,
    pub layers: Vec<Row>,
    pub total: OpCounts,
}

impl CostReport {
    pub fn new(net: &Network, cfg: &CountConfig, costs: &[LayerCost]) -> CostReport {
        let layers: Vec<Row> = net
            .layers
            .iter()
            .zip(costs)
            .map(|(l, c)| Row::new(l, c))
            .collect();
        let total = costs.iter().map(|c| c.counts).sum();
        CostReport {
            network: net.name.clone(),
            config: *cfg,
            layers,
            total,
        }
    }

    /// CSV text: header, one row per layer, then the `total` row (shape, n and cn cells empty).
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header: Vec<&str> = CSV_COLUMNS
            .iter()
            .chain(CSV_EXTRA_COLUMNS.iter())
            .copied()
            .collect();
        w.write_record(&header).expect("in-memory write");
        let opt = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
        for r in &self.layers {
            let mut rec = vec![
                r.layer.clone(),
                r.kind.clone(),
                r.in_c.to_string(),
                r.in_h.to_string(),
                r.in_w.to_string(),
                r.out_c.to_string(),
                r.out_h.to_string(),
                r.out_w.to_string(),
                opt(r.n),
                opt(r.cn),
            ];
            rec.extend(count_cells(&r.counts));
            w.write_record(&rec).expect("in-memory write");
        }
        let mut rec = vec!["total".to_string(), String::new()];
        rec.extend(std::iter::repeat_n(String::new(), 8));
        rec.extend(count_cells(&self.total));
        w.write_record(&rec).expect("in-memory write");
        String::from_utf8(w.into_inner().expect("in-memory flush")).expect("CSV is UTF-8")
    }

    /// Pretty JSON with the same data.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes") + "\n"
    }

    /// torchinfo-style table with a totals footer.
    pub fn to_table(&self) -> String {
        let heads = [
            "Layer (path)",
            "Kind",
            "Output",
            "N",
            "cn",
            "InRot",
            "ExRot",
            "KeySw",
            "ScMult",
            "Add",
            "ct up",
            "ct down",
            "Up",
            "Down",
        ];
        let mut rows: Vec<[String; 14]> = Vec::new();
        let opt = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_else(|| "-".into());
        for r in &self.layers {
            let c = &r.counts;
            rows.push([
                r.layer.clone(),
                r.kind.clone(),
                format!("{}x{}x{}", r.out_c, r.out_h, r.out_w),
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
            ]);
        }
        let mut width: Vec<usize> = heads.iter().map(|h| h.len()).collect();
        for r in &rows {
            for (i, cell) in r.iter().enumerate() {
                width[i] = width[i].max(cell.chars().count());
            }
        }
        let line_len: usize = width.iter().sum::<usize>() + 2 * (width.len() - 1);
        let mut out = String::new();
        let eq = "=".repeat(line_len);
        let fmt_row = |cells: &[String], out: &mut String| {
            let mut s = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                if i < 3 {
                    let _ = write!(s, "{:<w$}", cell, w = width[i]);
                } else {
                    let _ = write!(s, "{:>w$}", cell, w = width[i]);
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        let _ = writeln!(
            out,
            "{} under {} (key policy {}, ring degree {})",
            self.network, self.config.protocol, self.config.key_policy, self.config.ring_degree
        );
        out.push_str(&eq);
        out.push('\n');
        fmt_row(&heads.map(String::from), &mut out);
        out.push_str(&eq);
        out.push('\n');
        for r in &rows {
            fmt_row(r, &mut out);
        }
        out.push_str(&eq);
        out.push('\n');
        let t = &self.total;
        let conv_layers = self.layers.iter().filter(|r| r.n.is_some()).count();
        let _ = writeln!(out, "HE layers: {conv_layers} of {}", self.layers.len());
        let _ = writeln!(
            out,
            "Rotations: {} ({} internal + {} external), key switches: {}",
            t.rotations(),
            t.internal_rot,
            t.external_rot,
            t.key_switch
        );
        let _ = writeln!(
            out,
            "ScMult: {}, Add: {}, ModSwitch: {}, Enc: {}, Dec: {}",
            t.scmult, t.add, t.mod_switch, t.enc, t.dec
        );
        let _ = writeln!(
            out,
            "Ciphertexts: {} up, {} down; traffic: {} up + {} down = {}",
            t.ct_up,
            t.ct_down,
            human_bytes(t.bytes_up),
            human_bytes(t.bytes_down),
            human_bytes(t.bytes_up + t.bytes_down)
        );
        out.push_str(&eq);
        out.push('\n');
        out
    }
}

fn count_cells(c: &OpCounts) -> Vec<String> {
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
    ]
    .iter()
    .map(u64::to_string)
    .collect()
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

/// Writes `contents` to `path` atomically (temporary file in the same directory, then rename).
pub fn write_atomic(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}
