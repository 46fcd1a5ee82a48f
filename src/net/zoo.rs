//! Built-in model zoo: the standard networks (torchvision `torchvision/models/resnet.py` and
//! `mobilenetv2.py`; kuangliu/pytorch-cifar `models/resnet.py` and `models/mobilenetv2.py`;
//! OpenCheetah `networks/main_resnet50.cpp`) as [`NetworkSpec`] builders.
//!
//! [`all`] lists every model with the file stem it is shipped under in `configs/models/`;
//! [`write_all`] regenerates those files. Layer names follow torchvision (ResNet) and kuangliu's
//! pytorch-cifar (MobileNetV2 blocks), so a path reads like `stages[2].blocks[1].conv2`: stages and
//! blocks are unnamed, the layers inside them are named. Every conv is followed by its batch norm.
//!
//! Block forms:
//! - ResNet basic / bottleneck (post-activation): a `block` ending in an explicit `add` and the
//!   trailing `relu` (a `residual` node cannot hold the ReLU after its add without an extra level).
//! - `resnet50-cf2`, the pre-activation ResNet-50 that CrypTFlow2/Cheetah run: a `block` whose
//!   projection shortcut reads the pre-activated tensor and runs before `conv1`.
//! - MobileNetV2 inverted residual: a `residual` (identity or projection shortcut) or, without a
//!   shortcut, a plain `block`.

use super::spec::{
    Accum, AddSpec, BasicSpec, BottleneckSpec, ConvSpec, FcSpec, InputSpec, InvertedResidualSpec,
    KernelShape, NetworkSpec, Node, Padding, Pair, PoolSpec, StageSpec, StriaBlockSpec, block_node,
    bn_node, conv_bn_nodes, conv_node, nm, plain_node,
};
use std::path::{Path, PathBuf};

/// Every built-in model as (file stem, spec).
pub fn all() -> Vec<(&'static str, NetworkSpec)> {
    vec![
        ("resnet18", resnet18()),
        ("resnet50", resnet50()),
        ("resnet50-cf2", resnet50_cf2()),
        ("resnet50-cheetah", resnet50_cheetah()),
        ("mobilenetv2", mobilenetv2()),
        ("resnet18-cifar10", resnet18_cifar10()),
        ("mobilenetv2-cifar10", mobilenetv2_cifar10()),
        ("resnet18-tiny", resnet18_tiny()),
        ("mobilenetv2-tiny", mobilenetv2_tiny()),
        ("strianet-cifar10", strianet_cifar10()),
        ("strianet-tiny", strianet_tiny()),
        ("strianet-imagenet", strianet_imagenet()),
    ]
}

