//! Composite blocks (`basic`, `bottleneck`, `inverted_residual`, `stria_block`) lower to the same
//! layers as the hand-written zoo blocks, `stria_block` to its documented sequence, errors name
//! the block path, and the StriaNet configs have no external rotation in any striped layer.

use serde_json::{Value, json};
use stria::cost::OpCounts;
use stria::he::next_pow2;
use stria::net::graph::Accum;
use stria::net::{Network, NetworkSpec, Op, Shape, build, load_network, parse_spec, zoo};
use stria::packing::{CountConfig, Protocol, count_layer};

fn spec(stem: &str) -> NetworkSpec {
    zoo::all()
        .into_iter()
        .find(|(s, _)| *s == stem)
        .unwrap_or_else(|| panic!("zoo has no model `{stem}`"))
        .1
}

fn net(stem: &str) -> Network {
    build(&spec(stem), stem).unwrap_or_else(|e| panic!("{e}"))
}

fn parse(v: &Value) -> Result<Network, String> {
    let s = parse_spec(&v.to_string(), "t.json").map_err(|e| e.to_string())?;
    build(&s, "t.json").map_err(|e| e.to_string())
}

/// `stem`'s spec as JSON with every stage's blocks replaced by `blocks(stage, block)`.
fn with_blocks(stem: &str, blocks: impl Fn(usize, usize) -> Value) -> Value {
    let mut v = serde_json::to_value(spec(stem)).unwrap();
    for (si, st) in v["stages"].as_array_mut().unwrap().iter_mut().enumerate() {
        let n = st["blocks"].as_array().unwrap().len();
        st["blocks"] = Value::Array((0..n).map(|b| blocks(si, b)).collect());
    }
    v
}

fn totals(n: &Network, protocol: Protocol) -> OpCounts {
    let cfg = CountConfig::new(protocol);
    let mut t = OpCounts::default();
    for l in &n.layers {
        let c = count_layer(l, &cfg).unwrap().counts;
        t.internal_rot += c.internal_rot;
        t.external_rot += c.external_rot;
        t.key_switch += c.key_switch;
        t.scmult += c.scmult;
        t.add += c.add;
        t.ct_up += c.ct_up;
        t.ct_down += c.ct_down;
    }
    t
}

/// The rewritten network equals the hand-written one layer for layer (paths, ops, shapes,
/// tensor ids), so every count is identical.
fn assert_same(stem: &str, v: &Value) {
    let a = net(stem);
    let b = parse(v).unwrap_or_else(|e| panic!("{stem}: {e}"));
    assert_eq!(a.layers.len(), b.layers.len(), "{stem}");
    for (x, y) in a.layers.iter().zip(&b.layers) {
        assert_eq!(x, y, "{stem}");
    }
    assert_eq!(a, b, "{stem}");
    assert_eq!(
        totals(&a, Protocol::Cryptflow2),
        totals(&b, Protocol::Cryptflow2),
        "{stem}"
    );
    assert_eq!(
        totals(&a, Protocol::Cheetah),
        totals(&b, Protocol::Cheetah),
        "{stem}"
    );
    assert_eq!((a.params(), a.macs()), (b.params(), b.macs()), "{stem}");
}

fn stride(si: usize, b: usize) -> u32 {
    if si > 0 && b == 0 { 2 } else { 1 }
}

#[test]
fn basic_equals_the_resnet18_blocks() {
    let widths = [64, 128, 256, 512];
    for stem in ["resnet18", "resnet18-cifar10", "resnet18-tiny"] {
        let v = with_blocks(stem, |si, b| {
            let mut n = json!({"type": "basic", "out_channels": widths[si]});
            if stride(si, b) != 1 {
                n["stride"] = json!(stride(si, b));
            }
            n
        });
        assert_same(stem, &v);
    }
    // Paths read like the hand-written ones.
    let n = net("resnet18-cifar10");
    let paths: Vec<&str> = n
        .layers
        .iter()
        .filter(|l| l.path.starts_with("stages[1].blocks[0]."))
        .map(|l| l.path.as_str())
        .collect();
    let want: Vec<String> = [
        "conv1",
        "bn1",
        "relu1",
        "conv2",
        "bn2",
        "downsample",
        "downsample_bn",
        "add",
        "relu",
    ]
    .iter()
    .map(|s| format!("stages[1].blocks[0].{s}"))
    .collect();
    assert_eq!(paths, want);
}

