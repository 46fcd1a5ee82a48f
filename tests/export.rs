//! `stria export --to pytorch`: every shipped network becomes Python that compiles; two shipped
//! networks match committed golden files (regenerate with `stria export CONFIG --to pytorch -o
//! tests/golden/NAME.py` after a deliberate change of the generator).

mod support;
use support::root;

use assert_cmd::Command;
use std::path::Path;

fn export(config: &Path) -> String {
    let out = Command::cargo_bin("stria")
        .unwrap()
        .current_dir(root())
        .args(["export", config.to_str().unwrap(), "--to", "pytorch"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_shipped_network_exports_to_python_that_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    for e in std::fs::read_dir(root().join("configs/models")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let py = dir.path().join(format!(
            "{}.py",
            p.file_stem().unwrap().to_string_lossy().replace('-', "_")
        ));
        std::fs::write(&py, export(&p)).unwrap();
        let out = std::process::Command::new("python3")
            .args(["-m", "py_compile"])
            .arg(&py)
            .output()
            .expect("python3 runs (the machine's CPython)");
        assert!(
            out.status.success(),
            "{}: {}",
            p.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        n += 1;
    }
    assert!(n >= 17, "{n} configs");
}

#[test]
fn golden_files() {
    for name in ["validate-small", "resnet18-cifar10"] {
        let got = export(&root().join(format!("configs/models/{name}.json")));
        let want = std::fs::read_to_string(root().join(format!("tests/golden/{name}.py"))).unwrap();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn sparse_strided_and_shuffled_layers_keep_their_structure() {
    let py = export(&root().join("configs/models/validate-small.json"));
    // The cross kernel's five taps, as a buffer multiplied into the weight.
    assert!(
        py.contains("tap_mask(3, 3, [(0, 1), (1, 0), (1, 1), (1, 2), (2, 1)])"),
        "{py}"
    );
    assert!(
        py.contains("self.l5_cross_dw.weight * self.l5_cross_dw_mask"),
        "{py}"
    );
    // A strided group layout: permutations before and after a contiguous grouped conv.
    assert!(
        py.contains("strided_to_contiguous(32, 32)")
            && py.contains("contiguous_to_strided(64, 32)")
    );
    assert!(py.contains("channel_shuffle(t4, 2)"));
    // No argmax or HE-only notion leaks into the module.
    assert!(!py.contains("accum") && !py.contains("argmax("));
}

#[test]
fn unknown_target_is_a_clear_error() {
    let out = Command::cargo_bin("stria")
        .unwrap()
        .current_dir(root())
        .args(["export", "configs/models/sqnet.json", "--to", "tensorflow"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("pytorch") && err.contains("onnx"), "{err}");
}

#[test]
fn sigmoid_and_mul_export_as_torch_operations() {
    // EfficientNet-B0 (imported): SiLU is `torch.sigmoid` and a product with its input,
    // squeeze-excite a product with the Cx1x1 gate, which broadcasts over H and W.
    let py = export(&root().join("tests/fixtures/onnx/efficientnet_b0.onnx"));
    assert!(py.contains("        # features.0.2 (sigmoid)\n        t3 = torch.sigmoid(t2)\n"));
    assert!(py.contains("        # features.0.2_2 (mul)\n        t4 = t2 * t3\n"));
    assert_eq!(py.matches("torch.sigmoid(").count(), 65);
    assert_eq!(py.matches(" * t").count(), 65);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("efficientnet_b0.py");
    std::fs::write(&path, &py).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "py_compile"])
        .arg(&path)
        .output()
        .expect("python3 runs (the machine's CPython)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
