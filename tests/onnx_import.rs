//! `stria import`: torchvision's classifiers exported to ONNX (`scripts/make-onnx-fixtures.py`,
//! graph-only files in tests/fixtures/onnx) import with the layer count, parameters and MACs
//! torchvision reports (its numbers are in tests/fixtures/onnx/expected.json), ResNet-50 costs
//! exactly like configs/models/resnet50.json, and what stria cannot price is an error naming the
//! node.

mod support;
use support::{root, stria};

use prost::Message;
use std::path::PathBuf;
use stria::cost::price::Link;
use stria::eval::{Setting, evaluate};
use stria::net::spec::Padding;
use stria::net::{Network, Op, Shape, build, load_network, parse_spec};
use stria::onnx::import;
use stria::onnx::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, TensorProto, TensorShapeProto,
    TypeProto, TypeProtoTensor, ValueInfoProto,
};
use stria::packing::Protocol;

fn fixture(name: &str) -> PathBuf {
    root()
        .join("tests/fixtures/onnx")
        .join(format!("{name}.onnx"))
}

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("tests/fixtures/onnx/expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn conv_and_fc(net: &Network) -> u64 {
    net.layers
        .iter()
        .filter(|l| matches!(l.op, Op::Conv(_) | Op::Fc))
        .count() as u64
}

/// Layer count, parameters (stria's plus the biases it does not count) and MACs of an imported
/// torchvision model against torchvision's own numbers.
fn check_against_torchvision(model: &str) {
    let exp = &expected()[model];
    let net = load_network(&fixture(model)).unwrap_or_else(|e| panic!("{model}: {e}"));
    let get = |k: &str| exp[k].as_u64().unwrap_or_else(|| panic!("{model}: no {k}"));
    assert_eq!(
        conv_and_fc(&net),
        get("conv_and_linear_layers"),
        "{model}: conv and fc layers"
    );
    assert_eq!(
        net.params() + get("conv_bias_params"),
        get("num_params"),
        "{model}: parameters"
    );
    assert_eq!(net.macs(), get("macs"), "{model}: MACs");
    // torchvision's GFLOPS is the MAC count in billions, rounded to 3 decimals.
    let gflops = exp["gflops"].as_f64().unwrap();
    assert!(
        (net.macs() as f64 / 1e9 - gflops).abs() <= 0.0005 + 1e-9,
        "{model}: {} MACs against torchvision's {gflops} GFLOPS",
        net.macs()
    );
    assert_eq!(net.input.c, 3);
    assert_eq!((net.input.h, net.input.w), (224, 224));
    assert_eq!(
        net.layers.last().unwrap().output.c,
        1000,
        "{model}: classes"
    );
}

#[test]
fn resnet18_imports_with_torchvisions_counts() {
    check_against_torchvision("resnet18");
}

#[test]
fn resnet50_imports_with_torchvisions_counts() {
    check_against_torchvision("resnet50");
}

#[test]
fn mobilenet_v2_imports_with_torchvisions_counts() {
    check_against_torchvision("mobilenet_v2");
}

#[test]
fn vgg16_imports_with_torchvisions_counts() {
    check_against_torchvision("vgg16");
}

#[test]
fn densenet121_imports_with_torchvisions_counts() {
    check_against_torchvision("densenet121");
}

#[test]
fn squeezenet1_1_imports_with_torchvisions_counts() {
    check_against_torchvision("squeezenet1_1");
}

