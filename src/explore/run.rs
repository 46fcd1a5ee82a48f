//! The search driver: batches of candidates evaluated in parallel (rayon), rows appended to
//! `all.csv` and flushed after every batch, a checkpoint (`state.json`, written atomically)
//! after every batch, `pareto.csv` and `best/*.json` at the end.
//!
//! A kill at any moment loses nothing already written: `--resume` reads the checkpoint, cuts
//! `all.csv` back to the last complete row the checkpoint covers (a row written after the last
//! checkpoint is evaluated again, identically) and continues. Candidates are numbered by a
//! sequence number; `--shard K/N` takes the sequence numbers `s` with `s mod N = K`, so the
//! union of the shards is the unsharded run.

use super::compile::{Compiled, Metrics};
use super::pareto::{Front, MAX_OBJECTIVES, Objective};
use super::space::{Constraints, Metric};
use super::strategy::{CandidateSource, GENERATION, Strategy};
use crate::report::write_atomic;
use anyhow::{Context, Result, bail, ensure};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Budgets up to this keep every row by default.
pub const KEEP_ALL_LIMIT: u64 = 1_000_000;

/// Options of one search run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Default: exhaustive when the space fits the budget, random otherwise.
    pub strategy: Option<Strategy>,
    pub budget: u64,
    pub seed: u64,
    /// Worker threads (0: rayon's default).
    pub threads: usize,
    /// (K, N): evaluate the sequence numbers `s` with `s mod N = K`.
    pub shard: (u64, u64),
    pub resume: bool,
    pub output: PathBuf,
    /// Default: on for budgets up to [`KEEP_ALL_LIMIT`].
    pub keep_all: Option<bool>,
    pub progress: bool,
}

/// What a finished search reports.
#[derive(Debug, Clone)]
pub struct Summary {
    pub strategy: Strategy,
    /// Candidates evaluated by this shard, over all sessions of the run.
    pub evaluated: u64,
    /// Evaluated in this session, and the time it took.
    pub session_evaluated: u64,
    pub seconds: f64,
    pub feasible: u64,
    /// (constraint, candidates breaking it).
    pub violations: Vec<(String, u64)>,
    pub front: Vec<(u64, Vec<u32>, Metrics)>,
    pub space_size: u64,
    pub keep_all: bool,
}

impl Summary {
    /// Candidates per minute in this session.
    pub fn per_minute(&self) -> f64 {
        if self.seconds > 0.0 {
            self.session_evaluated as f64 * 60.0 / self.seconds
        } else {
            0.0
        }
    }
}

/// Checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct State {
    fingerprint: String,
    strategy: Strategy,
    seed: u64,
    shard: (u64, u64),
    /// Local positions done (sequence number of position j: j * N + K).
    next: u64,
    feasible: u64,
    violations: Vec<u64>,
    front: Vec<(u64, Vec<u32>)>,
}

/// Search metadata (`search.json`), read by `stria merge`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub space: String,
    pub name: String,
    pub fingerprint: String,
    pub generator: Option<String>,
    pub strategy: Strategy,
    pub seed: u64,
    pub budget: u64,
    pub shard: (u64, u64),
    pub minimize: Vec<Metric>,
    pub maximize: Vec<Metric>,
    pub keep_all: bool,
}

/// Names of the violation flags: `invalid` first, then the constraints.
pub const VIOLATIONS: [&str; 11] = [
    "invalid",
    "max_external_rot",
    "max_block_external_rot",
    "max_internal_rot_per_block",
    "max_ct_per_layer",
    "max_latency_ms",
    "max_comm_bytes",
    "min_params",
    "max_params",
    "min_macs",
    "max_macs",
];

/// The violation flags of a candidate (bit i = `VIOLATIONS[i]`).
#[inline]
pub fn violations(m: &Metrics, c: &Constraints) -> u32 {
    let over = |v: u64, cap: Option<u64>| cap.is_some_and(|c| v > c);
    let under = |v: u64, floor: Option<u64>| floor.is_some_and(|c| v < c);
    let mut f = 0;
    f |= (m.invalid != 0) as u32;
    f |= (over(m.counts.external_rot, c.max_external_rot) as u32) << 1;
    f |= (over(m.block_external_rot, c.max_block_external_rot) as u32) << 2;
    f |= (over(m.max_block_internal_rot, c.max_internal_rot_per_block) as u32) << 3;
    f |= (over(m.max_ct_layer, c.max_ct_per_layer) as u32) << 4;
    f |= (c.max_latency_ms.is_some_and(|x| m.latency_ms > x) as u32) << 5;
    f |= (over(m.comm_bytes(), c.max_comm_bytes) as u32) << 6;
    f |= (under(m.params, c.min_params) as u32) << 7;
    f |= (over(m.params, c.max_params) as u32) << 8;
    f |= (under(m.macs, c.min_macs) as u32) << 9;
    f |= (over(m.macs, c.max_macs) as u32) << 10;
    f
}

