//! The `stria` binary end to end: `stria cost` on every shipped config under every protocol and
//! format, the CSV/JSON contract, `--output`, security warnings, user errors (no panics), and
//! `stria zoo`.

use assert_cmd::Command;
use clap::ValueEnum;
use serde_json::Value;
use std::path::{Path, PathBuf};
use stria::packing::Protocol;
use stria::report::{CSV_COLUMNS, CSV_EXTRA_COLUMNS};

/// The protocols the issue names; every other variant of [`Protocol`] is run as well.
const PROTOCOLS: [&str; 4] = ["cryptflow2", "gazelle-input", "gazelle-output", "gala"];
const FORMATS: [&str; 3] = ["table", "csv", "json"];
const HEADER: &str = "layer,kind,in_c,in_h,in_w,out_c,out_h,out_w,n,cn,internal_rot,external_rot,key_switch,scmult,add,ct_up,ct_down,bytes_up,bytes_down";
/// Index of the first count column (`internal_rot`) in the CSV.
const FIRST_COUNT: usize = 10;
/// The priced columns (decimal milliseconds); every other column after `cn` is an integer count.
const MS_COLUMNS: [&str; 3] = ["compute_ms", "comm_ms", "latency_ms"];

fn is_ms(name: &str) -> bool {
    MS_COLUMNS.contains(&name)
}

fn stria() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stria"));
    // Panic messages must not depend on the caller's environment.
    c.env_remove("RUST_BACKTRACE");
    c
}

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/models")
}

/// Every `*.json` in configs/models, sorted.
fn configs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(models_dir())
        .expect("configs/models exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no configs in {}", models_dir().display());
    v
}

