//! `stria measured` on the committed OpenCheetah runs (`results/measured/`): the logs parse, and
//! where stria's model is exact to the code the prediction equals the measured traffic.

mod support;
use support::{root, stria};

use std::path::{Path, PathBuf};
use stria::eval::Setting;
use stria::net::load_network;
use stria::report::measured::{compare, default_spec, predict, protocol_of, read_run};

fn run_dir(name: &str) -> PathBuf {
    root().join("results/measured").join(name)
}

/// Rows of one committed run against stria's prediction for it (lan link, the run's threads).
fn rows(name: &str) -> Vec<stria::report::measured::KindRow> {
    let run = read_run(&run_dir(name)).unwrap();
    let net = load_network(&default_spec(&run, &root()).unwrap()).unwrap();
    let mut s = Setting::new(
        protocol_of(&run).unwrap(),
        stria::cost::price::Link::preset("lan").unwrap(),
    );
    s.count.cheetah.plain_bits = s.nonlinear.l;
    stria::report::measured::adapt(&run, &mut s);
    compare(&run, &predict(&net, &s, None).unwrap(), None).unwrap()
}

fn err(rows: &[stria::report::measured::KindRow], kind: &str) -> f64 {
    rows.iter()
        .find(|r| r.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} row"))
        .bytes_error_pct
        .unwrap()
}

#[test]
fn logs_parse() {
    let run = read_run(&run_dir("sqnet-SCI_HE-loopback-t1")).unwrap();
    assert_eq!(
        (run.net.as_str(), run.protocol.as_str(), run.threads),
        ("sqnet", "SCI_HE", 1)
    );
    assert!(run.complete);
    // The server's own totals: 891.028 MiB sent, 382.4 s.
    assert_eq!(
        run.total_server_bytes,
        Some((891.028f64 * 1048576.0).round() as u64)
    );
    assert_eq!(
        run.server_bytes["Relu"],
        (271.632f64 * 1048576.0).round() as u64
    );
    assert_eq!(
        run.client_bytes["Maxpool"],
        (2173.82f64 * 1048576.0).round() as u64
    );
    assert!(run.seconds["Conv"] > 0.0);
    let r50 = read_run(&run_dir("resnet50-cheetah-loopback-t2")).unwrap();
    assert_eq!((r50.protocol.as_str(), r50.threads), ("cheetah", 2));
    // Per-kind traffic adds up to each party's total, as the programs print it.
    for run in [&run, &r50] {
        let s: u64 = run.server_bytes.values().sum();
        let total = run.total_server_bytes.unwrap() as f64;
        assert!(
            (s as f64 - total).abs() / total < 0.001,
            "{}",
            run.dir.display()
        );
    }
}

#[test]
fn sci_he_nonlinear_traffic_is_exact() {
    // SCI_HE's ReLU, truncation, max-pool, average pool and argmax are counted from SCI's code:
    // equal to the log's MiB to the digits it prints.
    let r = rows("sqnet-SCI_HE-loopback-t1");
    for kind in ["Relu", "Maxpool", "Truncation"] {
        assert!(err(&r, kind).abs() < 0.01, "{kind}: {}", err(&r, kind));
    }
    for kind in ["Avgpool", "ArgMax"] {
        assert!(err(&r, kind).abs() < 0.01, "{kind}: {}", err(&r, kind));
    }
    // ResNet-50 on 2 threads: ReLU, max-pool and argmax too.
    let r = rows("resnet50-SCI_HE-loopback-t2");
    for kind in ["Relu", "Maxpool", "ArgMax"] {
        assert!(err(&r, kind).abs() < 0.01, "{kind}: {}", err(&r, kind));
    }
    // HE traffic of OpenCheetah's SCI_HE build (keys as an expected compressed size).
    for kind in ["Conv", "BatchNorm", "MatMul"] {
        assert!(err(&r, kind).abs() < 0.05, "{kind}: {}", err(&r, kind));
    }
    // The truncations and the average pool (a division by 49 on 2 threads) too, and the total.
    for kind in ["Truncation", "Avgpool"] {
        assert!(err(&r, kind).abs() < 0.01, "{kind}: {}", err(&r, kind));
    }
    let total = r.iter().find(|x| x.kind == "total").unwrap();
    assert!(total.bytes_error_pct.unwrap().abs() < 0.001);
    // DenseNet-121 on 2 threads (its graph converted from the program by
    // scripts/frameworks/program-spec.py; the concatenations truncate their convolution operand):
    // every kind and the total.
    let r = rows("densenet121-SCI_HE-loopback-t2");
    for kind in [
        "Relu",
        "Maxpool",
        "Truncation",
        "Avgpool",
        "ArgMax",
        "total",
    ] {
        assert!(err(&r, kind).abs() < 0.01, "{kind}: {}", err(&r, kind));
    }
    for kind in ["Conv", "BatchNorm"] {
        assert!(err(&r, kind).abs() < 0.05, "{kind}: {}", err(&r, kind));
    }
}

