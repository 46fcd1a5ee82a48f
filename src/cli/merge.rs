//! `stria merge`: join the outputs of a sharded search.

use super::out;
use crate::MergeArgs;
use anyhow::Result;

pub(crate) fn run(a: MergeArgs) -> Result<()> {
    let MergeArgs { dirs, output } = a;
    let m = stria::explore::merge::merge(&dirs, &output)?;
    out(&format!(
        "merged {} directories into {}: {} Pareto points{}\n",
        dirs.len(),
        output.display(),
        m.front,
        if m.all_csv {
            format!(", {} rows in all.csv", m.rows)
        } else {
            String::new()
        }
    ))
}
