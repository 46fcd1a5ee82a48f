//! The built-in model zoo against the committed `configs/models/*.json` and the shapes, counts and
//! MAC totals of the standard networks (torchvision `torchvision/models/resnet.py` and
//! `mobilenetv2.py`, kuangliu/pytorch-cifar `models/resnet.py` and `models/mobilenetv2.py`,
//! OpenCheetah `networks/main_resnet50.cpp`); every expected number is written out here, not taken
//! from the builders.

use std::path::{Path, PathBuf};
use stria::net::{Layer, Network, NetworkSpec, Op, Shape, build, load_network, zoo};

const STEMS: [&str; 12] = [
    "resnet18",
    "resnet50",
    "resnet50-cf2",
    "resnet50-cheetah",
    "mobilenetv2",
    "resnet18-cifar10",
    "mobilenetv2-cifar10",
    "resnet18-tiny",
    "mobilenetv2-tiny",
    "strianet-cifar10",
    "strianet-tiny",
    "strianet-imagenet",
];

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/models")
}

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

fn convs(n: &Network) -> Vec<&Layer> {
    n.layers
        .iter()
        .filter(|l| matches!(l.op, Op::Conv(_)))
        .collect()
}

fn count(n: &Network, pred: impl Fn(&Op) -> bool) -> usize {
    n.layers.iter().filter(|l| pred(&l.op)).count()
}

fn layer<'a>(n: &'a Network, path: &str) -> &'a Layer {
    n.layers
        .iter()
        .find(|l| l.path == path)
        .unwrap_or_else(|| panic!("{}: no layer `{path}`", n.name))
}

/// Output shape of stage `i` (its last layer).
fn stage_out(n: &Network, i: usize) -> Shape {
    let prefix = format!("stages[{i}].");
    n.layers
        .iter()
        .rfind(|l| l.path.starts_with(&prefix))
        .unwrap_or_else(|| panic!("{}: no stage {i}", n.name))
        .output
}

/// Regenerates the committed files: `cargo test --test zoo -- --ignored regenerate`.
#[test]
#[ignore]
fn regenerate_zoo_configs() {
    let written = zoo::write_all(&models_dir()).unwrap();
    assert_eq!(written.len(), STEMS.len());
}

#[test]
fn zoo_lists_every_model_once() {
    let stems: Vec<&str> = zoo::all().iter().map(|(s, _)| *s).collect();
    assert_eq!(stems, STEMS);
    for (stem, s) in zoo::all() {
        assert_eq!(s.name, stem);
    }
}

#[test]
fn committed_configs_match_builders() {
    for (stem, built) in zoo::all() {
        let path = models_dir().join(format!("{stem}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (regenerate the zoo)", path.display()));
        let file_json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            serde_json::to_value(&built).unwrap(),
            file_json,
            "{stem}: committed JSON differs from the builder; run `cargo test --test zoo -- --ignored regenerate`"
        );
        assert_eq!(
            text,
            serde_json::to_string_pretty(&built).unwrap() + "\n",
            "{stem}: formatting"
        );
        assert_eq!(stria::net::load_spec(&path).unwrap(), built, "{stem}");
        let from_file = load_network(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(from_file, build(&built, stem).unwrap(), "{stem}");
    }
}

#[test]
fn write_all_writes_every_stem_and_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("models");
    let written = zoo::write_all(&out).unwrap();
    let expected: Vec<PathBuf> = STEMS
        .iter()
        .map(|s| out.join(format!("{s}.json")))
        .collect();
    assert_eq!(written, expected);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut want: Vec<String> = STEMS.iter().map(|s| format!("{s}.json")).collect();
    want.sort();
    assert_eq!(names, want);
    // Overwriting works too.
    zoo::write_all(&out).unwrap();
    for p in &written {
        let n = load_network(p).unwrap_or_else(|e| panic!("{e}"));
        assert!(n.macs() > 0);
    }
}

/// (stem, convs, depthwise convs, MACs, classes, final conv output HxW) of the torchvision and
/// kuangliu/pytorch-cifar definitions (Tiny ImageNet: their CIFAR layouts at 64x64).
const TOTALS: [(&str, usize, usize, u64, u32, u32); 9] = [
    ("resnet18", 20, 0, 1_814_073_344, 1000, 7),
    ("resnet50", 53, 0, 4_089_184_256, 1000, 7),
    // The cf2 convolutions equal ResNet-50 v1.5's; only the FC grows to 2048 x 1001.
    (
        "resnet50-cf2",
        53,
        0,
        4_089_184_256 - 2048 * 1000 + 2048 * 1001,
        1001,
        7,
    ),
    (
        "resnet50-cheetah",
        53,
        0,
        4_089_184_256 - 2048 * 1000 + 2048 * 1001,
        1001,
        7,
    ),
    ("mobilenetv2", 52, 17, 300_774_272, 1000, 7),
    ("resnet18-cifar10", 20, 0, 555_422_720, 10, 4),
    ("mobilenetv2-cifar10", 56, 17, 90_106_368, 10, 4),
    ("resnet18-tiny", 20, 0, 2_221_772_800, 200, 8),
    ("mobilenetv2-tiny", 56, 17, 360_630_272, 200, 8),
];

