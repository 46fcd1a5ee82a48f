//! `stria plot`: every kind writes a PNG (signature, IHDR size) or an SVG holding the data.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use stria::packing::Protocol;
use stria::plot::{
    Candidate, CompareData, CompareEntry, ParetoData, ParetoSeries, ValidationData,
    ValidationPoint, ValidationSeries,
};

fn root(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn small() -> PathBuf {
    root("configs/models/validate-small.json")
}

const PNG_SIG: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

/// Width and height from the IHDR chunk, after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert!(b.len() > 33, "{} is too short for a PNG", path.display());
    assert_eq!(b[..8], PNG_SIG, "{} is not a PNG", path.display());
    assert_eq!(&b[12..16], b"IHDR");
    let w = u32::from_be_bytes(b[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(b[20..24].try_into().unwrap());
    (w, h)
}

/// The SVG text, after a shallow well-formedness check (one root, tags balanced).
fn svg(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap();
    assert!(
        s.starts_with("<svg"),
        "not an SVG: {}",
        &s[..s.len().min(80)]
    );
    assert!(s.trim_end().ends_with("</svg>"));
    assert_eq!(s.matches("<text").count(), s.matches("</text>").count());
    assert_eq!(s.matches("<svg").count(), 1);
    s
}

/// `<rect>` elements filled with `color` (e.g. `#2CA02C`).
fn rects(s: &str, color: &str) -> usize {
    s.lines()
        .filter(|l| l.starts_with("<rect") && l.contains(&format!("fill=\"{color}\"")))
        .count()
}

fn circles(s: &str, color: &str) -> usize {
    s.lines()
        .filter(|l| l.starts_with("<circle") && l.contains(&format!("\"{color}\"")))
        .count()
}

/// Text of every `<text>` element.
fn texts(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("<text") {
        let body = &rest[i..];
        let open = body.find('>').unwrap() + 1;
        let close = body.find("</text>").unwrap();
        out.push(body[open..close].trim().to_string());
        rest = &body[close..];
    }
    out
}

const BLUE: &str = "#1F77B4";
const ORANGE: &str = "#FF7F0E";
const GREEN: &str = "#2CA02C";

#[test]
fn layers_svg_has_one_bar_per_he_layer_and_the_names() {
    let dir = tempfile::tempdir().unwrap();
    let data = stria::plot::layers_data(&small(), Protocol::Cryptflow2, "lan").unwrap();
    let n = data.layers.len();
    assert!(n >= 5, "validate-small has several HE layers, got {n}");
    let out = dir.path().join("layers.svg");
    stria::plot::draw_layers(&data, &out).unwrap();
    let s = svg(&out);
    // One scmult bar per HE layer plus the legend swatch.
    assert_eq!(rects(&s, GREEN), n + 1);
    assert_eq!(rects(&s, BLUE), n + 1);
    let t = texts(&s);
    for name in ["conv3x3", "conv3x3_s2", "depthwise", "fc"] {
        assert!(t.iter().any(|x| x == name), "no <text> {name}");
    }
    // Layers without HE work are left out.
    assert!(!t.iter().any(|x| x == "relu1" || x == "pool"));
    assert!(t.iter().any(|x| x.contains("validate-small")));
}

#[test]
fn layers_png_has_the_expected_size() {
    let dir = tempfile::tempdir().unwrap();
    let data = stria::plot::layers_data(&small(), Protocol::Cheetah, "wan").unwrap();
    let out = dir.path().join("sub/layers.png");
    stria::plot::draw_layers(&data, &out).unwrap();
    let (w, h) = png_size(&out);
    assert_eq!(w, 1800);
    assert_eq!(h, (230 + 24 * data.layers.len() as u32).max(520));
    // Nothing but the image is left in the directory (atomic write).
    let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["layers.png"]);
}

#[test]
fn packing_draws_both_packings() {
    let dir = tempfile::tempdir().unwrap();
    let data = stria::plot::packing_data(&small()).unwrap();
    assert_eq!(data.series.len(), 2);
    assert_eq!(data.series[0].protocol, "cryptflow2");
    assert_eq!(data.series[1].protocol, "cheetah");
    let cf2 = data.series[0].points.len();
    assert!(cf2 >= 5);
    let out = dir.path().join("packing.svg");
    stria::plot::draw_packing(&data, &out).unwrap();
    let s = svg(&out);
    // CrypTFlow2 points are circles in each of the two panels, plus the legend.
    assert_eq!(circles(&s, BLUE), 2 * cf2 + 1);
    assert!(texts(&s).iter().any(|t| t.contains("validate-small")));
    let png = dir.path().join("packing.png");
    stria::plot::draw_packing(&data, &png).unwrap();
    assert_eq!(png_size(&png), (1500, 1000));
}

#[test]
fn compare_stacks_three_parts_that_sum_to_the_latency() {
    let dir = tempfile::tempdir().unwrap();
    let data = stria::plot::compare_data(
        &[small()],
        &[Protocol::Cryptflow2, Protocol::Cheetah],
        &["lan".into(), "wan".into()],
    )
    .unwrap();
    assert_eq!(data.entries.len(), 4);
    // The split adds up to the priced latency of `stria compare`.
    let net = stria::net::load_network(&small()).unwrap();
    for e in &data.entries {
        let p = if e.protocol == "cheetah" {
            Protocol::Cheetah
        } else {
            Protocol::Cryptflow2
        };
        let mut s =
            stria::eval::Setting::new(p, stria::cost::price::Link::preset(&e.link).unwrap());
        s.profile = stria::cost::price::CostProfile::default_profile();
        let evals = stria::eval::evaluate(&net, &s).unwrap();
        let total = stria::eval::Totals::of(&evals).price.latency_ms;
        assert!(
            (e.total_ms() - total).abs() <= 1e-6 * total.max(1.0),
            "{e:?}: {} vs {total}",
            e.total_ms()
        );
        assert!(e.compute_ms > 0.0 && e.he_comm_ms > 0.0 && e.nonlinear_ms > 0.0);
    }
    let out = dir.path().join("compare.svg");
    stria::plot::draw_compare(&data, &out).unwrap();
    let s = svg(&out);
    for c in [BLUE, ORANGE, GREEN] {
        assert_eq!(rects(&s, c), 4 + 1, "{c}");
    }
    let t = texts(&s);
    assert!(t.iter().any(|x| x == "validate-small"));
    assert!(t.iter().any(|x| x == "Cheetah WAN"));
}

#[test]
fn compare_of_known_data_draws_a_panel_per_network() {
    let dir = tempfile::tempdir().unwrap();
    let entry = |network: &str, protocol: &str, ms: f64| CompareEntry {
        network: network.into(),
        protocol: protocol.into(),
        link: "lan".into(),
        compute_ms: ms,
        he_comm_ms: ms / 2.0,
        nonlinear_ms: ms / 4.0,
    };
    let data = CompareData {
        entries: vec![
            entry("net-a", "cryptflow2", 400.0),
            entry("net-a", "cheetah", 100.0),
            entry("net-b", "cryptflow2", 40_000.0),
            entry("net-b", "cheetah", 8_000.0),
        ],
    };
    let out = dir.path().join("c.png");
    stria::plot::draw_compare(&data, &out).unwrap();
    let (w, h) = png_size(&out);
    assert!(w >= 1000 && h >= 500, "{w}x{h}");
    let out = dir.path().join("c.svg");
    stria::plot::draw_compare(&data, &out).unwrap();
    let t = texts(&svg(&out));
    assert!(t.iter().any(|x| x == "net-a") && t.iter().any(|x| x == "net-b"));
    // Totals above the bars: ms for the small network, s for the large one.
    assert!(t.iter().any(|x| x == "700 ms"), "{t:?}");
    assert!(t.iter().any(|x| x == "70 s"), "{t:?}");
}

const SEARCH_HEAD: &str = "extra,macs,latency_ms,feasible,params,generator,comm_bytes";

fn write_search(dir: &Path, rows_all: Option<&[&str]>, rows_front: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    let body = |rows: &[&str]| format!("{SEARCH_HEAD}\n{}\n", rows.join("\n"));
    if let Some(all) = rows_all {
        std::fs::write(dir.join("all.csv"), body(all)).unwrap();
    }
    std::fs::write(dir.join("pareto.csv"), body(rows_front)).unwrap();
}

#[test]
fn pareto_reads_columns_by_name_and_draws_every_candidate() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("cpas");
    let b = dir.path().join("uniform");
    let all = [
        "x,100,1200.5,true,1000000,cpas,5",
        "x,100,900,true,500000,cpas,5",
        "x,100,3000,false,2000000,cpas,5",
        "x,100,1500,true,3000000,cpas,5",
    ];
    let front = [
        "x,100,900,true,500000,cpas,5",
        "x,100,1200.5,true,1000000,cpas,5",
        "x,100,1500,true,3000000,cpas,5",
    ];
    write_search(&a, Some(&all), &front);
    // No all.csv: the front alone.
    write_search(
        &b,
        None,
        &[
            "y,1,2000,true,800000,uniform,7",
            "y,1,2500,true,2500000,uniform,7",
        ],
    );
    let data = stria::plot::pareto_data(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(data.series.len(), 2);
    assert_eq!(data.series[0].label, "cpas");
    assert_eq!(data.series[0].all.len(), 4);
    assert_eq!(data.series[0].front.len(), 3);
    assert_eq!(data.series[1].label, "uniform");
    assert!(data.series[1].all.is_empty());
    assert_eq!(
        data.series[0].all[0],
        Candidate {
            generator: "cpas".into(),
            feasible: true,
            latency_ms: 1200.5,
            comm_bytes: 5,
            params: 1_000_000,
            macs: 100,
        }
    );
    let out = dir.path().join("pareto.svg");
    stria::plot::draw_pareto(&data, &out).unwrap();
    let s = svg(&out);
    // cpas: 3 feasible dots + 1 legend dot + 3 front rings; uniform: 2 front rings.
    assert_eq!(circles(&s, BLUE), 3 + 1 + 3);
    assert_eq!(circles(&s, ORANGE), 2);
    let t = texts(&s);
    assert!(
        t.iter().any(|x| x.starts_with("cpas: infeasible (1)")),
        "{t:?}"
    );
    assert!(t.iter().any(|x| x.starts_with("uniform: Pareto front (2)")));
    let png = dir.path().join("pareto.png");
    stria::plot::draw_pareto(&data, &png).unwrap();
    assert_eq!(png_size(&png), (1400, 950));
}

#[test]
fn pareto_of_known_data_and_same_generator_in_two_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let c = |g: &str, ms: f64, p: u64| Candidate {
        generator: g.into(),
        feasible: true,
        latency_ms: ms,
        comm_bytes: 0,
        params: p,
        macs: 0,
    };
    let data = ParetoData {
        series: vec![ParetoSeries {
            label: "cpas".into(),
            generator: "cpas".into(),
            all: vec![c("cpas", 10.0, 1000)],
            front: vec![c("cpas", 10.0, 1000)],
        }],
    };
    stria::plot::draw_pareto(&data, &dir.path().join("k.png")).unwrap();
    let (a, b) = (dir.path().join("run1"), dir.path().join("run2"));
    write_search(&a, None, &["x,1,10,true,1000,cpas,1"]);
    write_search(&b, None, &["x,1,12,true,900,cpas,1"]);
    let data = stria::plot::pareto_data(&[a, b]).unwrap();
    let labels: Vec<_> = data.series.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["run1: cpas", "run2: cpas"]);
}

