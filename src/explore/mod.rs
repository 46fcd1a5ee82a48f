//! Architecture search (README "Architecture search"): search spaces, Channel Packing-Aware Scaling
//! and uniform candidate generators, Focused Constraints, strategies, Pareto fronts, resumable
//! and sharded sweeps.
//!
//! Data flow: `space` (the JSON file) -> `compile` (dimensions and memoized per-term cost
//! tables) -> `strategy` (which candidates, by sequence number) -> `run` (parallel evaluation,
//! `all.csv`, checkpoint, `pareto.csv`, `best/*.json`) -> `merge` (shards joined).

pub mod compile;
pub mod fronts;
pub mod merge;
pub mod pareto;
pub mod run;
pub mod space;
pub mod strategy;

pub use compile::{Compiled, Metrics};
pub use run::{Options, Summary, search};
pub use space::{Generator, SpaceFile, load_space, parse_space};
pub use strategy::Strategy;

/// Loads and compiles a space file.
pub fn load(
    path: &std::path::Path,
    generator: Option<Generator>,
) -> Result<Compiled, crate::error::SpecError> {
    load_with(path, generator, None, None)
}

/// Loads and compiles a space file with the protocol and link of its `setting` overridden
/// (`stria search --protocol --link`); the overrides are part of the search's fingerprint.
pub fn load_with(
    path: &std::path::Path,
    generator: Option<Generator>,
    protocol: Option<crate::he::Protocol>,
    link: Option<&str>,
) -> Result<Compiled, crate::error::SpecError> {
    let (mut space, mut text) = load_space(path)?;
    if let Some(p) = protocol {
        space.setting.protocol = p;
        text.push_str(&format!("\n--protocol {p}"));
    }
    if let Some(l) = link {
        space.setting.link = l.to_string();
        text.push_str(&format!("\n--link {l}"));
    }
    Compiled::new(space, &text, &path.display().to_string(), generator)
}

/// The text `stria search` prints at the end: the space, the constraint report, the front and
/// the throughput line.
pub fn summary_text(c: &Compiled, s: &Summary) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "space {}: {} dimensions, {} candidates; cn per stage {:?}; {} distinct blocks counted",
        c.space.name,
        c.dims.len(),
        c.total,
        c.cn,
        c.distinct_blocks
    );
    let _ = writeln!(
        t,
        "strategy {}, generator {}; feasible {} of {} evaluated",
        s.strategy.name(),
        c.generator.map(|g| g.name()).unwrap_or("none"),
        s.feasible,
        s.evaluated
    );
    for (name, n) in &s.violations {
        let _ = writeln!(t, "  infeasible by {name}: {n}");
    }
    for r in c.reasons.iter().take(3) {
        let _ = writeln!(t, "  invalid: {r}");
    }
    let _ = writeln!(t, "Pareto front ({} points):", s.front.len());
    let heads: Vec<String> = ["seq"]
        .iter()
        .map(|s| s.to_string())
        .chain(c.dims.iter().map(|d| d.name.clone()))
        .chain(
            [
                "latency_ms",
                "comm_MB",
                "external_rot",
                "internal_rot",
                "params_M",
                "MACs_M",
            ]
            .iter()
            .map(|s| s.to_string()),
        )
        .collect();
    let rows: Vec<Vec<String>> = s
        .front
        .iter()
        .take(20)
        .map(|(seq, digits, m)| {
            std::iter::once(seq.to_string())
                .chain(
                    c.dims
                        .iter()
                        .zip(digits)
                        .map(|(d, &x)| d.labels[x as usize].clone()),
                )
                .chain([
                    format!("{:.1}", m.latency_ms),
                    format!("{:.1}", m.comm_bytes() as f64 / 1e6),
                    m.counts.external_rot.to_string(),
                    m.counts.internal_rot.to_string(),
                    format!("{:.3}", m.params as f64 / 1e6),
                    format!("{:.1}", m.macs as f64 / 1e6),
                ])
                .collect()
        })
        .collect();
    t.push_str(&crate::report::render_table(&heads, &rows, 1));
    if s.front.len() > 20 {
        let _ = writeln!(t, "  ... {} more in pareto.csv", s.front.len() - 20);
    }
    let _ = writeln!(
        t,
        "evaluated {} candidates in {:.2} s ({:.0} per minute)",
        s.session_evaluated,
        s.seconds,
        s.per_minute()
    );
    t
}