#[test]
fn efficientnet_b0_imports_with_torchvisions_counts() {
    check_against_torchvision("efficientnet_b0");
    // torch writes SiLU as a Sigmoid and a Mul of its input by the sigmoid's output (33 of them:
    // the stem, 15 expansions, 16 depthwise convolutions, the head) and squeeze-excite as a
    // SiLU between its two 1x1 convolutions, a Sigmoid, and a Mul by the Cx1x1 factor (16).
    let net = load_network(&fixture("efficientnet_b0")).unwrap();
    let count = |op: Op| net.layers.iter().filter(|l| l.op == op).count();
    assert_eq!(count(Op::Sigmoid), 33 + 2 * 16);
    assert_eq!(count(Op::Mul), 33 + 2 * 16);
    let out = |t: usize| net.layers.iter().find(|l| l.dst == t).unwrap().output;
    let scales: Vec<_> = net
        .layers
        .iter()
        .filter(|l| l.op == Op::Mul)
        .filter(|l| out(l.src2.unwrap()) != l.input)
        .collect();
    assert_eq!(scales.len(), 16);
    for l in &scales {
        let f = out(l.src2.unwrap());
        assert_eq!((f.c, f.h, f.w), (l.input.c, 1, 1), "{}", l.path);
        assert_eq!(l.output, l.input, "{}", l.path);
    }
    // The first SiLU: features.0.2 multiplies the batch norm's output by its sigmoid.
    let i = net
        .layers
        .iter()
        .position(|l| l.path == "features.0.2")
        .unwrap();
    let (bn, sig, mul) = (&net.layers[i - 1], &net.layers[i], &net.layers[i + 1]);
    assert_eq!(sig.op, Op::Sigmoid);
    assert_eq!(sig.src, bn.dst);
    assert_eq!(mul.op, Op::Mul);
    assert_eq!((mul.src, mul.src2), (bn.dst, Some(sig.dst)));
    assert_eq!(sig.output, Shape::new(32, 112, 112));
}

#[test]
fn sigmoid_and_mul_import_as_torch_writes_silu_and_squeeze_excite() {
    // Sigmoid and Mul take no attributes from opset 13 to 18: one synthetic graph covers them.
    // The squeeze-excite Mul writes its Cx1x1 factor first; the layer reads the full tensor and
    // takes the factor as `from`.
    let bytes = synthetic(
        vec![
            node("Sigmoid", "act", &["x"], vec![]),
            node("Mul", "silu", &["x", "act_out"], vec![]),
            node("GlobalAveragePool", "pool", &["silu_out"], vec![]),
            node("Sigmoid", "gate", &["pool_out"], vec![]),
            node("Mul", "scale", &["gate_out", "silu_out"], vec![]),
            node("Mul", "half", &["scale_out", "k"], vec![]),
        ],
        vec![floats("k", &[0.5])],
        4,
        8,
    );
    let spec = import(&bytes, "m.onnx", "m").unwrap();
    let net = build(&spec, "m.onnx").unwrap();
    let ops: Vec<_> = net.layers.iter().map(|l| l.kind()).collect();
    assert_eq!(
        ops,
        [
            "sigmoid",
            "mul",
            "global_avgpool",
            "sigmoid",
            "mul",
            "batchnorm"
        ]
    );
    let l = &net.layers;
    assert_eq!((l[1].src, l[1].src2), (0, Some(l[0].dst)));
    assert_eq!((l[4].src, l[4].src2), (l[1].dst, Some(l[3].dst)));
    assert_eq!(l[4].output, Shape::new(4, 8, 8));
    // A product stria cannot broadcast, and activations it has no layer for, are errors.
    let e = import_error(
        vec![
            node(
                "MaxPool",
                "p",
                &["x"],
                vec![
                    ints_attr("kernel_shape", &[2, 2]),
                    ints_attr("strides", &[2, 2]),
                ],
            ),
            node("Mul", "m", &["x", "p_out"], vec![]),
        ],
        vec![],
    );
    assert!(
        e.contains("layer `m`: Mul node: multiplies tensors of shapes 4x8x8 and 4x4x4 (CxHxW); stria multiplies equal shapes, or a tensor by one factor per channel (Cx1x1)"),
        "{e}"
    );
    for op in ["HardSigmoid", "HardSwish", "Tanh"] {
        let e = import_error(vec![node(op, "a", &["x"], vec![])], vec![]);
        assert!(
            e.contains(&format!("layer `a`: {op} node: operator {op} is not supported (stria's activations are ReLU, ReLU6 and Sigmoid; it supports Conv,")),
            "{e}"
        );
    }
}

