//! Safe by default: outputs that never clobber devices, FIFOs or symlinks, no temporary file left
//! behind, stdout errors without panics, capped input files, bounded search spaces, links and
//! profiles within documented ranges (no `inf` or `NaN` cell), default outputs in new
//! directories, the format picked from the extension, one spelling per option, and the
//! consumer index of a network.

mod support;
use support::root;

use assert_cmd::Command;
use serde_json::{Value, json};
use std::io::Read;
use std::path::Path;
use std::process::Stdio;

fn model(name: &str) -> String {
    root()
        .join("configs/models")
        .join(name)
        .display()
        .to_string()
}

fn stria() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stria"));
    c.env_remove("RUST_BACKTRACE");
    c
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_in(dir: &Path, args: &[&str]) -> Run {
    let out = stria().args(args).current_dir(dir).output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Run {
    run_in(&root(), args)
}

/// A user error: exit 1, one `error:` line naming every piece of `want`, no panic.
#[track_caller]
fn fails(args: &[&str], want: &[&str]) -> String {
    let r = run(args);
    assert_eq!(r.code, Some(1), "stria {args:?}: {}{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| !l.starts_with("warning:"))
        .collect();
    assert_eq!(lines.len(), 1, "one error line expected:\n{}", r.stderr);
    assert!(lines[0].starts_with("error: "), "{}", r.stderr);
    for w in want {
        assert!(r.stderr.contains(w), "`{w}` missing from:\n{}", r.stderr);
    }
    r.stderr
}

/// The names in `dir` that look like temporary files of an atomic write.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

// ---------------------------------------------------------------------------------------------
// Files and streams
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn output_to_a_fifo_is_written_through_and_the_fifo_stays() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out.csv");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            std::fs::File::open(&fifo)
                .unwrap()
                .read_to_string(&mut s)
                .unwrap();
            s
        })
    };
    let r = run(&[
        "cost",
        &model("resnet18-cifar10.json"),
        "--output",
        fifo.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let text = reader.join().unwrap();
    assert!(text.starts_with("layer,kind,"), "{text:.200}");
    let t = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(t.is_fifo(), "the FIFO was replaced: {t:?}");
    assert!(temporaries(dir.path()).is_empty());
}

#[cfg(unix)]
#[test]
fn output_through_a_symlink_writes_its_target_and_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("real");
    std::fs::create_dir(&sub).unwrap();
    let target = sub.join("target.csv");
    std::fs::write(&target, "old\n").unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink("real/target.csv", &link).unwrap();
    let r = run(&[
        "cost",
        &model("resnet18-cifar10.json"),
        "--output",
        link.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the symlink was replaced"
    );
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("real/target.csv")
    );
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(text.starts_with("layer,kind,"), "{text:.200}");
    // A dangling link: its target is created, the link stays.
    let dangling = dir.path().join("new.json");
    std::os::unix::fs::symlink("real/made.json", &dangling).unwrap();
    let r = run(&[
        "cost",
        &model("resnet18-cifar10.json"),
        "--output",
        dangling.to_str().unwrap(),
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(sub.join("made.json")).unwrap()).unwrap();
    assert!(v.get("rows").is_some() || v.is_object());
    assert!(
        std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(temporaries(dir.path()).is_empty() && temporaries(&sub).is_empty());
}

#[cfg(unix)]
#[test]
fn output_to_dev_null_keeps_the_device() {
    use std::os::unix::fs::FileTypeExt;
    let r = run(&[
        "cost",
        &model("resnet18-cifar10.json"),
        "--output",
        "/dev/null",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let t = std::fs::symlink_metadata("/dev/null").unwrap().file_type();
    assert!(t.is_char_device(), "/dev/null is no longer a device");
    // The decision itself (replacing a device needs root, so the function is tested directly).
    use stria::io::{PathKind, WriteMode, write_mode};
    assert_eq!(
        PathKind::of(Path::new("/dev/null")).unwrap(),
        PathKind::CharDevice
    );
    assert_eq!(write_mode(PathKind::CharDevice), Ok(WriteMode::Direct));
    assert_eq!(write_mode(PathKind::BlockDevice), Ok(WriteMode::Direct));
    assert_eq!(write_mode(PathKind::Fifo), Ok(WriteMode::Direct));
    assert_eq!(write_mode(PathKind::Regular), Ok(WriteMode::Atomic));
    assert_eq!(write_mode(PathKind::Missing), Ok(WriteMode::Atomic));
    assert!(write_mode(PathKind::Directory).is_err());
}

#[test]
fn a_failed_write_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    // The output is a directory: refused before any temporary file exists.
    let out = dir.path().join("out.csv");
    std::fs::create_dir(&out).unwrap();
    fails(
        &[
            "cost",
            &model("resnet18-cifar10.json"),
            "--output",
            out.to_str().unwrap(),
        ],
        &["out.csv", "is a directory"],
    );
    assert!(temporaries(dir.path()).is_empty());
    // A write that fails after the temporary file was created (a full disk): removed, and the
    // old file is untouched.
    let target = dir.path().join("kept.csv");
    std::fs::write(&target, "old\n").unwrap();
    let e = stria::io::write_output_with(&target, |w| {
        w.write_all(b"half a fi")?;
        Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "no space left",
        ))
    })
    .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "old\n");
    assert!(
        temporaries(dir.path()).is_empty(),
        "{:?}",
        temporaries(dir.path())
    );
    // A panic while writing also removes it.
    let caught = std::panic::catch_unwind(|| {
        let _ = stria::io::write_output_with(&target, |w| {
            w.write_all(b"x")?;
            panic!("writer died")
        });
    });
    assert!(caught.is_err());
    assert!(temporaries(dir.path()).is_empty());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "old\n");
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_quietly() {
    // Large enough (JSON of a 2,000-layer network, about 2 MB) to outgrow any pipe buffer, so
    // the writer meets the closed pipe whatever the timing.
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("long.json");
    let layers = vec![json!({"type": "conv", "out_channels": 4, "kernel": 1}); 2000];
    std::fs::write(
        &spec,
        json!({"name": "long", "input": {"channels": 4, "height": 4, "width": 4}, "layers": layers})
            .to_string(),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stria"))
        .args(["cost", spec.to_str().unwrap(), "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 10];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut head)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(&head, b"{\n  \"netwo");
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_is_a_one_line_error() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("Linux has /dev/full");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stria"))
        .args(["cost", &model("resnet18-cifar10.json")])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot write to standard output: No space left"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn endless_inputs_are_refused_at_the_size_limit() {
    let m = model("resnet18-cifar10.json");
    let limit = "larger than the limit of 64 MiB for input files";
    fails(&["cost", "/dev/zero"], &["/dev/zero", limit]);
    fails(
        &["cost", &m, "--profile", "/dev/zero"],
        &["/dev/zero", limit],
    );
    fails(&["cost", &m, "--link", "/dev/zero"], &["/dev/zero", limit]);
    fails(
        &["cost", &m, "--nonlinear", "/dev/zero"],
        &["/dev/zero", limit],
    );
    fails(&["search", "/dev/zero"], &["/dev/zero", limit]);
    let png = std::env::temp_dir().join("stria-never-written.png");
    fails(
        &[
            "plot",
            "validation",
            "/dev/zero",
            "-o",
            png.to_str().unwrap(),
        ],
        &["/dev/zero", limit],
    );
    assert!(!png.exists());
    assert_eq!(stria::io::MAX_INPUT_BYTES, 64 << 20);
}

// ---------------------------------------------------------------------------------------------
// Bounded work
// ---------------------------------------------------------------------------------------------

/// A long chain is placed and costed in one pass (no per-layer scan, no recursion along the
/// chain): 100,000 layers of conv, shuffle and folded BN before each ReLU, each ReLU truncating
/// the products it reads.
#[test]
fn a_long_chain_is_costed_in_one_pass() {
    let unit = [
        json!({"type": "conv", "out_channels": 4, "kernel": 1}),
        json!({"type": "shuffle", "groups": 2}),
        json!({"type": "batchnorm"}),
        json!({"type": "relu"}),
    ];
    let layers: Vec<_> = unit.iter().cycle().take(100_000).cloned().collect();
    let text = json!({"name": "chain", "input": {"channels": 4, "height": 4, "width": 4},
        "layers": layers})
    .to_string();
    let net =
        stria::net::build(&stria::net::parse_spec(&text, "c.json").unwrap(), "c.json").unwrap();
    let plan = stria::packing::nonlinear::truncation_plan(&net);
    let fused = plan
        .iter()
        .filter(|t| **t == stria::packing::nonlinear::Truncation::AfterRelu(64))
        .count();
    assert_eq!(fused, 25_000);
    assert_eq!(
        plan.iter()
            .filter(|t| **t != stria::packing::nonlinear::Truncation::None)
            .count(),
        25_000
    );
}

/// Links and profiles at the edges of their ranges still give finite numbers in every cell.
#[test]
fn no_output_cell_is_inf_or_nan() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("slow.json");
    std::fs::write(
        &link,
        r#"{"name":"slow","bandwidth_mbit_s":0.001,"rtt_ms":10000000,"source":"edge"}"#,
    )
    .unwrap();
    let mut profile: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("configs/profiles/measured.json")).unwrap(),
    )
    .unwrap();
    for e in profile["entries"].as_array_mut().unwrap() {
        for (k, v) in e.as_object_mut().unwrap() {
            if k.ends_with("_us") {
                *v = json!(1e9);
            }
        }
    }
    let prof = dir.path().join("slow-profile.json");
    std::fs::write(&prof, profile.to_string()).unwrap();
    for format in ["csv", "json", "table"] {
        let r = run(&[
            "cost",
            &model("resnet50.json"),
            "--link",
            link.to_str().unwrap(),
            "--profile",
            prof.to_str().unwrap(),
            "--format",
            format,
        ]);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        let bad = |cell: &str| {
            let c = cell.trim().to_ascii_lowercase();
            c.contains("inf") || c.contains("nan")
        };
        match format {
            "csv" => {
                for line in r.stdout.lines() {
                    assert!(!line.split(',').any(bad), "{line}");
                }
            }
            "table" => {
                for line in r.stdout.lines() {
                    assert!(!line.split_whitespace().any(bad), "{line}");
                }
            }
            _ => {
                // serde_json writes a non-finite number as null: only the shape and ring
                // columns of summary and non-HE rows may be null.
                fn walk(v: &Value, key: &str) {
                    match v {
                        Value::Null => assert!(
                            ["n", "cn", "in_c", "in_h", "in_w", "out_c", "out_h", "out_w"]
                                .contains(&key),
                            "`{key}` is null"
                        ),
                        Value::Number(n) => assert!(n.as_f64().unwrap().is_finite()),
                        Value::Array(a) => a.iter().for_each(|x| walk(x, key)),
                        Value::Object(o) => o.iter().for_each(|(k, x)| walk(x, k)),
                        _ => {}
                    }
                }
                walk(&serde_json::from_str(&r.stdout).unwrap(), "");
            }
        }
    }
}

