//! `stria plot`: figures of per-layer counts, packing layouts, protocol comparisons, search
//! results and validation runs, drawn with plotters to PNG or SVG (chosen by the extension).
//!
//! Text is set in DejaVu Sans, embedded in the binary (`assets/fonts/`), so figures render the
//! same on a machine without system fonts. Every kind has a data struct (filled from a network,
//! CSV files, ...) and a `draw_*` function that takes it, so tests can draw known data.
//! Output is built in memory and written atomically.

mod axis;
mod charts;
mod data;

pub use axis::{Axis, fmt_num, short_name};
pub use charts::{draw_compare, draw_layers, draw_packing, draw_pareto, draw_validation};
pub use data::{
    Candidate, CompareData, CompareEntry, LayerBar, LayersData, MEASURED_TEXT, PackingData,
    PackingPoint, PackingSeries, ParetoData, ParetoSeries, VALIDATION_TEXT, ValidationData,
    ValidationPoint, ValidationSeries, compare_data, layers_data, measured_data, packing_data,
    pareto_data, read_pareto_dir, read_validation, validation_data,
};

use anyhow::{Context, Result, bail};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

use crate::he::Protocol;

/// The embedded font (DejaVu Sans 2.37; licence in `assets/fonts/LICENSE`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family name every figure asks for.
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers the embedded font for every style (once per process).
fn ensure_font() -> Result<()> {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ]
        .into_iter()
        .all(|style| plotters::style::register_font(FAMILY, style, FONT).is_ok())
    });
    anyhow::ensure!(ok, "the embedded font (DejaVu Sans) could not be parsed");
    Ok(())
}

/// Output format, from the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Svg,
}

impl ImageFormat {
    /// `.png` or `.svg` (any case); anything else is an error naming the path.
    pub fn from_path(path: &Path) -> Result<ImageFormat> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "png" => Ok(ImageFormat::Png),
            "svg" => Ok(ImageFormat::Svg),
            _ => bail!(
                "{}: the output must end in .png or .svg (the extension picks the format)",
                path.display()
            ),
        }
    }
}

/// A figure: its pixel size and how to draw it on any backend.
pub(crate) trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static;
}

/// Draws `fig` in memory and writes it to `path` atomically (temporary file in the same
/// directory, then rename).
pub(crate) fn save<F: Figure>(fig: &F, path: &Path) -> Result<()> {
    let format = ImageFormat::from_path(path)?;
    ensure_font()?;
    let (w, h) = fig.size();
    let bytes = match format {
        ImageFormat::Png => {
            let mut rgb = vec![0u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
                root.fill(&WHITE)?;
                fig.draw(&root)?;
                root.present()?;
            }
            encode_png(&rgb, w, h)?
        }
        ImageFormat::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, (w, h)).into_drawing_area();
                root.fill(&WHITE)?;
                fig.draw(&root)?;
                root.present()?;
            }
            text.into_bytes()
        }
    };
    crate::report::write_atomic(path, &bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// 8-bit RGB PNG of a row-major buffer.
fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::High);
        let mut writer = enc.write_header().context("PNG header")?;
        writer.write_image_data(rgb).context("PNG data")?;
        writer.finish().context("PNG end")?;
    }
    Ok(out)
}

/// `stria plot KIND ... --output PATH`.
#[derive(clap::Args, Debug, Clone)]
pub struct PlotArgs {
    #[command(subcommand)]
    pub kind: PlotKind,
}

/// The figures `stria plot` draws.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum PlotKind {
    /// Per-layer bars: internal vs external rotations (stacked), scalar multiplications and
    /// ciphertext MB up/down, for the layers with HE work.
    Layers {
        /// Network spec (JSON).
        config: PathBuf,
        /// Packing protocol.
        #[arg(long, value_enum, default_value_t = Protocol::Cryptflow2)]
        protocol: Protocol,
        /// Link (preset or JSON file); only `accum: auto` layers depend on it.
        #[arg(long, default_value = "lan")]
        link: String,
        /// Output image (.png or .svg).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Channels per ciphertext (cn) and input ciphertexts per HE layer against depth, for
    /// CrypTFlow2 (SIMD) and Cheetah (coefficient) packing.
    Packing {
        /// Network spec (JSON).
        config: PathBuf,
        /// Output image (.png or .svg).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Estimated latency per network, protocol and link, split into HE compute, HE
    /// communication and non-linear protocol time.
    Compare {
        /// Network specs (JSON).
        #[arg(required = true)]
        configs: Vec<PathBuf>,
        /// Protocols (repeat or comma-separate).
        #[arg(long = "protocol", alias = "protocols", value_enum, value_delimiter = ',', default_values_t = [Protocol::Cryptflow2, Protocol::Cheetah])]
        protocols: Vec<Protocol>,
        /// Links (presets or JSON files; repeat or comma-separate).
        #[arg(long = "link", alias = "links", value_delimiter = ',', default_values_t = ["lan".to_string(), "wan".to_string()])]
        links: Vec<String>,
        /// Output image (.png or .svg).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Latency against parameters of `stria search` candidates (DIR/all.csv, optional) and
    /// the Pareto front (DIR/pareto.csv); several DIRs are several series.
    Pareto {
        /// Search output directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output image (.png or .svg).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Predicted vs measured traffic (or, with --time-model, seconds) per layer kind of real
    /// framework runs (directories of scripts/frameworks/run.sh, as `stria measured` reads
    /// them), log-log, with y = x and the MAPE of each run.
    Measured {
        /// Run directories; each is a series.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Plot seconds per kind predicted by this framework time model (`stria measured
        /// --fit-time`) instead of traffic.
        #[arg(long)]
        time_model: Option<PathBuf>,
        /// Output image (.png or .svg).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Predicted vs measured milliseconds per layer (validate.csv files from `stria
    /// validate`), log-log, with the y = x line and the MAPE of each file.
    Validation {
        /// validate.csv files; each is a series.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output image (.png or .svg).
        #[arg(long, short)]
        output: PathBuf,
    },
}

impl PlotKind {
    pub fn output(&self) -> &Path {
        match self {
            PlotKind::Layers { output, .. }
            | PlotKind::Packing { output, .. }
            | PlotKind::Compare { output, .. }
            | PlotKind::Pareto { output, .. }
            | PlotKind::Measured { output, .. }
            | PlotKind::Validation { output, .. } => output,
        }
    }
}

/// Runs `stria plot`: loads the data, draws, writes, prints the path written.
pub fn run(args: &PlotArgs) -> Result<()> {
    let out = args.kind.output();
    // Fail on a bad extension before any (possibly slow) evaluation.
    ImageFormat::from_path(out)?;
    match &args.kind {
        PlotKind::Layers {
            config,
            protocol,
            link,
            ..
        } => draw_layers(&layers_data(config, *protocol, link)?, out)?,
        PlotKind::Packing { config, .. } => draw_packing(&packing_data(config)?, out)?,
        PlotKind::Compare {
            configs,
            protocols,
            links,
            ..
        } => draw_compare(&compare_data(configs, protocols, links)?, out)?,
        PlotKind::Pareto { dirs, .. } => draw_pareto(&pareto_data(dirs)?, out)?,
        PlotKind::Measured {
            dirs, time_model, ..
        } => draw_validation(&measured_data(dirs, time_model.as_deref())?, out)?,
        PlotKind::Validation { files, .. } => draw_validation(&validation_data(files)?, out)?,
    }
    crate::io::write_stdout(&format!("{}\n", out.display()))
        .context("cannot write to standard output")
}