/// Writes every model of [`all`] to `dir/<stem>.json` (pretty JSON plus a trailing newline), each
/// through [`crate::io::write_output`] (atomically for regular files). Returns the written paths.
pub fn write_all(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (stem, spec) in all() {
        let mut text = serde_json::to_string_pretty(&spec).map_err(std::io::Error::other)?;
        text.push('\n');
        let path = dir.join(format!("{stem}.json"));
        crate::io::write_output(&path, text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// ResNet-18, torchvision (`torchvision/models/resnet.py`): ImageNet 224x224, 1000 classes.
pub fn resnet18() -> NetworkSpec {
    resnet(
        "resnet18",
        224,
        1000,
        Depth::Basic([2, 2, 2, 2]),
        Stem::ImageNet,
    )
}

/// ResNet-50 v1.5, torchvision (`torchvision/models/resnet.py`): stride on the 3x3, ImageNet, 1000
/// classes.
pub fn resnet50() -> NetworkSpec {
    resnet(
        "resnet50",
        224,
        1000,
        Depth::Bottleneck([3, 4, 6, 3]),
        Stem::ImageNet,
    )
}

/// ResNet-18 for CIFAR-10 (kuangliu/pytorch-cifar `models/resnet.py`): 32x32, 3x3 stem, no
/// max-pool, 10 classes.
pub fn resnet18_cifar10() -> NetworkSpec {
    resnet(
        "resnet18-cifar10",
        32,
        10,
        Depth::Basic([2, 2, 2, 2]),
        Stem::Cifar,
    )
}

/// ResNet-18 for Tiny ImageNet with the CIFAR-style stem (kuangliu/pytorch-cifar
/// `models/resnet.py` at 64x64; derived here: Tiny ImageNet has no single standard stem): 64x64,
/// 200 classes.
pub fn resnet18_tiny() -> NetworkSpec {
    resnet(
        "resnet18-tiny",
        64,
        200,
        Depth::Basic([2, 2, 2, 2]),
        Stem::Cifar,
    )
}

/// MobileNetV2 1.0, torchvision (`torchvision/models/mobilenetv2.py`): ImageNet 224x224, 1000
/// classes.
pub fn mobilenetv2() -> NetworkSpec {
    mobilenet_v2("mobilenetv2", 224, 1000, Stem::ImageNet)
}

/// MobileNetV2 for CIFAR-10 (kuangliu/pytorch-cifar `models/mobilenetv2.py`): stem and stage-2
/// stride 1, projection shortcuts on the stride-1 blocks that change width, 10 classes.
pub fn mobilenetv2_cifar10() -> NetworkSpec {
    mobilenet_v2("mobilenetv2-cifar10", 32, 10, Stem::Cifar)
}

/// The CIFAR-style MobileNetV2 at Tiny ImageNet size (derived here: kuangliu's CIFAR layout at
/// 64x64): 64x64, 200 classes.
pub fn mobilenetv2_tiny() -> NetworkSpec {
    mobilenet_v2("mobilenetv2-tiny", 64, 200, Stem::Cifar)
}

/// The ResNet-50 OpenCheetah's Cheetah program runs (top-level `networks/main_resnet50.cpp`,
/// `USE_FUSED_BN 1`): the graph of [`resnet50_cf2`], but the batch norm after each block's first
/// and second convolution is fused into the convolution's weights (`FusedBN`), all but one; the
/// 17 pre-activation batch norms (after the max-pool, after each residual add, and the head's)
/// and that one are evaluated (`ScaleDown` + `FusedBatchNorm4411`, HomBN). Share bit length 37 and scale 12
/// (`scripts/common.sh`: `SS_BITLEN=37`, `FXP_SCALE=12`).
pub fn resnet50_cheetah() -> NetworkSpec {
    let mut spec = NetworkSpec {
        name: "resnet50-cheetah".into(),
        fold_batchnorm: true,
        ..resnet50_cf2()
    };
    // One exception in the program: the batch norm after the second block of stage 1's 3x3
    // convolution is not fused (the log's `HomBN #2 via element-wise mult on 100352 points`,
    // after `Truncate #6`), so it is evaluated like the pre-activation ones.
    if let Node::Block(b) = &mut spec.stages[1].blocks[1] {
        for n in &mut b.layers {
            if let Node::Batchnorm(bn) = n
                && bn.name.as_deref() == Some("bn3")
            {
                bn.fold = false;
            }
        }
    }
    spec
}

/// The pre-activation ResNet-50 run by CrypTFlow2 and Cheetah (OpenCheetah
/// networks/main_resnet50.cpp, generated by EzPC's TensorFlow front-end): 224x224x3, 1001 classes;
/// conv1 7x7/2 pad 3 without BN, max-pool 3x3/2 padded bottom/right, 16 pre-activation bottlenecks
/// (stride on the 3x3, projection first), head BN, ReLU, avg-pool 7, FC 2048 -> 1001, argmax (the
/// client learns only the class). Every batch norm is evaluated (none folds), as both programs do;
/// truncations go where [`crate::packing::nonlinear::truncation_plan`] puts them, which is where
/// the program calls `ScaleDown` and `Relu(..., doTruncation)`.
pub fn resnet50_cf2() -> NetworkSpec {
    let stem = vec![
        conv("conv1", 64, 7, 2, 3),
        Node::Maxpool(PoolSpec {
            name: nm("maxpool"),
            input: None,
            kernel: Pair(3, 3),
            stride: Some(Pair(2, 2)),
            padding: Padding {
                top: 0,
                bottom: 1,
                left: 0,
                right: 1,
            },
        }),
    ];
    let mut in_c = 64;
    let stages = stage_plan([3, 4, 6, 3], [64, 128, 256, 512])
        .map(|blocks| {
            let blocks = blocks
                .into_iter()
                .map(|(w, s)| {
                    let b = preact_bottleneck(in_c, w, s);
                    in_c = 4 * w;
                    b
                })
                .collect();
            stage(blocks)
        })
        .collect();
    let head = vec![
        bn_node("bn"),
        plain_node(Node::Relu, "relu"),
        Node::Avgpool(PoolSpec {
            name: nm("avgpool"),
            input: None,
            kernel: Pair(7, 7),
            stride: None,
            padding: Padding::default(),
        }),
        plain_node(Node::Flatten, "flatten"),
        fc("fc", 1001),
        plain_node(Node::Argmax, "argmax"),
    ];
    NetworkSpec {
        // Every batch norm runs as an element-wise product (`FusedBatchNorm` ->
        // `ElemWiseActModelVectorMult` under SCI_HE, HomBN under Cheetah), none folds.
        fold_batchnorm: false,
        ..network("resnet50-cf2", 224, stem, stages, head)
    }
}

// ---------------------------------------------------------------------------------------------
// ResNet (torchvision v1.5 / kuangliu CIFAR)

#[derive(Clone, Copy)]
enum Stem {
    /// conv 7x7/2 + max-pool 3x3/2 (ResNet); conv 3x3/2 (MobileNetV2).
    ImageNet,
    /// conv 3x3/1, no max-pool; MobileNetV2 also runs stage 2 at stride 1.
    Cifar,
}

#[derive(Clone, Copy)]
enum Depth {
    Basic([u32; 4]),
    Bottleneck([u32; 4]),
}

/// Per stage, its blocks as (mid width, stride): stride 1 in stage 1, 2 on the first block of the
/// later stages.
fn stage_plan(depths: [u32; 4], widths: [u32; 4]) -> impl Iterator<Item = Vec<(u32, u32)>> {
    depths
        .into_iter()
        .zip(widths)
        .enumerate()
        .map(|(i, (n, w))| {
            (0..n)
                .map(|b| (w, if i > 0 && b == 0 { 2 } else { 1 }))
                .collect()
        })
}

fn resnet(stem_name: &str, res: u32, classes: u32, depth: Depth, stem: Stem) -> NetworkSpec {
    let mut layers = match stem {
        Stem::ImageNet => vec![conv("conv1", 64, 7, 2, 3)],
        Stem::Cifar => vec![conv("conv1", 64, 3, 1, 1)],
    };
    layers.extend([bn_node("bn1"), plain_node(Node::Relu, "relu")]);
    if let Stem::ImageNet = stem {
        layers.push(Node::Maxpool(PoolSpec {
            name: nm("maxpool"),
            input: None,
            kernel: Pair(3, 3),
            stride: Some(Pair(2, 2)),
            padding: Padding::all(1),
        }));
    }
    let (depths, expansion) = match depth {
        Depth::Basic(d) => (d, 1),
        Depth::Bottleneck(d) => (d, 4),
    };
    let mut in_c = 64;
    let stages = stage_plan(depths, [64, 128, 256, 512])
        .map(|blocks| {
            let blocks = blocks
                .into_iter()
                .map(|(w, s)| {
                    let b = resnet_block(in_c, w, expansion, s);
                    in_c = expansion * w;
                    b
                })
                .collect();
            stage(blocks)
        })
        .collect();
    // torchvision pools adaptively; kuangliu's CIFAR nets call avg_pool2d over the final map
    // (4x4 at 32x32 input, 8x8 at 64x64).
    let pool = match stem {
        Stem::ImageNet => plain_node(Node::GlobalAvgpool, "avgpool"),
        Stem::Cifar => Node::Avgpool(PoolSpec {
            name: nm("avgpool"),
            input: None,
            kernel: Pair(res / 8, res / 8),
            stride: None,
            padding: Padding::default(),
        }),
    };
    let head = vec![
        pool,
        plain_node(Node::Flatten, "flatten"),
        fc("fc", classes),
    ];
    network(stem_name, res, layers, stages, head)
}

/// A post-activation ResNet block with mid width `w`: basic (`expansion` 1: 3x3 stride s, 3x3) or
/// bottleneck (`expansion` 4: 1x1, 3x3 stride s, 1x1 -> 4w), then `add` of the identity or the
/// 1x1/s projection (`downsample`), then ReLU: the `basic` / `bottleneck` spec blocks, lowered.
fn resnet_block(in_c: u32, w: u32, expansion: u32, s: u32) -> Node {
    let lowered = if expansion == 1 {
        BasicSpec {
            name: None,
            input: None,
            out_channels: w,
            stride: s,
        }
        .lower(in_c)
    } else {
        BottleneckSpec {
            name: None,
            input: None,
            out_channels: expansion * w,
            stride: s,
            width: Some(w),
            ratio: None,
        }
        .lower(in_c)
    };
    lowered.expect("zoo ResNet blocks are valid")
}

/// A pre-activation bottleneck (TF ResNet v2 as lowered by EzPC): BN and ReLU on the block input,
/// the projection (if any) on that pre-activated tensor first, then 1x1 -> w, 3x3/s -> w,
/// 1x1 -> 4w (each conv but the last followed by BN and ReLU), then `add` of the shortcut.
fn preact_bottleneck(in_c: u32, w: u32, s: u32) -> Node {
    let out = 4 * w;
    let projection = s != 1 || in_c != out;
    let mut layers = vec![bn_node("bn1"), plain_node(Node::Relu, "relu1")];
    if projection {
        layers.push(conv("downsample", out, 1, s, 0));
    }
    let conv1 = conv("conv1", w, 1, 1, 0);
    layers.extend([
        if projection {
            with_input(conv1, "relu1")
        } else {
            conv1
        },
        bn_node("bn2"),
        plain_node(Node::Relu, "relu2"),
        conv("conv2", w, 3, s, 1),
        bn_node("bn3"),
        plain_node(Node::Relu, "relu3"),
        conv("conv3", out, 1, 1, 0),
        Node::Add(AddSpec {
            name: nm("add"),
            input: None,
            from: (if projection { "downsample" } else { "input" }).into(),
        }),
    ]);
    block_node(layers)
}

// ---------------------------------------------------------------------------------------------
// MobileNetV2 (torchvision / kuangliu CIFAR)

/// Inverted-residual stages (t, c, n, s) of MobileNetV2 1.0 (torchvision
/// `torchvision/models/mobilenetv2.py`, `inverted_residual_setting`).
const MOBILENET_V2_STAGES: [(u32, u32, u32, u32); 7] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
];

fn mobilenet_v2(stem_name: &str, res: u32, classes: u32, stem: Stem) -> NetworkSpec {
    let cifar = matches!(stem, Stem::Cifar);
    let stem_stride = if cifar { 1 } else { 2 };
    let layers = [
        conv_bn_nodes(1, 32, 3, stem_stride, 1),
        vec![plain_node(Node::Relu6, "relu1")],
    ]
    .concat();
    let mut in_c = 32;
    let stages = MOBILENET_V2_STAGES
        .iter()
        .enumerate()
        .map(|(i, &(t, c, n, s))| {
            // kuangliu's CIFAR version runs stage 2 at stride 1.
            let s = if cifar && i == 1 { 1 } else { s };
            let blocks = (0..n)
                .map(|b| {
                    let block = inverted_residual(in_c, t, c, if b == 0 { s } else { 1 }, cifar);
                    in_c = c;
                    block
                })
                .collect();
            stage(blocks)
        })
        .collect();
    let head = [
        conv_bn_nodes(2, 1280, 1, 1, 0),
        vec![
            plain_node(Node::Relu6, "relu2"),
            plain_node(Node::GlobalAvgpool, "avgpool"),
            plain_node(Node::Flatten, "flatten"),
            fc("fc", classes),
        ],
    ]
    .concat();
    network(stem_name, res, layers, stages, head)
}

/// Inverted residual: expand 1x1 -> t*C (omitted when t = 1), depthwise 3x3/s pad 1, project 1x1
/// -> c without activation. Identity shortcut when s = 1 and C = c; with `projection`, stride-1
/// blocks that change width get a 1x1 conv + BN shortcut (kuangliu's CIFAR version).
fn inverted_residual(in_c: u32, t: u32, c: u32, s: u32, projection: bool) -> Node {
    InvertedResidualSpec {
        name: None,
        input: None,
        out_channels: c,
        expansion: t,
        stride: s,
        kernel: 3,
        projection,
    }
    .lower(in_c)
    .expect("zoo MobileNetV2 blocks are valid")
}

// ---------------------------------------------------------------------------------------------
// StriaNet (derived here: the project's reconstruction of the StriaBlock and its two principles,
// README "StriaBlock and StriaNet"; not the paper's tables)
//
// Every conv after the stem is a striped `stria_block` layer with G a multiple of its cn, so it
// has no external rotation under CrypTFlow2 (only the dense stem and the FC rotate externally).
// Capacity: a striped 1x1 layer C -> M with G = its cn (= 8192 / (H*W)) has C*M/G parameters
// for M*H*W activations, i.e. C/8192 parameters per activation (ResNet-18: about 20), and C/G
// MACs per activation. ResNet-18/50 parameter and MAC counts would need ~10^5 channels, i.e.
// several times their ReLU and truncation cost; the widths below keep ReLU counts at or below
// the baselines' instead (CIFAR-10: 0.06 M params, 3.0 M MACs, 508 k ReLUs against ResNet-18's
// 11.2 M, 555 M, 557 k; ImageNet: 1.2 M, 97 M, 2.5 M against ResNet-50's 25.6 M, 4.1 G, 9.6 M).

/// One StriaNet stage: output width, middle width (each block's `ratio` is `mid / C_in`, exact
/// for these powers of two), number of blocks, groups G of the pointwise layers.
#[derive(Clone, Copy)]
struct StriaStage {
    width: u32,
    mid: u32,
    blocks: u32,
    groups: u32,
}

/// The StriaNet stage plan shared by CIFAR-10 and Tiny ImageNet (stages at 32, 16, 8, 4). G is
/// the channels per ciphertext of a 1x1 layer at the stage's resolution under CrypTFlow2 (N =
/// 8192: 8, 32, 128, 512), a multiple of the 3x3 cn (4, 16, 64, 128), so every striped layer is
/// slot-aligned. Widths are multiples of the next stage's G (the first block of a stage reads the
/// previous stage's width with the new G).
/// Stem output width of every StriaNet.
const STRIANET_STEM: u32 = 32;

const STRIANET_32: [StriaStage; 4] = [
    StriaStage {
        width: 32,
        mid: 32,
        blocks: 2,
        groups: 8,
    },
    StriaStage {
        width: 128,
        mid: 64,
        blocks: 2,
        groups: 32,
    },
    StriaStage {
        width: 512,
        mid: 256,
        blocks: 2,
        groups: 128,
    },
    StriaStage {
        width: 1024,
        mid: 1024,
        blocks: 2,
        groups: 512,
    },
];

/// StriaNet for ImageNet (stages at 56, 28, 14, 7): G = 1x1 cn at each resolution (2, 8, 32,
/// 128), rounded up to 8 in stage 1.
const STRIANET_224: [StriaStage; 4] = [
    StriaStage {
        width: 64,
        mid: 32,
        blocks: 3,
        groups: 8,
    },
    StriaStage {
        width: 256,
        mid: 64,
        blocks: 4,
        groups: 8,
    },
    StriaStage {
        width: 512,
        mid: 256,
        blocks: 6,
        groups: 32,
    },
    StriaStage {
        width: 1024,
        mid: 512,
        blocks: 3,
        groups: 128,
    },
];

/// StriaNet for CIFAR-10: 32x32, 3x3/1 stem (64), four stages of `stria_block`s at 32, 16, 8, 4.
pub fn strianet_cifar10() -> NetworkSpec {
    strianet("strianet-cifar10", 32, 10, 1, &STRIANET_32)
}

/// StriaNet for Tiny ImageNet: 64x64, 3x3/2 stem (64) to 32x32, then the CIFAR-10 stages.
pub fn strianet_tiny() -> NetworkSpec {
    strianet("strianet-tiny", 64, 200, 2, &STRIANET_32)
}

/// StriaNet for ImageNet: 224x224, ResNet stem (7x7/2, max-pool 3x3/2) to 56x56, four stages of
/// `stria_block`s at 56, 28, 14, 7.
pub fn strianet_imagenet() -> NetworkSpec {
    let mut layers = vec![
        conv("conv1", STRIANET_STEM, 7, 2, 3),
        bn_node("bn1"),
        plain_node(Node::Relu, "relu"),
    ];
    layers.push(Node::Maxpool(PoolSpec {
        name: nm("maxpool"),
        input: None,
        kernel: Pair(3, 3),
        stride: Some(Pair(2, 2)),
        padding: Padding::all(1),
    }));
    strianet_body("strianet-imagenet", 224, 1000, layers, &STRIANET_224)
}

fn strianet(
    net_name: &str,
    res: u32,
    classes: u32,
    stem_stride: u32,
    plan: &[StriaStage; 4],
) -> NetworkSpec {
    let layers = [
        conv_bn_nodes(1, STRIANET_STEM, 3, stem_stride, 1),
        vec![plain_node(Node::Relu, "relu1")],
    ]
    .concat();
    strianet_body(net_name, res, classes, layers, plan)
}

/// Stages of `stria_block`s (stride 2 on the first block of stages 2-4), then global average
/// pooling and the FC.
fn strianet_body(
    net_name: &str,
    res: u32,
    classes: u32,
    layers: Vec<Node>,
    plan: &[StriaStage; 4],
) -> NetworkSpec {
    let mut in_c = STRIANET_STEM;
    let stages = plan
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let blocks = (0..st.blocks)
                .map(|b| {
                    let ratio = st.mid as f64 / in_c as f64;
                    in_c = st.width;
                    Node::StriaBlock(StriaBlockSpec {
                        name: None,
                        input: None,
                        out_channels: st.width,
                        ratio,
                        width: None,
                        stride: if i > 0 && b == 0 { 2 } else { 1 },
                        kernel: 3,
                        kernel_shape: KernelShape::Cross,
                        accum: Accum::Striped,
                        groups: st.groups,
                    })
                })
                .collect();
            stage(blocks)
        })
        .collect();
    let head = vec![
        plain_node(Node::GlobalAvgpool, "avgpool"),
        plain_node(Node::Flatten, "flatten"),
        fc("fc", classes),
    ];
    network(net_name, res, layers, stages, head)
}