fn violation_text(flags: u32) -> String {
    VIOLATIONS
        .iter()
        .enumerate()
        .filter(|(i, _)| flags & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(";")
}

/// The metric columns of `all.csv` and `pareto.csv` (after seq, generator, the knobs,
/// feasible and violations).
pub const METRIC_COLUMNS: [&str; 26] = [
    "internal_rot",
    "external_rot",
    "block_external_rot",
    "rotations",
    "key_switch",
    "scmult",
    "add",
    "ct_up",
    "ct_down",
    "bytes_up",
    "bytes_down",
    "nonlinear_bytes",
    "comm_bytes",
    "relu",
    "max_ct_per_layer",
    "max_internal_rot_per_block",
    "compute_ms",
    "linear_ms",
    "nonlinear_ms",
    "latency_ms",
    "params",
    "macs",
    "mparams",
    "gmacs",
    "latency_s",
    "comm_mb",
];

/// The CSV header for a compiled space.
pub fn header(c: &Compiled) -> String {
    let mut h = String::from("seq,generator");
    for d in &c.dims {
        h.push(',');
        h.push_str(&d.name);
    }
    h.push_str(",feasible,violations");
    for m in METRIC_COLUMNS {
        h.push(',');
        h.push_str(m);
    }
    h.push('\n');
    h
}

/// Appends one CSV row.
pub fn write_row(
    out: &mut String,
    c: &Compiled,
    seq: u64,
    digits: &[u32],
    m: &Metrics,
    flags: u32,
) {
    let generator = c.generator.map(|g| g.name()).unwrap_or("none");
    let _ = write!(out, "{seq},{generator}");
    for (d, &x) in c.dims.iter().zip(digits) {
        out.push(',');
        out.push_str(&d.labels[x as usize]);
    }
    if m.invalid != 0 {
        // A candidate the spec rejects has no cost: its metric columns stay empty.
        let _ = write!(out, ",false,{}", violation_text(flags));
        out.push_str(&",".repeat(METRIC_COLUMNS.len()));
        out.push('\n');
        return;
    }
    let _ = writeln!(
        out,
        ",{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.6},{:.6},{:.6},{:.6}",
        flags == 0,
        violation_text(flags),
        m.counts.internal_rot,
        m.counts.external_rot,
        m.block_external_rot,
        m.counts.rotations(),
        m.counts.key_switch,
        m.counts.scmult,
        m.counts.add,
        m.counts.ct_up,
        m.counts.ct_down,
        m.counts.bytes_up,
        m.counts.bytes_down,
        m.nonlinear_bytes,
        m.comm_bytes(),
        m.relu,
        m.max_ct_layer,
        m.max_block_internal_rot,
        m.compute_ms,
        m.linear_ms,
        m.nonlinear_ms,
        m.latency_ms,
        m.params,
        m.macs,
        m.params as f64 / 1e6,
        m.macs as f64 / 1e9,
        m.latency_ms / 1e3,
        m.comm_bytes() as f64 / 1e6,
    );
}

/// The objective vector of a candidate (maximized metrics negated).
#[inline]
pub fn objective(m: &Metrics, minimize: &[Metric], maximize: &[Metric]) -> Objective {
    let mut o = [0.0; MAX_OBJECTIVES];
    for (i, &x) in minimize.iter().enumerate() {
        o[i] = m.get(x);
    }
    for (i, &x) in maximize.iter().enumerate() {
        o[minimize.len() + i] = -m.get(x);
    }
    o
}

/// Output of one chunk of candidates.
struct ChunkOut {
    rows: String,
    front: Front<Vec<u32>>,
    feasible: u64,
    violations: [u64; VIOLATIONS.len()],
}

/// Runs a search.
pub fn search(c: &Compiled, opt: &Options) -> Result<Summary> {
    let (k, n) = opt.shard;
    ensure!(n >= 1 && k < n, "--shard K/N needs 0 <= K < N, got {k}/{n}");
    let strategy = opt.strategy.unwrap_or(if c.total <= opt.budget {
        Strategy::Exhaustive
    } else {
        Strategy::Random
    });
    ensure!(
        !(strategy == Strategy::Evolution && n > 1),
        "--shard works with the exhaustive and random strategies (an evolution's generations \
         depend on each other); run evolution unsharded"
    );
    // Global sequence numbers 0..limit; this shard takes s = j*N + K.
    let limit = match strategy {
        Strategy::Evolution => opt.budget,
        _ => opt.budget.min(c.total),
    };
    let positions = if limit > k {
        (limit - k).div_ceil(n)
    } else {
        0
    };
    let keep_all = opt.keep_all.unwrap_or(limit <= KEEP_ALL_LIMIT);
    let objectives = &c.space.objectives;
    let nobj = objectives.minimize.len() + objectives.maximize.len();
    let fingerprint = format!("{:016x}", c.fingerprint);

    std::fs::create_dir_all(&opt.output)
        .with_context(|| format!("cannot create {}", opt.output.display()))?;
    let all_path = opt.output.join("all.csv");
    let state_path = opt.output.join("state.json");
    let head = header(c);

    let mut front: Front<Vec<u32>> = Front::new(nobj);
    let mut next = 0u64;
    let mut feasible = 0u64;
    let mut viol = [0u64; VIOLATIONS.len()];
    let fresh_state = |next, feasible, viol: &[u64], front: &Front<Vec<u32>>| State {
        fingerprint: fingerprint.clone(),
        strategy,
        seed: opt.seed,
        shard: opt.shard,
        next,
        feasible,
        violations: viol.to_vec(),
        front: front
            .points()
            .iter()
            .map(|p| (p.seq, p.item.clone()))
            .collect(),
    };

    if opt.resume && state_path.exists() {
        let text = crate::io::read_text_capped(&state_path)
            .with_context(|| format!("cannot read {}", state_path.display()))?;
        let st: State = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a search checkpoint", state_path.display()))?;
        ensure!(
            st.fingerprint == fingerprint
                && st.strategy == strategy
                && st.seed == opt.seed
                && st.shard == opt.shard,
            "{}: the checkpoint belongs to another search (space file, generator, strategy, seed \
             or shard differ: it has {} seed {} shard {}/{}); use another --output or drop \
             --resume",
            state_path.display(),
            st.strategy.name(),
            st.seed,
            st.shard.0,
            st.shard.1
        );
        next = st.next;
        feasible = st.feasible;
        for (v, s) in viol.iter_mut().zip(&st.violations) {
            *v = *s;
        }
        for (seq, digits) in st.front {
            ensure!(
                digits.len() == c.dims.len()
                    && digits.iter().zip(c.radix()).all(|(&d, &r)| (d as u64) < r),
                "{}: a front entry does not fit the space",
                state_path.display()
            );
            let m = c.eval(&digits);
            front.offer(
                objective(&m, &objectives.minimize, &objectives.maximize),
                seq,
                || digits,
            );
        }
        if keep_all {
            let rows = cut_csv(&all_path, &head, next)?;
            if rows < next {
                ensure!(
                    strategy != Strategy::Evolution,
                    "{} has {rows} rows but the checkpoint covers {next}; an evolution cannot \
                     regenerate lost generations: start again without --resume",
                    all_path.display()
                );
                // Recount from the rows kept; the front already covers the lost rows.
                let (f, v) = recount(&all_path)?;
                feasible = f;
                viol = v;
                next = rows;
            }
        }
    } else {
        if !opt.resume && (state_path.exists() || all_path.exists()) {
            bail!(
                "{} already holds a search; pass --resume to continue it, or choose another \
                 --output",
                opt.output.display()
            );
        }
        if keep_all {
            write_atomic(&all_path, head.as_bytes())
                .with_context(|| format!("cannot write {}", all_path.display()))?;
        } else if all_path.exists() {
            std::fs::remove_file(&all_path).ok();
        }
    }
    let meta = Meta {
        space: c.file.clone(),
        name: c.space.name.clone(),
        fingerprint: fingerprint.clone(),
        generator: c.generator.map(|g| g.name().to_string()),
        strategy,
        seed: opt.seed,
        budget: opt.budget,
        shard: opt.shard,
        minimize: objectives.minimize.clone(),
        maximize: objectives.maximize.clone(),
        keep_all,
    };
    write_atomic(
        &opt.output.join("search.json"),
        (serde_json::to_string_pretty(&meta)? + "\n").as_bytes(),
    )?;

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opt.threads)
        .build()
        .context("cannot start the worker threads")?;
    let bar = if opt.progress {
        let b = indicatif::ProgressBar::new(positions);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} \
                 ({per_sec}, ETA {eta})",
            )
            .expect("template")
            .progress_chars("=> "),
        );
        b.set_position(next);
        b
    } else {
        indicatif::ProgressBar::hidden()
    };

    let mut all = if keep_all {
        Some(
            std::fs::OpenOptions::new()
                .append(true)
                .open(&all_path)
                .with_context(|| format!("cannot open {}", all_path.display()))?,
        )
    } else {
        None
    };
    let mut source = CandidateSource::new(strategy, opt.seed, c);
    let batch = match strategy {
        Strategy::Evolution => GENERATION,
        _ if keep_all => 1 << 15,
        _ => 1 << 20,
    };
    let chunk = 1u64 << 12;
    // Checkpoint early: a checkpoint before the first candidate (so `--resume` always finds this
    // search's own state, even when the first batch is cut short by a full disk or a kill), and
    // batches that start at one chunk and double up to `batch`, so the first real checkpoint
    // comes after a few thousand candidates, not after a whole batch.
    let st = fresh_state(next, feasible, &viol, &front);
    write_atomic(&state_path, serde_json::to_string(&st)?.as_bytes())
        .with_context(|| format!("cannot write {}", state_path.display()))?;
    let mut size = if strategy == Strategy::Evolution {
        batch
    } else {
        chunk.min(batch)
    };
    let started = Instant::now();
    let start_next = next;
    let mut last_pareto = Instant::now();
    while next < positions {
        let end = (next + size).min(positions);
        size = (size * 2).min(batch);
        if strategy == Strategy::Evolution {
            source.set_parents(&front);
        }
        let chunks: Vec<(u64, u64)> = (next..end)
            .step_by(chunk as usize)
            .map(|a| (a, (a + chunk).min(end)))
            .collect();
        let outs: Vec<ChunkOut> = pool.install(|| {
            chunks
                .par_iter()
                .map(|&(a, b)| run_chunk(c, &source, a, b, opt.shard, keep_all, nobj))
                .collect()
        });
        let mut rows_len = 0;
        for o in &outs {
            rows_len += o.rows.len();
        }
        let mut rows = String::with_capacity(rows_len);
        for o in outs {
            rows.push_str(&o.rows);
            feasible += o.feasible;
            for (v, x) in viol.iter_mut().zip(o.violations) {
                *v += x;
            }
            front.merge(o.front);
        }
        if let Some(f) = all.as_mut() {
            f.write_all(rows.as_bytes())
                .and_then(|_| f.flush())
                .with_context(|| format!("cannot append to {}", all_path.display()))?;
        }
        next = end;
        let st = fresh_state(next, feasible, &viol, &front);
        write_atomic(&state_path, serde_json::to_string(&st)?.as_bytes())
            .with_context(|| format!("cannot write {}", state_path.display()))?;
        if last_pareto.elapsed().as_secs_f64() > 2.0 {
            write_pareto(c, &front, &opt.output)?;
            last_pareto = Instant::now();
        }
        bar.set_position(next);
    }
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    write_pareto(c, &front, &opt.output)?;
    write_best(c, &front, &opt.output)?;
    Ok(Summary {
        strategy,
        evaluated: next,
        session_evaluated: next - start_next,
        seconds,
        feasible,
        violations: VIOLATIONS
            .iter()
            .zip(viol)
            .filter(|(_, v)| *v > 0)
            .map(|(n, v)| (n.to_string(), v))
            .collect(),
        front: front
            .points()
            .iter()
            .map(|p| (p.seq, p.item.clone(), c.eval(&p.item)))
            .collect(),
        space_size: c.total,
        keep_all,
    })
}