/// Every protocol of the binary: the four of the issue first, then any further variant.
fn protocols() -> Vec<String> {
    let all: Vec<String> = Protocol::value_variants()
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    for p in PROTOCOLS {
        assert!(all.iter().any(|a| a == p), "protocol {p} is missing");
    }
    let mut v: Vec<String> = PROTOCOLS.iter().map(|s| s.to_string()).collect();
    v.extend(all.into_iter().filter(|a| !PROTOCOLS.contains(&a.as_str())));
    v
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = stria().args(args).output().expect("stria runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `stria cost <config> --protocol <p> --format <f>` and requires success.
fn cost(config: &Path, protocol: &str, format: &str, extra: &[&str]) -> Run {
    let path = config.to_str().unwrap();
    let mut args = vec!["cost", path, "--protocol", protocol, "--format", format];
    args.extend_from_slice(extra);
    let r = run(&args);
    assert_eq!(
        r.code,
        Some(0),
        "stria {} failed:\n{}",
        args.join(" "),
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    r
}

/// A user error: non-zero exit, `error:` on stderr, no panic.
#[track_caller]
fn fails(args: &[&str]) -> String {
    let r = run(args);
    assert_ne!(r.code, Some(0), "stria {} succeeded", args.join(" "));
    assert_ne!(
        r.code,
        Some(101),
        "stria {} panicked:\n{}",
        args.join(" "),
        r.stderr
    );
    assert!(
        r.code.is_some(),
        "stria {} was killed by a signal",
        args.join(" ")
    );
    assert!(
        !r.stderr.contains("panicked"),
        "stria {} panicked:\n{}",
        args.join(" "),
        r.stderr
    );
    r.stderr
}

/// Parsed CSV: the header and the records (the `total` row included).
fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header = rd.headers().unwrap().iter().map(String::from).collect();
    let rows = rd
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn is_plain_integer(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// Checks the CSV contract against the resolved network; returns the total row's counts by column.
fn check_csv(text: &str, config: &Path, protocol: &str) -> Vec<(String, u64)> {
    let what = format!("{} under {protocol}", config.display());
    assert!(
        text.starts_with(HEADER),
        "{what}: header is {:?}",
        text.lines().next()
    );
    assert!(text.ends_with('\n'), "{what}: no final newline");
    let (header, rows) = parse_csv(text);
    let expected_header: Vec<&str> = CSV_COLUMNS
        .iter()
        .chain(CSV_EXTRA_COLUMNS.iter())
        .copied()
        .collect();
    assert_eq!(header, expected_header, "{what}");
    let net = stria::net::load_network(config).unwrap();
    assert_eq!(
        rows.len(),
        net.layers.len() + 1,
        "{what}: one row per layer plus total"
    );
    let (total, layer_rows) = rows.split_last().unwrap();
    for (row, layer) in layer_rows.iter().zip(&net.layers) {
        assert_eq!(row.len(), header.len(), "{what}: {row:?}");
        assert_eq!(row[0], layer.path, "{what}");
        assert_eq!(row[1], layer.kind(), "{what}: {}", layer.path);
        let shape = [
            layer.input.c,
            layer.input.h,
            layer.input.w,
            layer.output.c,
            layer.output.h,
            layer.output.w,
        ];
        for (i, v) in shape.iter().enumerate() {
            assert_eq!(
                row[2 + i],
                v.to_string(),
                "{what}: {} {}",
                layer.path,
                header[2 + i]
            );
        }
        // n and cn: a plain integer, or empty for a layer with no HE work.
        for cell in &row[8..10] {
            assert!(
                cell.is_empty() || is_plain_integer(cell),
                "{what}: {} n/cn {cell:?}",
                layer.path
            );
        }
        for (i, cell) in row.iter().enumerate().skip(FIRST_COUNT) {
            if is_ms(&header[i]) {
                let v: f64 = cell.parse().unwrap_or_else(|_| panic!("{what}: {cell:?}"));
                assert!(v >= 0.0 && v.is_finite(), "{what}: {} {cell}", layer.path);
                continue;
            }
            assert!(
                is_plain_integer(cell),
                "{what}: {} {} = {cell:?}",
                layer.path,
                header[i]
            );
        }
    }
    assert_eq!(total[0], "total", "{what}: last row");
    assert!(
        total[1..FIRST_COUNT].iter().all(String::is_empty),
        "{what}: {total:?}"
    );
    let mut sums = Vec::new();
    for (i, name) in header.iter().enumerate().skip(FIRST_COUNT) {
        if is_ms(name) {
            // Decimal milliseconds: the total is the sum up to the printed rounding.
            let sum: f64 = layer_rows
                .iter()
                .map(|r| r[i].parse::<f64>().unwrap())
                .sum();
            let total_v: f64 = total[i].parse().unwrap();
            let tol = 1e-6 * (layer_rows.len() as f64 + 1.0) + 1e-9 * sum.abs();
            assert!(
                (total_v - sum).abs() <= tol,
                "{what}: total {name} {total_v} vs {sum}"
            );
            continue;
        }
        let sum: u64 = layer_rows
            .iter()
            .map(|r| r[i].parse::<u64>().unwrap())
            .sum();
        assert!(
            is_plain_integer(&total[i]),
            "{what}: total {name} = {:?}",
            total[i]
        );
        assert_eq!(
            total[i].parse::<u64>().unwrap(),
            sum,
            "{what}: total {name}"
        );
        sums.push((name.clone(), sum));
    }
    sums
}

/// Checks the JSON report against the CSV totals and rows.
fn check_json(text: &str, csv_text: &str, totals: &[(String, u64)], config: &Path, protocol: &str) {
    let what = format!("{} under {protocol}", config.display());
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    let net = stria::net::load_network(config).unwrap();
    assert_eq!(v["network"], net.name.as_str(), "{what}");
    assert_eq!(v["setting"]["count"]["protocol"], protocol, "{what}");
    let layers = v["layers"].as_array().expect("layers array");
    assert_eq!(layers.len(), net.layers.len(), "{what}");
    for (name, sum) in totals {
        assert_eq!(
            v["total"][name].as_u64(),
            Some(*sum),
            "{what}: JSON total {name}"
        );
    }
    let (header, rows) = parse_csv(csv_text);
    for (row, layer) in rows.iter().zip(layers) {
        assert_eq!(layer["layer"], row[0].as_str(), "{what}");
        assert_eq!(layer["kind"], row[1].as_str(), "{what}");
        for (i, name) in header.iter().enumerate().skip(2) {
            let cell = &row[i];
            let j = &layer[name.as_str()];
            if cell.is_empty() {
                assert!(j.is_null(), "{what}: {} {name} = {j}", row[0]);
            } else if is_ms(name) {
                let c: f64 = cell.parse().unwrap();
                let jv = j.as_f64().unwrap_or_else(|| panic!("{what}: {name} = {j}"));
                assert!(
                    (c - jv).abs() <= 1e-6 + 1e-9 * jv.abs(),
                    "{what}: {} {name}",
                    row[0]
                );
            } else {
                assert_eq!(
                    j.as_u64().map(|x| x.to_string()).as_deref(),
                    Some(cell.as_str()),
                    "{what}: {} {name}",
                    row[0]
                );
            }
        }
    }
}

#[test]
fn cost_every_config_every_protocol_every_format() {
    let configs = configs();
    // The 12 zoo models, the hand-written validate-small.json and sqnet.json, the three
    // capacity-matched StriaNets picked from `stria search` fronts, and the two DenseNet-121
    // graphs OpenCheetah's programs run (scripts/frameworks/program-spec.py).
    assert_eq!(configs.len(), 19, "{configs:?}");
    for config in &configs {
        for protocol in protocols() {
            let mut texts = Vec::new();
            for format in FORMATS {
                let r = cost(config, &protocol, format, &[]);
                assert!(
                    !r.stdout.is_empty(),
                    "{} {protocol} {format}",
                    config.display()
                );
                texts.push(r.stdout);
            }
            let net = stria::net::load_network(config).unwrap();
            // Table: the title names the network and protocol; one line per layer.
            let first = texts[0].lines().next().unwrap();
            assert!(
                first.starts_with(&format!("{} under {protocol}", net.name)),
                "{first}"
            );
            for l in &net.layers {
                assert!(
                    texts[0]
                        .lines()
                        .any(|line| line.starts_with(&format!("{} ", l.path))),
                    "{}: table has no line for {}",
                    config.display(),
                    l.path
                );
            }
            let totals = check_csv(&texts[1], config, &protocol);
            check_json(&texts[2], &texts[1], &totals, config, &protocol);
        }
    }
}

#[test]
fn output_writes_the_file_and_nothing_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let config = models_dir().join("resnet18-cifar10.json");
    for format in FORMATS {
        let expected = cost(&config, "cryptflow2", format, &[]).stdout;
        let out = dir.path().join("sub").join(format!("report.{format}"));
        let r = cost(
            &config,
            "cryptflow2",
            format,
            &["--output", out.to_str().unwrap()],
        );
        assert_eq!(r.stdout, "", "{format}: stdout must be empty with --output");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), expected, "{format}");
    }
    // Overwrites an existing file, leaves no temporary file behind.
    let out = dir.path().join("report.csv");
    std::fs::write(&out, "old contents").unwrap();
    cost(&config, "gala", "csv", &["--output", out.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&out).unwrap().starts_with(HEADER));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains("tmp")),
        "temporary file left: {names:?}"
    );
}

