//! `scripts/reproduce.sh` end to end in its quick mode (tiny search budgets, two models in the cost
//! tables, no validation), writing into a temporary directory with the test's own binary.

use std::path::Path;
use std::process::Command;

fn non_empty(path: &Path) {
    let len = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len();
    assert!(len > 0, "{} is empty", path.display());
}

#[test]
fn quick_reproduction_writes_every_result() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = Command::new("bash")
        .arg(root.join("scripts/reproduce.sh"))
        .env("REPRODUCE_QUICK", "1")
        .env("REPRODUCE_OUT", out)
        .env("STRIA_BIN", env!("CARGO_BIN_EXE_stria"))
        .env_remove("REPRODUCE_CALIBRATE")
        .env_remove("SEARCH_BUDGET")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "reproduce.sh failed:\n{stderr}");

    // Progress and summary.
    for k in 1..=9 {
        assert!(
            stderr.contains(&format!("[{k}/9] ")),
            "no step {k}:\n{stderr}"
        );
    }
    assert!(stderr.contains("reproduce.sh summary"), "{stderr}");
    assert!(stderr.contains("seconds per step:"), "{stderr}");
    assert!(stderr.contains("total"), "{stderr}");

    // Cost tables: <model>-<protocol>-<link>.csv for the quick models.
    for model in ["resnet18-cifar10", "strianet-cifar10"] {
        for protocol in [
            "cryptflow2",
            "gazelle-input",
            "gazelle-output",
            "gala",
            "cheetah",
        ] {
            for link in ["lan", "wan"] {
                non_empty(&out.join(format!("costs/{model}-{protocol}-{link}.csv")));
            }
        }
    }
    non_empty(&out.join("compare.csv"));
    non_empty(&out.join("compare.txt"));
    // The committed framework runs against the model.
    let cmp = std::fs::read_to_string(out.join("measured/comparison.txt")).unwrap();
    assert!(cmp.contains("sqnet-SCI_HE-loopback-t1"), "{cmp}");
    assert!(cmp.contains("MAPE over kinds"), "{cmp}");

    // Speedup table: a row per dataset x protocol x link (at least one StriaNet each).
    let csv = std::fs::read_to_string(out.join("speedup.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        &header[..5],
        ["dataset", "protocol", "link", "baseline", "strianet"]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
    }
    for (dataset, baseline) in [
        ("CIFAR-10", "resnet18-cifar10"),
        ("Tiny ImageNet", "resnet18-tiny"),
        ("ImageNet", "resnet50"),
    ] {
        for protocol in ["cryptflow2", "cheetah"] {
            for link in ["lan", "wan"] {
                let row = rows
                    .iter()
                    .find(|r| r[0] == dataset && r[1] == protocol && r[2] == link)
                    .unwrap_or_else(|| panic!("no row {dataset} {protocol} {link}:\n{csv}"));
                assert_eq!(row[3], baseline);
                let speedup: f64 = row[7].parse().unwrap();
                assert!(speedup > 0.0, "{row:?}");
            }
        }
    }
    let md = std::fs::read_to_string(out.join("speedup.md")).unwrap();
    assert!(md.contains("| Dataset |"), "{md}");
    assert_eq!(
        md.lines().filter(|l| l.starts_with("| ")).count(),
        rows.len() + 1
    );

    // Searches, fronts and their comparison.
    for space in [
        "strianet-cifar10",
        "strianet-tinyimagenet",
        "strianet-imagenet",
    ] {
        for generator in ["cpas", "uniform"] {
            let dir = out.join(format!("search/{space}-{generator}"));
            non_empty(&dir.join("pareto.csv"));
            non_empty(&dir.join("all.csv"));
        }
        non_empty(&out.join(format!("search/{space}-cpas-vs-uniform.txt")));
    }
    // Full-capacity searches: the summary and the checkpoint (a tiny budget may find no
    // feasible candidate, so the front may hold only its header).
    for space in ["strianet-cifar10-fullcap", "strianet-imagenet-fullcap"] {
        let text = std::fs::read_to_string(out.join(format!("search/{space}.txt"))).unwrap();
        assert!(text.contains("evaluated "), "{text}");
        non_empty(&out.join(format!("search/{space}/pareto.csv")));
    }

    // Plots are PNGs.
    let mut plots = vec![
        "layers-resnet18-cifar10-cryptflow2.png".to_string(),
        "packing-resnet50.png".to_string(),
        "compare.png".to_string(),
    ];
    for space in [
        "strianet-cifar10",
        "strianet-tinyimagenet",
        "strianet-imagenet",
    ] {
        plots.push(format!("pareto-{space}.png"));
        plots.push(format!("pareto-fronts-{space}.png"));
    }
    for entry in std::fs::read_dir(root.join("configs/models")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(model) = name
            .strip_prefix("strianet-")
            .and_then(|n| n.strip_suffix(".json"))
        {
            plots.push(format!("layers-strianet-{model}-cryptflow2.png"));
        }
    }
    for plot in plots {
        let bytes = std::fs::read(out.join("plots").join(&plot)).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{plot} is not a PNG"
        );
    }

    // Quick mode skips validation.
    assert!(!out.join("validate").exists());
}