/// What every costing command prints for EfficientNet-B0 under `protocol`.
fn refusal(protocol: &str) -> String {
    let why = match protocol {
        "cryptflow2" => "SCI_HE has no sigmoid: EzPC's and OpenCheetah's SCI refuse it in their SCI_HE build (`SCI/src/library_fixed.h`, `Sigmoid` asserts \"Sigmoid not supported in SCI_HE.\")".to_string(),
        "cheetah" => "OpenCheetah's Cheetah build cannot run it: at its programs' ell=37 k=12, AuxProtocols::lookup_table throws \"MITCCRH not implemented: 5\" (cheetah::SilentOT's 1-of-N OT exists only for log2 N in {1, 2, 3, 4, 8}, utils/mitccrh.h); with any arguments `MathFunctions::sigmoid` reaches a secret x secret product, and LinearOT::hadamard_product crashes in LinearOT::matmul_cross_terms (SCI-LinearOT is compiled without USE_CHEETAH and runs CrypTFlow2's split IKNP on Cheetah's silent-OT pack) (results/measured/cheetah-math.csv)".to_string(),
        p => format!("no {p} protocol is defined for it"),
    };
    format!("layer `features.0.2`: a sigmoid cannot be costed under {protocol}: {why}")
}

#[test]
fn efficientnet_b0_is_refused_by_every_costing_path_at_its_first_sigmoid() {
    // No protocol model prices a sigmoid or a product of two computed tensors yet: the library
    // calls and every command that costs a network stop at the first such layer, naming the
    // file, the layer, the op and why (`stria::packing::nonlinear::pricing`).
    let net = load_network(&fixture("efficientnet_b0")).unwrap();
    let file = fixture("efficientnet_b0").display().to_string();
    for p in Protocol::ALL {
        let want = refusal(&p.to_string());
        let s = Setting::new(p, lan());
        let e = evaluate(&net, &s).unwrap_err().to_string();
        assert!(e.starts_with(&want), "{p}: {e}");
        let e = stria::packing::count_network(&net, &s.count).unwrap_err();
        assert_eq!(e.path, "features.0.2");
        let e = stria::packing::nonlinear::network_nonlinear(&net, p, &s.nonlinear).unwrap_err();
        assert_eq!(e.path, "features.0.2");
        let sig = net.layers.iter().find(|l| l.op == Op::Sigmoid).unwrap();
        assert!(stria::packing::count_layer(sig, &s.count).is_err(), "{p}");
        for args in [
            vec!["cost", &file, "--protocol"],
            vec!["compare", &file, "--protocol"],
        ] {
            let mut args = args.clone();
            let ps = p.to_string();
            args.push(&ps);
            let o = stria(&args);
            assert!(!o.status.success(), "{args:?}");
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains(&format!("error: {file}")), "{args:?}: {err}");
            assert!(err.contains(&want), "{args:?}: {err}");
        }
    }
    assert!(stria::packing::nonlinear::cheetah_code_run(&net, &Default::default()).is_err());
    let dir = tempfile::tempdir().unwrap();
    let d = |f: &str| dir.path().join(f).display().to_string();
    for (args, protocol) in [
        (
            vec![
                "validate",
                &file,
                "--layers",
                "features.0.0",
                "--output",
                &d("v"),
            ],
            "cryptflow2",
        ),
        (
            vec![
                "validate",
                &file,
                "--protocol",
                "cheetah",
                "--output",
                &d("v"),
            ],
            "cheetah",
        ),
        (
            vec!["plot", "layers", &file, "--output", &d("l.svg")],
            "cryptflow2",
        ),
    ] {
        let o = stria(&args);
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&file), "{args:?}: {err}");
        assert!(err.contains(&refusal(protocol)), "{args:?}: {err}");
    }
    let o = stria(&[
        "measured",
        "results/measured/resnet50-SCI_HE-loopback-t1",
        "--spec",
        &file,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "measured");
    assert!(
        err.contains(&format!("error: {file}: {}", refusal("cryptflow2"))),
        "measured: {err}"
    );
    // A search space whose stem has a sigmoid: the search stops at its first candidate.
    let space = root().join("configs/search/strianet-cifar10.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(space).unwrap()).unwrap();
    v["stem"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "sigmoid", "name": "gate"}));
    std::fs::write(d("space.json"), v.to_string()).unwrap();
    let o = stria(&[
        "search",
        &d("space.json"),
        "--budget",
        "4",
        "--output",
        &d("s"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "search");
    assert!(
        err.contains(
            "stem: layer `gate`: a sigmoid cannot be costed under cryptflow2: SCI_HE has no sigmoid"
        ),
        "search: {err}"
    );
    // A product of two computed tensors is refused the same way, naming it.
    let spec = parse_spec(
        r#"{"name": "m", "input": {"channels": 4, "height": 8, "width": 8},
            "layers": [{"type": "relu", "name": "r"},
                       {"type": "mul", "name": "sq", "input": "input", "from": "r"}]}"#,
        "m.json",
    )
    .unwrap();
    let m = build(&spec, "m.json").unwrap();
    let e = evaluate(&m, &Setting::new(Protocol::Cryptflow2, lan()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("layer `sq`: an element-wise product of two computed tensors (mul) cannot be costed under cryptflow2: SCI_HE has no product of two secret-shared tensors: `ElemWiseSecretSharedVectorMult` (`SCI/src/library_fixed_uniform.cpp`) computes it in the SCI_OT build only"),
        "{e}"
    );
    // Under cheetah, where OpenCheetah's build stops (results/measured/cheetah-math.csv).
    let e = evaluate(&m, &Setting::new(Protocol::Cheetah, lan()))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("layer `sq`: an element-wise product of two computed tensors (mul) cannot be costed under cheetah: OpenCheetah's Cheetah build cannot run it: in `ElemWiseSecretSharedVectorMult`, LinearOT::hadamard_cross_terms crashes in LinearOT::matmul_cross_terms"),
        "{e}"
    );
    // The paper-formula mode has no formula for it either: the same refusal.
    let mut s = Setting::new(Protocol::Cheetah, lan());
    s.nonlinear.cheetah_nonlinear = stria::packing::nonlinear::CheetahNonlinear::Paper;
    let paper = evaluate(&m, &s).unwrap_err().to_string();
    assert_eq!(paper, e);
}

