//! `stria export --to onnx` files through the ONNX checker (full check, with shape inference) and
//! a forward pass in ONNX Runtime on a random input, whose output must have the spec's shape.
//! Needs a Python with onnx and onnxruntime: `STRIA_PYTHON` (`.ci/run` sets it from
//! `scripts/onnx-venv.sh`), else `python3`; without those packages the test fails and says how to
//! get them.

mod support;
use support::root;

use stria::net::{Op, load_network};
use stria::onnx::export::to_onnx;

const CHECK: &str = r#"
import sys
try:
    import numpy as np
    import onnx
    import onnxruntime as ort
except ImportError as e:
    sys.exit("missing Python package: %s" % e)
for path in sys.argv[1:]:
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    y = s.run(None, {i.name: np.random.default_rng(1).standard_normal(i.shape).astype(np.float32)})[0]
    print(path, " ".join(str(d) for d in y.shape))
"#;

#[test]
fn exported_onnx_passes_the_checker_and_runs_in_onnx_runtime() {
    let python = std::env::var("STRIA_PYTHON").unwrap_or_else(|_| "python3".into());
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut expected = Vec::new();
    // Six shipped networks, and EfficientNet-B0 as imported (sigmoids, SiLU products and
    // squeeze-excite's per-channel products).
    let sources = [
        "strianet-cifar10",
        "validate-small",
        "mobilenetv2-cifar10",
        "resnet18-cifar10",
        "sqnet",
        "strianet-tiny",
    ]
    .map(|name| format!("configs/models/{name}.json"))
    .into_iter()
    .chain(["tests/fixtures/onnx/efficientnet_b0.onnx".to_string()]);
    for source in sources {
        let net = load_network(&root().join(&source)).unwrap();
        let name = net.name.clone();
        let path = dir.path().join(format!("{name}.onnx"));
        std::fs::write(&path, to_onnx(&net)).unwrap();
        // The output: the last layer's, [1, C] after an fc, flatten or argmax (ONNX's ArgMax
        // keeps a [1, 1]), [1, C, H, W] otherwise.
        let last = net.layers.last().unwrap();
        let o = last.output;
        let flat = net.layers.iter().rev().find(|l| {
            !matches!(
                l.op,
                Op::Relu
                    | Op::Relu6
                    | Op::Sigmoid
                    | Op::BatchNorm { .. }
                    | Op::Add
                    | Op::Mul
                    | Op::Shuffle { .. }
            )
        });
        let dims = match flat.map(|l| &l.op) {
            Some(Op::Fc | Op::Flatten | Op::Argmax) => format!("1 {}", o.c),
            _ => format!("1 {} {} {}", o.c, o.h, o.w),
        };
        expected.push(format!("{} {dims}", path.display()));
        files.push(path);
    }
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(CHECK)
        .args(&files)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {python} ({e}): set STRIA_PYTHON to a Python with onnx and onnxruntime \
                 (`export STRIA_PYTHON=$(bash scripts/onnx-venv.sh)`)"
            )
        });
    assert!(
        out.status.success(),
        "{python} failed: {}\nset STRIA_PYTHON to a Python with onnx and onnxruntime \
         (`export STRIA_PYTHON=$(bash scripts/onnx-venv.sh)`)",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(got, expected);
}