#[test]
fn conv_counts_macs_and_outputs() {
    for (stem, n_conv, n_dw, macs, classes, last_res) in TOTALS {
        let n = net(stem);
        let cs = convs(&n);
        assert_eq!(cs.len(), n_conv, "{stem}: convolutions");
        let dw = cs
            .iter()
            .filter(|l| matches!(&l.op, Op::Conv(c) if c.depthwise))
            .count();
        assert_eq!(dw, n_dw, "{stem}: depthwise convolutions");
        assert_eq!(count(&n, |o| *o == Op::Fc), 1, "{stem}: one FC");
        assert_eq!(n.macs(), macs, "{stem}: MACs");
        // resnet50-cf2/-cheetah end with the argmax the frameworks compute; the others with the
        // FC.
        let mut last = n.layers.last().unwrap();
        if stem.starts_with("resnet50-c") {
            assert_eq!(last.op, Op::Argmax, "{stem}: ends with the argmax");
            assert_eq!(last.output, Shape::new(1, 1, 1));
            last = &n.layers[n.layers.len() - 2];
        }
        assert_eq!(last.op, Op::Fc, "{stem}: ends with the FC");
        assert_eq!(last.output, Shape::new(classes, 1, 1), "{stem}: output");
        let lc = cs.last().unwrap().output;
        assert_eq!((lc.h, lc.w), (last_res, last_res), "{stem}: last conv map");
        assert_eq!(n.input.c, 3, "{stem}");
    }
}

#[test]
fn batchnorms_fold_into_their_convolutions() {
    // A BN directly after a conv/fc folds (Cheetah Sec. 5.1). In the post-activation nets every BN
    // follows its conv, one BN per conv.
    for stem in STEMS.iter().filter(|s| !s.starts_with("resnet50-c")) {
        let n = net(stem);
        let folded = count(&n, |o| *o == Op::BatchNorm { folded: true });
        let unfolded = count(&n, |o| *o == Op::BatchNorm { folded: false });
        assert_eq!(unfolded, 0, "{stem}");
        assert_eq!(folded, convs(&n).len(), "{stem}");
    }
}

#[test]
fn resnet_stage_resolutions_and_widths() {
    // (stem, stem output map, block expansion) of torchvision's and kuangliu's ResNets: stage i
    // runs at the stem map / 2^i with 64 * 2^i * expansion output channels.
    let cases = [
        ("resnet18", 56, 1),
        ("resnet50", 56, 4),
        ("resnet50-cf2", 56, 4),
        ("resnet18-cifar10", 32, 1),
        ("resnet18-tiny", 64, 1),
    ];
    for (stem, stem_res, expansion) in cases {
        let n = net(stem);
        let first_block = n
            .layers
            .iter()
            .find(|l| l.path.starts_with("stages[0]."))
            .unwrap();
        assert_eq!(first_block.input.h, stem_res, "{stem}: stem output");
        for i in 0..4 {
            let (c, r) = ((64 << i) * expansion, stem_res >> i);
            assert_eq!(stage_out(&n, i), Shape::new(c, r, r), "{stem}: stage {i}");
        }
    }
    // ImageNet stem: conv 7x7/2 pad 3 then max-pool 3x3/2 pad 1; CIFAR stem: 3x3/1, no max-pool.
    let r18 = net("resnet18");
    let Op::Conv(c1) = &layer(&r18, "conv1").op else {
        panic!()
    };
    assert_eq!((c1.kh, c1.sh, c1.pad.top), (7, 2, 3));
    let mp = layer(&r18, "maxpool");
    assert_eq!((mp.input.h, mp.output.h), (112, 56));
    for stem in ["resnet18-cifar10", "resnet18-tiny"] {
        let n = net(stem);
        assert_eq!(count(&n, |o| matches!(o, Op::MaxPool(_))), 0, "{stem}");
        let Op::Conv(c1) = &layer(&n, "conv1").op else {
            panic!()
        };
        assert_eq!((c1.kh, c1.sh), (3, 1), "{stem}");
    }
}