#[test]
fn small_ops_imports_with_torchs_counts() {
    // Dilation (as taps), a Pad node (into the conv's padding), groups, ReLU6 (Clip), ceil_mode,
    // average pooling, a scale by a constant (a batch norm) and a three-way concat.
    let exp = &expected()["small_ops"];
    let net = load_network(&fixture("small_ops")).unwrap();
    let get = |k: &str| exp[k].as_u64().unwrap();
    assert_eq!(conv_and_fc(&net), get("conv_and_linear_layers"));
    // The scale `* 0.5` of 32 channels is a batch norm to stria (its cost: folded into the conv
    // before it, or an element-wise product), which counts a batch norm's 2 * 32 parameters.
    let scale = net.layers.iter().find(|l| l.path == "Mul").unwrap();
    assert_eq!(scale.op, Op::BatchNorm { folded: false });
    assert_eq!(
        net.params() + get("conv_bias_params"),
        get("num_params") + 2 * 32
    );
    assert_eq!(net.macs(), get("macs"));
    assert_eq!(net.layers.last().unwrap().output.c, 10);
    let dilated = net.layers.iter().find(|l| l.path == "dilated").unwrap();
    let Op::Conv(c) = &dilated.op else {
        panic!("dilated is a conv")
    };
    assert_eq!((c.kh, c.kw, c.taps.len()), (5, 5, 9));
    assert_eq!(
        (c.pad.top, c.pad.bottom, c.pad.left, c.pad.right),
        (1, 3, 1, 3)
    );
    assert_eq!(net.layers.iter().filter(|l| l.op == Op::Concat).count(), 2);
}