#[test]
fn output_into_an_unwritable_place_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // The parent is a regular file.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let out = blocker.join("report.csv");
    let config = models_dir().join("resnet18-cifar10.json");
    let e = fails(&[
        "cost",
        config.to_str().unwrap(),
        "--format",
        "csv",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(e.starts_with("error:"), "{e}");
    assert!(e.contains("report.csv"), "{e}");
}

#[test]
fn gazelle_variants_warn_about_security_but_succeed() {
    let config = models_dir().join("resnet18-cifar10.json");
    for p in ["gazelle-input", "gazelle-output", "gala"] {
        let r = cost(&config, p, "csv", &[]);
        assert!(r.stderr.starts_with("warning:"), "{p}: {}", r.stderr);
        assert!(r.stderr.contains("N = 2048"), "{p}: {}", r.stderr);
        assert!(r.stderr.contains("128-bit security"), "{p}: {}", r.stderr);
        assert!(!r.stderr.contains("error"), "{p}: {}", r.stderr);
        assert!(r.stdout.starts_with(HEADER), "{p}");
        // A secure degree: no warning.
        let r = cost(&config, p, "csv", &["--ring-degree", "4096"]);
        assert_eq!(r.stderr, "", "{p} at 4096");
    }
    for format in FORMATS {
        let r = cost(&config, "cryptflow2", format, &[]);
        assert_eq!(
            r.stderr, "",
            "cryptflow2 {format} must print nothing on stderr"
        );
    }
}

/// Writes `text` to `dir/name` and returns the path as a string.
fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn a_bad_config_reports_file_and_layer_path_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad-net.json",
        r#"{"name": "n", "input": {"channels": 3, "height": 8, "width": 8},
        "stages": [{"blocks": [{"type": "relu"}]},
                   {"blocks": [{"type": "relu"},
                               {"type": "block", "layers": [{"type": "conv", "name": "conv2", "out_channels": 4, "kernal": 3}]}]}]}"#,
    );
    for protocol in protocols() {
        for format in FORMATS {
            let e = fails(&["cost", &bad, "--protocol", &protocol, "--format", format]);
            assert!(e.contains("error:"), "{e}");
            assert!(e.contains("bad-net.json"), "{e}");
            assert!(e.contains("stages[1].blocks[1].conv2"), "{e}");
            assert!(e.contains("kernal"), "{e}");
        }
    }

    // A shape error found while building.
    let bad = write(
        dir.path(),
        "mismatch.json",
        r#"{"name": "n", "input": {"channels": 16, "height": 8, "width": 8},
        "layers": [{"type": "residual", "name": "res1",
                    "body": [{"type": "conv", "out_channels": 32, "kernel": 3, "stride": 2, "padding": 1}],
                    "shortcut": [{"type": "conv", "out_channels": 32, "kernel": 1}]}]}"#,
    );
    let e = fails(&["cost", &bad]);
    assert!(e.starts_with("error:"), "{e}");
    assert!(e.contains("mismatch.json") && e.contains("res1.add"), "{e}");

    // Not JSON at all.
    let bad = write(dir.path(), "notjson.json", "layers:\n  - conv\n");
    let e = fails(&["cost", &bad]);
    assert!(
        e.starts_with("error:") && e.contains("notjson.json") && e.contains("not valid JSON"),
        "{e}"
    );

    // A layer the protocol cannot run: the counting error names the file and the layer.
    let bad = write(
        dir.path(),
        "big-fc.json",
        r#"{"name": "n", "input": {"channels": 64, "height": 56, "width": 56},
            "layers": [{"type": "fc", "name": "classifier", "out_features": 10}]}"#,
    );
    for protocol in PROTOCOLS {
        let e = fails(&["cost", &bad, "--protocol", protocol]);
        // (Gazelle and GALA print their security warning first.)
        assert!(e.lines().any(|l| l.starts_with("error:")), "{e}");
        assert!(
            e.contains("big-fc.json") && e.contains("classifier"),
            "{protocol}: {e}"
        );
    }
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-net.json");
    let e = fails(&["cost", missing.to_str().unwrap()]);
    assert!(e.starts_with("error:"), "{e}");
    assert!(e.contains("no-such-net.json"), "{e}");
    // A directory instead of a file.
    let e = fails(&["cost", dir.path().to_str().unwrap()]);
    assert!(
        e.starts_with("error:") && e.contains(dir.path().to_str().unwrap()),
        "{e}"
    );
}