#[test]
fn cheetah_convolution_traffic_matches() {
    // Cheetah's HE bytes follow OpenCheetah's wire format (compressed sizes as an expected value).
    for name in ["sqnet-cheetah-loopback-t1", "resnet50-cheetah-loopback-t2"] {
        let r = rows(name);
        assert!(err(&r, "Conv").abs() < 0.1, "{name}: {}", err(&r, "Conv"));
    }
    // ResNet-50 (2 threads, Ferret refills replayed): every kind, the total too (the FC's few
    // compressed ciphertexts within 0.05%).
    // The kinds of a Cheetah run but its linear layers.
    const KINDS: [&str; 7] = [
        "BatchNorm",
        "Relu",
        "Truncation",
        "Maxpool",
        "Avgpool",
        "ArgMax",
        "total",
    ];
    let r = rows("resnet50-cheetah-loopback-t2");
    assert!(err(&r, "MatMul").abs() < 0.05, "{}", err(&r, "MatMul"));
    for kind in KINDS {
        assert!(err(&r, kind).abs() < 0.01, "{kind}: {}", err(&r, kind));
    }
    // DenseNet-121, both thread counts: its batch norms all take the CRT SIMD protocol (the
    // program never tests for the coefficient-encoded one), its concatenations truncate.
    for name in [
        "densenet121-cheetah-loopback-t1",
        "densenet121-cheetah-loopback-t2",
    ] {
        let r = rows(name);
        for kind in std::iter::once("Conv").chain(KINDS) {
            assert!(
                err(&r, kind).abs() < 0.05,
                "{name} {kind}: {}",
                err(&r, kind)
            );
        }
    }
}