#[test]
fn embedded_weights_import_like_the_graph_only_file() {
    let whole = stria::onnx::load_onnx(&fixture("small_ops-weights"), Some("s")).unwrap();
    let bare = stria::onnx::load_onnx(&fixture("small_ops"), Some("s")).unwrap();
    assert_eq!(whole, bare);
    let weights = |name: &str| {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let g = ModelProto::decode(bytes.as_slice()).unwrap().graph.unwrap();
        let external = g
            .initializer
            .iter()
            .filter(|t| !t.external_data.is_empty())
            .count();
        (external, g.initializer.len())
    };
    // The graph-only file really has no weights: its big initializers point at a missing file.
    let (external, _) = weights("small_ops");
    assert!(external > 0);
    assert!(
        !root()
            .join("tests/fixtures/onnx/small_ops.onnx.data")
            .exists()
    );
    assert_eq!(weights("small_ops-weights").0, 0);
}

fn lan() -> Link {
    Link::preset("lan").unwrap()
}

/// An imported torchvision model is, layer for layer, a shipped spec and costs the same under
/// every protocol.
fn costs_exactly_like(fixture_name: &str, spec: &str) {
    let imported = load_network(&fixture(fixture_name)).unwrap();
    let shipped = load_network(&root().join("configs/models").join(spec)).unwrap();
    assert_eq!(imported.layers.len(), shipped.layers.len(), "{spec}");
    // The two tensors an add reads, in either order: torchvision writes MobileNetV2's
    // `x + self.conv(x)` with the shortcut first, stria's block the other way round.
    let reads = |l: &stria::net::Layer| match (l.op == Op::Add, l.src2) {
        (true, Some(b)) => (l.src.min(b), Some(l.src.max(b))),
        _ => (l.src, l.src2),
    };
    for (a, b) in imported.layers.iter().zip(&shipped.layers) {
        assert_eq!(
            (&a.op, a.input, a.output, a.reads_input, reads(a), a.dst),
            (&b.op, b.input, b.output, b.reads_input, reads(b), b.dst),
            "{} against {spec}'s {}",
            a.path,
            b.path
        );
    }
    for protocol in [
        Protocol::Cryptflow2,
        Protocol::GazelleInput,
        Protocol::GazelleOutput,
        Protocol::Gala,
        Protocol::Cheetah,
    ] {
        let s = Setting::new(protocol, lan());
        let a = evaluate(&imported, &s).unwrap();
        let b = evaluate(&shipped, &s).unwrap();
        assert_eq!(a, b, "{spec} {protocol}");
    }
}

#[test]
fn resnet50_costs_exactly_like_the_shipped_spec() {
    costs_exactly_like("resnet50", "resnet50.json");
}

#[test]
fn resnet18_and_mobilenet_v2_cost_exactly_like_the_shipped_specs() {
    costs_exactly_like("resnet18", "resnet18.json");
    costs_exactly_like("mobilenet_v2", "mobilenetv2.json");
}

#[test]
fn import_writes_a_spec_that_resolves_to_the_same_network() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r18.json");
    let o = stria(&[
        "import",
        "tests/fixtures/onnx/resnet18.onnx",
        "--name",
        "r18",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let spec = parse_spec(&std::fs::read_to_string(&out).unwrap(), "r18.json").unwrap();
    assert_eq!(spec.name, "r18");
    let from_json = build(&spec, "r18.json").unwrap();
    let direct = load_network(&fixture("resnet18")).unwrap();
    assert_eq!(from_json.layers, direct.layers);
    // `cost` on the .onnx file and on the imported spec print the same table, name aside.
    let a = stria(&["cost", "tests/fixtures/onnx/resnet18.onnx"]);
    let b = stria(&["cost", out.to_str().unwrap()]);
    assert!(a.status.success() && b.status.success());
    let a = String::from_utf8(a.stdout).unwrap();
    let b = String::from_utf8(b.stdout).unwrap();
    assert_eq!(a.replacen("resnet18 under", "r18 under", 1), b);
}

fn mutated(f: impl FnOnce(&mut ModelProto)) -> tempfile::TempDir {
    let bytes = std::fs::read(fixture("resnet18")).unwrap();
    let mut m = ModelProto::decode(bytes.as_slice()).unwrap();
    f(&mut m);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.onnx"), m.encode_to_vec()).unwrap();
    dir
}

/// The node of `m`'s graph named `name`.
fn node_mut<'m>(m: &'m mut ModelProto, name: &str) -> &'m mut NodeProto {
    m.graph
        .as_mut()
        .unwrap()
        .node
        .iter_mut()
        .find(|n| n.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("the fixture has a node `{name}`"))
}