fn run_chunk(
    c: &Compiled,
    source: &CandidateSource,
    a: u64,
    b: u64,
    (k, n): (u64, u64),
    keep_all: bool,
    nobj: usize,
) -> ChunkOut {
    let mut out = ChunkOut {
        rows: String::new(),
        front: Front::new(nobj),
        feasible: 0,
        violations: [0; VIOLATIONS.len()],
    };
    let o = &c.space.objectives;
    let cons = &c.space.constraints;
    let mut digits = vec![0u32; c.dims.len()];
    let sequential = source.strategy == Strategy::Exhaustive && n == 1;
    if sequential {
        c.decode(a, &mut digits);
    }
    for j in a..b {
        let seq = j * n + k;
        if sequential {
            if j > a {
                c.increment(&mut digits);
            }
        } else {
            source.candidate(seq, &mut digits);
        }
        let m = c.eval(&digits);
        let flags = violations(&m, cons);
        if flags == 0 {
            out.feasible += 1;
            let obj = objective(&m, &o.minimize, &o.maximize);
            out.front.offer(obj, seq, || digits.clone());
        } else {
            for (i, v) in out.violations.iter_mut().enumerate() {
                *v += ((flags >> i) & 1) as u64;
            }
        }
        if keep_all {
            write_row(&mut out.rows, c, seq, &digits, &m, flags);
        }
    }
    out
}

