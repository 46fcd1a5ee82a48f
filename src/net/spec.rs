//! Network specification: the JSON a user writes (serde types).
//!
//! A network file has a `name`, an `input` shape and its layers. Layers can be listed flat in `layers`,
//! or grouped: `stages` (each a list of `blocks`) and `head`. Execution order is `layers`, then
//! `stages`, then `head`. A node is a layer (`conv`, `depthwise`, `fc`, `batchnorm`, `relu`, `relu6`,
//! `sigmoid`, `maxpool`, `avgpool`, `global_avgpool`, `add`, `mul`, `concat`, `flatten`, `argmax`,
//! `shuffle`) or a group (`block`, `residual`). `mul` is the element-wise product of its input and
//! the tensor named in `from`: of the same shape, or `from` of shape Cx1x1 scaling each channel
//! (squeeze-excite); SiLU is a `sigmoid` and a `mul` of its input by the sigmoid's output.
//!
//! Accumulation strategies (derived here; README "StriaBlock and StriaNet"). `conv` and `depthwise`
//! take an optional `"accum"`: `"he-rotate"` (the default: partial sums rotated inside HE, as
//! SCI_HE does), `"striped"` (slot-aligned channel mixing: no external rotation when the packing
//! allows it), `"share-side"` (partial sums returned unrotated; both parties align them on their
//! shares) or `"auto"` (counted as `he-rotate`; the evaluation picks the cheaper of `he-rotate` and
//! `share-side` per layer). The strategies change only what the SIMD protocols count; Cheetah has
//! no rotations and ignores them. `conv` also takes `"group_layout"`: `"contiguous"` (the default,
//! group j holds channels `j*C/G .. (j+1)*C/G - 1`, as in PyTorch) or `"strided"` (group j holds
//! the channels c with `c mod G == j`, for inputs and outputs alike); `striped` needs a grouped
//! convolution with the strided layout (a depthwise layer, one input and one output channel per
//! group, has both layouts at once). `{"type": "shuffle"}` is a channel permutation (output shape =
//! input shape; an optional `"groups": G` documents a ShuffleNet transpose of G groups); it is
//! free: the client re-packs its share for every layer anyway, and non-linear protocols see a local
//! relabelling.
//!
//! Tensor references. Every node reads the output of the node before it unless it names another tensor
//! in `input`; `add` names the tensor it adds in `from`. A name refers to the node with that `name` in
//! the same list or an enclosing one (innermost first); the special name `input` is the tensor that
//! entered the enclosing group.
//!
//! Composite blocks lower to the layers above (so every count is that of the explicit layers);
//! inside a block the layers are named `conv1`, `bn1`, `relu1`, ... so a path reads
//! `stages[2].blocks[1].conv2`:
//! - `{"type": "basic", "out_channels": C, "stride": s}` (s defaults to 1): ResNet basic block,
//!   `conv1` 3x3/s pad 1, `bn1`, `relu1`, `conv2` 3x3 pad 1, `bn2`, the shortcut (identity, or
//!   `downsample` 1x1/s + `downsample_bn` when the shape changes), `add`, `relu`.
//! - `{"type": "bottleneck", "out_channels": C, "stride": s, "width": w}` or `"ratio": r` (w =
//!   round(r*C), r defaults to 0.25; give at most one): ResNet v1.5 bottleneck, `conv1` 1x1 -> w,
//!   `bn1`, `relu1`, `conv2` 3x3/s pad 1, `bn2`, `relu2`, `conv3` 1x1 -> C, `bn3`, shortcut as
//!   in `basic`, `add`, `relu`.
//! - `{"type": "inverted_residual", "out_channels": c, "expansion": t, "stride": s, "kernel": k}`
//!   (t defaults to 6, s to 1, k to 3; `"projection": true` adds kuangliu's 1x1 `shortcut` and
//!   `shortcut_bn` to stride-1 blocks that change width): MobileNetV2, `conv1` 1x1 -> t*C, `bn1`,
//!   `relu1` (ReLU6; these three omitted when t = 1), `conv2` depthwise k x k/s pad k/2, `bn2`,
//!   `relu2`, `conv3` 1x1 -> c, `bn3`; a `residual` (add path `<block>.add`) when s = 1 and
//!   C = c (or with `projection`), a `block` otherwise.
//! - `{"type": "stria_block", "out_channels": C_out, "ratio": r, "stride": s, "groups": G}` (README
//!   "StriaBlock and StriaNet"; `kernel` 3, `kernel_shape` `cross`, `accum` `striped`, `groups` 16
//!   and `ratio` 1 by default; `"width": C_mid` instead of `ratio` gives the middle width itself, a
//!   multiple of G): `conv1` 1x1 C -> C_mid (groups G, strided), `bn1`, `relu1`, `shuffle1`
//!   (transpose of G groups), `conv2` depthwise k x k/s pad k/2 (`kernel_shape`), `bn2`, `relu2`,
//!   `shuffle2`, `conv3` 1x1 C_mid -> C_out (groups G, strided), `bn3`, then `add` of the identity
//!   or, when the shape changes, of `downsample` (1x1/s, groups G, strided) and `downsample_bn`; no
//!   ReLU after the add. The middle width is `C_mid = G * max(1, round(r*C/G))`: the ratio applied
//!   to the input width, snapped to a multiple of G (so to a multiple of cn whenever G is). G must
//!   divide C and C_out. `accum` applies to all four convolutions. With G a multiple of every
//!   striped layer's cn (under CrypTFlow2 the 1x1 cn, `8192 / next_pow2(H*W)`, is the largest), no
//!   layer of the block has an external rotation.
//!
//! Parsing goes through [`crate::net::parse`], which reports the layer path of every error.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// Top-level network file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    pub name: String,
    pub input: InputSpec,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<Node>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub head: Vec<Node>,
    /// `false`: no batch norm folds into the conv or fc before it; every one is evaluated as an
    /// element-wise product, as SCI's and OpenCheetah's ResNet-50 programs do. Default `true`.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub fold_batchnorm: bool,
    /// Which protocol OpenCheetah's program runs its unfolded batch norms with under Cheetah
    /// (`"fewer"`: coefficient encoding when it needs fewer ciphertexts, as the ResNet-50 program
    /// decides; `"simd"`: always the CRT SIMD protocol, as the DenseNet-121 program does). Absent:
    /// `fewer`. `--cheetah-batchnorm` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cheetah_batchnorm: Option<crate::he::BnProtocol>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Input tensor shape (channels x height x width).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub channels: u32,
    pub height: u32,
    pub width: u32,
    /// The input holds unreduced fixed-point products (scale `2f`), as when a network piece
    /// starts right after a multiplication; it decides where truncations go. Default `false`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub untruncated: bool,
}