#[test]
fn resnet_blocks_follow_torchvision_v1_5() {
    // Paths read like `stages[2].blocks[1].conv2`.
    let r18 = net("resnet18");
    let c = layer(&r18, "stages[2].blocks[1].conv2");
    assert_eq!(
        (c.input, c.output),
        (Shape::new(256, 14, 14), Shape::new(256, 14, 14))
    );
    // Stage 2 block 0: stride-2 3x3 first, projection 1x1/2 (torchvision
    // `torchvision/models/resnet.py`).
    let c = layer(&r18, "stages[1].blocks[0].conv1");
    assert_eq!(
        (c.input, c.output),
        (Shape::new(64, 56, 56), Shape::new(128, 28, 28))
    );
    let d = layer(&r18, "stages[1].blocks[0].downsample");
    assert_eq!(
        (d.input, d.output),
        (Shape::new(64, 56, 56), Shape::new(128, 28, 28))
    );
    assert_eq!(layer(&r18, "stages[1].blocks[0].add").op, Op::Add);
    assert_eq!(layer(&r18, "stages[1].blocks[0].relu").op, Op::Relu);
    // 3 projections (stages 2-4) in ResNet-18; 4 (every stage) in ResNet-50.
    let proj = |n: &Network| {
        n.layers
            .iter()
            .filter(|l| l.path.ends_with(".downsample"))
            .count()
    };
    assert_eq!(proj(&r18), 3);
    let r50 = net("resnet50");
    assert_eq!(proj(&r50), 4);
    // v1.5: stride on the 3x3, not on the first 1x1 (torchvision `torchvision/models/resnet.py`).
    for (i, res_in) in [(1, 56), (2, 28), (3, 14)] {
        let c1 = layer(&r50, &format!("stages[{i}].blocks[0].conv1"));
        assert_eq!((c1.input.h, c1.output.h), (res_in, res_in));
        let c2 = layer(&r50, &format!("stages[{i}].blocks[0].conv2"));
        assert_eq!((c2.input.h, c2.output.h), (res_in, res_in / 2));
    }
    let d = layer(&r50, "stages[0].blocks[0].downsample");
    assert_eq!(
        (d.input, d.output),
        (Shape::new(64, 56, 56), Shape::new(256, 56, 56))
    );
    let fc = r50.layers.last().unwrap();
    assert_eq!(fc.input, Shape::new(2048, 1, 1));
}

#[test]
fn mobilenetv2_stage_resolutions() {
    // (stem, stem output map, per-stage output res) of torchvision's and kuangliu's MobileNetV2;
    // widths from torchvision's `inverted_residual_setting`.
    let widths = [16, 24, 32, 64, 96, 160, 320];
    let cases = [
        ("mobilenetv2", 112, [112, 56, 28, 14, 14, 7, 7]),
        ("mobilenetv2-cifar10", 32, [32, 32, 16, 8, 8, 4, 4]),
        ("mobilenetv2-tiny", 64, [64, 64, 32, 16, 16, 8, 8]),
    ];
    for (stem, stem_res, res) in cases {
        let n = net(stem);
        assert_eq!(
            layer(&n, "conv1").output,
            Shape::new(32, stem_res, stem_res),
            "{stem}"
        );
        for i in 0..7 {
            assert_eq!(
                stage_out(&n, i),
                Shape::new(widths[i], res[i], res[i]),
                "{stem}: stage {i}"
            );
        }
        let head = layer(&n, "conv2");
        let r = res[6];
        assert_eq!(
            (head.input, head.output),
            (Shape::new(320, r, r), Shape::new(1280, r, r))
        );
        assert_eq!(
            n.layers.last().unwrap().input,
            Shape::new(1280, 1, 1),
            "{stem}"
        );
        // ReLU6, and no activation after the projecting 1x1: every block ends in its bn3 or add.
        assert_eq!(count(&n, |o| *o == Op::Relu), 0, "{stem}");
    }
    let n = net("mobilenetv2");
    // t = 1: no expand conv in stage 1 (torchvision `mobilenetv2.py`).
    assert!(
        n.layers
            .iter()
            .all(|l| l.path != "stages[0].blocks[0].conv1")
    );
    // Residual adds: stride 1 and C = c, i.e. the non-first blocks (n - 1 per stage: 0+1+2+3+2+2+0).
    assert_eq!(count(&n, |o| *o == Op::Add), 10);
}