#[test]
fn ring_degree_must_be_a_supported_power_of_two() {
    let config = models_dir().join("resnet18-cifar10.json");
    let config = config.to_str().unwrap();
    for bad in ["3000", "512", "131072", "0"] {
        let e = fails(&["cost", config, "--ring-degree", bad]);
        assert!(e.contains("--ring-degree"), "{bad}: {e}");
        assert!(e.contains(bad), "{bad}: {e}");
    }
    for bad in ["-8192", "many"] {
        fails(&["cost", config, "--ring-degree", bad]);
    }
    for ok in ["1024", "8192", "65536"] {
        cost(
            Path::new(config),
            "cryptflow2",
            "csv",
            &["--ring-degree", ok],
        );
    }
}

#[test]
fn unknown_protocol_and_format_are_usage_errors() {
    let config = models_dir().join("resnet18-cifar10.json");
    let config = config.to_str().unwrap();
    let e = fails(&["cost", config, "--protocol", "gazelle"]);
    assert!(e.contains("gazelle-input"), "should list the choices: {e}");
    let e = fails(&["cost", config, "--format", "xml"]);
    assert!(e.contains("csv"), "should list the choices: {e}");
    fails(&["cost"]);
    fails(&["frobnicate"]);
}

#[test]
fn zoo_writes_the_committed_configs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("models");
    let r = run(&["zoo", "--output-dir", out.to_str().unwrap()]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stderr, "");
    let mut written: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    written.sort();
    assert_eq!(written.len(), 12, "{written:?}");
    // validate-small.json and sqnet.json are written by hand, the `-matched` StriaNets come
    // from searches and the DenseNet-121 specs from OpenCheetah's programs, not from the zoo.
    let committed: Vec<PathBuf> = configs()
        .into_iter()
        .filter(|p| {
            !p.ends_with("validate-small.json")
                && !p.ends_with("sqnet.json")
                && !p.to_string_lossy().contains("densenet121-")
                && !p.to_string_lossy().ends_with("-matched.json")
        })
        .collect();
    let names = |v: &[PathBuf]| -> Vec<String> {
        v.iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(names(&written), names(&committed));
    for (w, c) in written.iter().zip(&committed) {
        assert_eq!(
            std::fs::read_to_string(w).unwrap(),
            std::fs::read_to_string(c).unwrap(),
            "{} differs from the committed {}",
            w.display(),
            c.display()
        );
    }
    // stdout lists the written paths, one a line.
    let mut listed: Vec<PathBuf> = r.stdout.lines().map(PathBuf::from).collect();
    listed.sort();
    assert_eq!(listed, written);
}