/// A stage: a named list of blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub blocks: Vec<Node>,
}

/// One node of a network: a layer or a group of layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Node {
    Conv(ConvSpec),
    Depthwise(DepthwiseSpec),
    Fc(FcSpec),
    Batchnorm(BatchnormSpec),
    Relu(Plain),
    Relu6(Plain),
    /// The logistic function `1 / (1 + exp(-x))`, element by element.
    Sigmoid(Plain),
    Maxpool(PoolSpec),
    Avgpool(PoolSpec),
    GlobalAvgpool(Plain),
    Add(AddSpec),
    /// Channel concatenation of this node's input and `from` (same height and width).
    Concat(AddSpec),
    /// Element-wise product of this node's input and `from` (same shape, or `from` of shape
    /// Cx1x1, one factor per channel).
    Mul(AddSpec),
    Flatten(Plain),
    Argmax(Plain),
    Shuffle(ShuffleSpec),
    Block(BlockSpec),
    Residual(ResidualSpec),
    Basic(BasicSpec),
    Bottleneck(BottleneckSpec),
    InvertedResidual(InvertedResidualSpec),
    StriaBlock(StriaBlockSpec),
}

/// A batch norm: folded into the conv or fc it directly follows unless `fold` is `false` (or the
/// network's `fold_batchnorm` is), then evaluated as an element-wise product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchnormSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub fold: bool,
}

