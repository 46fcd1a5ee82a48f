//! Real-HE timing of one convolution layer per packing: the `conv3x3` layer of
//! `configs/models/validate-small.json` (16x16x16 -> 32 channels, 3x3, padding 1) run by
//! `backend::simd::run_layer` (CrypTFlow2 SCI_HE) and `backend::coeff::run_layer` (Cheetah) with
//! the default configuration and secure parameters.
//!
//! Besides criterion's timing of a whole `run_layer` call (setup included: key generation and
//! plaintext preprocessing), the bench prints, per protocol, the median over a few runs of
//! `wall_ns / times.total_ns()`: the layer's online wall time against the sum of its priced HE
//! primitives (1.0 = no hidden overhead).
//!
//! `cargo bench --bench he_layer`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;
use stria::backend::{LayerRun, RunOptions, coeff, simd, tune_allocator};
use stria::net::{Layer, load_network};
use stria::packing::{CountConfig, Protocol};

/// Runs for the printed ratio (its median).
const RATIO_RUNS: usize = 5;

fn layer() -> Layer {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs/models/validate-small.json");
    let net = load_network(&path).unwrap_or_else(|e| panic!("{e}"));
    net.layers
        .into_iter()
        .find(|l| l.path == "conv3x3" || l.path.ends_with("/conv3x3"))
        .expect("validate-small.json has a conv3x3 layer")
}

type Runner =
    fn(&Layer, &CountConfig, &RunOptions) -> Result<LayerRun, stria::backend::BackendError>;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let k = v.len();
    if k % 2 == 1 {
        v[k / 2]
    } else {
        (v[k / 2 - 1] + v[k / 2]) / 2.0
    }
}

/// Prints the median `wall_ns / times.total_ns()` (and both medians in ms) over a few runs.
fn report_ratio(name: &str, run: Runner, layer: &Layer, cfg: &CountConfig, opts: &RunOptions) {
    let mut ratios = Vec::with_capacity(RATIO_RUNS);
    let mut walls = Vec::with_capacity(RATIO_RUNS);
    let mut prims = Vec::with_capacity(RATIO_RUNS);
    for _ in 0..RATIO_RUNS {
        let r = run(layer, cfg, opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(r.correct, "{name}: wrong result");
        ratios.push(r.wall_ns as f64 / r.times.total_ns() as f64);
        walls.push(r.wall_ns as f64 / 1e6);
        prims.push(r.times.total_ns() as f64 / 1e6);
    }
    let all: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
    println!(
        "{name}: wall / sum of primitive ops = {:.3} (median of {RATIO_RUNS}: [{}]); \
         online wall {:.1} ms, primitives {:.1} ms",
        median(ratios),
        all.join(", "),
        median(walls),
        median(prims),
    );
}

fn he_layer(c: &mut Criterion) {
    tune_allocator();
    let layer = layer();
    let opts = RunOptions::default();
    let cases: [(&str, Protocol, Runner); 2] = [
        ("cryptflow2", Protocol::Cryptflow2, simd::run_layer),
        ("cheetah", Protocol::Cheetah, coeff::run_layer),
    ];
    for (name, protocol, run) in cases {
        let cfg = CountConfig::new(protocol);
        report_ratio(name, run, &layer, &cfg, &opts);
    }
    let mut group = c.benchmark_group("he_layer/validate-small/conv3x3");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    for (name, protocol, run) in cases {
        let cfg = CountConfig::new(protocol);
        group.bench_function(name, |b| {
            b.iter(|| run(black_box(&layer), black_box(&cfg), black_box(&opts)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, he_layer);
criterion_main!(benches);