#[test]
fn bottleneck_equals_the_resnet50_blocks() {
    let outs = [256, 512, 1024, 2048];
    // Default ratio 0.25, explicit ratio, explicit width: the same network.
    for form in 0..3 {
        let v = with_blocks("resnet50", |si, b| {
            let mut n =
                json!({"type": "bottleneck", "out_channels": outs[si], "stride": stride(si, b)});
            match form {
                1 => n["ratio"] = json!(0.25),
                2 => n["width"] = json!(outs[si] / 4),
                _ => {}
            }
            n
        });
        assert_same("resnet50", &v);
    }
}

/// (t, c, n, s) of MobileNetV2 (torchvision `torchvision/models/mobilenetv2.py`).
const MBV2: [(u32, u32, u32, u32); 7] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
];

#[test]
fn inverted_residual_equals_the_mobilenetv2_blocks() {
    for (stem, cifar) in [
        ("mobilenetv2", false),
        ("mobilenetv2-cifar10", true),
        ("mobilenetv2-tiny", true),
    ] {
        let v = with_blocks(stem, |si, b| {
            let (t, c, _, s) = MBV2[si];
            let s = if cifar && si == 1 { 1 } else { s };
            let mut n = json!({"type": "inverted_residual", "out_channels": c, "expansion": t});
            if b == 0 && s != 1 {
                n["stride"] = json!(s);
            }
            if cifar {
                n["projection"] = json!(true);
            }
            n
        });
        assert_same(stem, &v);
    }
}

fn one_block(input: Shape, block: Value) -> Value {
    json!({
        "name": "t",
        "input": {"channels": input.c, "height": input.h, "width": input.w},
        "stages": [{"blocks": [block]}]
    })
}