/// Cuts `all.csv` to its header and at most `keep` complete rows; returns the rows kept.
fn cut_csv(path: &Path, head: &str, keep: u64) -> Result<u64> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_atomic(path, head.as_bytes())?;
            return Ok(0);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    ensure!(
        text.starts_with(head.as_bytes()),
        "{}: the header does not match this space; use another --output",
        path.display()
    );
    let mut end = head.len();
    let mut rows = 0;
    for (i, &byte) in text.iter().enumerate().skip(head.len()) {
        if rows == keep {
            break;
        }
        if byte == b'\n' {
            rows += 1;
            end = i + 1;
        }
    }
    if end < text.len() {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        f.set_len(end as u64)?;
        f.sync_all()?;
    }
    Ok(rows)
}

/// Feasible and violation counts from the rows of `all.csv`.
fn recount(path: &Path) -> Result<(u64, [u64; VIOLATIONS.len()])> {
    let mut rdr = csv::Reader::from_path(path)?;
    let h = rdr.headers()?.clone();
    let fcol = h
        .iter()
        .position(|x| x == "feasible")
        .context("no feasible column")?;
    let vcol = fcol + 1;
    let mut feasible = 0;
    let mut viol = [0u64; VIOLATIONS.len()];
    for r in rdr.records() {
        let r = r?;
        if &r[fcol] == "true" {
            feasible += 1;
        }
        for name in r[vcol].split(';').filter(|s| !s.is_empty()) {
            if let Some(i) = VIOLATIONS.iter().position(|v| *v == name) {
                viol[i] += 1;
            }
        }
    }
    Ok((feasible, viol))
}

