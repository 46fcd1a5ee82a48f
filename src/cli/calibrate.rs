//! `stria calibrate`: measure the fhe.rs cost profile of this machine.

use crate::CalibrateArgs;
use anyhow::{Context, Result};

pub(crate) fn run(a: CalibrateArgs) -> Result<()> {
    let CalibrateArgs {
        ring_degree,
        repetitions,
        passes,
        name,
        insecure,
        output,
    } = a;
    use stria::backend::calibrate::{CalibrateOptions, calibrate, write_profile};
    let opts = CalibrateOptions {
        name,
        ring_degrees: ring_degree,
        repetitions,
        passes,
        insecure,
        ..CalibrateOptions::default()
    };
    stria::backend::tune_allocator();
    let profile = calibrate(&opts, &mut |line| eprintln!("{line}"))?;
    write_profile(&profile, &output)
        .with_context(|| format!("cannot write {}", output.display()))?;
    eprintln!("wrote {}", output.display());
    Ok(())
}