#[test]
fn pareto_errors_name_the_file_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("s");
    std::fs::create_dir_all(&d).unwrap();
    let e = stria::plot::pareto_data(std::slice::from_ref(&d)).unwrap_err();
    assert!(format!("{e:#}").contains("missing pareto.csv"), "{e:#}");
    std::fs::write(
        d.join("pareto.csv"),
        "generator,feasible,latency_ms,params,macs\ncpas,true,1,2,3\n",
    )
    .unwrap();
    let e = format!(
        "{:#}",
        stria::plot::pareto_data(std::slice::from_ref(&d)).unwrap_err()
    );
    assert!(
        e.contains("pareto.csv") && e.contains("`comm_bytes`"),
        "{e}"
    );
    std::fs::write(
        d.join("pareto.csv"),
        format!("{SEARCH_HEAD}\nx,1,fast,true,2,cpas,3\n"),
    )
    .unwrap();
    let e = format!("{:#}", stria::plot::pareto_data(&[d]).unwrap_err());
    assert!(
        e.contains("line 2") && e.contains("latency_ms") && e.contains("fast"),
        "{e}"
    );
}

#[test]
fn validation_reports_mape_and_draws_each_layer() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("run.csv");
    // Errors |measured - predicted| / measured: 10%, 20% and 0%, so the MAPE is 10%.
    std::fs::write(
        &f,
        "kind,measured_ms,layer,predicted_ms\nc,100,conv_a,90\nc,50,conv_b,60\nc,10,conv_c,10\n",
    )
    .unwrap();
    let series = stria::plot::read_validation(&f).unwrap();
    assert_eq!(series.label, "run");
    assert_eq!(series.points.len(), 3);
    assert!((series.mape() - 10.0).abs() < 1e-9, "{}", series.mape());
    let shipped =
        stria::plot::read_validation(&root("results/validate/cheetah/validate.csv")).unwrap();
    assert_eq!(shipped.label, "cheetah");
    let data = stria::plot::validation_data(std::slice::from_ref(&f)).unwrap();
    let out = dir.path().join("v.svg");
    stria::plot::draw_validation(&data, &out).unwrap();
    let s = svg(&out);
    assert_eq!(circles(&s, BLUE), 3 + 1);
    let t = texts(&s);
    assert!(t.iter().any(|x| x.contains("MAPE 10.0%")), "{t:?}");
    for l in ["conv_a", "conv_b", "conv_c"] {
        assert!(t.iter().any(|x| x == l), "{l}");
    }
    let data = ValidationData {
        series: vec![
            series,
            ValidationSeries {
                label: "cheetah".into(),
                points: vec![ValidationPoint {
                    layer: "x".into(),
                    predicted: 1.0,
                    measured: 2.0,
                }],
            },
        ],
        text: stria::plot::VALIDATION_TEXT,
    };
    let png = dir.path().join("v.png");
    stria::plot::draw_validation(&data, &png).unwrap();
    assert_eq!(png_size(&png), (1100, 1000));
}

