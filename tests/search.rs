//! `stria search` and `stria merge`: CPAS candidates, table sums equal to whole-network
//! evaluations, constraints, Pareto fronts against brute force, determinism across thread
//! counts, resume after interruption, shard/merge equivalence, space-file errors.

use assert_cmd::Command;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use stria::explore::compile::cpas_units;
use stria::explore::pareto::{Front, MAX_OBJECTIVES, Objective};
use stria::explore::{Compiled, Generator, Options, Strategy, load, parse_space, search};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn shipped() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("configs/search"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

/// The shipped CIFAR-10 space with its knobs replaced, written to `dir/space.json`.
fn space_with(dir: &Path, knobs: Value, constraints: Value) -> PathBuf {
    let text =
        std::fs::read_to_string(root().join("configs/search/strianet-cifar10.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["knobs"] = knobs;
    v["constraints"] = constraints;
    let p = dir.join("space.json");
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    p
}

/// A small space: per-stage CPAS ratios, depth choices, kernel shapes (12,288 candidates).
fn small(dir: &Path) -> PathBuf {
    space_with(
        dir,
        json!({
            "ratio": {"generator": "cpas", "per": "stage", "min": 0.25, "max": 2, "max_choices": 4},
            "depth": [[1, 2, 3], [1, 2], [1, 2], [1, 2]],
            "kernel_shape": {"values": ["cross", "dense"]}
        }),
        json!({"max_block_external_rot": 0}),
    )
}

fn opts(out: &Path, strategy: Strategy, budget: u64, threads: usize) -> Options {
    Options {
        strategy: Some(strategy),
        budget,
        seed: 7,
        threads,
        shard: (0, 1),
        resume: false,
        output: out.to_path_buf(),
        keep_all: Some(true),
        progress: false,
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn stria() -> Command {
    Command::new(env!("CARGO_BIN_EXE_stria"))
}

#[test]
fn cpas_units_hand_derived() {
    // Width 256, cn 32, ratios 0.25..1: middle widths 64..256, i.e. k = 2..8.
    assert_eq!(
        cpas_units(256, 32, 0.25, 1.0, 16),
        (2..=8).collect::<Vec<_>>()
    );
    // At most 3 choices: both ends and the middle.
    assert_eq!(cpas_units(256, 32, 0.25, 1.0, 3), vec![2, 5, 8]);
    // No multiple of 512 between 0.25*1024 and 0.4*1024: the nearest (round(0.316*2) = 1).
    assert_eq!(cpas_units(1024, 512, 0.25, 0.4, 8), vec![1]);
}

#[test]
fn cpas_candidates_are_multiples_of_the_stage_cn() {
    for path in shipped() {
        let c = load(&path, Some(Generator::Cpas)).unwrap();
        // cn_s is the counter's own channels per ciphertext of a 1x1 at the stage's output
        // resolution.
        for (s, &cn) in c.cn.iter().enumerate() {
            let (_, (h, w)) = c.resolution[s];
            let width = c.space.stages[s].width;
            let net = stria::net::build(
                &stria::net::parse_spec(
                    &json!({"name": "probe", "input": {"channels": width, "height": h, "width": w},
                            "layers": [{"type": "conv", "out_channels": width, "kernel": 1}]})
                    .to_string(),
                    "probe",
                )
                .unwrap(),
                "probe",
            )
            .unwrap();
            let cost = stria::packing::count_layer(&net.layers[0], &c.setting.count).unwrap();
            assert_eq!(Some(cn as u64), cost.cn, "{} stage {s}", path.display());
        }
        let mut units = 0;
        for d in &c.dims {
            if let stria::explore::compile::DimKind::Units { stage, .. } = d.kind {
                units += 1;
                for l in &d.labels {
                    let mid: u32 = l.parse().unwrap();
                    assert_eq!(
                        mid % c.cn[stage],
                        0,
                        "{}: {} = {mid}",
                        path.display(),
                        d.name
                    );
                }
            }
        }
        assert!(units > 0, "{} has CPAS dimensions", path.display());
    }
}

#[test]
fn uniform_generator_uses_one_ratio_everywhere() {
    let c = load(
        &root().join("configs/search/strianet-cifar10.json"),
        Some(Generator::Uniform),
    )
    .unwrap();
    let ratio: Vec<_> = c.dims.iter().filter(|d| d.name == "ratio").collect();
    assert_eq!(ratio.len(), 1);
    assert!(c.dims.iter().all(|d| !d.name.ends_with(".mid")));
}

/// The memoized table sum equals the whole-network evaluation (counts exactly, milliseconds to
/// rounding) on random candidates of every shipped space, under both packings.
#[test]
fn table_sums_equal_whole_network_evaluations() {
    for path in shipped() {
        for protocol in ["cryptflow2", "cheetah"] {
            let text = read(&path);
            let mut v: Value = serde_json::from_str(&text).unwrap();
            v["setting"]["protocol"] = json!(protocol);
            let text = v.to_string();
            let space = parse_space(&text, "t").unwrap();
            let c = Compiled::new(space, &text, "t", None).unwrap();
            let mut digits = vec![0u32; c.dims.len()];
            let mut rng = 0x1234_5678u64;
            for _ in 0..6 {
                for (d, &r) in digits.iter_mut().zip(c.radix()) {
                    rng = stria::explore::strategy::mix(rng);
                    *d = (rng % r) as u32;
                }
                let fast = c.eval(&digits);
                if fast.invalid != 0 {
                    continue;
                }
                let (_, whole) = c.evaluate_whole(&digits, "t").unwrap();
                assert!(
                    fast.same_as(&whole),
                    "{} {protocol} {digits:?}:\n{fast:?}\n{whole:?}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn constraints_mark_candidates_infeasible_and_count_them() {
    let dir = tempfile::tempdir().unwrap();
    // he-rotate pays external rotations in striped-grouped layers only when G is not a multiple
    // of cn; dense (groups 1) he-rotate layers always do. Groups 3 does not divide the widths:
    // invalid.
    let p = space_with(
        dir.path(),
        json!({
            "accum": {"values": ["striped", "he-rotate"]},
            "groups": {"values": ["cn", 1, 3]}
        }),
        json!({"max_block_external_rot": 0}),
    );
    let c = load(&p, None).unwrap();
    assert_eq!(c.total, 6);
    let out = dir.path().join("out");
    let s = search(&c, &opts(&out, Strategy::Exhaustive, 100, 1)).unwrap();
    assert_eq!(s.evaluated, 6);
    let all = read(&out.join("all.csv"));
    let rows: Vec<&str> = all.lines().skip(1).collect();
    assert_eq!(rows.len(), 6);
    let infeasible = rows.iter().filter(|r| r.contains(",false,")).count() as u64;
    assert_eq!(s.feasible + infeasible, 6);
    // groups 3 does not divide the widths (invalid whatever the accumulation); striped needs
    // groups > 1 (invalid with groups 1).
    assert_eq!(rows.iter().filter(|r| r.contains("invalid")).count(), 3);
    // A rejected candidate has no cost: every metric column is empty.
    for r in rows.iter().filter(|r| r.contains("invalid")) {
        let metrics = stria::explore::run::METRIC_COLUMNS.len();
        assert!(r.ends_with(&",".repeat(metrics)), "{r}");
    }
    let by = |n: &str| {
        s.violations
            .iter()
            .find(|v| v.0 == n)
            .map(|v| v.1)
            .unwrap_or(0)
    };
    assert_eq!(by("invalid"), 3);
    // Dense (groups 1) he-rotate pays external rotations: it breaks the cap; he-rotate with
    // G = cn is slot-aligned and does not.
    assert_eq!(by("max_block_external_rot"), 1);
    assert_eq!(s.feasible, 2);
    // Every front point is feasible.
    let pareto = read(&out.join("pareto.csv"));
    assert!(pareto.lines().skip(1).all(|r| r.contains(",true,,")));
    let mut distinct = c.reasons.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), c.reasons.len(), "{:?}", c.reasons);
    assert!(
        c.reasons
            .iter()
            .any(|r| r.contains("stages[0].blocks[0]") && r.contains("groups = 3"))
    );
}

/// Brute-force front: points not weakly dominated by another point (ties: the smallest seq).
fn brute(points: &[(Objective, u64)], k: usize) -> Vec<u64> {
    let mut keep = Vec::new();
    for (i, (a, sa)) in points.iter().enumerate() {
        let beaten = points.iter().enumerate().any(|(j, (b, sb))| {
            j != i && (0..k).all(|x| b[x] <= a[x]) && ((0..k).any(|x| b[x] < a[x]) || sb < sa)
        });
        if !beaten {
            keep.push(*sa);
        }
    }
    keep.sort();
    keep
}

#[test]
fn pareto_front_hand_made() {
    // (latency, -params): B dominates D; A and C trade off; E equals B with a larger seq.
    let pts: [(f64, f64, u64); 5] = [
        (1.0, -1.0, 0), // A
        (2.0, -5.0, 1), // B
        (3.0, -9.0, 2), // C
        (2.5, -4.0, 3), // D (dominated by B)
        (2.0, -5.0, 4), // E (equal to B, later)
    ];
    let mut f: Front<()> = Front::new(2);
    for (a, b, s) in pts {
        let mut o = [0.0; MAX_OBJECTIVES];
        o[0] = a;
        o[1] = b;
        f.offer(o, s, || ());
    }
    let seqs: Vec<u64> = f.points().iter().map(|p| p.seq).collect();
    assert_eq!(seqs, vec![0, 1, 2]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    /// Offering points one by one, or merging fronts of arbitrary parts, gives the brute-force
    /// front, for 2, 3 and 4 objectives (small integer coordinates make ties common).
    #[test]
    fn pareto_front_equals_brute_force(
        k in 2usize..=4,
        raw in prop::collection::vec(prop::collection::vec(0u8..6, 4), 1..60),
        split in 1usize..7,
    ) {
        let points: Vec<(Objective, u64)> = raw
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut o = [0.0; MAX_OBJECTIVES];
                for x in 0..k {
                    o[x] = v[x] as f64;
                }
                (o, (i as u64 * 7919) % 1000)
            })
            .collect();
        let mut uniq = points.clone();
        uniq.sort_by_key(|p| p.1);
        uniq.dedup_by_key(|p| p.1);
        let want = brute(&uniq, k);
        let mut one: Front<()> = Front::new(k);
        for (o, s) in &uniq {
            one.offer(*o, *s, || ());
        }
        let mut got: Vec<u64> = one.points().iter().map(|p| p.seq).collect();
        got.sort();
        prop_assert_eq!(&got, &want);
        let mut merged: Front<()> = Front::new(k);
        for part in uniq.chunks(split) {
            let mut f: Front<()> = Front::new(k);
            for (o, s) in part {
                f.offer(*o, *s, || ());
            }
            merged.merge(f);
        }
        let mut got: Vec<u64> = merged.points().iter().map(|p| p.seq).collect();
        got.sort();
        prop_assert_eq!(&got, &want);
    }
}

#[test]
fn deterministic_across_thread_counts() {
    let dir = tempfile::tempdir().unwrap();
    let p = small(dir.path());
    let c = load(&p, None).unwrap();
    for strategy in [Strategy::Random, Strategy::Evolution, Strategy::Exhaustive] {
        let mut outs = Vec::new();
        for threads in [1, 2, 3] {
            let out = dir.path().join(format!("{}-{threads}", strategy.name()));
            search(&c, &opts(&out, strategy, 5000, threads)).unwrap();
            outs.push((read(&out.join("all.csv")), read(&out.join("pareto.csv"))));
        }
        assert!(outs[0].0.lines().count() > 1000);
        assert_eq!(outs[0], outs[1], "{}", strategy.name());
        assert_eq!(outs[0], outs[2], "{}", strategy.name());
    }
}

#[test]
fn resume_after_interruption_gives_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let p = small(dir.path());
    let c = load(&p, None).unwrap();
    for strategy in [Strategy::Random, Strategy::Exhaustive] {
        let full = dir.path().join(format!("full-{}", strategy.name()));
        search(&c, &opts(&full, strategy, 3000, 2)).unwrap();
        let want = (read(&full.join("all.csv")), read(&full.join("pareto.csv")));

        // Interrupted early (a smaller budget is a prefix of the same sequence), then the last
        // rows lost and a row cut in the middle, as a kill during a write would leave it.
        let part = dir.path().join(format!("part-{}", strategy.name()));
        search(&c, &opts(&part, strategy, 2000, 2)).unwrap();
        let all = read(&part.join("all.csv"));
        let cut = all.len() * 3 / 5 + 17;
        std::fs::write(part.join("all.csv"), &all[..cut]).unwrap();
        let mut o = opts(&part, strategy, 3000, 1);
        o.resume = true;
        let s = search(&c, &o).unwrap();
        assert!(s.session_evaluated > 1000 && s.session_evaluated < 3000);
        assert_eq!(s.evaluated, 3000);
        assert_eq!(read(&part.join("all.csv")), want.0, "{}", strategy.name());
        assert_eq!(
            read(&part.join("pareto.csv")),
            want.1,
            "{}",
            strategy.name()
        );

        // Without --resume an existing output is refused.
        let e = search(&c, &opts(&part, strategy, 3000, 1)).unwrap_err();
        assert!(e.to_string().contains("--resume"), "{e}");
        // A checkpoint of another search is refused.
        let mut o = opts(&part, strategy, 3000, 1);
        o.resume = true;
        o.seed = 8;
        let e = search(&c, &o).unwrap_err();
        assert!(e.to_string().contains("another search"), "{e}");
    }
}

#[test]
fn resume_without_all_csv_continues_from_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let p = small(dir.path());
    let c = load(&p, None).unwrap();
    let full = dir.path().join("full");
    let mut o = opts(&full, Strategy::Random, 3000, 2);
    o.keep_all = Some(false);
    search(&c, &o).unwrap();
    let part = dir.path().join("part");
    let mut o = opts(&part, Strategy::Random, 1000, 2);
    o.keep_all = Some(false);
    search(&c, &o).unwrap();
    o.budget = 3000;
    o.resume = true;
    let s = search(&c, &o).unwrap();
    assert_eq!(s.session_evaluated, 2000);
    assert!(!part.join("all.csv").exists());
    assert_eq!(
        read(&part.join("pareto.csv")),
        read(&full.join("pareto.csv"))
    );
}

#[test]
fn shards_merge_to_the_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = small(dir.path());
    let c = load(&p, None).unwrap();
    for strategy in [Strategy::Random, Strategy::Exhaustive] {
        let whole = dir.path().join(format!("whole-{}", strategy.name()));
        search(&c, &opts(&whole, strategy, 2500, 2)).unwrap();
        let mut shards = Vec::new();
        for k in 0..3 {
            let out = dir.path().join(format!("shard{k}-{}", strategy.name()));
            let mut o = opts(&out, strategy, 2500, 1);
            o.shard = (k, 3);
            let s = search(&c, &o).unwrap();
            assert!(s.evaluated >= 833 && s.evaluated <= 834);
            shards.push(out);
        }
        let merged = dir.path().join(format!("merged-{}", strategy.name()));
        let out = stria()
            .arg("merge")
            .args(&shards)
            .arg("--output")
            .arg(&merged)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(read(&merged.join("all.csv")), read(&whole.join("all.csv")));
        assert_eq!(
            read(&merged.join("pareto.csv")),
            read(&whole.join("pareto.csv"))
        );
        let names = |d: &Path| {
            let mut v: Vec<String> = std::fs::read_dir(d.join("best"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(&merged), names(&whole));
        for n in names(&whole) {
            assert_eq!(
                read(&merged.join("best").join(&n)),
                read(&whole.join("best").join(&n))
            );
        }
    }
    // Evolution cannot be sharded.
    let mut o = opts(&dir.path().join("evo"), Strategy::Evolution, 100, 1);
    o.shard = (1, 2);
    assert!(
        search(&c, &o)
            .unwrap_err()
            .to_string()
            .contains("evolution")
    );
}

#[test]
fn cli_search_writes_front_configs_usable_by_cost() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = stria()
        .args([
            "search",
            "configs/search/strianet-cifar10.json",
            "--budget",
            "3000",
            "--seed",
            "3",
        ])
        .arg("--output")
        .arg(&out)
        .current_dir(root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("evaluated 3000 candidates in"), "{stdout}");
    assert!(stdout.contains("per minute)"), "{stdout}");
    let all = read(&out.join("all.csv"));
    assert_eq!(all.lines().count(), 3001);
    let head = all.lines().next().unwrap();
    for col in [
        "seq",
        "generator",
        "feasible",
        "latency_ms",
        "comm_bytes",
        "params",
        "macs",
    ] {
        assert!(head.split(',').any(|c| c == col), "{col} in {head}");
    }
    let best: Vec<PathBuf> = std::fs::read_dir(out.join("best"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let pareto_rows = read(&out.join("pareto.csv")).lines().count() - 1;
    assert_eq!(best.len(), pareto_rows);
    let cost = stria()
        .arg("cost")
        .arg(&best[0])
        .args(["--format", "csv"])
        .output()
        .unwrap();
    assert!(
        cost.status.success(),
        "{}",
        String::from_utf8_lossy(&cost.stderr)
    );
}

#[test]
fn bad_space_files_name_the_field() {
    let base: Value =
        serde_json::from_str(&read(&root().join("configs/search/strianet-cifar10.json"))).unwrap();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|v| v["stages"][1]["block"]["groupz"] = json!(4)),
            "stages[1].block",
        ),
        (
            Box::new(|v| v["stages"][2]["block"]["kernel"] = json!(4)),
            "kernel must be odd",
        ),
        (
            Box::new(|v| v["knobs"]["ratio"]["mni"] = json!(1)),
            "knobs.ratio",
        ),
        (
            Box::new(|v| v["knobs"]["ratio"]["min"] = json!(5)),
            "knobs.ratio",
        ),
        (
            Box::new(|v| v["knobs"]["depth"] = json!([[1], [2]])),
            "knobs.depth",
        ),
        (
            Box::new(|v| v["knobs"]["depth"] = json!([[1], [2], [0], [1]])),
            "knobs.depth[2]",
        ),
        (
            Box::new(|v| v["stages"][1]["block"]["type"] = json!("inverted_residual")),
            "stages[1].block.type",
        ),
        (
            Box::new(|v| v["stages"][2]["block"]["out_channels"] = json!(8)),
            "stages[2].block.out_channels",
        ),
        (
            Box::new(|v| v["stages"][0]["width"] = json!(0)),
            "stages[0]",
        ),
        (
            Box::new(|v| v["stages"][0]["width"] = json!("wide")),
            "stages[0].width",
        ),
        (
            Box::new(|v| v["objectives"] = json!({"minimize": []})),
            "objectives",
        ),
        (
            Box::new(|v| v["objectives"] = json!({"minimize": ["speed"]})),
            "objectives.minimize",
        ),
        (
            Box::new(|v| v["knobs"]["groups"] = json!({"values": ["cm"]})),
            "knobs.groups",
        ),
        (
            Box::new(|v| v["setting"]["protocol"] = json!("tfhe")),
            "setting.protocol",
        ),
        (
            Box::new(|v| v["setting"]["link"] = json!("no-such-link")),
            "setting.link",
        ),
        (
            Box::new(|v| v["constraints"]["max_external"] = json!(0)),
            "constraints",
        ),
    ];
    for (i, (edit, field)) in cases.iter().enumerate() {
        let mut v = base.clone();
        edit(&mut v);
        let text = v.to_string();
        let e = match parse_space(&text, "bad.json") {
            Err(e) => e.to_string(),
            Ok(space) => match Compiled::new(space, &text, "bad.json", None) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("case {i} ({field}) was accepted"),
            },
        };
        assert!(e.starts_with("bad.json"), "case {i}: {e}");
        assert!(e.contains(field), "case {i}: expected `{field}` in: {e}");
    }
    // Through the CLI: a clear error, no panic.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.json");
    std::fs::write(&p, "{\"name\": 1").unwrap();
    let o = stria().arg("search").arg(&p).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("s.json") && !err.contains("panicked"), "{err}");
}

/// `configs/models/strianet-cifar10-matched.json` is the fastest point of the shipped CPAS
/// search front (seed 1, 1,000,000 random candidates, CrypTFlow2 LAN) with at least
/// ResNet-18's parameters (11.17 M); the search reproduces it exactly.
#[test]
fn matched_strianet_is_a_point_of_the_shipped_front() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(
        &root().join("configs/search/strianet-cifar10.json"),
        Some(Generator::Cpas),
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut o = opts(&out, Strategy::Random, 1_000_000, 2);
    o.seed = 1;
    o.keep_all = Some(false);
    let s = search(&c, &o).unwrap();
    let resnet18 = stria::net::load_network(&root().join("configs/models/resnet18-cifar10.json"))
        .unwrap()
        .params();
    let (seq, _, m) = s
        .front
        .iter()
        .filter(|p| p.2.params >= resnet18)
        .min_by(|a, b| a.2.latency_ms.total_cmp(&b.2.latency_ms))
        .expect("a front point with ResNet-18's capacity");
    let found = read(
        &out.join("best")
            .join(format!("strianet-cifar10-{seq}.json")),
    );
    let shipped = read(&root().join("configs/models/strianet-cifar10-matched.json"));
    assert_eq!(
        found.replace(
            &format!("strianet-cifar10-{seq}"),
            "strianet-cifar10-matched"
        ),
        shipped
    );
    assert_eq!(m.block_external_rot, 0);
}

/// `scripts/sweep-slurm.sh` under a stand-in `sbatch` that runs each job at once (array tasks
/// in turn): the merged front equals the unsharded run.
#[test]
fn slurm_sweep_script_runs_shards_and_merges() {
    let dir = tempfile::tempdir().unwrap();
    let space = small(dir.path());
    let fake = dir.path().join("sbatch");
    std::fs::write(
        &fake,
        r#"#!/bin/sh
array=""; wrap=""
while [ $# -gt 0 ]; do
  case "$1" in
    --array=*) array=${1#--array=} ;;
    --wrap) shift; wrap=$1 ;;
  esac
  shift
done
if [ -n "$array" ]; then
  i=${array%-*}; hi=${array#*-}
  while [ "$i" -le "$hi" ]; do SLURM_ARRAY_TASK_ID=$i sh -c "$wrap" >/dev/null || exit 1; i=$((i + 1)); done
else
  sh -c "$wrap" >/dev/null || exit 1
fi
echo 4242
"#,
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = dir.path().join("sweep");
    let o = std::process::Command::new("bash")
        .arg(root().join("scripts/sweep-slurm.sh"))
        .arg(&space)
        .arg("3")
        .args(["--strategy", "random", "--budget", "2500", "--seed", "7"])
        .env("SBATCH", &fake)
        .env("SWEEP_OUT", &out)
        .env("STRIA_BIN", env!("CARGO_BIN_EXE_stria"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let c = load(&space, None).unwrap();
    let whole = dir.path().join("whole");
    search(&c, &opts(&whole, Strategy::Random, 2500, 2)).unwrap();
    assert_eq!(
        read(&out.join("merged/pareto.csv")),
        read(&whole.join("pareto.csv"))
    );
    assert_eq!(
        read(&out.join("merged/all.csv")),
        read(&whole.join("all.csv"))
    );
}

/// `compare-fronts` on hand-made fronts: each reference point against the other front's lowest
/// latency at equal or larger parameter count.
#[test]
fn compare_fronts_hand_made() {
    let dir = tempfile::tempdir().unwrap();
    let p = small(dir.path());
    let c = load(&p, None).unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for d in [&a, &b] {
        search(&c, &opts(d, Strategy::Random, 10, 1)).unwrap();
    }
    std::fs::write(
        a.join("pareto.csv"),
        "seq,latency_ms,params\n0,5,10\n1,8,20\n2,12,40\n",
    )
    .unwrap();
    std::fs::write(
        b.join("pareto.csv"),
        "params,seq,latency_ms\n15,0,4\n30,1,9\n",
    )
    .unwrap();
    let (cost, cap, m) = stria::explore::fronts::compare(&a, &b).unwrap();
    assert_eq!((cost.as_str(), cap.as_str()), ("latency_ms", "params"));
    let got: Vec<(f64, Option<f64>)> = m.iter().map(|x| (x.capacity, x.ratio())).collect();
    assert_eq!(
        got,
        vec![(10.0, Some(0.8)), (20.0, Some(9.0 / 8.0)), (40.0, None)]
    );
    let text = stria::explore::fronts::compare_text(&a, &b).unwrap();
    assert!(text.contains("2 of 3 points matched"), "{text}");
    assert!(text.contains("the second is lower at 1 of them"), "{text}");
}

/// `--protocol` / `--link` override the space's setting and are part of the search's identity.
#[test]
fn protocol_and_link_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let p = small(dir.path());
    let base = load(&p, None).unwrap();
    let over = stria::explore::load_with(
        &p,
        None,
        Some(stria::packing::Protocol::Cheetah),
        Some("wan"),
    )
    .unwrap();
    assert_eq!(
        over.setting.count.protocol,
        stria::packing::Protocol::Cheetah
    );
    assert_eq!(over.setting.link.name, "wan");
    assert_ne!(base.fingerprint, over.fingerprint);
    let digits = vec![0u32; base.dims.len()];
    let (b, o) = (base.eval(&digits), over.eval(&digits));
    assert!(b.counts.rotations() > 0 && o.counts.rotations() == 0);
    // A checkpoint of the CrypTFlow2 search does not resume the Cheetah one.
    let out = dir.path().join("out");
    search(&base, &opts(&out, Strategy::Random, 100, 1)).unwrap();
    let mut o = opts(&out, Strategy::Random, 100, 1);
    o.resume = true;
    let e = search(&over, &o).unwrap_err();
    assert!(e.to_string().contains("another search"), "{e}");
}