/// Every node may carry a name and an explicit input tensor reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plain {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    pub out_channels: u32,
    pub kernel: Pair,
    #[serde(default = "Pair::one", skip_serializing_if = "Pair::is_one")]
    pub stride: Pair,
    #[serde(default, skip_serializing_if = "Padding::is_zero")]
    pub padding: Padding,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub groups: u32,
    /// Explicit non-zero kernel positions `[dy, dx]`, `0 <= dy < kh`, `0 <= dx < kw`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taps: Option<Vec<[u32; 2]>>,
    /// `dense` (every position, the default) or `cross` (the centre row and column).
    #[serde(default, skip_serializing_if = "KernelShape::is_dense")]
    pub kernel_shape: KernelShape,
    /// How the SIMD protocols accumulate channels ([`Accum`]); default `he-rotate`.
    #[serde(default, skip_serializing_if = "Accum::is_default")]
    pub accum: Accum,
    /// Which channels form group j: `contiguous` (default) or `strided` (`c mod G == j`).
    #[serde(default, skip_serializing_if = "GroupLayout::is_contiguous")]
    pub group_layout: GroupLayout,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepthwiseSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    pub kernel: Pair,
    #[serde(default = "Pair::one", skip_serializing_if = "Pair::is_one")]
    pub stride: Pair,
    #[serde(default, skip_serializing_if = "Padding::is_zero")]
    pub padding: Padding,
    /// Output channels per input channel (depth multiplier).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub multiplier: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taps: Option<Vec<[u32; 2]>>,
    #[serde(default, skip_serializing_if = "KernelShape::is_dense")]
    pub kernel_shape: KernelShape,
    /// How the SIMD protocols accumulate channels ([`Accum`]); default `he-rotate`.
    #[serde(default, skip_serializing_if = "Accum::is_default")]
    pub accum: Accum,
}

/// How a SIMD-packed convolution accumulates products across channels (derived here: the
/// project's per-layer choice; `share-side` applies GALA's share-side rotate-and-sum, GALA (Zhang
/// et al., NDSS 2021) Sec. III-A, to convolutions). Only
/// the SIMD protocols (CrypTFlow2, Gazelle, GALA) count the strategies differently; Cheetah has no
/// rotations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Accum {
    /// Output rotations inside HE (SCI_HE / Gazelle / GALA as published).
    #[default]
    HeRotate,
    /// Slot-aligned channel mixing: an output mixes only input channels at its own slot block
    /// (needs the strided group layout).
    Striped,
    /// The unrotated partial sums are masked and returned; the parties align them on their shares.
    ShareSide,
    /// The cheaper of `he-rotate` and `share-side` for the link. Counting does not know the link,
    /// so the counters count `he-rotate`; the evaluation prices both and picks per layer.
    Auto,
}

impl Accum {
    pub fn is_default(&self) -> bool {
        *self == Accum::HeRotate
    }

    /// The strategy the counters use: `auto` counts as `he-rotate`.
    pub fn counted(self) -> Accum {
        match self {
            Accum::Auto => Accum::HeRotate,
            a => a,
        }
    }

    /// The spelling in network files.
    pub fn name(&self) -> &'static str {
        match self {
            Accum::HeRotate => "he-rotate",
            Accum::Striped => "striped",
            Accum::ShareSide => "share-side",
            Accum::Auto => "auto",
        }
    }
}

impl std::fmt::Display for Accum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which channels form the groups of a grouped convolution, for inputs and outputs alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupLayout {
    /// Group j holds channels `j*C/G .. (j+1)*C/G - 1` (PyTorch's convention).
    #[default]
    Contiguous,
    /// Group j holds the channels c with `c mod G == j` (slot-aligned when G is a multiple of the
    /// channels per ciphertext; derived here).
    Strided,
}

impl GroupLayout {
    pub fn is_contiguous(&self) -> bool {
        *self == GroupLayout::Contiguous
    }
}

