//! `stria zoo`: write the built-in model zoo as network specs.

use super::out;
use crate::ZooArgs;
use anyhow::{Context, Result};

pub(crate) fn run(a: ZooArgs) -> Result<()> {
    let ZooArgs { output_dir } = a;
    let written = stria::net::zoo::write_all(&output_dir)
        .with_context(|| format!("cannot write to {}", output_dir.display()))?;
    let list: String = written
        .iter()
        .map(|p| format!("{}\n", p.display()))
        .collect();
    out(&list)
}
