//! `stria compare`: networks side by side over protocols and links, with speedups.

use super::{emit, load, load_knobs, setting};
use crate::{CompareArgs, Format, OutputArgs};
use anyhow::{Context, Result};
use stria::cost::price::load_link;
use stria::eval::evaluate;
use stria::report::{CompareRow, compare_csv, compare_table, set_speedups};

pub(crate) fn run(a: CompareArgs) -> Result<()> {
    let CompareArgs {
        configs,
        protocol,
        link,
        knobs,
        out: OutputArgs { format, output },
    } = a;
    let nets = configs
        .iter()
        .map(|c| load(c))
        .collect::<Result<Vec<_>>>()?;
    let links = link
        .iter()
        .map(|l| load_link(l))
        .collect::<Result<Vec<_>, _>>()?;
    let loaded = load_knobs(&knobs)?;
    let mut rows = Vec::new();
    for (net, config) in nets.iter().zip(&configs) {
        for &p in &protocol {
            for l in &links {
                let s = setting(p, l.clone(), &knobs, &loaded)?;
                let evals =
                    evaluate(net, &s).with_context(|| format!("{} under {p}", config.display()))?;
                rows.push(CompareRow::new(net, &s, &evals));
            }
        }
    }
    set_speedups(&mut rows);
    let text = match Format::pick(format, output.as_deref()) {
        Format::Table => compare_table(&rows),
        Format::Csv => compare_csv(&rows),
        Format::Json => serde_json::to_string_pretty(&rows)? + "\n",
    };
    emit(&text, output.as_deref())
}
