//! `stria measured`: real framework runs against the prediction; fitting and using the framework time model.

use super::{emit, load, load_knobs, setting};
use crate::{Format, MeasuredArgs, OutputArgs};
use anyhow::{Context, Result};
use stria::cost::price::{load_link, load_profile};

pub(crate) fn run(a: MeasuredArgs) -> Result<()> {
    let MeasuredArgs {
        dirs,
        spec,
        link,
        time_model,
        fit_time,
        seal_profile,
        knobs,
        out: OutputArgs { format, output },
    } = a;
    use stria::report::{measured, timing};
    let loaded = load_knobs(&knobs)?;
    let root = std::env::current_dir()?;
    let model = match &time_model {
        Some(p) => {
            let mut m = timing::load(p)?;
            m.seal_profile.file = p.display().to_string();
            Some(m)
        }
        None => None,
    };
    let seal = match (&model, &seal_profile) {
        (Some(m), _) => Some(m.seal_profile.clone()),
        (None, Some(p)) => Some(load_profile(p)?),
        (None, None) => None,
    };
    let mut rows = Vec::new();
    let mut obs = Vec::new();
    let mut runs_cores = Vec::new();
    for dir in &dirs {
        let run = measured::read_run(dir)?;
        runs_cores.push(run.cores);
        let protocol = measured::protocol_of(&run)?;
        let spec = match &spec {
            Some(p) => p.clone(),
            None => measured::default_spec(&run, &root)?,
        };
        let net = load(&spec)?;
        let link = match (&link, run.link.as_str()) {
            (Some(l), _) => l.clone(),
            (None, l @ ("lan" | "wan")) => l.to_string(),
            (None, _) => "lan".to_string(),
        };
        // The run's program (threads, OpenCheetah's SCI_HE build and rotation rule) unless
        // the knobs say otherwise.
        let mut s = setting(protocol, load_link(&link)?, &knobs, &loaded)?;
        measured::adapt(&run, &mut s);
        if let Some(b) = knobs.sci_build {
            s.count.sci_build = b;
        }
        if let Some(p) = knobs.key_policy {
            s.count.key_policy = p;
        }
        // A layer no protocol model prices is an error naming the spec file, as `cost` gives it.
        stria::packing::nonlinear::check_priced(&net, s.count.protocol)
            .with_context(|| spec.display().to_string())?;
        let predicted = measured::predict(&net, &s, seal.as_ref())?;
        if fit_time.is_some() {
            obs.push(measured::observation(&run, &predicted));
            continue;
        }
        let file = time_model
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        rows.extend(measured::compare(
            &run,
            &predicted,
            model.as_ref().map(|m| (m, file.as_str())),
        )?);
    }
    if let (Some(out), Some(seal)) = (&fit_time, seal) {
        // The cores of the machine the runs were on (machine.txt), which must be one kind.
        let mut cores = runs_cores.iter().flatten().copied();
        let first = cores.next();
        anyhow::ensure!(
            cores.all(|c| Some(c) == first),
            "--fit-time: the runs were on machines with different core counts ({runs_cores:?})"
        );
        let cores = first
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
        let m = timing::fit("frameworks-time", cores, seal, &obs)
            .map_err(|e| anyhow::anyhow!("--fit-time: {e}"))?;
        let json = serde_json::to_string_pretty(&m)? + "\n";
        stria::io::write_output(out, json.as_bytes())
            .with_context(|| format!("cannot write {}", out.display()))?;
        let text = timing::terms_table(&m);
        return emit(&text, output.as_deref());
    }
    let text = match Format::pick(format, output.as_deref()) {
        Format::Table => measured::table(&rows),
        Format::Csv => measured::csv(&rows),
        Format::Json => serde_json::to_string_pretty(&rows)? + "\n",
    };
    emit(&text, output.as_deref())
}
