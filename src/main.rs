//! `stria` command line: argument parsing only; the work happens in the library.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use stria::he::KeyPolicy;
use stria::net::{load_network, zoo};
use stria::packing::{CountConfig, Protocol, count_network};
use stria::report::{CostReport, write_atomic};

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

#[derive(Subcommand)]
enum Command {
    /// Count the HE work of every layer of a network under a packing protocol.
    Cost {
        /// Network spec (JSON), e.g. configs/models/resnet50-cf2.json.
        config: PathBuf,
        /// Packing protocol.
        #[arg(long, value_enum, default_value_t = Protocol::Cryptflow2)]
        protocol: Protocol,
        /// Ring degree: the minimum per-layer degree for cryptflow2 (default 8192), the fixed
        /// degree for gazelle-input, gazelle-output and gala (default 2048).
        #[arg(long)]
        ring_degree: Option<u64>,
        /// Galois key policy (default: the framework's own, pow2 for cryptflow2, per-step otherwise).
        #[arg(long, value_enum)]
        key_policy: Option<KeyPolicy>,
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

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Cost {
            config,
            protocol,
            ring_degree,
            key_policy,
            format,
            output,
        } => {
            let net = load_network(&config)?;
            let mut cfg = CountConfig::new(protocol);
            if let Some(n) = ring_degree {
                anyhow::ensure!(
                    n.is_power_of_two() && (1024..=65536).contains(&n),
                    "--ring-degree must be a power of two between 1024 and 65536, got {n}"
                );
                cfg.ring_degree = n;
            }
            if let Some(k) = key_policy {
                cfg.key_policy = k;
            }
            if let Some(w) = cfg.check_security() {
                eprintln!("warning: {w}; counting anyway (the counts do not depend on security)");
            }
            let costs =
                count_network(&net, &cfg).with_context(|| format!("{}", config.display()))?;
            let report = CostReport::new(&net, &cfg, &costs);
            let text = match format {
                Format::Table => report.to_table(),
                Format::Csv => report.to_csv(),
                Format::Json => report.to_json(),
            };
            match output {
                Some(path) => write_atomic(&path, text.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => print!("{text}"),
            }
        }
        Command::Zoo { output_dir } => {
            for p in zoo::write_all(&output_dir)
                .with_context(|| format!("cannot write to {}", output_dir.display()))?
            {
                println!("{}", p.display());
            }
        }
    }
    Ok(())
}