/// Writes `pareto.csv` (front points sorted by the first objective).
pub fn write_pareto(c: &Compiled, front: &Front<Vec<u32>>, dir: &Path) -> Result<()> {
    let mut text = header(c);
    for p in front.points() {
        let m = c.eval(&p.item);
        write_row(&mut text, c, p.seq, &p.item, &m, 0);
    }
    let path = dir.join("pareto.csv");
    write_atomic(&path, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// The file name of a Pareto point's network config.
pub fn best_name(c: &Compiled, seq: u64) -> String {
    format!("{}-{seq}", c.space.name)
}

/// Writes `best/<name>-<seq>.json` for every front point after evaluating each as a whole
/// network: the table sums must equal the whole-network evaluation (otherwise the memoized
/// tables would be wrong for this template, and the search says so).
fn write_best(c: &Compiled, front: &Front<Vec<u32>>, dir: &Path) -> Result<()> {
    let best = dir.join("best");
    std::fs::create_dir_all(&best).with_context(|| format!("cannot create {}", best.display()))?;
    let mut keep = std::collections::HashSet::new();
    for p in front.points() {
        let name = best_name(c, p.seq);
        let fast = c.eval(&p.item);
        let (spec, whole) = c
            .evaluate_whole(&p.item, &name)
            .map_err(|e| anyhow::anyhow!("Pareto point {}: {e}", p.seq))?;
        ensure!(
            fast.same_as(&whole),
            "internal error: candidate {} costs {fast:?} by the tables but {whole:?} as a whole \
             network; please report this space file",
            p.seq
        );
        // Through the spec types, so the file reads in the usual field order.
        let json = serde_json::to_string_pretty(&spec)? + "\n";
        let file = format!("{name}.json");
        write_atomic(&best.join(&file), json.as_bytes())?;
        keep.insert(file);
    }
    // Configs of points that left the front (earlier sessions) go.
    let prefix = format!("{}-", c.space.name);
    for e in std::fs::read_dir(&best)?.flatten() {
        let f = e.file_name().to_string_lossy().to_string();
        if f.starts_with(&prefix) && f.ends_with(".json") && !keep.contains(&f) {
            std::fs::remove_file(e.path()).ok();
        }
    }
    Ok(())
}
