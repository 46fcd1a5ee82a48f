//! `stria` command line: argument parsing only; the work happens in the library.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use stria::cost::price::{CostProfile, Link, load_link, load_profile};
use stria::eval::{Setting, evaluate};
use stria::explore::{Generator, Strategy};
use stria::he::KeyPolicy;
use stria::net::{Network, load_network, zoo};
use stria::packing::coeff::{DepthwiseMode, Partition};
use stria::packing::nonlinear::NonlinearParams;
use stria::packing::{Protocol, SciBuild};
use stria::report::{
    CompareRow, CostReport, View, compare_csv, compare_table, set_speedups, write_atomic,
};

#[derive(Parser)]
#[command(
    name = "stria",
    version,
    about = "Exact HE cost model for two-party secure neural-network inference"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What `stria export` writes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum ExportTarget {
    /// A self-contained PyTorch module (one class, standard torch.nn layers).
    Pytorch,
    /// An ONNX graph (opset 17, pseudo-random weights) that `stria import` reads back.
    Onnx,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

impl Format {
    /// `--format` when given; otherwise the extension of `--output` (`.csv`, `.json`, anything
    /// else a table); a table on standard output.
    fn pick(format: Option<Format>, output: Option<&Path>) -> Format {
        if let Some(f) = format {
            return f;
        }
        let ext = output
            .and_then(Path::extension)
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("csv") => Format::Csv,
            Some("json") => Format::Json,
            _ => Format::Table,
        }
    }
}

