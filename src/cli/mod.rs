//! The commands: one module per `stria` subcommand, each a thin call into the library. The
//! argument types live in `main.rs`; what several commands share (loading a profile and the
//! non-linear parameters, building a setting, writing the output) lives here. A new command is a
//! new file here, a variant and an argument struct in `main.rs`.

#[cfg(feature = "he")]
pub(crate) mod calibrate;
pub(crate) mod compare;
pub(crate) mod compare_fronts;
pub(crate) mod cost;
pub(crate) mod export;
pub(crate) mod import;
pub(crate) mod measured;
pub(crate) mod merge;
pub(crate) mod search;
#[cfg(feature = "he")]
pub(crate) mod validate;
pub(crate) mod zoo;

use crate::Knobs;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use stria::cost::price::{CostProfile, Link, load_profile};
use stria::eval::Setting;
use stria::he::Protocol;
use stria::net::{Network, load_network};
use stria::packing::nonlinear::NonlinearParams;
use stria::report::write_atomic;

/// Loaded once per command: profile and non-linear parameters.
pub(crate) struct Loaded {
    profile: CostProfile,
    nonlinear: NonlinearParams,
}

pub(crate) fn load_knobs(k: &Knobs) -> Result<Loaded> {
    let profile = match &k.profile {
        Some(p) => load_profile(p)?,
        None => CostProfile::default_profile(),
    };
    let nonlinear = match &k.nonlinear {
        Some(p) => {
            let file = p.display().to_string();
            let text = stria::io::read_text_capped(p)
                .map_err(|e| anyhow::anyhow!("{file}: cannot read file: {e}"))?;
            NonlinearParams::from_json(&text, &file)?
        }
        None => NonlinearParams::default(),
    };
    Ok(Loaded { profile, nonlinear })
}

/// Builds the setting for one (protocol, link) and prints the security warning if any.
pub(crate) fn setting(
    protocol: Protocol,
    link: Link,
    k: &Knobs,
    loaded: &Loaded,
) -> Result<Setting> {
    let mut s = Setting::new(protocol, link);
    s.profile = loaded.profile.clone();
    s.nonlinear = loaded.nonlinear.clone();
    s.count.cheetah.plain_bits = s.nonlinear.l;
    if let Some(n) = k.ring_degree {
        anyhow::ensure!(
            n.is_power_of_two() && (1024..=65536).contains(&n),
            "--ring-degree must be a power of two between 1024 and 65536, got {n}"
        );
        s.count.ring_degree = n;
    }
    if let Some(p) = k.key_policy {
        s.count.key_policy = p;
    }
    if let Some(b) = k.sci_build {
        s.count.sci_build = b;
    }
    s.count.cheetah.partition = k.cheetah_partition;
    s.count.cheetah.depthwise = k.cheetah_depthwise;
    if k.cheetah_batchnorm.is_some() {
        s.count.cheetah.batchnorm = k.cheetah_batchnorm;
    }
    if let Some(m) = &k.cheetah_moduli {
        anyhow::ensure!(
            !m.is_empty() && m.iter().all(|b| (20..=62).contains(b)),
            "--cheetah-moduli takes 1 to 8 prime sizes of 20 to 62 bits, got {m:?}"
        );
        anyhow::ensure!(
            m[0] > s.nonlinear.l + 1,
            "the first Cheetah prime ({} bits) must exceed the plaintext modulus 2^{}",
            m[0],
            s.nonlinear.l
        );
        s.count.cheetah.q0_bits = m[0];
        s.count.cheetah.q_bits = m.iter().sum();
    }
    if let Some(w) = s.count.check_security() {
        eprintln!(
            "warning: {protocol}: {w}; counting anyway (the counts do not depend on security)"
        );
    }
    Ok(s)
}

pub(crate) fn load(config: &Path) -> Result<Network> {
    Ok(load_network(config)?)
}

pub(crate) fn emit(text: &str, output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) => write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display())),
        None => out(text),
    }
}

/// Writes to standard output; a failed write is an error (a closed pipe ends the run quietly in
/// `main`), never a panic.
pub(crate) fn out(text: &str) -> Result<()> {
    stria::io::write_stdout(text).context("cannot write to standard output")
}

/// The default output directory of `validate` and `search`: a new directory under `stria-out/`
/// in the current directory (never a tracked file), numbered when the name is taken.
pub(crate) fn fresh_output(kind: &str, name: &str) -> Result<PathBuf> {
    let base = Path::new("stria-out").join(kind);
    stria::io::fresh_dir(&base, name)
        .with_context(|| format!("cannot create a directory in {}", base.display()))
}
