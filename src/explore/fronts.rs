//! Comparing two Pareto fronts of the same space (e.g. CPAS against uniform at equal budget):
//! for every point of the reference front, the best value the other front reaches at equal or
//! larger capacity.
//!
//! Both searches must have one objective to minimize (the cost, e.g. `latency_ms`) and one to
//! maximize (the capacity, e.g. `params`). For a reference point with capacity `x` and cost
//! `c_ref`, the other front's cost is the smallest cost among its points with capacity `>= x`
//! (none: the other front does not reach that capacity).

use super::merge::read_meta;
use anyhow::{Context, Result, ensure};
use std::path::Path;

/// One reference point and the other front's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    pub capacity: f64,
    pub reference_cost: f64,
    pub other_cost: Option<f64>,
}

impl Matched {
    /// `other / reference` (below 1: the other front is cheaper at this capacity).
    pub fn ratio(&self) -> Option<f64> {
        self.other_cost.map(|o| o / self.reference_cost)
    }
}

fn front(dir: &Path, cost: &str, capacity: &str) -> Result<Vec<(f64, f64)>> {
    let path = dir.join("pareto.csv");
    let bytes =
        crate::io::read_capped(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rdr = csv::Reader::from_reader(bytes.as_slice());
    let h = rdr.headers()?.clone();
    let col = |n: &str| {
        h.iter()
            .position(|c| c == n)
            .with_context(|| format!("{}: no `{n}` column", path.display()))
    };
    let (ci, xi) = (col(cost)?, col(capacity)?);
    let mut v = Vec::new();
    for (i, r) in rdr.records().enumerate() {
        let r = r?;
        let num = |j: usize| -> Result<f64> {
            r[j].parse().with_context(|| {
                format!(
                    "{}: row {}: `{}` is not a number",
                    path.display(),
                    i + 1,
                    &r[j]
                )
            })
        };
        v.push((num(xi)?, num(ci)?));
    }
    Ok(v)
}

/// Matches every point of `reference`'s front against `other`'s front. Returns the metric
/// names (cost, capacity) and the matches sorted by capacity.
pub fn compare(reference: &Path, other: &Path) -> Result<(String, String, Vec<Matched>)> {
    let (a, b) = (read_meta(reference)?, read_meta(other)?);
    ensure!(
        a.minimize.len() == 1 && a.maximize.len() == 1,
        "{}: comparing fronts needs one metric to minimize and one to maximize",
        reference.display()
    );
    ensure!(
        a.minimize == b.minimize && a.maximize == b.maximize,
        "{} and {} optimize different objectives",
        reference.display(),
        other.display()
    );
    let (cost, cap) = (a.minimize[0].name(), a.maximize[0].name());
    let mut r = front(reference, cost, cap)?;
    let o = front(other, cost, cap)?;
    r.sort_by(|x, y| x.0.total_cmp(&y.0));
    let matched = r
        .into_iter()
        .map(|(x, c)| Matched {
            capacity: x,
            reference_cost: c,
            other_cost: o
                .iter()
                .filter(|p| p.0 >= x)
                .map(|p| p.1)
                .min_by(|p, q| p.total_cmp(q)),
        })
        .collect();
    Ok((cost.to_string(), cap.to_string(), matched))
}

/// The comparison as a table and a one-line verdict.
pub fn compare_text(reference: &Path, other: &Path) -> Result<String> {
    use std::fmt::Write as _;
    let (cost, cap, m) = compare(reference, other)?;
    let heads: Vec<String> = [
        cap.clone(),
        format!("{cost} ({})", reference.display()),
        format!("{cost} ({})", other.display()),
        "ratio".to_string(),
    ]
    .into();
    let rows: Vec<Vec<String>> = m
        .iter()
        .map(|p| {
            vec![
                format!("{}", p.capacity),
                format!("{:.1}", p.reference_cost),
                p.other_cost
                    .map(|c| format!("{c:.1}"))
                    .unwrap_or_else(|| "-".into()),
                p.ratio()
                    .map(|r| format!("{r:.3}"))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut t = crate::report::render_table(&heads, &rows, 0);
    let mut ratios: Vec<f64> = m.iter().filter_map(Matched::ratio).collect();
    ratios.sort_by(|a, b| a.total_cmp(b));
    if ratios.is_empty() {
        let _ = writeln!(
            t,
            "the second front reaches none of the first front's capacities"
        );
    } else {
        let median = ratios[ratios.len() / 2];
        let geo = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
        let better = ratios.iter().filter(|&&r| r < 1.0).count();
        let _ = writeln!(
            t,
            "{} of {} points matched; {cost} of the second / the first at equal or larger {cap}: \
             median {median:.3}, geometric mean {geo:.3}; the second is lower at {better} of them",
            ratios.len(),
            m.len()
        );
    }
    Ok(t)
}
