//! `stria search`: search a space of architectures for the Pareto front.

use super::{fresh_output, out};
use crate::SearchArgs;
use anyhow::Result;

pub(crate) fn run(a: SearchArgs) -> Result<()> {
    let SearchArgs {
        space,
        strategy,
        budget,
        seed,
        threads,
        shard,
        resume,
        output,
        keep_all,
        no_keep_all,
        generator,
        protocol,
        link,
    } = a;
    let compiled = stria::explore::load_with(&space, generator, protocol, link.as_deref())?;
    if let Some(w) = compiled.setting.count.check_security() {
        eprintln!(
            "warning: {}: {w}; counting anyway (the counts do not depend on security)",
            compiled.setting.count.protocol
        );
    }
    anyhow::ensure!(
        output.is_some() || !resume,
        "--resume continues the search in --output DIR: name that directory"
    );
    let output = match output {
        Some(o) => o,
        None => {
            let g = compiled.generator.map(|g| g.name()).unwrap_or("fixed");
            let mut name = format!("{}-{g}", compiled.space.name);
            if protocol.is_some() || link.is_some() {
                let l = compiled.setting.link.name.clone();
                name.push_str(&format!("-{}-{l}", compiled.setting.count.protocol));
            }
            fresh_output("search", &name)?
        }
    };
    let opt = stria::explore::Options {
        strategy,
        budget,
        seed,
        threads,
        shard: shard.unwrap_or((0, 1)),
        resume,
        output: output.clone(),
        keep_all: if keep_all {
            Some(true)
        } else if no_keep_all {
            Some(false)
        } else {
            None
        },
        progress: true,
    };
    eprintln!(
        "searching {} ({} candidates) with seed {seed}, writing {}",
        space.display(),
        compiled.total,
        output.display()
    );
    let summary = stria::explore::search(&compiled, &opt)?;
    out(&stria::explore::summary_text(&compiled, &summary))?;
    out(&format!("results in {}\n", output.display()))
}
