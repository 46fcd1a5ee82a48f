//! `stria import`: an ONNX model as a network spec.

use super::emit;
use crate::ImportArgs;
use anyhow::Result;

pub(crate) fn run(a: ImportArgs) -> Result<()> {
    let ImportArgs {
        model,
        output,
        name,
    } = a;
    let spec = stria::onnx::load_onnx(&model, name.as_deref())?;
    // The spec must resolve: the import checks its shapes with stria's own inference.
    let mut text = serde_json::to_string_pretty(&spec)?;
    text.push('\n');
    emit(&text, output.as_deref())
}