#[test]
fn stria_block_lowers_to_the_documented_sequence() {
    // 64 -> 128 channels, stride 2, ratio 1.5 (mid 96 = 16 * round(1.5 * 64 / 16)).
    let v = one_block(
        Shape::new(64, 16, 16),
        json!({"type": "stria_block", "out_channels": 128, "ratio": 1.5, "stride": 2}),
    );
    let n = parse(&v).unwrap();
    let rows: Vec<(String, String, Shape, Shape)> = n
        .layers
        .iter()
        .map(|l| {
            (
                l.path
                    .trim_start_matches("stages[0].blocks[0].")
                    .to_string(),
                l.kind(),
                l.input,
                l.output,
            )
        })
        .collect();
    let s = Shape::new;
    let want = [
        ("conv1", "group_conv1x1", s(64, 16, 16), s(96, 16, 16)),
        ("bn1", "batchnorm_folded", s(96, 16, 16), s(96, 16, 16)),
        ("relu1", "relu", s(96, 16, 16), s(96, 16, 16)),
        ("shuffle1", "shuffle", s(96, 16, 16), s(96, 16, 16)),
        ("conv2", "depthwise3x3_sparse", s(96, 16, 16), s(96, 8, 8)),
        ("bn2", "batchnorm_folded", s(96, 8, 8), s(96, 8, 8)),
        ("relu2", "relu", s(96, 8, 8), s(96, 8, 8)),
        ("shuffle2", "shuffle", s(96, 8, 8), s(96, 8, 8)),
        ("conv3", "group_conv1x1", s(96, 8, 8), s(128, 8, 8)),
        ("bn3", "batchnorm_folded", s(128, 8, 8), s(128, 8, 8)),
        ("downsample", "group_conv1x1", s(64, 16, 16), s(128, 8, 8)),
        (
            "downsample_bn",
            "batchnorm_folded",
            s(128, 8, 8),
            s(128, 8, 8),
        ),
        ("add", "add", s(128, 8, 8), s(128, 8, 8)),
    ];
    let want: Vec<(String, String, Shape, Shape)> = want
        .iter()
        .map(|(p, k, i, o)| (p.to_string(), k.to_string(), *i, *o))
        .collect();
    assert_eq!(rows, want);
    for l in &n.layers {
        match &l.op {
            Op::Conv(c) => {
                assert_eq!(c.accum, Accum::Striped, "{}", l.path);
                if c.depthwise {
                    assert_eq!(c.taps, vec![(0, 1), (1, 0), (1, 1), (1, 2), (2, 1)]);
                    assert_eq!((c.sh, c.pad.top), (2, 1));
                } else {
                    assert_eq!(c.groups, 16, "{}", l.path);
                    assert_eq!(
                        c.group_layout,
                        stria::net::graph::GroupLayout::Strided,
                        "{}",
                        l.path
                    );
                }
            }
            Op::Shuffle { groups } => assert_eq!(*groups, Some(16)),
            _ => {}
        }
    }
    // The shortcut reads the block input; the add sums bn3 and downsample_bn.
    let ds = n
        .layers
        .iter()
        .find(|l| l.path.ends_with("downsample"))
        .unwrap();
    assert_eq!(ds.src, 0);
    let add = n.layers.last().unwrap();
    let bn3 = &n.layers[9];
    let dsbn = &n.layers[11];
    assert_eq!((add.src, add.src2), (bn3.dst, Some(dsbn.dst)));

    // Same shape: identity shortcut; options pass through.
    let v = one_block(
        Shape::new(64, 8, 8),
        json!({"type": "stria_block", "out_channels": 64, "ratio": 0.5, "groups": 32,
               "kernel": 5, "kernel_shape": "dense", "accum": "share-side"}),
    );
    let n = parse(&v).unwrap();
    let paths: Vec<&str> = n.layers.iter().map(|l| l.path.as_str()).collect();
    assert_eq!(paths.len(), 11);
    assert!(!paths.iter().any(|p| p.contains("downsample")));
    assert_eq!(n.layers[0].output.c, 32);
    let Op::Conv(dw) = &n.layers[4].op else {
        panic!()
    };
    assert_eq!((dw.kh, dw.taps.len(), dw.pad.top), (5, 25, 2));
    assert_eq!(dw.accum, Accum::ShareSide);
    let add = n.layers.last().unwrap();
    assert_eq!(add.src2, Some(0));

    // Snapping: mid = G * max(1, round(ratio * C / G)).
    for (ratio, mid) in [(0.01, 16), (1.0, 64), (1.1, 64), (1.2, 80), (4.0, 256)] {
        let v = one_block(
            Shape::new(64, 8, 8),
            json!({"type": "stria_block", "out_channels": 64, "ratio": ratio}),
        );
        assert_eq!(parse(&v).unwrap().layers[0].output.c, mid, "ratio {ratio}");
    }
}

#[test]
fn composite_blocks_round_trip_with_defaults_omitted() {
    let v = json!({
        "name": "t",
        "input": {"channels": 32, "height": 8, "width": 8},
        "layers": [
            {"type": "basic", "out_channels": 32},
            {"type": "bottleneck", "out_channels": 64, "stride": 2, "width": 16},
            {"type": "inverted_residual", "out_channels": 64},
            {"type": "stria_block", "out_channels": 64}
        ]
    });
    let s = parse_spec(&v.to_string(), "t").unwrap();
    assert_eq!(serde_json::to_value(&s).unwrap(), v);
    let n = build(&s, "t").unwrap();
    assert_eq!(n.layers.last().unwrap().output, Shape::new(64, 4, 4));
    assert!(n.layers.iter().any(|l| l.path == "layers[3].conv2"));
}

fn err(v: Value) -> String {
    parse(&v).expect_err("expected an error")
}

