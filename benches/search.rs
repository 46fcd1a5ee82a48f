//! Search throughput on a ResNet-50-size template with per-block bottleneck ratios
//! (`configs/search/resnet50-blocks.json`: 16 CPAS dimensions, about 1.9e14 candidates):
//! `stria search --strategy random --no-keep-all` on 2 threads (the whole driver: candidate
//! generation, table evaluation, constraints, Pareto front, checkpoints), and one candidate
//! evaluation on its own. Criterion reports candidates per second (x 60 for per minute).
//!
//! `cargo bench --bench search -- --warm-up-time 1 --measurement-time 5`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use stria::explore::{Options, Strategy, load, search};

const BUDGET: u64 = 4_000_000;

fn space() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs/search/resnet50-blocks.json")
}

fn throughput(c: &mut Criterion) {
    let compiled = load(&space(), None).unwrap_or_else(|e| panic!("{e}"));
    let mut group = c.benchmark_group("search/resnet50-blocks");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BUDGET));
    group.bench_function("random-no-keep-all-2-threads", |b| {
        b.iter_with_setup(
            || tempfile::tempdir().unwrap(),
            |dir| {
                let opt = Options {
                    strategy: Some(Strategy::Random),
                    budget: BUDGET,
                    seed: 1,
                    threads: 2,
                    shard: (0, 1),
                    resume: false,
                    output: dir.path().join("out"),
                    keep_all: Some(false),
                    progress: false,
                };
                let s = search(&compiled, &opt).unwrap();
                assert_eq!(s.evaluated, BUDGET);
                dir
            },
        )
    });
    group.finish();

    let mut group = c.benchmark_group("search/resnet50-blocks");
    group.throughput(Throughput::Elements(1));
    let digits: Vec<u32> = compiled.radix().iter().map(|&r| (r / 2) as u32).collect();
    group.bench_function("eval-one-candidate", |b| {
        b.iter(|| compiled.eval(black_box(&digits)))
    });
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