/// The dimensions a value info states.
fn dims_mut(v: &mut ValueInfoProto) -> &mut Vec<Dimension> {
    &mut v
        .r#type
        .as_mut()
        .unwrap()
        .tensor_type
        .as_mut()
        .unwrap()
        .shape
        .as_mut()
        .unwrap()
        .dim
}

fn import_err(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("m.onnx");
    let e = load_network(&path).unwrap_err().to_string();
    assert!(e.starts_with(&path.display().to_string()), "{e}");
    e
}

#[test]
fn a_stated_shape_that_disagrees_is_an_error() {
    let dir = mutated(|m| {
        let g = m.graph.as_mut().unwrap();
        let vi = g
            .value_info
            .iter_mut()
            .find(|v| v.name.as_deref() == Some("/maxpool/MaxPool_output_0"))
            .expect("the fixture states the max pool's shape");
        dims_mut(vi)[2].dim_value = Some(57);
    });
    let e = import_err(&dir);
    assert!(
        e.contains("layer `maxpool`: stria infers shape [N, 64, 56, 56] for tensor `/maxpool/MaxPool_output_0`, but the file states [?, 64, 57, 56]"),
        "{e}"
    );
}

#[test]
fn an_unsupported_operator_names_the_node_and_what_is_supported() {
    let dir = mutated(|m| {
        node_mut(m, "/relu/Relu").op_type = Some("Tanh".into());
    });
    let e = import_err(&dir);
    assert!(
        e.contains("layer `/relu/Relu`: Tanh node: operator Tanh is not supported (stria's activations are ReLU, ReLU6 and Sigmoid; it supports Conv,"),
        "{e}"
    );
}

#[test]
fn a_node_reading_an_unknown_tensor_is_an_error() {
    let dir = mutated(|m| {
        node_mut(m, "/relu/Relu").input[0] = "nowhere".into();
    });
    let e = import_err(&dir);
    assert!(e.contains("layer `/relu/Relu`: Relu node: reads `nowhere`, which is not the graph input, an initializer or the output of an earlier node"), "{e}");
}

#[test]
fn a_symbolic_image_size_is_an_error() {
    let dir = mutated(|m| {
        let g = m.graph.as_mut().unwrap();
        let d = &mut dims_mut(&mut g.input[0])[2];
        d.dim_value = None;
        d.dim_param = Some("height".into());
    });
    let e = import_err(&dir);
    assert!(
        e.contains("input `input` has shape [?, 3, ?, 224]; stria needs a 4-D image input"),
        "{e}"
    );
}

