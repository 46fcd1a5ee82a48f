//! `stria merge`: joins the outputs of sharded (or separate) runs of one search and recomputes
//! the Pareto front. The front of a union is the front of the union of the fronts, so the
//! merged `pareto.csv` needs only the shards' `pareto.csv`; `all.csv` is the union of the
//! shards' rows in sequence order (when every shard kept them).

use super::pareto::{Front, MAX_OBJECTIVES};
use super::run::Meta;
use crate::report::write_atomic;
use anyhow::{Context, Result, bail, ensure};
use std::path::{Path, PathBuf};

/// What a merge produced.
#[derive(Debug, Clone)]
pub struct Merged {
    pub rows: u64,
    pub front: usize,
    pub all_csv: bool,
}

/// Reads `DIR/search.json`.
pub(crate) fn read_meta(dir: &Path) -> Result<Meta> {
    let p = dir.join("search.json");
    let text = crate::io::read_text_capped(&p).with_context(|| {
        format!(
            "{}: not a search output (cannot read search.json)",
            dir.display()
        )
    })?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a search description", p.display()))
}

/// Reads a CSV into (header line, rows as (seq, line)).
/// `capped`: at most [`crate::io::MAX_INPUT_BYTES`] (`pareto.csv`; `all.csv` may be larger).
fn read_rows(path: &Path, capped: bool) -> Result<(String, Vec<(u64, String)>)> {
    let text = if capped {
        crate::io::read_text_capped(path)
    } else {
        std::fs::read_to_string(path)
    }
    .with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines();
    let head = lines
        .next()
        .with_context(|| format!("{}: empty file", path.display()))?
        .to_string();
    let mut rows = Vec::new();
    for (i, l) in lines.enumerate() {
        if l.is_empty() {
            continue;
        }
        let seq = l
            .split(',')
            .next()
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("{}: row {}: no sequence number", path.display(), i + 1))?;
        rows.push((seq, l.to_string()));
    }
    Ok((head, rows))
}

/// Merges search directories into `out`.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Merged> {
    ensure!(
        !dirs.is_empty(),
        "merge needs at least one search directory"
    );
    let metas: Vec<Meta> = dirs.iter().map(|d| read_meta(d)).collect::<Result<_>>()?;
    let first = &metas[0];
    for (m, d) in metas.iter().zip(dirs) {
        ensure!(
            m.fingerprint == first.fingerprint
                && m.strategy == first.strategy
                && m.seed == first.seed
                && m.minimize == first.minimize
                && m.maximize == first.maximize,
            "{}: a different search from {} (space, generator, strategy, seed or objectives differ)",
            d.display(),
            dirs[0].display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;

    // The front from the fronts.
    let nobj = first.minimize.len() + first.maximize.len();
    let mut front: Front<(String, PathBuf)> = Front::new(nobj);
    let mut header = None;
    for d in dirs {
        let path = d.join("pareto.csv");
        let (head, rows) = read_rows(&path, true)?;
        let cols: Vec<&str> = head.split(',').collect();
        let idx = |name: &str| {
            cols.iter()
                .position(|c| *c == name)
                .with_context(|| format!("{}: no `{name}` column", path.display()))
        };
        let mut pos = Vec::new();
        for m in first.minimize.iter().chain(&first.maximize) {
            pos.push(idx(m.name())?);
        }
        match &header {
            None => header = Some(head.clone()),
            Some(h) => ensure!(
                *h == head,
                "{}: columns differ from the other shards",
                path.display()
            ),
        }
        for (seq, line) in rows {
            let fields: Vec<&str> = line.split(',').collect();
            let mut obj = [0.0; MAX_OBJECTIVES];
            for (i, &p) in pos.iter().enumerate() {
                let v: f64 = fields
                    .get(p)
                    .and_then(|s| s.parse().ok())
                    .with_context(|| format!("{}: row {seq}: bad `{}`", path.display(), cols[p]))?;
                obj[i] = if i < first.minimize.len() { v } else { -v };
            }
            front.offer(obj, seq, || (line.clone(), d.clone()));
        }
    }
    let header = header.expect("one directory");
    let mut text = header.clone() + "\n";
    for p in front.points() {
        text.push_str(&p.item.0);
        text.push('\n');
    }
    write_atomic(&out.join("pareto.csv"), text.as_bytes())?;

    // Configs of the front points.
    let best = out.join("best");
    std::fs::create_dir_all(&best)?;
    for p in front.points() {
        let file = format!("{}-{}.json", first.name, p.seq);
        let src = p.item.1.join("best").join(&file);
        if src.exists() {
            let bytes =
                std::fs::read(&src).with_context(|| format!("cannot read {}", src.display()))?;
            write_atomic(&best.join(&file), &bytes)?;
        }
    }

    // all.csv: the union in sequence order.
    let all_csv =
        metas.iter().all(|m| m.keep_all) && dirs.iter().all(|d| d.join("all.csv").exists());
    let mut rows_total = 0;
    if all_csv {
        let mut all = Vec::new();
        for d in dirs {
            let (head, rows) = read_rows(&d.join("all.csv"), false)?;
            if head != header {
                bail!(
                    "{}: columns differ from the other shards",
                    d.join("all.csv").display()
                );
            }
            all.extend(rows);
        }
        all.sort_by_key(|r| r.0);
        all.dedup_by_key(|r| r.0);
        rows_total = all.len() as u64;
        let mut text = String::with_capacity(
            all.iter().map(|r| r.1.len() + 1).sum::<usize>() + header.len() + 1,
        );
        text.push_str(&header);
        text.push('\n');
        for (_, l) in &all {
            text.push_str(l);
            text.push('\n');
        }
        write_atomic(&out.join("all.csv"), text.as_bytes())?;
    }
    let meta = Meta {
        shard: (0, 1),
        budget: metas.iter().map(|m| m.budget).max().unwrap_or(0),
        keep_all: all_csv,
        ..first.clone()
    };
    write_atomic(
        &out.join("search.json"),
        (serde_json::to_string_pretty(&meta)? + "\n").as_bytes(),
    )?;
    Ok(Merged {
        rows: rows_total,
        front: front.len(),
        all_csv,
    })
}