/// A search killed by a full disk (here a file-size limit: SIGXFSZ) during its first
/// thousands of rows has checkpointed already, and `--resume` continues from there.
#[cfg(target_os = "linux")]
#[test]
fn a_search_cut_short_early_resumes_from_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    let space = root().join("configs/search/strianet-cifar10.json");
    let args = [
        "search",
        space.to_str().unwrap(),
        "--budget",
        "100000",
        "--threads",
        "2",
        "--output",
        out.to_str().unwrap(),
    ];
    // 4 MB (8192 blocks of 512 bytes): rows take about 190 bytes, so the limit falls inside
    // the first 32,768 rows (a whole batch of the earlier driver, which checkpointed only after
    // it) but after the first few thousand (the early checkpoints); 100,000 rows need 19 MB.
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 8192 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_stria"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        !st.status.success(),
        "the search should hit the file-size limit"
    );
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("state.json")).unwrap()).unwrap();
    let done = state["next"].as_u64().unwrap();
    assert!(done > 0, "no checkpoint before the disk filled");
    let r = run(&[&args[..], &["--resume"]].concat());
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let rows = std::fs::read_to_string(out.join("all.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(rows, 100_000);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("evaluated "))
        .unwrap();
    let n: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(n, 100_000 - done, "{line}");
    assert!(temporaries(&out).is_empty(), "{:?}", temporaries(&out));
}

// ---------------------------------------------------------------------------------------------
// Defaults that respect the user's files
// ---------------------------------------------------------------------------------------------

#[test]
fn search_defaults_to_a_new_directory_each_run() {
    let dir = tempfile::tempdir().unwrap();
    let space = root().join("configs/search/strianet-cifar10.json");
    let space = space.to_str().unwrap();
    let mut seen = Vec::new();
    for want in ["strianet-cifar10-cpas", "strianet-cifar10-cpas-2"] {
        let r = run_in(dir.path(), &["search", space, "--budget", "2000"]);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        let path = format!("stria-out/search/{want}");
        assert!(
            r.stderr.contains(&format!("writing {path}")),
            "{}",
            r.stderr
        );
        assert!(
            r.stdout.ends_with(&format!("results in {path}\n")),
            "{}",
            r.stdout
        );
        assert!(dir.path().join(&path).join("pareto.csv").is_file());
        seen.push(path);
    }
    // --resume needs the directory to continue.
    let r = run_in(
        dir.path(),
        &["search", space, "--budget", "2000", "--resume"],
    );
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr
            .contains("--resume continues the search in --output DIR"),
        "{}",
        r.stderr
    );
}