#[test]
fn validation_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("v.csv");
    std::fs::write(&f, "layer,predicted_ms\na,1\n").unwrap();
    let e = format!("{:#}", stria::plot::read_validation(&f).unwrap_err());
    assert!(e.contains("v.csv") && e.contains("`measured_ms`"), "{e}");
    let e = format!(
        "{:#}",
        stria::plot::read_validation(&dir.path().join("nope.csv")).unwrap_err()
    );
    assert!(e.contains("nope.csv"), "{e}");
    std::fs::write(&f, "layer,predicted_ms,measured_ms\na,1,0\n").unwrap();
    let e = format!("{:#}", stria::plot::read_validation(&f).unwrap_err());
    assert!(e.contains("positive"), "{e}");
}

fn stria() -> Command {
    Command::cargo_bin("stria").unwrap()
}

#[test]
fn cli_writes_each_kind_and_prints_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let pd = dir.path().join("search");
    write_search(
        &pd,
        Some(&["x,1,10,true,1000,cpas,1", "x,1,12,false,2000,uniform,1"]),
        &["x,1,10,true,1000,cpas,1"],
    );
    let small = small().display().to_string();
    let runs: Vec<(Vec<String>, &str)> = vec![
        (vec!["layers".into(), small.clone()], "layers.png"),
        (
            vec![
                "layers".into(),
                small.clone(),
                "--protocol".into(),
                "cheetah".into(),
            ],
            "layers-cheetah.svg",
        ),
        (vec!["packing".into(), small.clone()], "packing.png"),
        (
            vec![
                "compare".into(),
                small.clone(),
                "--link".into(),
                "lan".into(),
            ],
            "compare.png",
        ),
        (
            vec!["pareto".into(), pd.display().to_string()],
            "pareto.png",
        ),
        (
            vec![
                "validation".into(),
                root("results/validate/cryptflow2/validate.csv")
                    .display()
                    .to_string(),
                root("results/validate/cheetah/validate.csv")
                    .display()
                    .to_string(),
            ],
            "validation.PNG",
        ),
    ];
    for (args, file) in runs {
        let out = dir.path().join(file);
        let a = stria()
            .arg("plot")
            .args(&args)
            .arg("--output")
            .arg(&out)
            .assert()
            .success();
        let stdout = String::from_utf8(a.get_output().stdout.clone()).unwrap();
        assert_eq!(stdout.trim(), out.display().to_string(), "{args:?}");
        if file.ends_with(".svg") {
            svg(&out);
        } else {
            let (w, h) = png_size(&out);
            assert!(w > 0 && h > 0);
        }
    }
}

#[test]
fn cli_errors_are_messages_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let check = |args: &[&str], needle: &str| {
        let a = stria().arg("plot").args(args).assert().failure();
        let err = String::from_utf8(a.get_output().stderr.clone()).unwrap();
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    };
    let out = dir.path().join("x.png").display().to_string();
    let small = small().display().to_string();
    check(
        &[
            "layers",
            &small,
            "-o",
            &dir.path().join("x.jpg").display().to_string(),
        ],
        ".png or .svg",
    );
    check(&["layers", "no/such.json", "-o", &out], "no/such.json");
    check(&["validation", "no/such.csv", "-o", &out], "no/such.csv");
    check(
        &["pareto", &dir.path().display().to_string(), "-o", &out],
        "missing pareto.csv",
    );
    assert!(!Path::new(&out).exists());
}