/// A channel permutation (`{"type": "shuffle"}`), e.g. ShuffleNet's transpose of `groups` groups.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShuffleSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Documents the transpose: `C = G*n` channels read as a `G x n` matrix, written transposed.
    /// Must divide the channel count; the permutation costs nothing either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<u32>,
}

/// Which kernel positions hold weights (derived here: a sparse tap set such as the cross costs one
/// internal rotation per tap off the anchor).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelShape {
    /// Every position of the kernel window.
    #[default]
    Dense,
    /// Cross Kernel: the centre plus arms of length `(k - 1)/2` in the four directions (the
    /// centre row and the centre column; `2k - 1` taps for a k x k kernel); sides must be odd.
    Cross,
}

impl KernelShape {
    pub fn is_dense(&self) -> bool {
        *self == KernelShape::Dense
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FcSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    pub out_features: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    pub kernel: Pair,
    /// Defaults to the kernel size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<Pair>,
    #[serde(default, skip_serializing_if = "Padding::is_zero")]
    pub padding: Padding,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The tensor added to (for `concat`, appended after; for `mul`, multiplied with) this node's
    /// input.
    pub from: String,
}

/// A sequential group; its output is the output of its last node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    pub layers: Vec<Node>,
}

/// `body(x) + shortcut(x)`; an empty shortcut is the identity. The body runs first, then the
/// shortcut, then an implicit `add` (path `<residual>.add`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResidualSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    pub body: Vec<Node>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shortcut: Vec<Node>,
}

/// ResNet basic block (`{"type": "basic"}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    pub out_channels: u32,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub stride: u32,
}

/// ResNet v1.5 bottleneck (`{"type": "bottleneck"}`): stride on the 3x3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BottleneckSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    pub out_channels: u32,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub stride: u32,
    /// Middle width; exclusive with `ratio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Middle width as a fraction of `out_channels` (default 0.25); exclusive with `width`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
}

/// MobileNetV2 inverted residual (`{"type": "inverted_residual"}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvertedResidualSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    pub out_channels: u32,
    /// Expansion factor t (expand 1x1 omitted when 1).
    #[serde(default = "six", skip_serializing_if = "is_six")]
    pub expansion: u32,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub stride: u32,
    /// Depthwise kernel side (odd).
    #[serde(default = "three", skip_serializing_if = "is_three")]
    pub kernel: u32,
    /// A 1x1 conv + BN shortcut on stride-1 blocks that change width (kuangliu's CIFAR version).
    #[serde(default, skip_serializing_if = "is_false")]
    pub projection: bool,
}

/// StriaBlock (`{"type": "stria_block"}`, README "StriaBlock and StriaNet").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StriaBlockSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    pub out_channels: u32,
    /// `C_mid / C_in` before snapping to a multiple of `groups` (default 1); exclusive with
    /// `width`.
    #[serde(default = "ratio_one", skip_serializing_if = "is_ratio_one")]
    pub ratio: f64,
    /// The middle width `C_mid` itself, a multiple of `groups`; exclusive with `ratio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub stride: u32,
    /// Spatial kernel side of the depthwise layer (odd).
    #[serde(default = "three", skip_serializing_if = "is_three")]
    pub kernel: u32,
    #[serde(default = "cross", skip_serializing_if = "is_cross")]
    pub kernel_shape: KernelShape,
    #[serde(default = "striped", skip_serializing_if = "is_striped")]
    pub accum: Accum,
    /// Groups G of the pointwise convolutions (strided layout); must divide the widths.
    #[serde(default = "sixteen", skip_serializing_if = "is_sixteen")]
    pub groups: u32,
}

fn ratio_one() -> f64 {
    1.0
}
fn is_ratio_one(v: &f64) -> bool {
    *v == 1.0
}
fn cross() -> KernelShape {
    KernelShape::Cross
}
fn is_cross(v: &KernelShape) -> bool {
    *v == KernelShape::Cross
}
fn striped() -> Accum {
    Accum::Striped
}
fn is_striped(v: &Accum) -> bool {
    *v == Accum::Striped
}
fn sixteen() -> u32 {
    16
}
fn is_sixteen(v: &u32) -> bool {
    *v == 16
}