#[test]
fn validate_defaults_to_a_new_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = model("validate-small.json");
    for want in ["cheetah", "cheetah-2"] {
        let r = run_in(
            dir.path(),
            &[
                "validate",
                &config,
                "--protocol",
                "cheetah",
                "--layers",
                "fc",
            ],
        );
        assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
        let csv = format!("stria-out/validate/{want}/validate.csv");
        assert!(r.stdout.contains(&format!("wrote {csv}\n")), "{}", r.stdout);
        assert!(dir.path().join(&csv).is_file());
    }
}

#[test]
fn the_output_extension_picks_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let m = model("resnet18-cifar10.json");
    let at = |name: &str| dir.path().join(name).display().to_string();
    for (cmd, extra) in [("cost", vec![]), ("compare", vec!["--link", "lan,wan"])] {
        for (file, check) in [
            ("x.csv", "csv"),
            ("x.CSV", "csv"),
            ("x.json", "json"),
            ("x.txt", "table"),
            ("x", "table"),
        ] {
            let path = at(&format!("{cmd}-{file}"));
            let mut args = vec![cmd, m.as_str(), "-o", path.as_str()];
            args.extend(extra.iter().copied());
            let r = run(&args);
            assert_eq!(r.code, Some(0), "{}", r.stderr);
            assert!(r.stdout.is_empty());
            let text = std::fs::read_to_string(&path).unwrap();
            match check {
                "csv" => assert!(
                    text.starts_with("layer,kind,") || text.starts_with("network,"),
                    "{cmd} {file}: {text:.100}"
                ),
                "json" => {
                    serde_json::from_str::<Value>(&text).unwrap();
                }
                _ => {
                    assert!(text.starts_with("resnet18-cifar10 under") || text.starts_with("===="))
                }
            }
        }
        // An explicit --format wins over the extension.
        let path = at(&format!("{cmd}-forced.csv"));
        let mut args = vec![cmd, m.as_str(), "-o", path.as_str(), "--format", "json"];
        args.extend(extra.iter().copied());
        assert_eq!(run(&args).code, Some(0));
        serde_json::from_str::<Value>(&std::fs::read_to_string(&path).unwrap()).unwrap();
    }
}