#[test]
fn the_minimal_files_of_the_issue_work() {
    let dir = tempfile::tempdir().unwrap();
    let one_conv = write(
        dir.path(),
        "one-conv.json",
        r#"{"name": "one-conv", "input": {"channels": 64, "height": 56, "width": 56}, "layers": [{"type": "conv", "out_channels": 256, "kernel": 1, "stride": 1, "padding": 0}]}"#,
    );
    // The fc layer on a classifier-sized input (ResNet-50's pooled 2048 features, 1001 classes).
    let one_fc = write(
        dir.path(),
        "one-fc.json",
        r#"{"name": "one-fc", "input": {"channels": 2048, "height": 1, "width": 1}, "layers": [{"type": "fc", "out_features": 1001}]}"#,
    );
    for (path, kind, out) in [
        (&one_conv, "conv1x1", [256, 56, 56]),
        (&one_fc, "fc", [1001, 1, 1]),
    ] {
        for protocol in protocols() {
            let r = cost(Path::new(path), &protocol, "csv", &[]);
            let (_, rows) = parse_csv(&r.stdout);
            assert_eq!(rows.len(), 2, "{path} {protocol}: one layer and the total");
            assert_eq!(rows[0][0], "layers[0]");
            assert_eq!(rows[0][1], kind);
            let got: Vec<u32> = rows[0][5..8].iter().map(|c| c.parse().unwrap()).collect();
            assert_eq!(got, out, "{path} {protocol}");
            // The layer does HE work: some ScMult and one ciphertext each way at least.
            let scmult: u64 = rows[0][13].parse().unwrap();
            assert!(scmult > 0, "{path} {protocol}: no ScMult");
            assert_eq!(
                rows[1][FIRST_COUNT..],
                rows[0][FIRST_COUNT..],
                "{path} {protocol}: total"
            );
            cost(Path::new(path), &protocol, "table", &[]);
            cost(Path::new(path), &protocol, "json", &[]);
        }
    }
}

/// Huge but well-formed layers (sides of 2^32 - 1, 2^32 - 1 channels, 20000-tap kernels) are
/// rejected by the spec limits with a message, never counted into an overflow or a panic.
#[test]

fn huge_layers_are_rejected_not_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        r#"{"name": "b", "input": {"channels": 1, "height": 4294967295, "width": 4294967295}, "layers": [{"type": "conv", "out_channels": 1, "kernel": 1}]}"#,
        r#"{"name": "b", "input": {"channels": 4294967295, "height": 65536, "width": 65536}, "layers": [{"type": "conv", "out_channels": 4294967295, "kernel": 1}]}"#,
        r#"{"name": "b", "input": {"channels": 4294967295, "height": 1, "width": 1}, "layers": [{"type": "conv", "out_channels": 4294967295, "kernel": [20000, 1], "stride": [20000, 1], "padding": [10000, 10000, 0, 0]}]}"#,
    ];
    for (i, text) in cases.iter().enumerate() {
        let f = write(dir.path(), &format!("huge{i}.json"), text);
        for protocol in PROTOCOLS {
            let r = run(&["cost", &f, "--protocol", protocol, "--format", "csv"]);
            assert!(
                !r.stderr.contains("panicked"),
                "huge{i} under {protocol}: {}",
                r.stderr
            );
        }
    }
}