// ---------------------------------------------------------------------------------------------
// Node constructors (shared with the model zoo) and the lowering of composite blocks to plain
// nodes (the graph builder lowers the result).

/// `Some(n)` as an owned name.
pub(crate) fn nm(n: &str) -> Option<String> {
    Some(n.to_string())
}

/// A parameterless layer such as `plain_node(Node::Relu, "relu")`.
/// A named batch norm that folds where it can.
pub(crate) fn bn_node(n: &str) -> Node {
    Node::Batchnorm(BatchnormSpec {
        name: nm(n),
        input: None,
        fold: true,
    })
}

pub(crate) fn plain_node(kind: fn(Plain) -> Node, n: &str) -> Node {
    kind(Plain {
        name: nm(n),
        input: None,
    })
}

/// A square dense convolution `k`x`k`, stride `s`, zero padding `p` on every side.
pub(crate) fn conv_node(n: &str, out: u32, k: u32, s: u32, p: u32) -> ConvSpec {
    ConvSpec {
        name: nm(n),
        input: None,
        out_channels: out,
        kernel: Pair(k, k),
        stride: Pair(s, s),
        padding: Padding::all(p),
        groups: 1,
        taps: None,
        kernel_shape: KernelShape::Dense,
        accum: Accum::HeRotate,
        group_layout: GroupLayout::Contiguous,
    }
}

/// `conv{i}` followed by `bn{i}`.
pub(crate) fn conv_bn_nodes(i: u32, out: u32, k: u32, s: u32, p: u32) -> Vec<Node> {
    vec![
        Node::Conv(conv_node(&format!("conv{i}"), out, k, s, p)),
        bn_node(&format!("bn{i}")),
    ]
}

/// An unnamed sequential block.
pub(crate) fn block_node(layers: Vec<Node>) -> Node {
    Node::Block(BlockSpec {
        name: None,
        input: None,
        layers,
    })
}

fn positive(v: u32, what: &str) -> Result<(), String> {
    if v == 0 {
        Err(format!("{what} must be positive"))
    } else {
        Ok(())
    }
}

/// A post-activation ResNet block: `body`, the shortcut (identity, or `downsample` 1x1/s + BN
/// when the shape changes), `add` of the body output `body_out`, `relu`.
fn resnet_tail(mut layers: Vec<Node>, body_out: &str, in_c: u32, out: u32, s: u32) -> Node {
    let shortcut = if s != 1 || in_c != out {
        layers.push(Node::Conv(ConvSpec {
            input: nm("input"),
            ..conv_node("downsample", out, 1, s, 0)
        }));
        layers.push(bn_node("downsample_bn"));
        "downsample_bn"
    } else {
        "input"
    };
    layers.push(Node::Add(AddSpec {
        name: nm("add"),
        input: nm(body_out),
        from: shortcut.into(),
    }));
    layers.push(plain_node(Node::Relu, "relu"));
    block_node(layers)
}

impl BasicSpec {
    /// The explicit layers of this block for `in_c` input channels.
    pub fn lower(&self, in_c: u32) -> Result<Node, String> {
        positive(self.out_channels, "out_channels")?;
        positive(self.stride, "stride")?;
        let w = self.out_channels;
        let layers = [
            conv_bn_nodes(1, w, 3, self.stride, 1),
            vec![plain_node(Node::Relu, "relu1")],
            conv_bn_nodes(2, w, 3, 1, 1),
        ]
        .concat();
        Ok(resnet_tail(layers, "bn2", in_c, w, self.stride))
    }
}

