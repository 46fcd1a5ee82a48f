//! Timing of the closed-form counters: a full count of `configs/models/resnet50-cf2.json` under
//! every protocol (parse and build once, outside the timed loop), and parse + build of that file.
//!
//! `cargo bench --bench cost -- --warm-up-time 1 --measurement-time 3`

use clap::ValueEnum;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use stria::net::{build, load_network, parse_spec};
use stria::packing::{CountConfig, Protocol, count_network};

fn config_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs/models/resnet50-cf2.json")
}

fn count(c: &mut Criterion) {
    let path = config_path();
    let net = load_network(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut group = c.benchmark_group("count_network/resnet50-cf2");
    for protocol in Protocol::value_variants() {
        let cfg = CountConfig::new(*protocol);
        // Fail loudly (not inside the timed loop) if the protocol rejects a layer.
        count_network(&net, &cfg).unwrap_or_else(|e| panic!("{protocol}: {e}"));
        group.bench_with_input(
            BenchmarkId::from_parameter(protocol.name()),
            &cfg,
            |b, cfg| b.iter(|| count_network(black_box(&net), black_box(cfg))),
        );
    }
    group.finish();
}

fn parse(c: &mut Criterion) {
    let path = config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let file = path.display().to_string();
    c.bench_function("parse_build/resnet50-cf2", |b| {
        b.iter(|| {
            let spec = parse_spec(black_box(&text), &file).unwrap();
            build(&spec, &file).unwrap()
        })
    });
}

criterion_group!(benches, count, parse);
criterion_main!(benches);