#[test]
fn mobilenetv2_cifar_projection_shortcuts() {
    // kuangliu/pytorch-cifar `models/mobilenetv2.py`: 1x1 projection shortcuts on blocks 0, 1, 10
    // and 16 (global block index).
    for stem in ["mobilenetv2-cifar10", "mobilenetv2-tiny"] {
        let n = net(stem);
        let mut shortcuts: Vec<&str> = n
            .layers
            .iter()
            .filter(|l| l.path.ends_with(".shortcut"))
            .map(|l| l.path.as_str())
            .collect();
        shortcuts.sort();
        assert_eq!(
            shortcuts,
            [
                // block 0 = stage 1 block 0; 1 = stage 2 block 0; 10 = stage 5 block 0;
                // 16 = stage 7 block 0.
                "stages[0].blocks[0].shortcut",
                "stages[1].blocks[0].shortcut",
                "stages[4].blocks[0].shortcut",
                "stages[6].blocks[0].shortcut",
            ],
            "{stem}"
        );
        // Adds: the 10 identity residuals plus the 4 projected ones.
        assert_eq!(count(&n, |o| *o == Op::Add), 14, "{stem}");
        assert!(
            n.layers
                .iter()
                .all(|l| l.path != "stages[0].blocks[0].conv1")
        );
    }
}

/// One row of the convolution table of OpenCheetah `networks/main_resnet50.cpp`: (input H as listed
/// = W, input C, kernel, out C, pad, stride).
type Row = (u32, u32, u32, u32, u32, u32);

/// The 53 convolutions of the CrypTFlow2/Cheetah ResNet-50, in execution order, expanded from the
/// convolutions of OpenCheetah `networks/main_resnet50.cpp`.
fn cf2_table() -> Vec<Row> {
    let mut t: Vec<Row> = vec![(230, 3, 7, 64, 0, 2)]; // #1, 224 pre-padded by 3
    // #2-#11: projection first, then three blocks at 56.
    t.push((56, 64, 1, 256, 0, 1));
    for cin in [64, 256, 256] {
        t.extend([
            (56, cin, 1, 64, 0, 1),
            (56, 64, 3, 64, 1, 1),
            (56, 64, 1, 256, 0, 1),
        ]);
    }
    // Stages 2-4: (input res, input C, mid w, blocks).
    for (r, cin, w, blocks) in [(56, 256, 128, 4), (28, 512, 256, 6), (14, 1024, 512, 3)] {
        let o = r / 2;
        t.extend([
            (r, cin, 1, 4 * w, 0, 2), // projection (#12, #25, #44)
            (r, cin, 1, w, 0, 1),     // #13, #26, #45
            (r + 2, w, 3, w, 0, 2),   // #14, #27, #46: padded by 1, VALID
            (o, w, 1, 4 * w, 0, 1),   // #15, #28, #47
        ]);
        for _ in 1..blocks {
            t.extend([
                (o, 4 * w, 1, w, 0, 1),
                (o, w, 3, w, 1, 1),
                (o, w, 1, 4 * w, 0, 1),
            ]);
        }
    }
    t
}

#[test]
fn resnet50_cf2_convolutions_follow_main_resnet50() {
    let t = cf2_table();
    assert_eq!(t.len(), 53);
    // Spot checks of the expansion against the table rows.
    assert_eq!(t[1], (56, 64, 1, 256, 0, 1)); // #2
    assert_eq!(t[11], (56, 256, 1, 512, 0, 2)); // #12
    assert_eq!(t[12], (56, 256, 1, 128, 0, 1)); // #13
    assert_eq!(t[13], (58, 128, 3, 128, 0, 2)); // #14
    assert_eq!(t[24], (28, 512, 1, 1024, 0, 2)); // #25
    assert_eq!(t[43], (14, 1024, 1, 2048, 0, 2)); // #44
    assert_eq!(t[45], (16, 512, 3, 512, 0, 2)); // #46
    assert_eq!(t[46], (7, 512, 1, 2048, 0, 1)); // #47

    let n = net("resnet50-cf2");
    let cs = convs(&n);
    assert_eq!(cs.len(), 53);
    for (i, (l, &(h, cin, k, cout, pad, s))) in cs.iter().zip(&t).enumerate() {
        let Op::Conv(c) = &l.op else { unreachable!() };
        let what = format!("conv #{} ({})", i + 1, l.path);
        // The stored (padded) image: the table writes some paddings into the tensor (pad 0,
        // VALID), the spec as conv padding; both give the same padded size.
        let stored_h = l.input.h + c.pad.top + c.pad.bottom;
        let stored_w = l.input.w + c.pad.left + c.pad.right;
        assert_eq!(
            (stored_h, stored_w),
            (h + 2 * pad, h + 2 * pad),
            "{what}: stored HxW"
        );
        assert_eq!(l.input.c, cin, "{what}: input C");
        assert_eq!((c.kh, c.kw), (k, k), "{what}: kernel");
        assert_eq!(l.output.c, cout, "{what}: out C");
        assert_eq!((c.sh, c.sw), (s, s), "{what}: stride");
        assert!(c.is_dense() && c.groups == 1, "{what}");
    }
    // Output maps follow from the table: 112 after conv #1, then 56/28/14/7 per stage.
    assert_eq!(cs[0].output, Shape::new(64, 112, 112));
    assert_eq!(cs[13].output, Shape::new(128, 28, 28));
    assert_eq!(cs[52].output, Shape::new(2048, 7, 7));
    // Conv #2 is the projection and reads the same (pre-activated) tensor as conv #3.
    assert!(cs[1].path.ends_with("downsample"), "{}", cs[1].path);
    assert_eq!(cs[1].input, cs[2].input);
}

