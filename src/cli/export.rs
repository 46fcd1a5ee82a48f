//! `stria export`: a network spec as trainable code.

use super::{emit, load};
use crate::{ExportArgs, ExportTarget};
use anyhow::Result;

pub(crate) fn run(a: ExportArgs) -> Result<()> {
    let ExportArgs { config, to, output } = a;
    let net = load(&config)?;
    let text = match to {
        ExportTarget::Pytorch => stria::export::to_pytorch(&net),
    };
    emit(&text, output.as_deref())
}