impl BottleneckSpec {
    /// The middle width: `width`, or `round(ratio * out_channels)` (ratio 0.25 by default).
    pub fn mid(&self) -> Result<u32, String> {
        let w = match (self.width, self.ratio) {
            (Some(_), Some(_)) => return Err("give either `width` or `ratio`, not both".into()),
            (Some(w), None) => w,
            (None, r) => {
                let r = r.unwrap_or(0.25);
                if !(r.is_finite() && r > 0.0) {
                    return Err(format!("ratio must be a positive number, got {r}"));
                }
                let w = (r * self.out_channels as f64).round();
                if w > u32::MAX as f64 {
                    return Err(format!("ratio {r} gives a middle width that is too large"));
                }
                w as u32
            }
        };
        if w == 0 {
            return Err(
                "the middle width must be positive (width, or ratio * out_channels rounded)".into(),
            );
        }
        Ok(w)
    }

    /// The explicit layers of this block for `in_c` input channels.
    pub fn lower(&self, in_c: u32) -> Result<Node, String> {
        positive(self.out_channels, "out_channels")?;
        positive(self.stride, "stride")?;
        let w = self.mid()?;
        let out = self.out_channels;
        let layers = [
            conv_bn_nodes(1, w, 1, 1, 0),
            vec![plain_node(Node::Relu, "relu1")],
            conv_bn_nodes(2, w, 3, self.stride, 1),
            vec![plain_node(Node::Relu, "relu2")],
            conv_bn_nodes(3, out, 1, 1, 0),
        ]
        .concat();
        Ok(resnet_tail(layers, "bn3", in_c, out, self.stride))
    }
}

impl InvertedResidualSpec {
    /// The explicit layers of this block for `in_c` input channels: a `residual` when it has a
    /// shortcut, a `block` otherwise.
    pub fn lower(&self, in_c: u32) -> Result<Node, String> {
        positive(self.out_channels, "out_channels")?;
        positive(self.expansion, "expansion")?;
        positive(self.stride, "stride")?;
        if self.kernel.is_multiple_of(2) {
            return Err(format!("kernel must be odd, got {}", self.kernel));
        }
        let (t, c, s, k) = (self.expansion, self.out_channels, self.stride, self.kernel);
        let mut body = Vec::new();
        if t != 1 {
            let mid = in_c
                .checked_mul(t)
                .ok_or_else(|| "expansion * input channels is too large".to_string())?;
            body.extend(conv_bn_nodes(1, mid, 1, 1, 0));
            body.push(plain_node(Node::Relu6, "relu1"));
        }
        body.extend([
            Node::Depthwise(DepthwiseSpec {
                name: nm("conv2"),
                input: None,
                kernel: Pair(k, k),
                stride: Pair(s, s),
                padding: Padding::all(k / 2),
                multiplier: 1,
                taps: None,
                kernel_shape: KernelShape::Dense,
                accum: Accum::HeRotate,
            }),
            bn_node("bn2"),
            plain_node(Node::Relu6, "relu2"),
        ]);
        body.extend(conv_bn_nodes(3, c, 1, 1, 0));
        let shortcut = match (s, in_c == c) {
            (1, true) => Vec::new(),
            (1, false) if self.projection => vec![
                Node::Conv(conv_node("shortcut", c, 1, 1, 0)),
                bn_node("shortcut_bn"),
            ],
            _ => return Ok(block_node(body)),
        };
        Ok(Node::Residual(ResidualSpec {
            name: None,
            input: None,
            body,
            shortcut,
        }))
    }
}

impl StriaBlockSpec {
    /// The middle width for `in_c` input channels: `width`, or `G * max(1, round(ratio * in_c /
    /// G))`.
    pub fn mid(&self, in_c: u32) -> Result<u32, String> {
        if let Some(w) = self.width {
            if self.ratio != 1.0 {
                return Err("give either `width` or `ratio`, not both".into());
            }
            if w == 0 || !w.is_multiple_of(self.groups.max(1)) {
                return Err(format!(
                    "width = {w} must be a positive multiple of groups = {}",
                    self.groups
                ));
            }
            return Ok(w);
        }
        let r = self.ratio;
        if !(r.is_finite() && r > 0.0) {
            return Err(format!("ratio must be a positive number, got {r}"));
        }
        let g = self.groups as f64;
        let units = (r * in_c as f64 / g).round().max(1.0);
        let mid = units * g;
        if mid > u32::MAX as f64 {
            return Err(format!("ratio {r} gives a middle width that is too large"));
        }
        Ok(mid as u32)
    }