/// Counting and pricing knobs shared by `cost` and `compare`.
#[derive(Args, Clone)]
struct Knobs {
    /// Ring degree: the minimum per-layer degree for cryptflow2 (default 8192), the fixed
    /// degree otherwise (default 2048 for gazelle-input, gazelle-output and gala; 4096 for
    /// cheetah).
    #[arg(long)]
    ring_degree: Option<u64>,
    /// Galois key policy (default: the framework's own, pow2 for cryptflow2, per-step otherwise).
    #[arg(long, value_enum)]
    key_policy: Option<KeyPolicy>,
    /// CrypTFlow2 SCI_HE build whose wire format the bytes follow: EzPC's (SEAL 3.3.2,
    /// uncompressed; the default for cost and compare) or OpenCheetah's (SEAL 3.7.2 with zstd,
    /// seeded keys; the default for measured).
    #[arg(long, value_enum)]
    sci_build: Option<SciBuild>,
    /// Cheetah block partition: OpenCheetah's heuristic or the paper's search.
    #[arg(long, value_enum, default_value_t = Partition::Heuristic)]
    cheetah_partition: Partition,
    /// Cheetah depthwise layout: plain HomConv or HomBN-style channel stacking.
    #[arg(long, value_enum, default_value_t = DepthwiseMode::Homconv)]
    cheetah_depthwise: DepthwiseMode,
    /// Cheetah ciphertext moduli in bits, first prime first (default 60,49).
    #[arg(long, value_delimiter = ',')]
    cheetah_moduli: Option<Vec<u32>>,
    /// Cost profile JSON (default: configs/profiles/measured.json, built in; the SEAL-based
    /// published priors are configs/profiles/published-priors.json).
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Non-linear protocol parameters JSON (lambda, l, f, eta, m; default
    /// configs/nonlinear/default.json, built in).
    #[arg(long)]
    nonlinear: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Count and price every layer of a network under a protocol.
    Cost {
        /// Network spec (JSON), e.g. configs/models/resnet50-cf2.json.
        config: PathBuf,
        /// Packing protocol.
        #[arg(long, value_enum, default_value_t = Protocol::Cryptflow2)]
        protocol: Protocol,
        /// Link: a preset (lan, wan, cf2-lan, cf2-wan, cheetah-lan, cheetah-wan) or a JSON file.
        #[arg(long, default_value = "lan")]
        link: String,
        #[command(flatten)]
        knobs: Knobs,
        /// Rows per layer or per layer kind.
        #[arg(long, value_enum, default_value_t = View::Layer)]
        by: View,
        /// Output format (default: from the extension of --output, `.csv` or `.json`; else a
        /// table).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Write to this file instead of standard output (atomically for a regular file;
        /// devices and FIFOs are written in place).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Compare networks side by side: one row per (network, protocol, link), with the speedup of
    /// each row over the first.
    Compare {
        /// Network specs (JSON).
        #[arg(required = true)]
        configs: Vec<PathBuf>,
        /// Protocols (repeat or comma-separate; default cryptflow2).
        #[arg(long, alias = "protocols", value_enum, value_delimiter = ',', default_values_t = [Protocol::Cryptflow2])]
        protocol: Vec<Protocol>,
        /// Links (presets or JSON files; repeat or comma-separate; default lan).
        #[arg(long, alias = "links", value_delimiter = ',', default_values_t = ["lan".to_string()])]
        link: Vec<String>,
        #[command(flatten)]
        knobs: Knobs,
        /// Output format (default: from the extension of --output, `.csv` or `.json`; else a
        /// table).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Write to this file instead of standard output (atomically for a regular file;
        /// devices and FIFOs are written in place).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Run layers on real HE (BFV, fhe crate) and hold them against the model: counts (must be
    /// equal), bytes, milliseconds; ends with `MAPE: X%`.
    #[cfg(feature = "he")]
    Validate {
        /// Network spec (JSON), e.g. configs/models/validate-small.json.
        config: PathBuf,
        /// Only layers whose path matches (`*` wildcards; without `*`, a substring).
        #[arg(long)]
        layers: Option<String>,
        /// cryptflow2 or cheetah.
        #[arg(long, value_enum, default_value_t = Protocol::Cryptflow2)]
        protocol: Protocol,
        #[command(flatten)]
        knobs: Knobs,
        /// Seed of inputs, weights, shares, masks and keys (printed).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Run parameter sets below 128-bit security (small experiments only).
        #[arg(long)]
        insecure: bool,
        /// Directory for validate.csv (default: a new directory stria-out/validate/<protocol>,
        /// numbered when it exists).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Micro-benchmark every HE primitive on this machine (fhe.rs BFV; warm-up, repetitions,
    /// medians) and write a cost profile the pricer reads.
    #[cfg(feature = "he")]
    Calibrate {
        /// Ring degrees of the CrypTFlow2 (3-prime) entries (repeat or comma-separate).
        #[arg(long, value_delimiter = ',', default_values_t = [8192usize, 16384, 32768, 65536])]
        ring_degree: Vec<usize>,
        /// Timed rounds per pass.
        #[arg(long, default_value_t = 15)]
        repetitions: usize,
        /// Passes over all parameter sets (medians over every pass).
        #[arg(long, default_value_t = 5)]
        passes: usize,
        /// Profile name recorded in the file.
        #[arg(long, default_value = "measured")]
        name: String,
        /// Accept ring degrees below 128-bit security.
        #[arg(long)]
        insecure: bool,
        /// Where to write the profile.
        #[arg(long, short, default_value = "configs/profiles/measured.json")]
        output: PathBuf,
    },
    /// Search a space of architectures (configs/search/*.json): latency and traffic against
    /// capacity, Pareto front, resumable and sharded.
    Search {
        /// Search space file, e.g. configs/search/strianet-cifar10.json.
        space: PathBuf,
        /// Default: exhaustive when the whole space fits the budget, random otherwise.
        #[arg(long, value_enum)]
        strategy: Option<Strategy>,
        /// Candidates to evaluate (over all shards).
        #[arg(long, default_value_t = 1_000_000)]
        budget: u64,
        /// Seed of the random and evolution strategies.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Worker threads (default: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Evaluate the K-th of N deterministic slices (`--shard 0/4`).
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(u64, u64)>,
        /// Continue the search in --output from its checkpoint.
        #[arg(long)]
        resume: bool,
        /// Output directory (default: a new directory stria-out/search/<space name>-<generator>,
        /// numbered when it exists; --resume needs it).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Write every candidate to all.csv (default for budgets up to 1,000,000).
        #[arg(long, overrides_with = "no_keep_all")]
        keep_all: bool,
        /// Do not write all.csv (the front, checkpoint and summary only).
        #[arg(long)]
        no_keep_all: bool,
        /// Override the ratio knob's generator (cpas or uniform).
        #[arg(long, value_enum)]
        generator: Option<Generator>,
        /// Override the space's protocol.
        #[arg(long, value_enum)]
        protocol: Option<Protocol>,
        /// Override the space's link (preset or JSON file).
        #[arg(long)]
        link: Option<String>,
    },
    /// Compare the Pareto fronts of two searches of one space (e.g. uniform, then CPAS): for
    /// every point of the first, the second's lowest cost at equal or larger capacity.
    CompareFronts {
        /// The reference search directory.
        reference: PathBuf,
        /// The search directory compared against it.
        other: PathBuf,
    },
    /// Join the outputs of sharded runs of one search and recompute the Pareto front.
    Merge {
        /// Search output directories (one per shard).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where to write the merged all.csv, pareto.csv and best/.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Draw a figure (PNG or SVG by the output extension): layers, packing, compare, pareto,
    /// validation.
    Plot(stria::plot::PlotArgs),
    /// Hold real framework runs (directories written by scripts/frameworks/run.sh) against
    /// stria's prediction of the same network and setting, per layer kind: bytes both ways and
    /// seconds, relative errors and their MAPE.
    Measured {
        /// Run directories (server.log, client.log, machine.txt).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Network spec the program runs (default: the shipped one for the run's network and
        /// protocol: sqnet.json, resnet50-cf2.json for SCI_HE, resnet50-cheetah.json for cheetah).
        #[arg(long)]
        spec: Option<PathBuf>,
        /// Link for the prediction (default: the run's shaping, lan for an unshaped loopback).
        #[arg(long)]
        link: Option<String>,
        #[command(flatten)]
        knobs: Knobs,
        /// Output format (default: from the extension of --output, `.csv` or `.json`; else a
        /// table).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Write a network spec as trainable code: `--to pytorch` gives one torch.nn.Module class
    /// (sparse kernels masked, strided groups permuted, paddings explicit); `--to onnx` an ONNX
    /// graph that `stria import` reads back into the same layers and cost.
    Export {
        /// Network spec (JSON).
        config: PathBuf,
        /// Target.
        #[arg(long, value_enum)]
        to: ExportTarget,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Read an ONNX model (weights may be absent: only the graph's shapes matter) and write it
    /// as a network spec. `cost`, `compare`, `validate`, `plot` and `export` also take an
    /// `.onnx` file directly.
    Import {
        /// ONNX model, e.g. exported with torch.onnx.export.
        model: PathBuf,
        /// Write the spec to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Network name in the spec (default: the file name without `.onnx`).
        #[arg(long)]
        name: Option<String>,
    },
    /// Write the built-in model zoo as JSON network specs.
    Zoo {
        /// Directory to write into.
        #[arg(
            long = "output",
            short,
            alias = "output-dir",
            default_value = "configs/models"
        )]
        output_dir: PathBuf,
    },
}

/// `K/N` with `K < N`.
fn parse_shard(s: &str) -> std::result::Result<(u64, u64), String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("expected K/N (e.g. 0/4), got `{s}`"))?;
    let k: u64 = k
        .trim()
        .parse()
        .map_err(|_| format!("bad shard index `{k}`"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("bad shard count `{n}`"))?;
    if n == 0 || k >= n {
        return Err(format!("need 0 <= K < N, got {k}/{n}"));
    }
    Ok((k, n))
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        // A reader that went away (`stria cost ... | head`) ends the run quietly, as Unix
        // tools do; every other error is one line and a non-zero exit.
        if stria::io::is_broken_pipe(&e) {
            std::process::exit(0);
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// Loaded once per command: profile and non-linear parameters.
struct Loaded {
    profile: CostProfile,
    nonlinear: NonlinearParams,
}

fn load_knobs(k: &Knobs) -> Result<Loaded> {
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
fn setting(protocol: Protocol, link: Link, k: &Knobs, loaded: &Loaded) -> Result<Setting> {
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

fn load(config: &Path) -> Result<Network> {
    Ok(load_network(config)?)
}

fn emit(text: &str, output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) => write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display())),
        None => out(text),
    }
}

/// Writes to standard output; a failed write is an error (a closed pipe ends the run quietly in
/// `main`), never a panic.
fn out(text: &str) -> Result<()> {
    stria::io::write_stdout(text).context("cannot write to standard output")
}

/// The default output directory of `validate` and `search`: a new directory under `stria-out/`
/// in the current directory (never a tracked file), numbered when the name is taken.
fn fresh_output(kind: &str, name: &str) -> Result<PathBuf> {
    let base = Path::new("stria-out").join(kind);
    stria::io::fresh_dir(&base, name)
        .with_context(|| format!("cannot create a directory in {}", base.display()))
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Cost {
            config,
            protocol,
            link,
            knobs,
            by,
            format,
            output,
        } => {
            let net = load(&config)?;
            let loaded = load_knobs(&knobs)?;
            let s = setting(protocol, load_link(&link)?, &knobs, &loaded)?;
            let evals = evaluate(&net, &s).with_context(|| config.display().to_string())?;
            let report = CostReport::new(&net, &s, &evals, by);
            let text = match Format::pick(format, output.as_deref()) {
                Format::Table => report.to_table(),
                Format::Csv => report.to_csv(),
                Format::Json => report.to_json(),
            };
            emit(&text, output.as_deref())
        }
        Command::Compare {
            configs,
            protocol,
            link,
            knobs,
            format,
            output,
        } => {
            let nets = configs
                .iter()
                .map(|c| load(c))
                .collect::<Result<Vec<_>>>()?;
            let links = link
                .iter()
                .map(|l| load_link(l))
                .collect::<Result<Vec<_>, _>>()?;
            let loaded = load_knobs(&knobs)?;
            let mut rows = Vec::new();
            for (net, config) in nets.iter().zip(&configs) {
                for &p in &protocol {
                    for l in &links {
                        let s = setting(p, l.clone(), &knobs, &loaded)?;
                        let evals = evaluate(net, &s)
                            .with_context(|| format!("{} under {p}", config.display()))?;
                        rows.push(CompareRow::new(net, &s, &evals));
                    }
                }
            }
            set_speedups(&mut rows);
            let text = match Format::pick(format, output.as_deref()) {
                Format::Table => compare_table(&rows),
                Format::Csv => compare_csv(&rows),
                Format::Json => serde_json::to_string_pretty(&rows)? + "\n",
            };
            emit(&text, output.as_deref())
        }
        #[cfg(feature = "he")]
        Command::Validate {
            config,
            layers,
            protocol,
            knobs,
            seed,
            insecure,
            output,
        } => validate(
            &config,
            layers.as_deref(),
            protocol,
            &knobs,
            seed,
            insecure,
            output,
        ),
        #[cfg(feature = "he")]
        Command::Calibrate {
            ring_degree,
            repetitions,
            passes,
            name,
            insecure,
            output,
        } => {
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
        Command::Search {
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
        } => {
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
        Command::CompareFronts { reference, other } => {
            out(&stria::explore::fronts::compare_text(&reference, &other)?)
        }
        Command::Merge { dirs, output } => {
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
        Command::Plot(args) => stria::plot::run(&args),
        Command::Measured {
            dirs,
            spec,
            link,
            knobs,
            format,
            output,
        } => {
            use stria::report::measured;
            let loaded = load_knobs(&knobs)?;
            let root = std::env::current_dir()?;
            let mut rows = Vec::new();
            for dir in &dirs {
                let run = measured::read_run(dir)?;
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
                let predicted = measured::predict(&net, &s)?;
                rows.extend(measured::compare(&run, &predicted));
            }
            let text = match Format::pick(format, output.as_deref()) {
                Format::Table => measured::table(&rows),
                Format::Csv => measured::csv(&rows),
                Format::Json => serde_json::to_string_pretty(&rows)? + "\n",
            };
            emit(&text, output.as_deref())
        }
        Command::Export { config, to, output } => {
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
                            if stdout.is_terminal() {
                                anyhow::bail!(
                                    "an ONNX model is binary: give --output FILE.onnx or redirect standard output"
                                );
                            }
                            stdout
                                .write_all(&bytes)
                                .and_then(|_| stdout.flush())
                                .context("cannot write to standard output")
                        }
                    }
                }
            }
        }
        Command::Import {
            model,
            output,
            name,
        } => {
            let spec = stria::onnx::load_onnx(&model, name.as_deref())?;
            // The spec must resolve: the import checks its shapes with stria's own inference.
            let mut text = serde_json::to_string_pretty(&spec)?;
            text.push('\n');
            emit(&text, output.as_deref())
        }
        Command::Zoo { output_dir } => {
            let written = zoo::write_all(&output_dir)
                .with_context(|| format!("cannot write to {}", output_dir.display()))?;
            let list: String = written
                .iter()
                .map(|p| format!("{}\n", p.display()))
                .collect();
            out(&list)
        }
    }
}

#[cfg(feature = "he")]
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
    let s = setting(protocol, link, knobs, &loaded)?;
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
