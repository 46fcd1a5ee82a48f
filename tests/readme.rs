//! The README's command examples are executed, so they cannot drift from the binary: every
//! `$ stria ...` line of a fenced block (and the quick start's `cargo run --release -- ...`) runs
//! through `sh` in a scratch directory where `configs/`, `results/` and `tests/` are the repository's
//! (read only: no example may write into them) and `/tmp/` is a temporary directory. Each must
//! succeed, unless the README shows an `error:` line after it, which must then be the error;
//! the `wrote`, `results in`, `merged` and `warning:` lines it shows must be printed.

mod support;
use support::root;

use std::path::Path;

struct Example {
    line: usize,
    command: String,
    /// Output lines the README shows after the command (up to the next command).
    shown: Vec<String>,
}

fn examples(readme: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut in_block = false;
    for (i, l) in readme.lines().enumerate() {
        if l.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block {
            continue;
        }
        let cmd = if let Some(c) = l.strip_prefix("$ stria ") {
            Some(format!("stria {c}"))
        } else {
            l.strip_prefix("cargo run --release -- ")
                .map(|c| format!("stria {c}"))
        };
        match cmd {
            Some(c) => {
                // Drop a trailing `# comment`.
                let c = match c.find("  #") {
                    Some(k) => c[..k].trim_end().to_string(),
                    None => c,
                };
                out.push(Example {
                    line: i + 1,
                    command: c,
                    shown: Vec::new(),
                });
            }
            None => {
                if let Some(e) = out.last_mut()
                    && !l.starts_with('$')
                {
                    e.shown.push(l.to_string());
                }
            }
        }
    }
    out
}

#[cfg(unix)]
fn link(from: &Path, to: &Path) {
    std::os::unix::fs::symlink(from, to).unwrap();
}

#[cfg(unix)]
#[test]
fn every_readme_command_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let examples = examples(&readme);
    assert!(
        examples.len() >= 20,
        "found only {} examples",
        examples.len()
    );
    let work = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    link(&root().join("configs"), &work.path().join("configs"));
    link(&root().join("results"), &work.path().join("results"));
    link(&root().join("tests"), &work.path().join("tests"));
    let bin = Path::new(env!("CARGO_BIN_EXE_stria")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let tmp_prefix = format!("{}/", tmp.path().display());
    for ex in &examples {
        let words: Vec<&str> = ex.command.split_whitespace().collect();
        for w in words.windows(2) {
            if ["-o", "--output", "--output-dir"].contains(&w[0]) || w[0] == ">" {
                assert!(
                    !w[1].starts_with("configs/")
                        && !w[1].starts_with("results/")
                        && !w[1].starts_with("tests/"),
                    "README line {}: an example writes into the repository: {}",
                    ex.line,
                    ex.command
                );
            }
        }
        let command = ex.command.replace("/tmp/", &tmp_prefix);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .current_dir(work.path())
            .env("PATH", &path)
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let shown = |l: &String| l.replace("/tmp/", &tmp_prefix);
        match ex.shown.iter().find(|l| l.starts_with("error:")) {
            Some(err) => {
                assert_eq!(
                    out.status.code(),
                    Some(1),
                    "README line {}: `{}` should fail",
                    ex.line,
                    ex.command
                );
                assert_eq!(stderr.trim_end(), shown(err), "README line {}", ex.line);
            }
            None => assert!(
                out.status.success(),
                "README line {}: `{}` failed:\n{stdout}\n{stderr}",
                ex.line,
                ex.command
            ),
        }
        for l in &ex.shown {
            let l = shown(l);
            if l.starts_with("wrote ") || l.starts_with("results in ") || l.starts_with("merged ") {
                assert!(
                    stdout.lines().any(|o| o == l),
                    "README line {}: `{l}` not printed by `{}`:\n{stdout}",
                    ex.line,
                    ex.command
                );
            }
            if l.starts_with("warning:") {
                assert!(
                    stderr.lines().any(|o| o == l),
                    "README line {}: `{l}` not on stderr:\n{stderr}",
                    ex.line
                );
            }
        }
    }
}