    /// The explicit layers of this block for `in_c` input channels.
    pub fn lower(&self, in_c: u32) -> Result<Node, String> {
        positive(self.out_channels, "out_channels")?;
        positive(self.stride, "stride")?;
        positive(self.groups, "groups")?;
        if self.kernel.is_multiple_of(2) {
            return Err(format!("kernel must be odd, got {}", self.kernel));
        }
        let (g, out, s, k) = (self.groups, self.out_channels, self.stride, self.kernel);
        if !in_c.is_multiple_of(g) || !out.is_multiple_of(g) {
            return Err(format!(
                "groups = {g} must divide the input channels ({in_c}) and out_channels ({out})"
            ));
        }
        let mid = self.mid(in_c)?;
        let pointwise = |n: &str, co: u32, stride: u32| {
            Node::Conv(ConvSpec {
                groups: g,
                accum: self.accum,
                group_layout: if g > 1 {
                    GroupLayout::Strided
                } else {
                    GroupLayout::Contiguous
                },
                ..conv_node(n, co, 1, stride, 0)
            })
        };
        let shuffle = |n: &str| {
            Node::Shuffle(ShuffleSpec {
                name: nm(n),
                input: None,
                groups: Some(g),
            })
        };
        let mut layers = vec![
            pointwise("conv1", mid, 1),
            bn_node("bn1"),
            plain_node(Node::Relu, "relu1"),
            shuffle("shuffle1"),
            Node::Depthwise(DepthwiseSpec {
                name: nm("conv2"),
                input: None,
                kernel: Pair(k, k),
                stride: Pair(s, s),
                padding: Padding::all(k / 2),
                multiplier: 1,
                taps: None,
                kernel_shape: self.kernel_shape,
                accum: self.accum,
            }),
            bn_node("bn2"),
            plain_node(Node::Relu, "relu2"),
            shuffle("shuffle2"),
            pointwise("conv3", out, 1),
            bn_node("bn3"),
        ];
        let shortcut = if s != 1 || in_c != out {
            layers.push(Node::Conv(ConvSpec {
                input: nm("input"),
                ..match pointwise("downsample", out, s) {
                    Node::Conv(c) => c,
                    _ => unreachable!(),
                }
            }));
            layers.push(bn_node("downsample_bn"));
            "downsample_bn"
        } else {
            "input"
        };
        layers.push(Node::Add(AddSpec {
            name: nm("add"),
            input: nm("bn3"),
            from: shortcut.into(),
        }));
        Ok(block_node(layers))
    }
}

impl Node {
    /// The node's `name`, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            Node::Conv(s) => s.name.as_deref(),
            Node::Depthwise(s) => s.name.as_deref(),
            Node::Fc(s) => s.name.as_deref(),
            Node::Batchnorm(s) => s.name.as_deref(),
            Node::Relu(s)
            | Node::Relu6(s)
            | Node::Sigmoid(s)
            | Node::GlobalAvgpool(s)
            | Node::Flatten(s)
            | Node::Argmax(s) => s.name.as_deref(),
            Node::Maxpool(s) | Node::Avgpool(s) => s.name.as_deref(),
            Node::Add(s) | Node::Concat(s) | Node::Mul(s) => s.name.as_deref(),
            Node::Shuffle(s) => s.name.as_deref(),
            Node::Block(s) => s.name.as_deref(),
            Node::Residual(s) => s.name.as_deref(),
            Node::Basic(s) => s.name.as_deref(),
            Node::Bottleneck(s) => s.name.as_deref(),
            Node::InvertedResidual(s) => s.name.as_deref(),
            Node::StriaBlock(s) => s.name.as_deref(),
        }
    }

    /// The node's explicit `input` reference, if any.
    pub fn input_ref(&self) -> Option<&str> {
        match self {
            Node::Conv(s) => s.input.as_deref(),
            Node::Depthwise(s) => s.input.as_deref(),
            Node::Fc(s) => s.input.as_deref(),
            Node::Batchnorm(s) => s.input.as_deref(),
            Node::Relu(s)
            | Node::Relu6(s)
            | Node::Sigmoid(s)
            | Node::GlobalAvgpool(s)
            | Node::Flatten(s)
            | Node::Argmax(s) => s.input.as_deref(),
            Node::Maxpool(s) | Node::Avgpool(s) => s.input.as_deref(),
            Node::Add(s) | Node::Concat(s) | Node::Mul(s) => s.input.as_deref(),
            Node::Shuffle(s) => s.input.as_deref(),
            Node::Block(s) => s.input.as_deref(),
            Node::Residual(s) => s.input.as_deref(),
            Node::Basic(s) => s.input.as_deref(),
            Node::Bottleneck(s) => s.input.as_deref(),
            Node::InvertedResidual(s) => s.input.as_deref(),
            Node::StriaBlock(s) => s.input.as_deref(),
        }
    }
}

