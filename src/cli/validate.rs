//! `stria validate`: run layers on real HE and hold them against the model.

use super::{fresh_output, load, load_knobs, out, setting};
use crate::{Knobs, ValidateArgs};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use stria::cost::price::Link;
use stria::he::Protocol;
use stria::report::write_atomic;

pub(crate) fn run(a: ValidateArgs) -> Result<()> {
    let ValidateArgs {
        config,
        layers,
        protocol,
        knobs,
        seed,
        insecure,
        output,
    } = a;
    validate(
        &config,
        layers.as_deref(),
        protocol,
        &knobs,
        seed,
        insecure,
        output,
    )
}

fn validate(
    config: &Path,
    pattern: Option<&str>,
    protocol: Protocol,
    knobs: &Knobs,
    seed: u64,
    insecure: bool,
    output: Option<PathBuf>,
) -> Result<()> {
    use indicatif::{ProgressBar, ProgressStyle};
    use stria::backend::RunOptions;
    use stria::backend::validate::{mape, select_layers, validate_layer};
    anyhow::ensure!(
        matches!(protocol, Protocol::Cryptflow2 | Protocol::Cheetah),
        "validate runs cryptflow2 and cheetah on real HE; {protocol} is a counting-only model"
    );
    stria::backend::tune_allocator();
    let net = load(config)?;
    let loaded = load_knobs(knobs)?;
    let link = Link::preset("lan").expect("preset");
    let mut s = setting(protocol, link, knobs, &loaded)?;
    // The spec's Cheetah batch-norm protocol, unless the command line set one.
    s.count = s.count.for_network(&net);
    // The network must be one the protocol prices, as `cost` requires: a layer without a model
    // (`pricing`) is an error naming it, whichever layers run.
    stria::packing::nonlinear::check_priced(&net, protocol)
        .with_context(|| config.display().to_string())?;
    let layers = select_layers(&net, pattern);
    anyhow::ensure!(
        !layers.is_empty(),
        "{}: no layer with HE work matches {}",
        config.display(),
        pattern.unwrap_or("(all)")
    );
    let opts = RunOptions {
        seed,
        insecure,
        ..RunOptions::default()
    };
    eprintln!(
        "validating {} layer(s) of {} under {protocol} on real HE (fhe.rs BFV); seed {seed}; profile {}",
        layers.len(),
        net.name,
        s.profile.name
    );
    let bar = ProgressBar::new(layers.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed}]")
            .expect("static template"),
    );
    let mut rows = Vec::new();
    for l in &layers {
        bar.set_message(l.path.clone());
        let row = validate_layer(l, &s.count, &s.profile, &opts)
            .with_context(|| format!("{}: layer `{}`", config.display(), l.path))?;
        rows.push(row);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let heads: Vec<String> = [
        "Layer",
        "Kind",
        "N",
        "Rot p/o",
        "KeySw p/o",
        "ScMult p/o",
        "ct p/o",
        "Bytes model/fhe",
        "ms pred",
        "ms meas",
        "err %",
        "Counts",
        "Result",
        "Noise",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.layer.clone(),
                r.kind.clone(),
                r.n.to_string(),
                format!("{}/{}", r.predicted_rot, r.observed_rot),
                format!("{}/{}", r.predicted_key_switch, r.observed_key_switch),
                format!("{}/{}", r.predicted_scmult, r.observed_scmult),
                format!(
                    "{}+{}/{}+{}",
                    r.predicted_ct_up, r.predicted_ct_down, r.observed_ct_up, r.observed_ct_down
                ),
                format!(
                    "{}/{}",
                    stria::report::human_bytes(r.predicted_bytes),
                    stria::report::human_bytes(r.serialized_bytes)
                ),
                format!("{:.1}", r.predicted_ms),
                format!("{:.1}", r.measured_ms),
                format!("{:+.1}", r.error_pct),
                if r.counts_equal {
                    "equal".into()
                } else {
                    "DIFFER".into()
                },
                if r.correct {
                    "correct".into()
                } else {
                    "WRONG".into()
                },
                r.noise_budget_bits
                    .map(|b| format!("{b} bits"))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    out(&stria::report::render_table(&heads, &body, 2))?;
    for r in rows.iter().filter(|r| !r.counts_equal) {
        out(&format!(
            "count mismatch in `{}`: {}\n",
            r.layer, r.mismatches
        ))?;
    }
    let dir = match output {
        Some(d) => d,
        None => fresh_output("validate", &protocol.to_string())?,
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in &rows {
        w.serialize(r)?;
    }
    let path = dir.join("validate.csv");
    write_atomic(&path, &w.into_inner()?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    out(&format!(
        "Bytes: model = the framework's wire format (SEAL words / OpenCheetah truncation); fhe = serialized here\nwrote {}\nMAPE: {:.1}%\n",
        path.display(),
        mape(&rows)
    ))?;
    let bad = rows
        .iter()
        .filter(|r| !r.counts_equal || !r.correct)
        .count();
    anyhow::ensure!(
        bad == 0,
        "{bad} layer(s) disagree with the model or decrypt wrongly"
    );
    Ok(())
}