#[test]
fn a_file_that_is_not_onnx_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.onnx");
    std::fs::write(&p, b"{\"name\": \"not a model\"}").unwrap();
    let e = load_network(&p).unwrap_err().to_string();
    assert!(e.contains("not an ONNX model (protobuf ModelProto)"), "{e}");
    let o = stria(&["cost", p.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an ONNX model"));
}

#[test]
fn ceil_mode_pooling_and_concat_import_as_torchvision_computes_them() {
    // SqueezeNet 1.1: max pools with ceil_mode (55 -> 27, not 26) and Fire modules' concats.
    let net = load_network(&fixture("squeezenet1_1")).unwrap();
    let pools: Vec<_> = net
        .layers
        .iter()
        .filter(|l| matches!(l.op, Op::MaxPool(_)))
        .map(|l| (l.input.h, l.output.h))
        .collect();
    assert_eq!(pools, [(111, 55), (55, 27), (27, 13)]);
    assert_eq!(net.layers.iter().filter(|l| l.op == Op::Concat).count(), 8);
}

/// A one-input model of `nodes` over a `1 x c x h x w` input `x`, with `inits` as initializers.
fn synthetic(nodes: Vec<NodeProto>, inits: Vec<TensorProto>, c: i64, hw: i64) -> Vec<u8> {
    let info = |name: &str, dims: &[i64]| ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: Some(1),
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            dim_value: Some(d),
                            dim_param: None,
                        })
                        .collect(),
                }),
            }),
        }),
    };
    let last = nodes.last().unwrap().output[0].clone();
    ModelProto {
        ir_version: Some(8),
        graph: Some(GraphProto {
            node: nodes,
            initializer: inits,
            input: vec![info("x", &[1, c, hw, hw])],
            output: vec![ValueInfoProto {
                name: Some(last),
                r#type: None,
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn node(op: &str, name: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![format!("{name}_out")],
        name: Some(name.into()),
        op_type: Some(op.into()),
        attribute: attrs,
        ..Default::default()
    }
}

fn ints_attr(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(7),
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn str_attr(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(3),
        s: Some(v.as_bytes().to_vec()),
        ..Default::default()
    }
}

fn weight(name: &str, dims: &[i64]) -> TensorProto {
    // Graph-only: dims and a pointer to a data file that does not exist.
    TensorProto {
        dims: dims.to_vec(),
        data_type: Some(1),
        name: Some(name.into()),
        data_location: Some(1),
        ..Default::default()
    }
}

fn floats(name: &str, v: &[f32]) -> TensorProto {
    TensorProto {
        dims: if v.len() == 1 {
            vec![]
        } else {
            vec![v.len() as i64]
        },
        data_type: Some(1),
        name: Some(name.into()),
        float_data: v.to_vec(),
        ..Default::default()
    }
}

fn conv_pads(auto_pad: &str) -> Padding {
    let bytes = synthetic(
        vec![node(
            "Conv",
            "c",
            &["x", "w"],
            vec![
                str_attr("auto_pad", auto_pad),
                ints_attr("strides", &[2, 2]),
            ],
        )],
        vec![weight("w", &[8, 4, 4, 4])],
        4,
        9,
    );
    let spec = import(&bytes, "m.onnx", "m").unwrap();
    let net = build(&spec, "m.onnx").unwrap();
    let Op::Conv(c) = &net.layers[0].op else {
        panic!("a conv")
    };
    assert_eq!(net.layers[0].output, Shape::new(8, 5, 5), "{auto_pad}");
    c.pad
}

#[test]
fn auto_pad_same_pads_as_onnx_defines() {
    // 9 -> ceil(9 / 2) = 5 with a 4x4 kernel: (5 - 1) * 2 + 4 - 9 = 3 padded, the odd one at the
    // end (SAME_UPPER) or at the start (SAME_LOWER).
    let p = conv_pads("SAME_UPPER");
    assert_eq!((p.top, p.bottom, p.left, p.right), (1, 2, 1, 2));
    let p = conv_pads("SAME_LOWER");
    assert_eq!((p.top, p.bottom, p.left, p.right), (2, 1, 2, 1));
}

fn import_error(nodes: Vec<NodeProto>, inits: Vec<TensorProto>) -> String {
    let bytes = synthetic(nodes, inits, 4, 8);
    import(&bytes, "m.onnx", "m").unwrap_err().to_string()
}

#[test]
fn what_stria_cannot_price_is_an_error_naming_the_node() {
    let e = import_error(
        vec![node("Clip", "clip", &["x", "lo", "hi"], vec![])],
        vec![floats("lo", &[0.0]), floats("hi", &[1.0])],
    );
    assert!(
        e.contains("m.onnx: layer `clip`: Clip node: Clip to [0, 1]: stria prices ReLU (Clip to [0, inf)) and ReLU6 (Clip to [0, 6]) only"),
        "{e}"
    );
    let e = import_error(
        vec![
            node(
                "Pad",
                "p",
                &["x", "pads"],
                vec![str_attr("mode", "reflect")],
            ),
            node("Relu", "r", &["p_out"], vec![]),
        ],
        vec![TensorProto {
            dims: vec![8],
            data_type: Some(7),
            name: Some("pads".into()),
            int64_data: vec![0, 0, 1, 1, 0, 0, 1, 1],
            ..Default::default()
        }],
    );
    assert!(e.contains("layer `p`: Pad node: Pad mode reflect"), "{e}");
    let e = import_error(
        vec![node("Conv", "c", &["x", "w"], vec![])],
        vec![weight("w", &[8, 3, 3, 3])],
    );
    assert!(
        e.contains("layer `c`: Conv node: group = 1 with a weight of 3 input channels per group does not fit an input of 4 channels"),
        "{e}"
    );
    // A constant an import must read but whose values are in a missing external file.
    let e = import_error(
        vec![node("Reshape", "flat", &["x", "shape"], vec![])],
        vec![TensorProto {
            dims: vec![2],
            data_type: Some(7),
            name: Some("shape".into()),
            data_location: Some(1),
            ..Default::default()
        }],
    );
    assert!(
        e.contains(
            "layer `flat`: Reshape node: the values of `shape` are kept in the external data file"
        ),
        "{e}"
    );
}

#[test]
fn a_pad_node_folds_into_the_pool_that_reads_it() {
    let bytes = synthetic(
        vec![
            node("Pad", "p", &["x", "pads"], vec![]),
            node(
                "AveragePool",
                "avg",
                &["p_out"],
                vec![
                    ints_attr("kernel_shape", &[3, 3]),
                    ints_attr("strides", &[1, 1]),
                ],
            ),
        ],
        vec![TensorProto {
            dims: vec![8],
            data_type: Some(7),
            name: Some("pads".into()),
            int64_data: vec![0, 0, 0, 1, 0, 0, 2, 0],
            ..Default::default()
        }],
        4,
        8,
    );
    let net = build(&import(&bytes, "m.onnx", "m").unwrap(), "m.onnx").unwrap();
    assert_eq!(net.layers.len(), 1);
    let Op::AvgPool(p) = &net.layers[0].op else {
        panic!("an average pool")
    };
    assert_eq!(
        (p.pad.top, p.pad.bottom, p.pad.left, p.pad.right),
        (0, 2, 1, 0)
    );
    assert_eq!(net.layers[0].output, Shape::new(4, 8, 7));
}

#[test]
fn compare_plot_and_validate_take_an_onnx_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = |f: &str| dir.path().join(f).display().to_string();
    let o = stria(&[
        "compare",
        "configs/models/resnet50.json",
        "tests/fixtures/onnx/resnet50.onnx",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 2);
    // Same network name, same numbers; the second row's speedup over the first is 1.
    assert_eq!(rows[0], rows[1]);
    let o = stria(&[
        "plot",
        "layers",
        "tests/fixtures/onnx/resnet18.onnx",
        "--output",
        &d("layers.svg"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::read_to_string(d("layers.svg"))
            .unwrap()
            .contains("<svg")
    );
    let o = stria(&[
        "validate",
        "tests/fixtures/onnx/small_ops.onnx",
        "--layers",
        "grouped",
        "--insecure",
        "--output",
        &d("validate"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(d("validate/validate.csv")).unwrap();
    assert!(csv.lines().any(|l| l.starts_with("grouped,")), "{csv}");
}

#[test]
fn opsets_13_and_18_import_like_opset_17() {
    // Opset 13 writes Clip bounds and Pad widths as inputs as 17 does; 18 also takes ReduceMean's
    // axes as an input. The same models at either end give the same networks.
    for (name, variant) in [
        ("resnet18", "resnet18-opset13"),
        ("mobilenet_v2", "mobilenet_v2-opset18"),
    ] {
        let a = stria::onnx::load_onnx(&fixture(name), Some("m")).unwrap();
        let b = stria::onnx::load_onnx(&fixture(variant), Some("m")).unwrap();
        assert_eq!(a, b, "{variant}");
        let bytes = std::fs::read(fixture(variant)).unwrap();
        let m = ModelProto::decode(bytes.as_slice()).unwrap();
        let opset = m
            .opset_import
            .iter()
            .find(|o| o.domain.as_deref().unwrap_or("").is_empty());
        let want = if variant.ends_with("13") { 13 } else { 18 };
        assert_eq!(opset.and_then(|o| o.version), Some(want), "{variant}");
    }
}