#[test]
fn command_prints_the_table_and_csv() {
    let dir = run_dir("sqnet-SCI_HE-loopback-t1");
    let out = stria(&["measured", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("sqnet-SCI_HE-loopback-t1  Relu"), "{text}");
    assert!(text.contains("MAPE over kinds: bytes"), "{text}");
    let out = stria(&["measured", dir.to_str().unwrap(), "--format", "csv"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with(
        "run,kind,predicted_bytes,measured_bytes,bytes_error_pct,predicted_s,measured_s,time_error_pct"
    ));
    // A directory without logs is a clear error.
    let out = stria(&["measured", "configs"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("machine.txt"), "{err}");
}

#[test]
fn default_specs_name_the_graphs_the_programs_run() {
    let spec = |name: &str| {
        let run = read_run(&run_dir(name)).unwrap();
        default_spec(&run, Path::new("/r")).unwrap()
    };
    assert_eq!(
        spec("sqnet-SCI_HE-loopback-t1"),
        Path::new("/r/configs/models/sqnet.json")
    );
    assert_eq!(
        spec("resnet50-cheetah-loopback-t2"),
        Path::new("/r/configs/models/resnet50-cheetah.json")
    );
    assert_eq!(
        spec("densenet121-SCI_HE-loopback-t2"),
        Path::new("/r/configs/models/densenet121-cf2.json")
    );
    assert_eq!(
        spec("densenet121-cheetah-loopback-t1"),
        Path::new("/r/configs/models/densenet121-cheetah.json")
    );
}

#[test]
fn plot_measured_draws_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("m.png");
    let runs: Vec<String> = [
        "sqnet-SCI_HE-loopback-t1",
        "sqnet-cheetah-loopback-t1",
        "resnet50-cheetah-loopback-t2",
    ]
    .iter()
    .map(|r| run_dir(r).display().to_string())
    .collect();
    let png_s = png.display().to_string();
    let mut args = vec!["plot", "measured"];
    args.extend(runs.iter().map(String::as_str));
    args.extend(["-o", &png_s]);
    let out = stria(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Integration tests run in the package root, where the shipped specs are.
    let dirs: Vec<PathBuf> = runs.iter().map(PathBuf::from).collect();
    let data = stria::plot::measured_data(&dirs, None).unwrap();
    assert_eq!(data.series.len(), 3);
    // sqnet SCI_HE: Conv, Truncation, Relu, Maxpool, Avgpool, ArgMax.
    assert_eq!(data.series[0].points.len(), 6);
    assert!(data.text[0].contains("traffic"));
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);
    // With the time model: seconds per kind, the measured ones the server's.
    let model = root().join("results/measured/time-model.json");
    let data = stria::plot::measured_data(&dirs, Some(&model)).unwrap();
    assert!(data.text[0].contains("seconds"));
    let relu = data.series[0]
        .points
        .iter()
        .find(|p| p.layer == "Relu")
        .unwrap();
    let run = read_run(&dirs[0]).unwrap();
    assert_eq!(relu.measured, run.seconds["Relu"]);
    assert!(relu.predicted > 0.0);
}

/// The convolutions the programs log (`Conv2DCSF k called ...` under SCI_HE, `HomConv #k called
/// ...` under Cheetah: input channels, kernel, output channels, stride), in order, are those of
/// the shipped spec `stria measured` predicts with.
#[test]
fn logged_convolutions_are_the_specs() {
    for name in [
        "sqnet-SCI_HE-loopback-t1",
        "sqnet-cheetah-loopback-t1",
        "resnet50-cheetah-loopback-t2",
        "resnet50-SCI_HE-loopback-t2",
        "densenet121-cheetah-loopback-t2",
        "densenet121-SCI_HE-loopback-t2",
    ] {
        let run = read_run(&run_dir(name)).unwrap();
        let log = std::fs::read_to_string(run_dir(name).join("server.log")).unwrap();
        let field = |line: &str, key: &str| -> u32 {
            let at = line.find(&format!(" {key}=")).unwrap() + key.len() + 2;
            line[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let logged: Vec<(u32, u32, u32, u32, u32)> = log
            .lines()
            .filter(|l| {
                (l.starts_with("Conv2DCSF ") || l.starts_with("HomConv #"))
                    && l.contains(" called ")
            })
            .map(|l| {
                (
                    field(l, "CI"),
                    field(l, "FH"),
                    field(l, "FW"),
                    field(l, "CO"),
                    field(l, "S"),
                )
            })
            .collect();
        let net = load_network(&default_spec(&run, &root()).unwrap()).unwrap();
        let ours: Vec<(u32, u32, u32, u32, u32)> = net
            .layers
            .iter()
            .filter_map(|l| match &l.op {
                stria::net::Op::Conv(c) => Some((l.input.c, c.kh, c.kw, l.output.c, c.sh)),
                _ => None,
            })
            .collect();
        assert_eq!(logged, ours, "{name}");
    }
}

fn stria_in_root(args: &[&str]) -> String {
    let out = stria(args);
    assert!(
        out.status.success(),
        "stria {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn committed_runs(prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("results/measured"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            (name.starts_with(prefix) && run_dir(&name).join("machine.txt").exists())
                .then(|| format!("results/measured/{name}"))
        })
        .collect();
    v.sort();
    v
}

/// `stria measured RUNS --fit-time FILE`: the fitted model, as JSON.
fn fit_time(runs: &[String], out: &Path) -> serde_json::Value {
    let out_s = out.display().to_string();
    let mut args = vec!["measured"];
    args.extend(runs.iter().map(String::as_str));
    args.extend([
        "--fit-time",
        &out_s,
        "--seal-profile",
        "results/measured/seal-profile.json",
    ]);
    let table = stria_in_root(&args);
    assert!(
        table.contains("set-up") && table.contains("Relu"),
        "{table}"
    );
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

/// `stria measured RUNS --time-model FILE`: each run's (name, end-to-end time error in %).
fn total_errors(runs: &[String], model: &str) -> Vec<(String, f64)> {
    let mut args = vec!["measured"];
    args.extend(runs.iter().map(String::as_str));
    args.extend(["--time-model", model, "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stria_in_root(&args)).unwrap();
    rows.iter()
        .filter(|r| r["kind"] == "total")
        .map(|r| {
            (
                r["run"].as_str().unwrap().to_string(),
                r["time_error_pct"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// The committed time model is the fit of the committed SqueezeNet runs with the committed SEAL
/// profile, and it predicts the end-to-end time of every held-out run (ResNet-50, DenseNet-121)
/// within 15%.
#[test]
fn time_model_refits_from_the_logs_and_predicts_the_held_out_runs() {
    let dir = tempfile::tempdir().unwrap();
    let sqnet = committed_runs("sqnet-");
    assert_eq!(sqnet.len(), 4, "{sqnet:?}");
    let fitted = fit_time(&sqnet, &dir.path().join("time-model.json"));
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("results/measured/time-model.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        fitted, committed,
        "results/measured/time-model.json is not the fit of the committed logs: rerun \
         scripts/reproduce.sh"
    );
    let held: Vec<String> = committed_runs("")
        .into_iter()
        .filter(|r| !sqnet.contains(r))
        .collect();
    assert_eq!(held.len(), 8, "{held:?}");
    let errors = total_errors(&held, "results/measured/time-model.json");
    assert_eq!(errors.len(), held.len());
    for (run, e) in errors {
        assert!(e.abs() < 15.0, "{run}: end-to-end time error {e:.1}%");
    }
}

/// Leave one network out: a model fitted on the other networks' runs predicts the runs of the
/// network left out; `results/measured/time-heldout.csv` holds those errors, regenerated here.
#[test]
fn held_out_time_errors_are_the_committed_table() {
    let dir = tempfile::tempdir().unwrap();
    let all = committed_runs("");
    let net = |r: &str| {
        r.trim_start_matches("results/measured/")
            .split('-')
            .next()
            .unwrap()
            .to_string()
    };
    let mut nets: Vec<String> = all.iter().map(|r| net(r)).collect();
    nets.dedup();
    assert_eq!(nets, ["densenet121", "resnet50", "sqnet"]);
    let mut got = Vec::new();
    for n in &nets {
        let (held, others): (Vec<String>, Vec<String>) =
            all.iter().cloned().partition(|r| net(r) == *n);
        let model = dir.path().join(format!("{n}.json"));
        fit_time(&others, &model);
        let model_s = model.display().to_string();
        got.extend(total_errors(&held, &model_s));
    }
    let table = std::fs::read_to_string(root().join("results/measured/time-heldout.csv")).unwrap();
    let committed: Vec<(String, f64)> = table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("run,"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[4].parse().unwrap())
        })
        .collect();
    assert_eq!(got.len(), committed.len(), "{committed:?}");
    for ((run, e), (crun, ce)) in got.iter().zip(&committed) {
        assert_eq!(run, crun);
        assert!(
            (e - ce).abs() < 0.051,
            "{run}: {e:.2}% against the table's {ce}%"
        );
    }
}
