//! `stria` command line: argument parsing only; the work happens in the library.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use stria::cost::price::{CostProfile, Link, load_link, load_profile};
use stria::eval::{Setting, evaluate};
use stria::he::KeyPolicy;
use stria::net::{Network, load_network, zoo};
use stria::packing::Protocol;
use stria::packing::coeff::{DepthwiseMode, Partition};
use stria::packing::nonlinear::NonlinearParams;
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

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
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
    /// Cheetah block partition: OpenCheetah's heuristic or the paper's search.
    #[arg(long, value_enum, default_value_t = Partition::Heuristic)]
    cheetah_partition: Partition,
    /// Cheetah depthwise layout: plain HomConv or HomBN-style channel stacking.
    #[arg(long, value_enum, default_value_t = DepthwiseMode::Homconv)]
    cheetah_depthwise: DepthwiseMode,
    /// Cheetah ciphertext moduli in bits, first prime first (default 60,49).
    #[arg(long, value_delimiter = ',')]
    cheetah_moduli: Option<Vec<u32>>,
    /// Cost profile JSON (default: the shipped published-priors profile).
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
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write to this file (atomically) instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Compare networks side by side: one row per (network, protocol, link), with the speedup of
    /// each row over the first.
    Compare {
        /// Network specs (JSON).
        #[arg(required = true)]
        configs: Vec<PathBuf>,
        /// Protocols (repeat or comma-separate; default cryptflow2).
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Protocol::Cryptflow2])]
        protocol: Vec<Protocol>,
        /// Links (presets or JSON files; repeat or comma-separate; default lan).
        #[arg(long, value_delimiter = ',', default_values_t = ["lan".to_string()])]
        link: Vec<String>,
        #[command(flatten)]
        knobs: Knobs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write to this file (atomically) instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Write the built-in model zoo as JSON network specs.
    Zoo {
        /// Directory to write into.
        #[arg(long, default_value = "configs/models")]
        output_dir: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
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
        None => CostProfile::published_priors(),
    };
    let nonlinear = match &k.nonlinear {
        Some(p) => NonlinearParams::load(p)?,
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
        None => {
            print!("{text}");
            Ok(())
        }
    }
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
            let text = match format {
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
            let text = match format {
                Format::Table => compare_table(&rows),
                Format::Csv => compare_csv(&rows),
                Format::Json => serde_json::to_string_pretty(&rows)? + "\n",
            };
            emit(&text, output.as_deref())
        }
        Command::Zoo { output_dir } => {
            let written = zoo::write_all(&output_dir)
                .with_context(|| format!("cannot write to {}", output_dir.display()))?;
            for p in written {
                println!("{}", p.display());
            }
            Ok(())
        }
    }
}
