//! `stria cost`: count and price every layer of one network under one protocol and link.

use super::{emit, load, load_knobs, setting};
use crate::{CostArgs, Format, OutputArgs};
use anyhow::{Context, Result};
use stria::cost::price::load_link;
use stria::eval::evaluate;
use stria::report::CostReport;

pub(crate) fn run(a: CostArgs) -> Result<()> {
    let CostArgs {
        config,
        protocol,
        link,
        knobs,
        by,
        out: OutputArgs { format, output },
    } = a;
    let net = load(&config)?;
    let loaded = load_knobs(&knobs)?;
    let s = setting(protocol, load_link(&link)?, &knobs, &loaded)?;
    let evals = evaluate(&net, &s).with_context(|| config.display().to_string())?;
    let report = CostReport::new(&net, &s, &evals, by);
    let text = match Format::pick(format, output.as_deref()) {
        Format::Table => report.to_table(),
        Format::Csv => report.to_csv(),
        Format::Json => report.to_json(),
    };
    emit(&text, output.as_deref())
}
