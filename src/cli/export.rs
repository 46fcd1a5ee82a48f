//! `stria export`: a network spec as trainable code (PyTorch) or as an ONNX graph.

use super::{emit, load};
use crate::{ExportArgs, ExportTarget};
use anyhow::{Context, Result};
use stria::report::write_atomic;

pub(crate) fn run(a: ExportArgs) -> Result<()> {
    let ExportArgs { config, to, output } = a;
    let net = load(&config)?;
    match to {
        ExportTarget::Pytorch => emit(&stria::export::to_pytorch(&net), output.as_deref()),
        ExportTarget::Onnx => {
            let bytes = stria::onnx::export::to_onnx(&net);
            match output {
                Some(path) => write_atomic(&path, &bytes)
                    .with_context(|| format!("cannot write {}", path.display())),
                None => {
                    use std::io::{IsTerminal, Write};
                    let mut stdout = std::io::stdout().lock();
                    anyhow::ensure!(
                        !stdout.is_terminal(),
                        "an ONNX model is binary: give --output FILE.onnx or redirect standard output"
                    );
                    stdout
                        .write_all(&bytes)
                        .and_then(|_| stdout.flush())
                        .context("cannot write to standard output")
                }
            }
        }
    }
}