fn three() -> u32 {
    3
}
fn is_three(v: &u32) -> bool {
    *v == 3
}
fn six() -> u32 {
    6
}
fn is_six(v: &u32) -> bool {
    *v == 6
}
fn is_false(v: &bool) -> bool {
    !*v
}

fn one() -> u32 {
    1
}
fn is_one(v: &u32) -> bool {
    *v == 1
}

/// A size given as one number (square) or `[height, width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair(pub u32, pub u32);

impl Pair {
    pub fn one() -> Pair {
        Pair(1, 1)
    }
    pub fn is_one(&self) -> bool {
        *self == Pair(1, 1)
    }
}

impl Serialize for Pair {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == self.1 {
            s.serialize_u32(self.0)
        } else {
            [self.0, self.1].serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Pair {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let nums = non_negative_list(&v).map_err(de::Error::custom)?;
        match nums.as_slice() {
            [a] => Ok(Pair(*a, *a)),
            [a, b] => Ok(Pair(*a, *b)),
            _ => Err(de::Error::custom(format!(
                "expected a non-negative integer or [h, w], got {v}"
            ))),
        }
    }
}

/// Zero padding `[top, bottom, left, right]`; written as one number (all sides), `[vertical,
/// horizontal]` or four numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Padding {
    pub top: u32,
    pub bottom: u32,
    pub left: u32,
    pub right: u32,
}

impl Padding {
    pub fn all(p: u32) -> Padding {
        Padding {
            top: p,
            bottom: p,
            left: p,
            right: p,
        }
    }
    pub fn is_zero(&self) -> bool {
        *self == Padding::default()
    }
}

impl Serialize for Padding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if *self == Padding::all(self.top) {
            s.serialize_u32(self.top)
        } else {
            [self.top, self.bottom, self.left, self.right].serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Padding {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let nums = non_negative_list(&v).map_err(de::Error::custom)?;
        match nums.as_slice() {
            [p] => Ok(Padding::all(*p)),
            [v, h] => Ok(Padding {
                top: *v,
                bottom: *v,
                left: *h,
                right: *h,
            }),
            [t, b, l, r] => Ok(Padding {
                top: *t,
                bottom: *b,
                left: *l,
                right: *r,
            }),
            _ => Err(de::Error::custom(format!(
                "padding must be a non-negative integer, [vertical, horizontal] or [top, bottom, left, right], got {v}"
            ))),
        }
    }
}

/// A number or an array of numbers, each a non-negative integer that fits in u32.
fn non_negative_list(v: &serde_json::Value) -> Result<Vec<u32>, String> {
    let one = |x: &serde_json::Value| -> Result<u32, String> {
        match x.as_u64() {
            Some(n) if n <= u32::MAX as u64 => Ok(n as u32),
            _ => Err(format!("expected a non-negative integer, got {x}")),
        }
    };
    match v {
        serde_json::Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}