#[test]
fn resnet50_cf2_layer_counts() {
    // Cheetah Sec. 6, Table 9 and OpenCheetah `networks/main_resnet50.cpp`: 53 conv, 49 BN, 49
    // ReLU, 1 max-pool, 1 average pool, 1 FC 2048 -> 1001. Every BN is evaluated, none folded
    // (SCI's `FusedBatchNorm4411` calls `ElemWiseActModelVectorMult` for all 49): 1 after the
    // max-pool, 16 after an add and 32 after a conv.
    let n = net("resnet50-cf2");
    assert_eq!(count(&n, |o| matches!(o, Op::BatchNorm { .. })), 49);
    assert_eq!(count(&n, |o| *o == Op::BatchNorm { folded: true }), 0);
    let mut after = (0, 0, 0);
    for (i, l) in n.layers.iter().enumerate() {
        if l.op == (Op::BatchNorm { folded: false }) {
            match n.layers[i - 1].op {
                Op::MaxPool(_) => after.0 += 1,
                Op::Add => after.1 += 1,
                Op::Conv(_) => after.2 += 1,
                ref o => panic!("{}: BN after {o:?}", l.path),
            }
        }
    }
    assert_eq!(after, (1, 16, 32));
    assert_eq!(count(&n, |o| *o == Op::Relu), 49);
    assert_eq!(count(&n, |o| *o == Op::Add), 16);
    let pools: Vec<&Layer> = n
        .layers
        .iter()
        .filter(|l| matches!(l.op, Op::MaxPool(_)))
        .collect();
    assert_eq!(pools.len(), 1);
    let Op::MaxPool(p) = pools[0].op else {
        unreachable!()
    };
    assert_eq!((p.kh, p.sh), (3, 2));
    assert_eq!(
        (p.pad.top, p.pad.bottom, p.pad.left, p.pad.right),
        (0, 1, 0, 1)
    );
    assert_eq!(pools[0].input, Shape::new(64, 112, 112));
    assert_eq!(pools[0].output, Shape::new(64, 56, 56));
    let avg: Vec<&Layer> = n
        .layers
        .iter()
        .filter(|l| matches!(l.op, Op::AvgPool(_) | Op::GlobalAvgPool))
        .collect();
    assert_eq!(avg.len(), 1);
    assert_eq!(avg[0].input, Shape::new(2048, 7, 7));
    assert_eq!(avg[0].output, Shape::new(2048, 1, 1));
    let fc = &n.layers[n.layers.len() - 2];
    assert_eq!(
        (fc.op.clone(), fc.input, fc.output),
        (Op::Fc, Shape::new(2048, 1, 1), Shape::new(1001, 1, 1))
    );
    assert_eq!(n.layers.last().unwrap().op, Op::Argmax);
    // Head: BN, ReLU (pre-activation of the last add), then the pool.
    let k = n.layers.len() - 1;
    assert_eq!(n.layers[k - 5].op, Op::BatchNorm { folded: false });
    assert_eq!(n.layers[k - 4].op, Op::Relu);
    assert_eq!(n.input, Shape::new(3, 224, 224));
}

#[test]
fn parameter_counts_match_the_reference_implementations() {
    // torchvision: resnet18 11,689,512, resnet50 25,557,032, mobilenet_v2 3,504,872 parameters
    // (conv weights without bias, BN scale and shift, FC weights and bias); kuangliu's CIFAR
    // ResNet-18: 11,173,962.
    for (stem, params) in [
        ("resnet18", 11_689_512u64),
        ("resnet50", 25_557_032),
        ("mobilenetv2", 3_504_872),
        ("resnet18-cifar10", 11_173_962),
    ] {
        assert_eq!(net(stem).params(), params, "{stem}");
    }
}
