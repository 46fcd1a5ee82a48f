//! `stria` command line: argument parsing only; the work happens in the library.

mod cli;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use stria::explore::{Generator, Strategy};
use stria::he::KeyPolicy;
use stria::packing::coeff::{BnProtocol, DepthwiseMode, Partition};
use stria::packing::{Protocol, SciBuild};
use stria::report::View;

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

/// Where a table goes and in which format: shared by `cost`, `compare` and `measured`.
#[derive(Args, Clone)]
struct OutputArgs {
    /// Output format (default: from the extension of --output, `.csv` or `.json`; else a
    /// table).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write to this file instead of standard output (atomically for a regular file;
    /// devices and FIFOs are written in place).
    #[arg(long, short)]
    output: Option<PathBuf>,
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
    /// Cheetah batch norm (unfolded): the program's choice between coefficient encoding and the
    /// CRT SIMD protocol (default: the spec's `cheetah_batchnorm`, else fewer).
    #[arg(long, value_enum)]
    cheetah_batchnorm: Option<BnProtocol>,
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
    Cost(CostArgs),
    /// Compare networks side by side: one row per (network, protocol, link), with the speedup of
    /// each row over the first.
    Compare(CompareArgs),
    /// Run layers on real HE (BFV, fhe crate) and hold them against the model: counts (must be
    /// equal), bytes, milliseconds; ends with `MAPE: X%`.
    #[cfg(feature = "he")]
    Validate(ValidateArgs),
    /// Micro-benchmark every HE primitive on this machine (fhe.rs BFV; warm-up, repetitions,
    /// medians) and write a cost profile the pricer reads.
    #[cfg(feature = "he")]
    Calibrate(CalibrateArgs),
    /// Search a space of architectures (configs/search/*.json): latency and traffic against
    /// capacity, Pareto front, resumable and sharded.
    Search(SearchArgs),
    /// Compare the Pareto fronts of two searches of one space (e.g. uniform, then CPAS): for
    /// every point of the first, the second's lowest cost at equal or larger capacity.
    CompareFronts(CompareFrontsArgs),
    /// Join the outputs of sharded runs of one search and recompute the Pareto front.
    Merge(MergeArgs),
    /// Draw a figure (PNG or SVG by the output extension): layers, packing, compare, pareto,
    /// validation.
    Plot(stria::plot::PlotArgs),
    /// Hold real framework runs (directories written by scripts/frameworks/run.sh) against
    /// stria's prediction of the same network and setting, per layer kind: bytes both ways and
    /// seconds, relative errors and their MAPE.
    Measured(MeasuredArgs),
    /// Write a network spec as trainable code: `--to pytorch` gives one torch.nn.Module class
    /// (sparse kernels masked, strided groups permuted, paddings explicit); `--to onnx` an ONNX
    /// graph that `stria import` reads back into the same layers and cost.
    Export(ExportArgs),
    /// Read an ONNX model (weights may be absent: only the graph's shapes matter) and write it
    /// as a network spec. `cost`, `compare`, `validate`, `plot` and `export` also take an
    /// `.onnx` file directly.
    Import(ImportArgs),
    /// Write the built-in model zoo as JSON network specs.
    Zoo(ZooArgs),
}

// Arguments of `stria cost`.
#[derive(Args)]
struct CostArgs {
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
    #[command(flatten)]
    out: OutputArgs,
}

// Arguments of `stria compare`.
#[derive(Args)]
struct CompareArgs {
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
    #[command(flatten)]
    out: OutputArgs,
}

#[cfg(feature = "he")]
// Arguments of `stria validate`.
#[derive(Args)]
struct ValidateArgs {
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
}

#[cfg(feature = "he")]
// Arguments of `stria calibrate`.
#[derive(Args)]
struct CalibrateArgs {
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
}

// Arguments of `stria search`.
#[derive(Args)]
struct SearchArgs {
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
}

// Arguments of `stria compare-fronts`.
#[derive(Args)]
struct CompareFrontsArgs {
    /// The reference search directory.
    reference: PathBuf,
    /// The search directory compared against it.
    other: PathBuf,
}

// Arguments of `stria merge`.
#[derive(Args)]
struct MergeArgs {
    /// Search output directories (one per shard).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where to write the merged all.csv, pareto.csv and best/.
    #[arg(long, short)]
    output: PathBuf,
}

// Arguments of `stria measured`.
#[derive(Args)]
struct MeasuredArgs {
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
    /// Predict times with this fitted framework time model (from `--fit-time`) instead of
    /// stria's latency model.
    #[arg(long, conflicts_with = "fit_time")]
    time_model: Option<PathBuf>,
    /// Fit a framework time model on these runs and write it (JSON) to this file; needs
    /// --seal-profile. Prints the fitted terms.
    #[arg(long, requires = "seal_profile")]
    fit_time: Option<PathBuf>,
    /// SEAL cost profile (from scripts/frameworks/seal-bench.sh) for --fit-time.
    #[arg(long, requires = "fit_time")]
    seal_profile: Option<PathBuf>,
    #[command(flatten)]
    knobs: Knobs,
    #[command(flatten)]
    out: OutputArgs,
}

// Arguments of `stria export`.
#[derive(Args)]
struct ExportArgs {
    /// Network spec (JSON).
    config: PathBuf,
    /// Target.
    #[arg(long, value_enum)]
    to: ExportTarget,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

// Arguments of `stria import`.
#[derive(Args)]
struct ImportArgs {
    /// ONNX model, e.g. exported with torch.onnx.export.
    model: PathBuf,
    /// Write the spec to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Network name in the spec (default: the file name without `.onnx`).
    #[arg(long)]
    name: Option<String>,
}

// Arguments of `stria zoo`.
#[derive(Args)]
struct ZooArgs {
    /// Directory to write into.
    #[arg(
        long = "output",
        short,
        alias = "output-dir",
        default_value = "configs/models"
    )]
    output_dir: PathBuf,
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

/// Runs one command (`src/cli/`).
fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Cost(a) => cli::cost::run(a),
        Command::Compare(a) => cli::compare::run(a),
        #[cfg(feature = "he")]
        Command::Validate(a) => cli::validate::run(a),
        #[cfg(feature = "he")]
        Command::Calibrate(a) => cli::calibrate::run(a),
        Command::Search(a) => cli::search::run(a),
        Command::CompareFronts(a) => cli::compare_fronts::run(a),
        Command::Merge(a) => cli::merge::run(a),
        Command::Plot(args) => stria::plot::run(&args),
        Command::Measured(a) => cli::measured::run(a),
        Command::Export(a) => cli::export::run(a),
        Command::Import(a) => cli::import::run(a),
        Command::Zoo(a) => cli::zoo::run(a),
    }
}
