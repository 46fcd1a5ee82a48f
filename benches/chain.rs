//! Scaling of `stria cost` with the network's length: a chain of 100,000 1x1 convolutions (and
//! 10,000 basic blocks) parsed and built, then counted and priced (`eval::evaluate`: HE counts,
//! non-linear costs, prices) under CrypTFlow2. Every per-layer step must be linear in the
//! network; a whole-network scan per layer shows up here as seconds instead of milliseconds.
//!
//! `cargo bench --bench chain`

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use std::hint::black_box;
use std::time::Duration;
use stria::cost::price::Link;
use stria::eval::{Setting, evaluate};
use stria::net::{build, parse_spec};
use stria::packing::Protocol;

/// A spec of `n` copies of `layer` on a 4x4x4 input, as JSON text.
fn chain(n: usize, layer: serde_json::Value) -> String {
    json!({
        "name": format!("chain{n}"),
        "input": {"channels": 4, "height": 4, "width": 4},
        "layers": vec![layer; n],
    })
    .to_string()
}

fn bench_chain(c: &mut Criterion, label: &str, text: &str) {
    let mut group = c.benchmark_group(label);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("parse_build", |b| {
        b.iter(|| {
            let spec = parse_spec(black_box(text), "chain.json").unwrap();
            build(&spec, "chain.json").unwrap()
        })
    });
    let net = build(&parse_spec(text, "chain.json").unwrap(), "chain.json").unwrap();
    let s = Setting::new(Protocol::Cryptflow2, Link::preset("lan").unwrap());
    evaluate(&net, &s).unwrap_or_else(|e| panic!("{e}"));
    group.bench_function("evaluate", |b| {
        b.iter(|| evaluate(black_box(&net), black_box(&s)).unwrap())
    });
    group.finish();
}

fn conv_chain(c: &mut Criterion) {
    let text = chain(
        100_000,
        json!({"type": "conv", "out_channels": 4, "kernel": 1}),
    );
    bench_chain(c, "chain/100k-conv1x1", &text);
}

fn basic_chain(c: &mut Criterion) {
    let text = chain(10_000, json!({"type": "basic", "out_channels": 4}));
    bench_chain(c, "chain/10k-basic", &text);
}

criterion_group!(benches, conv_chain, basic_chain);
criterion_main!(benches);