#[test]
fn one_spelling_for_protocol_link_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let m = model("resnet18-cifar10.json");
    // plot compare takes --protocol/--link like compare, cost and search; the old plural
    // spellings still work but are not advertised.
    for (p, l) in [("--protocol", "--link"), ("--protocols", "--links")] {
        let png = dir.path().join(format!("c{p}.png"));
        let r = run(&[
            "plot",
            "compare",
            &m,
            p,
            "cryptflow2,cheetah",
            l,
            "lan",
            "--output",
            png.to_str().unwrap(),
        ]);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert!(png.is_file());
        let r = run(&["compare", &m, p, "cryptflow2,cheetah", l, "lan,wan"]);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert_eq!(
            r.stdout
                .lines()
                .filter(|x| x.starts_with("resnet18"))
                .count(),
            4
        );
    }
    for args in [
        &["plot", "compare", "--help"][..],
        &["compare", "--help"][..],
    ] {
        let help = run(args).stdout;
        assert!(
            help.contains("--protocol <") && help.contains("--link <"),
            "{help}"
        );
        assert!(
            !help.contains("--protocols") && !help.contains("--links"),
            "{help}"
        );
    }
    // zoo writes with --output (its old --output-dir still works).
    for flag in ["--output", "--output-dir", "-o"] {
        let out = dir.path().join(format!("zoo{flag}"));
        let r = run(&["zoo", flag, out.to_str().unwrap()]);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert!(out.join("resnet18.json").is_file());
    }
    assert!(!run(&["zoo", "--help"]).stdout.contains("--output-dir"));
}