// ---------------------------------------------------------------------------------------------
// Node constructors

fn network(
    name: &str,
    res: u32,
    layers: Vec<Node>,
    stages: Vec<StageSpec>,
    head: Vec<Node>,
) -> NetworkSpec {
    NetworkSpec {
        name: name.to_string(),
        input: InputSpec {
            channels: 3,
            height: res,
            width: res,
            untruncated: false,
        },
        layers,
        stages,
        head,
        cheetah_batchnorm: None,
        fold_batchnorm: true,
    }
}

fn stage(blocks: Vec<Node>) -> StageSpec {
    StageSpec { name: None, blocks }
}

/// A square dense convolution `k`x`k`, stride `s`, zero padding `p` on every side.
fn conv(n: &str, out: u32, k: u32, s: u32, p: u32) -> Node {
    Node::Conv(conv_node(n, out, k, s, p))
}

/// Makes a conv read the tensor named `src` instead of the previous node's output.
fn with_input(node: Node, src: &str) -> Node {
    match node {
        Node::Conv(c) => Node::Conv(ConvSpec {
            input: nm(src),
            ..c
        }),
        other => unreachable!("with_input is only used on convolutions, got {other:?}"),
    }
}

fn fc(n: &str, out: u32) -> Node {
    Node::Fc(FcSpec {
        name: nm(n),
        input: None,
        out_features: out,
    })
}
