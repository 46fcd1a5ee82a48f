//! Network specification: the JSON a user writes (serde types).
//!
//! A network file has a `name`, an `input` shape and its layers. Layers can be listed flat in `layers`,
//! or grouped: `stages` (each a list of `blocks`) and `head`. Execution order is `layers`, then
//! `stages`, then `head`. A node is a layer (`conv`, `depthwise`, `fc`, `batchnorm`, `relu`, `relu6`,
//! `maxpool`, `avgpool`, `global_avgpool`, `add`, `flatten`, `argmax`, `shuffle`) or a group
//! (`block`, `residual`).
//!
//! Accumulation strategies (background.md 8.3). `conv` and `depthwise` take an optional
//! `"accum"`: `"he-rotate"` (the default: partial sums rotated inside HE, as SCI_HE does),
//! `"striped"` (slot-aligned channel mixing: no external rotation when the packing allows it),
//! `"share-side"` (partial sums returned unrotated; both parties align them on their shares) or
//! `"auto"` (counted as `he-rotate`; the evaluation picks the cheaper of `he-rotate` and
//! `share-side` per layer). The strategies change only what the SIMD protocols count; Cheetah has
//! no rotations and ignores them. `conv` also takes `"group_layout"`: `"contiguous"` (the default,
//! group j holds channels `j*C/G .. (j+1)*C/G - 1`, as in PyTorch) or `"strided"` (group j holds the
//! channels c with `c mod G == j`, for inputs and outputs alike); `striped` needs a grouped
//! convolution with the strided layout (a depthwise layer, one input and one output channel per
//! group, has both layouts at once). `{"type": "shuffle"}` is a channel permutation (output shape
//! = input shape; an optional `"groups": G` documents a ShuffleNet transpose of G groups); it is
//! free: the client re-packs its share for every layer anyway, and non-linear protocols see a
//! local relabelling.
//!
//! Tensor references. Every node reads the output of the node before it unless it names another tensor
//! in `input`; `add` names the tensor it adds in `from`. A name refers to the node with that `name` in
//! the same list or an enclosing one (innermost first); the special name `input` is the tensor that
//! entered the enclosing group.
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
}

/// Input tensor shape (channels x height x width).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub channels: u32,
    pub height: u32,
    pub width: u32,
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
    Batchnorm(Plain),
    Relu(Plain),
    Relu6(Plain),
    Maxpool(PoolSpec),
    Avgpool(PoolSpec),
    GlobalAvgpool(Plain),
    Add(AddSpec),
    Flatten(Plain),
    Argmax(Plain),
    Shuffle(ShuffleSpec),
    Block(BlockSpec),
    Residual(ResidualSpec),
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
    /// How the SIMD protocols accumulate channels (background.md 8.3); default `he-rotate`.
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
    /// How the SIMD protocols accumulate channels (background.md 8.3); default `he-rotate`.
    #[serde(default, skip_serializing_if = "Accum::is_default")]
    pub accum: Accum,
}

/// How a SIMD-packed convolution accumulates products across channels (background.md 8.3). Only
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
    /// channels per ciphertext, background.md 5.3 and 8.3(b)).
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

/// Which kernel positions hold weights (background.md 8.4).
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
    /// The tensor added to this node's input.
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

impl Node {
    /// The node's `name`, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            Node::Conv(s) => s.name.as_deref(),
            Node::Depthwise(s) => s.name.as_deref(),
            Node::Fc(s) => s.name.as_deref(),
            Node::Batchnorm(s)
            | Node::Relu(s)
            | Node::Relu6(s)
            | Node::GlobalAvgpool(s)
            | Node::Flatten(s)
            | Node::Argmax(s) => s.name.as_deref(),
            Node::Maxpool(s) | Node::Avgpool(s) => s.name.as_deref(),
            Node::Add(s) => s.name.as_deref(),
            Node::Shuffle(s) => s.name.as_deref(),
            Node::Block(s) => s.name.as_deref(),
            Node::Residual(s) => s.name.as_deref(),
        }
    }

    /// The node's explicit `input` reference, if any.
    pub fn input_ref(&self) -> Option<&str> {
        match self {
            Node::Conv(s) => s.input.as_deref(),
            Node::Depthwise(s) => s.input.as_deref(),
            Node::Fc(s) => s.input.as_deref(),
            Node::Batchnorm(s)
            | Node::Relu(s)
            | Node::Relu6(s)
            | Node::GlobalAvgpool(s)
            | Node::Flatten(s)
            | Node::Argmax(s) => s.input.as_deref(),
            Node::Maxpool(s) | Node::Avgpool(s) => s.input.as_deref(),
            Node::Add(s) => s.input.as_deref(),
            Node::Shuffle(s) => s.input.as_deref(),
            Node::Block(s) => s.input.as_deref(),
            Node::Residual(s) => s.input.as_deref(),
        }
    }
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