#[test]
fn errors_name_the_block_path() {
    let blocks = |b: Value| one_block(Shape::new(48, 8, 8), b);
    let e = err(blocks(json!({"type": "stria_block", "out_channels": 40})));
    assert!(
        e.contains("layer `stages[0].blocks[0]`")
            && e.contains("groups = 16 must divide the input channels (48) and out_channels (40)"),
        "{e}"
    );
    let e = err(blocks(
        json!({"type": "stria_block", "out_channels": 48, "ratio": -1.0}),
    ));
    assert!(
        e.contains("stages[0].blocks[0]") && e.contains("ratio"),
        "{e}"
    );
    let e = err(blocks(
        json!({"type": "stria_block", "out_channels": 48, "kernel": 4}),
    ));
    assert!(e.contains("kernel must be odd"), "{e}");
    // groups = 1 cannot stripe: the conv's own error, at its path inside the block.
    let e = err(blocks(
        json!({"type": "stria_block", "out_channels": 48, "groups": 1}),
    ));
    assert!(
        e.contains("layer `stages[0].blocks[0].conv1`") && e.contains("accum: striped"),
        "{e}"
    );
    let e = err(blocks(
        json!({"type": "bottleneck", "out_channels": 64, "width": 16, "ratio": 0.25}),
    ));
    assert!(
        e.contains("stages[0].blocks[0]") && e.contains("not both"),
        "{e}"
    );
    let e = err(blocks(json!({"type": "basic", "out_channels": 0})));
    assert!(e.contains("out_channels must be positive"), "{e}");
    let e = err(blocks(
        json!({"type": "inverted_residual", "out_channels": 8, "expansion": 0}),
    ));
    assert!(e.contains("expansion must be positive"), "{e}");
    // Shape errors inside a block name the inner layer.
    let e = err(blocks(json!({"type": "basic", "out_channels": 70000})));
    assert!(
        e.contains("layer `stages[0].blocks[0].conv1`") && e.contains("70000"),
        "{e}"
    );
    let e = err(blocks(
        json!({"type": "basic", "out_channels": 48, "input": "nope"}),
    ));
    assert!(
        e.contains("layer `stages[0].blocks[0]`") && e.contains("nope"),
        "{e}"
    );
    // Unknown fields are rejected with the block path; named blocks use their name.
    let e = err(blocks(
        json!({"type": "basic", "out_channels": 48, "width": 3}),
    ));
    assert!(
        e.contains("stages[0].blocks[0]") && e.contains("width"),
        "{e}"
    );
    let e = err(blocks(
        json!({"type": "stria_block", "name": "sb", "out_channels": 40}),
    ));
    assert!(e.contains("layer `stages[0].sb`"), "{e}");
}

/// CrypTFlow2's channels per ciphertext of a 3x3 stride-1 layer at `res` (N = 8192).
fn cn3(res: u64) -> u64 {
    8192 / next_pow2((res + 2) * (res + 2))
}

#[test]
fn strianet_configs_match_builders_and_have_no_external_rotation_in_striped_layers() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/models");
    let cfg = CountConfig::new(Protocol::Cryptflow2);
    for stem in ["strianet-cifar10", "strianet-tiny", "strianet-imagenet"] {
        let path = dir.join(format!("{stem}.json"));
        let from_file = load_network(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(from_file, net(stem), "{stem}");
        let n = net(stem);
        let mut striped = 0;
        for l in &n.layers {
            let Op::Conv(c) = &l.op else { continue };
            if c.accum != Accum::Striped {
                continue;
            }
            striped += 1;
            let r = count_layer(l, &cfg).unwrap();
            assert_eq!(r.counts.external_rot, 0, "{stem} {}", l.path);
            // Mid widths are multiples of the 3x3 cn of their resolution.
            if c.depthwise && c.sh == 1 {
                assert_eq!(
                    l.input.c as u64 % cn3(l.input.h as u64),
                    0,
                    "{stem} {}",
                    l.path
                );
            }
        }
        // Every conv after the stem is striped.
        let convs = n
            .layers
            .iter()
            .filter(|l| matches!(l.op, Op::Conv(_)))
            .count();
        assert_eq!(striped, convs - 1, "{stem}");
        assert!(n.params() > 0 && n.macs() > 0);
        println!(
            "{stem}: params {} macs {} layers {}",
            n.params(),
            n.macs(),
            n.layers.len()
        );
    }
}
