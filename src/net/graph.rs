//! Lowering a [`NetworkSpec`] to the resolved layer list: tensor references resolved, every shape
//! inferred and checked, batch norms marked as folded or not.

use super::parse::child_path;
pub use super::spec::{Accum, GroupLayout};
use super::spec::{ConvSpec, KernelShape, NetworkSpec, Node, Padding, PoolSpec};
use crate::error::SpecError;
use serde::Serialize;
use std::collections::HashMap;

/// A tensor shape: channels x height x width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Shape {
    pub c: u32,
    pub h: u32,
    pub w: u32,
}

impl Shape {
    pub fn new(c: u32, h: u32, w: u32) -> Shape {
        Shape { c, h, w }
    }
    /// Number of elements `c*h*w`.
    pub fn elems(&self) -> u64 {
        self.c as u64 * self.h as u64 * self.w as u64
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.c, self.h, self.w)
    }
}

/// A convolution's geometry. Taps are kernel positions `(dy, dx)`, `0 <= dy < kh`, `0 <= dx < kw`,
/// sorted row-major; a dense kernel lists all `kh*kw`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv {
    pub kh: u32,
    pub kw: u32,
    pub sh: u32,
    pub sw: u32,
    pub pad: Padding,
    pub groups: u32,
    pub taps: Vec<(u32, u32)>,
    /// Declared as `depthwise` (or `groups` equal to the input channels with one output per group).
    pub depthwise: bool,
    /// How the SIMD protocols accumulate channels ([`Accum`]; derived here).
    pub accum: Accum,
    /// Which channels form each group. Always `Contiguous` when there is one group, and when every
    /// group has one input and one output channel (both layouts are then the same layer).
    pub group_layout: GroupLayout,
}

impl Conv {
    /// True when every position of the kernel window is a tap.
    pub fn is_dense(&self) -> bool {
        self.taps.len() as u64 == self.kh as u64 * self.kw as u64
    }
}

/// A pooling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub kh: u32,
    pub kw: u32,
    pub sh: u32,
    pub sw: u32,
    pub pad: Padding,
}

/// What a resolved layer computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Conv(Conv),
    /// Fully connected on the flattened input.
    Fc,
    /// Batch norm; `folded` when it directly follows a conv or fc and merges into it.
    BatchNorm {
        folded: bool,
    },
    Relu,
    Relu6,
    /// The logistic function, element by element (no protocol prices it yet:
    /// [`crate::packing::nonlinear::pricing`]).
    Sigmoid,
    MaxPool(Pool),
    AvgPool(Pool),
    GlobalAvgPool,
    /// Residual addition (local on shares).
    Add,
    /// Channel concatenation of `src` and `src2` (free: each party concatenates its shares).
    Concat,
    /// Element-wise product of `src` and `src2`, `src2` of the same shape or Cx1x1 (one factor
    /// per channel, broadcast over H and W): a product of two secret-shared tensors, which needs a
    /// protocol (none prices it yet: [`crate::packing::nonlinear::pricing`]).
    Mul,
    Flatten,
    /// Index of the largest value (the prediction the client learns).
    Argmax,
    /// A channel permutation (`groups`: the ShuffleNet transpose it documents, if given). Free:
    /// the client re-packs its share for every layer, and non-linear protocols see a relabelling.
    Shuffle {
        groups: Option<u32>,
    },
}

/// A layer with its path and resolved shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub path: String,
    pub op: Op,
    pub input: Shape,
    pub output: Shape,
    /// The layer reads the network input (held whole by the client, not secret-shared).
    pub reads_input: bool,
    /// Tensor ids: the tensor read (0 is the network input), the second operand of an `add`,
    /// `concat` or `mul`, and
    /// the tensor produced. A layer `b` consumes layer `a`'s output when `b.src == a.dst` or
    /// `b.src2 == Some(a.dst)`.
    pub src: usize,
    pub src2: Option<usize>,
    pub dst: usize,
}

impl Layer {
    /// Short kind label used in tables and `--by kind` views, e.g. `conv3x3`, `depthwise3x3`, `fc`.
    pub fn kind(&self) -> String {
        match &self.op {
            Op::Conv(c) => {
                let base = if c.depthwise {
                    "depthwise"
                } else if c.groups > 1 {
                    "group_conv"
                } else {
                    "conv"
                };
                let sparse = if c.is_dense() { "" } else { "_sparse" };
                format!("{base}{}x{}{sparse}", c.kh, c.kw)
            }
            Op::Fc => "fc".into(),
            Op::BatchNorm { folded: true } => "batchnorm_folded".into(),
            Op::BatchNorm { folded: false } => "batchnorm".into(),
            Op::Relu => "relu".into(),
            Op::Relu6 => "relu6".into(),
            Op::Sigmoid => "sigmoid".into(),
            Op::MaxPool(_) => "maxpool".into(),
            Op::AvgPool(_) => "avgpool".into(),
            Op::GlobalAvgPool => "global_avgpool".into(),
            Op::Add => "add".into(),
            Op::Concat => "concat".into(),
            Op::Mul => "mul".into(),
            Op::Flatten => "flatten".into(),
            Op::Argmax => "argmax".into(),
            Op::Shuffle { .. } => "shuffle".into(),
        }
    }

    /// Trainable parameters: conv weights `co * (ci/groups) * taps` (no bias: a BN follows), FC
    /// weights and bias `ni*no + no`, batch norm scale and shift `2*C` (kept when folded: folding
    /// moves them into the conv); 0 for other layers. torchvision's ResNet-18 counts 11,689,512.
    pub fn params(&self) -> u64 {
        match &self.op {
            Op::Conv(c) => {
                self.output.c as u64 * (self.input.c / c.groups) as u64 * c.taps.len() as u64
            }
            Op::Fc => self.input.elems() * self.output.c as u64 + self.output.c as u64,
            Op::BatchNorm { .. } => 2 * self.input.c as u64,
            _ => 0,
        }
    }

    /// Multiply-accumulates of a conv or fc layer (0 for other layers).
    pub fn macs(&self) -> u64 {
        match &self.op {
            Op::Conv(c) => {
                let per_out = (self.input.c / c.groups) as u64 * c.taps.len() as u64;
                self.output.elems() * per_out
            }
            Op::Fc => self.input.elems() * self.output.c as u64,
            _ => 0,
        }
    }
}

/// A resolved network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub name: String,
    pub input: Shape,
    /// The input holds unreduced fixed-point products (`input.untruncated` of the spec).
    pub input_untruncated: bool,
    /// The spec's `cheetah_batchnorm`: the program's batch-norm protocol under Cheetah.
    pub cheetah_batchnorm: Option<crate::he::BnProtocol>,
    pub layers: Vec<Layer>,
}

impl Network {
    /// Total trainable parameters.
    pub fn params(&self) -> u64 {
        self.layers.iter().map(Layer::params).sum()
    }

    /// Total multiply-accumulates of convolutions and FC layers.
    pub fn macs(&self) -> u64 {
        self.layers.iter().map(Layer::macs).sum()
    }
}

/// Largest channel count of any tensor. The limits keep every count well inside `u64` and every
/// counter fast; they are far above any network the frameworks run.
pub const MAX_CHANNELS: u32 = 1 << 16;
/// Largest height or width of any tensor, padding included.
pub const MAX_SIDE: u32 = 1 << 13;
/// Largest convolution kernel side and stride.
pub const MAX_KERNEL: u32 = 64;
/// Largest FC output.
pub const MAX_FEATURES: u32 = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Producer {
    Input,
    ConvOrFc,
    Other,
}

struct Tensor {
    shape: Shape,
    producer: Producer,
}

struct Builder<'a> {
    file: &'a str,
    tensors: Vec<Tensor>,
    scopes: Vec<HashMap<String, usize>>,
    layers: Vec<Layer>,
    /// The tensor(s) the node being processed reads.
    current_src: usize,
    current_src2: Option<usize>,
    /// Whether batch norms fold into a preceding conv or fc (`fold_batchnorm` of the spec).
    fold_batchnorm: bool,
}

/// Resolves a spec; `file` names the source in error messages.
pub fn build(spec: &NetworkSpec, file: &str) -> Result<Network, SpecError> {
    let i = spec.input;
    if i.channels == 0 || i.height == 0 || i.width == 0 {
        return Err(SpecError::file(
            file,
            format!(
                "input: channels, height and width must be positive, got {}x{}x{}",
                i.channels, i.height, i.width
            ),
        ));
    }
    if i.channels > MAX_CHANNELS || i.height > MAX_SIDE || i.width > MAX_SIDE {
        return Err(SpecError::file(
            file,
            format!(
                "input: {}x{}x{} is too large (at most {MAX_CHANNELS} channels and {MAX_SIDE} pixels a side)",
                i.channels, i.height, i.width
            ),
        ));
    }
    let input = Shape::new(i.channels, i.height, i.width);
    let mut b = Builder {
        file,
        tensors: vec![Tensor {
            shape: input,
            producer: Producer::Input,
        }],
        scopes: vec![HashMap::from([("input".to_string(), 0)])],
        layers: Vec::new(),
        current_src: 0,
        current_src2: None,
        fold_batchnorm: spec.fold_batchnorm,
    };
    let mut cur = 0;
    cur = b.list(&spec.layers, "", "layers", cur, false)?;
    for (si, stage) in spec.stages.iter().enumerate() {
        let path = child_path("", "stages", si, stage.name.as_deref());
        cur = b.list(&stage.blocks, &path, "blocks", cur, true)?;
        if let Some(n) = &stage.name {
            b.bind(n, cur, &path)?;
        }
    }
    b.list(&spec.head, "", "head", cur, false)?;
    Ok(Network {
        name: spec.name.clone(),
        input,
        input_untruncated: i.untruncated,
        cheetah_batchnorm: spec.cheetah_batchnorm,
        layers: b.layers,
    })
}

/// Parses and resolves a network file in one step; an `.onnx` file is imported
/// ([`mod@crate::onnx::import`]).
pub fn load_network(path: &std::path::Path) -> Result<Network, SpecError> {
    if crate::onnx::is_onnx(path) {
        return crate::onnx::load_onnx_network(path);
    }
    let spec = super::parse::load_spec(path)?;
    build(&spec, &path.display().to_string())
}

fn checked_u32(v: u64, what: &str) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| format!("{what} {v} is too large"))
}

pub(crate) fn window_out(
    len: u32,
    pad: (u32, u32),
    k: u32,
    s: u32,
    axis: &str,
) -> Result<u32, String> {
    let padded = len as u64 + pad.0 as u64 + pad.1 as u64;
    if padded > MAX_SIDE as u64 {
        return Err(format!(
            "padded input {axis} {padded} ({len} + padding {} + {}) exceeds the limit of {MAX_SIDE}",
            pad.0, pad.1
        ));
    }
    if (k as u64) > padded {
        return Err(format!(
            "kernel {axis} {k} is larger than the padded input {axis} {padded} ({len} + padding {} + {})",
            pad.0, pad.1
        ));
    }
    checked_u32((padded - k as u64) / s as u64 + 1, "output size")
}

impl Builder<'_> {
    fn err(&self, path: &str, msg: impl Into<String>) -> SpecError {
        SpecError::layer(self.file, path, msg)
    }

    fn bind(&mut self, name: &str, tensor: usize, path: &str) -> Result<(), SpecError> {
        if name == "input" {
            return Err(self.err(
                path,
                "`input` is reserved for the tensor entering a group; choose another name",
            ));
        }
        let scope = self.scopes.last_mut().expect("scope stack is never empty");
        if scope.insert(name.to_string(), tensor).is_some() {
            return Err(self.err(
                path,
                format!("the name `{name}` is used twice in the same list"),
            ));
        }
        Ok(())
    }

    fn resolve(&self, name: &str, path: &str, field: &str) -> Result<usize, SpecError> {
        for scope in self.scopes.iter().rev() {
            if let Some(&t) = scope.get(name) {
                return Ok(t);
            }
        }
        Err(self.err(
            path,
            format!("`{field}` names `{name}`, but no earlier layer in this list or an enclosing one has that name"),
        ))
    }

    fn new_tensor(&mut self, shape: Shape, producer: Producer) -> usize {
        self.tensors.push(Tensor { shape, producer });
        self.tensors.len() - 1
    }

    /// Processes a list of nodes in its own scope, `input` bound to `entry`; returns its output.
    fn list(
        &mut self,
        nodes: &[Node],
        parent: &str,
        field: &str,
        entry: usize,
        own_scope: bool,
    ) -> Result<usize, SpecError> {
        if own_scope {
            self.scopes
                .push(HashMap::from([("input".to_string(), entry)]));
        }
        let mut cur = entry;
        let mut result = Ok(());
        for (i, node) in nodes.iter().enumerate() {
            let path = child_path(parent, field, i, node.name());
            let out = node
                .input_ref()
                .map(|r| self.resolve(r, &path, "input"))
                .unwrap_or(Ok(cur))
                .and_then(|src| self.node(node, &path, src));
            match out {
                Ok(out) => {
                    cur = out;
                    if let Some(n) = node.name()
                        && let Err(e) = self.bind(n, out, &path)
                    {
                        result = Err(e);
                        break;
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if own_scope {
            self.scopes.pop();
        }
        result.map(|_| cur)
    }

    fn push(
        &mut self,
        path: &str,
        op: Op,
        input: Shape,
        output: Shape,
        producer: Producer,
    ) -> usize {
        let reads_input = self.current_src == 0;
        let dst = self.tensors.len();
        self.layers.push(Layer {
            path: path.to_string(),
            op,
            input,
            output,
            reads_input,
            src: self.current_src,
            src2: self.current_src2,
            dst,
        });
        self.new_tensor(output, producer)
    }

    fn node(&mut self, node: &Node, path: &str, src: usize) -> Result<usize, SpecError> {
        self.current_src = src;
        self.current_src2 = None;
        let x = self.tensors[src].shape;
        match node {
            Node::Conv(c) => self.conv(c, path, x),
            Node::Depthwise(d) => {
                if d.multiplier == 0 {
                    return Err(self.err(path, "multiplier must be positive"));
                }
                if d.accum == Accum::Striped && d.multiplier > 1 {
                    return Err(self.err(
                        path,
                        format!(
                            "accum: striped on a depthwise layer with multiplier {} needs the strided output order (output o reads input o mod C), but depthwise orders its outputs contiguously (output o reads input o / {}); write it as a conv with groups = {} and group_layout: strided",
                            d.multiplier, d.multiplier, x.c
                        ),
                    ));
                }
                let as_conv = ConvSpec {
                    name: None,
                    input: None,
                    out_channels: x
                        .c
                        .checked_mul(d.multiplier)
                        .ok_or_else(|| self.err(path, "too many output channels"))?,
                    kernel: d.kernel,
                    stride: d.stride,
                    padding: d.padding,
                    groups: x.c,
                    taps: d.taps.clone(),
                    kernel_shape: d.kernel_shape,
                    accum: d.accum,
                    group_layout: GroupLayout::Contiguous,
                };
                let out = self.conv(&as_conv, path, x)?;
                if let Some(Layer {
                    op: Op::Conv(conv), ..
                }) = self.layers.last_mut()
                {
                    conv.depthwise = true;
                }
                Ok(out)
            }
            Node::Fc(f) => {
                if f.out_features == 0 {
                    return Err(self.err(path, "out_features must be positive"));
                }
                if f.out_features > MAX_FEATURES {
                    return Err(self.err(
                        path,
                        format!(
                            "out_features {} exceeds the limit of {MAX_FEATURES}",
                            f.out_features
                        ),
                    ));
                }
                let ni = checked_u32(x.elems(), "flattened input length")
                    .map_err(|m| self.err(path, m))?;
                let input = Shape::new(ni, 1, 1);
                Ok(self.push(
                    path,
                    Op::Fc,
                    input,
                    Shape::new(f.out_features, 1, 1),
                    Producer::ConvOrFc,
                ))
            }
            Node::Batchnorm(b) => {
                let folded = self.fold_batchnorm
                    && b.fold
                    && self.tensors[src].producer == Producer::ConvOrFc;
                // A folded BN is part of the conv/fc; the next BN cannot fold again.
                Ok(self.push(path, Op::BatchNorm { folded }, x, x, Producer::Other))
            }
            Node::Relu(_) => Ok(self.push(path, Op::Relu, x, x, Producer::Other)),
            Node::Relu6(_) => Ok(self.push(path, Op::Relu6, x, x, Producer::Other)),
            Node::Sigmoid(_) => Ok(self.push(path, Op::Sigmoid, x, x, Producer::Other)),
            Node::Maxpool(p) => {
                let (pool, out) = self.pool(p, path, x)?;
                Ok(self.push(path, Op::MaxPool(pool), x, out, Producer::Other))
            }
            Node::Avgpool(p) => {
                let (pool, out) = self.pool(p, path, x)?;
                Ok(self.push(path, Op::AvgPool(pool), x, out, Producer::Other))
            }
            Node::GlobalAvgpool(_) => Ok(self.push(
                path,
                Op::GlobalAvgPool,
                x,
                Shape::new(x.c, 1, 1),
                Producer::Other,
            )),
            Node::Flatten(_) => {
                let n =
                    checked_u32(x.elems(), "flattened length").map_err(|m| self.err(path, m))?;
                Ok(self.push(path, Op::Flatten, x, Shape::new(n, 1, 1), Producer::Other))
            }
            Node::Argmax(_) => {
                Ok(self.push(path, Op::Argmax, x, Shape::new(1, 1, 1), Producer::Other))
            }
            Node::Shuffle(sh) => {
                if let Some(g) = sh.groups
                    && (g == 0 || !x.c.is_multiple_of(g))
                {
                    return Err(self.err(
                        path,
                        format!(
                            "shuffle groups = {g} must be positive and divide the {} input channels",
                            x.c
                        ),
                    ));
                }
                // A permutation keeps the producer: a batch norm after it still folds into the
                // conv before it (its per-channel scale and shift are permuted along).
                let producer = self.tensors[src].producer;
                Ok(self.push(path, Op::Shuffle { groups: sh.groups }, x, x, producer))
            }
            Node::Add(a) => {
                let other = self.resolve(&a.from, path, "from")?;
                self.add(path, src, other, &a.from)
            }
            Node::Mul(a) => {
                let other = self.resolve(&a.from, path, "from")?;
                let (sa, sb) = (x, self.tensors[other].shape);
                let per_channel = (sb.h, sb.w) == (1, 1) && sb.c == sa.c;
                if sb != sa && !per_channel {
                    return Err(self.err(
                        path,
                        format!(
                            "cannot multiply an input of shape {sa} (CxHxW) by `{}` of shape {sb}: \
                             `from` must have the input's shape or be {}x1x1 (one factor per channel)",
                            a.from, sa.c
                        ),
                    ));
                }
                self.current_src = src;
                self.current_src2 = Some(other);
                Ok(self.push(path, Op::Mul, sa, sa, Producer::Other))
            }
            Node::Concat(a) => {
                let other = self.resolve(&a.from, path, "from")?;
                let (sa, sb) = (x, self.tensors[other].shape);
                if (sa.h, sa.w) != (sb.h, sb.w) {
                    return Err(self.err(
                        path,
                        format!(
                            "cannot concatenate `{}` of shape {sb} (CxHxW) to an input of shape \
                             {sa}: spatial sizes differ",
                            a.from
                        ),
                    ));
                }
                let c = checked_u32(sa.c as u64 + sb.c as u64, "concatenated channels")
                    .map_err(|m| self.err(path, m))?;
                if c > MAX_CHANNELS {
                    return Err(self.err(
                        path,
                        format!("concatenation has {c} channels, more than {MAX_CHANNELS}"),
                    ));
                }
                self.current_src = src;
                self.current_src2 = Some(other);
                Ok(self.push(
                    path,
                    Op::Concat,
                    sa,
                    Shape::new(c, sa.h, sa.w),
                    Producer::Other,
                ))
            }
            Node::Block(b) => self.list(&b.layers, path, "layers", src, true),
            Node::Residual(r) => {
                let body = self.list(&r.body, path, "body", src, true)?;
                let short = if r.shortcut.is_empty() {
                    src
                } else {
                    self.list(&r.shortcut, path, "shortcut", src, true)?
                };
                self.add(&format!("{path}.add"), body, short, "shortcut")
            }
            Node::Basic(b) => self.composite(b.lower(x.c), path, src),
            Node::Bottleneck(b) => self.composite(b.lower(x.c), path, src),
            Node::InvertedResidual(b) => self.composite(b.lower(x.c), path, src),
            Node::StriaBlock(b) => self.composite(b.lower(x.c), path, src),
        }
    }

    /// Lowers a composite block (`basic`, `bottleneck`, `inverted_residual`, `stria_block`): its
    /// explicit layers are processed at the block's own path.
    fn composite(
        &mut self,
        lowered: Result<Node, String>,
        path: &str,
        src: usize,
    ) -> Result<usize, SpecError> {
        let node = lowered.map_err(|m| self.err(path, m))?;
        self.node(&node, path, src)
    }

    fn add(&mut self, path: &str, a: usize, b: usize, from: &str) -> Result<usize, SpecError> {
        let (sa, sb) = (self.tensors[a].shape, self.tensors[b].shape);
        if sa != sb {
            let what = if sa.c != sb.c {
                "channel counts differ"
            } else {
                "spatial sizes differ"
            };
            return Err(self.err(
                path,
                format!(
                    "cannot add `{from}` of shape {sb} (CxHxW) to an input of shape {sa}: {what}"
                ),
            ));
        }
        self.current_src = a;
        self.current_src2 = Some(b);
        Ok(self.push(path, Op::Add, sa, sa, Producer::Other))
    }

    fn conv(&mut self, c: &ConvSpec, path: &str, x: Shape) -> Result<usize, SpecError> {
        let e = |m: String| self.err(path, m);
        let (kh, kw) = (c.kernel.0, c.kernel.1);
        let (sh, sw) = (c.stride.0, c.stride.1);
        if c.out_channels == 0 {
            return Err(e("out_channels must be positive".into()));
        }
        if kh == 0 || kw == 0 {
            return Err(e(format!("kernel must be positive, got {kh}x{kw}")));
        }
        if sh == 0 || sw == 0 {
            return Err(e(format!("stride must be positive, got {sh}x{sw}")));
        }
        if c.groups == 0 {
            return Err(e("groups must be positive".into()));
        }
        if c.out_channels > MAX_CHANNELS {
            return Err(e(format!(
                "out_channels {} exceeds the limit of {MAX_CHANNELS}",
                c.out_channels
            )));
        }
        if kh > MAX_KERNEL || kw > MAX_KERNEL || sh > MAX_KERNEL || sw > MAX_KERNEL {
            return Err(e(format!(
                "kernel {kh}x{kw} / stride {sh}x{sw}: each must be at most {MAX_KERNEL}"
            )));
        }
        if !x.c.is_multiple_of(c.groups) || !c.out_channels.is_multiple_of(c.groups) {
            return Err(e(format!(
                "groups = {} must divide both the input channels ({}) and out_channels ({})",
                c.groups, x.c, c.out_channels
            )));
        }
        // Strategies and group layouts (derived here; see [`Accum`] and [`GroupLayout`]).
        let one_to_one = c.groups > 1 && c.groups == x.c && c.groups == c.out_channels;
        if c.group_layout == GroupLayout::Strided && c.groups == 1 {
            return Err(e(
                "group_layout: strided needs a grouped convolution (groups > 1); with one group every channel is connected".into(),
            ));
        }
        if c.accum == Accum::Striped {
            if c.groups == 1 {
                return Err(e(
                    "accum: striped mixes only channels at the same slot position, so it needs a grouped convolution (groups > 1) with group_layout: strided; use he-rotate or share-side for a dense convolution".into(),
                ));
            }
            if !one_to_one && c.group_layout != GroupLayout::Strided {
                return Err(e(format!(
                    "accum: striped needs group_layout: strided (group j holds the channels c with c mod {g} == j, so that an output only mixes channels at its own slot position), but this conv has groups = {g} with group_layout: contiguous",
                    g = c.groups
                )));
            }
        }
        // One input and one output channel per group: both layouts are the same layer.
        let group_layout = if one_to_one {
            GroupLayout::Contiguous
        } else {
            c.group_layout
        };
        let oh = window_out(x.h, (c.padding.top, c.padding.bottom), kh, sh, "height").map_err(e)?;
        let ow = window_out(x.w, (c.padding.left, c.padding.right), kw, sw, "width")
            .map_err(|m| self.err(path, m))?;
        if c.kernel_shape == KernelShape::Cross {
            if c.taps.is_some() {
                return Err(self.err(
                    path,
                    "give either `taps` or `kernel_shape: cross`, not both",
                ));
            }
            if kh % 2 == 0 || kw % 2 == 0 {
                return Err(self.err(
                    path,
                    format!("a cross kernel needs odd sides (a centre tap), got {kh}x{kw}"),
                ));
            }
        }
        let taps = match &c.taps {
            None if c.kernel_shape == KernelShape::Cross => (0..kh)
                .flat_map(|y| (0..kw).map(move |x| (y, x)))
                .filter(|&(y, x)| y == kh / 2 || x == kw / 2)
                .collect::<Vec<_>>(),
            None => (0..kh)
                .flat_map(|y| (0..kw).map(move |x| (y, x)))
                .collect::<Vec<_>>(),
            Some(list) => {
                if list.is_empty() {
                    return Err(self.err(path, "taps must list at least one kernel position"));
                }
                let mut t: Vec<(u32, u32)> = Vec::with_capacity(list.len());
                for [dy, dx] in list {
                    if *dy >= kh || *dx >= kw {
                        return Err(self.err(
                            path,
                            format!("tap [{dy}, {dx}] lies outside the {kh}x{kw} kernel (positions are 0-based [row, column])"),
                        ));
                    }
                    t.push((*dy, *dx));
                }
                t.sort_unstable();
                let before = t.len();
                t.dedup();
                if t.len() != before {
                    return Err(self.err(path, "taps lists a kernel position twice"));
                }
                t
            }
        };
        let depthwise = c.groups == x.c && c.groups == c.out_channels && c.groups > 1;
        let conv = Conv {
            kh,
            kw,
            sh,
            sw,
            pad: c.padding,
            groups: c.groups,
            taps,
            depthwise,
            accum: c.accum,
            group_layout,
        };
        let out = Shape::new(c.out_channels, oh, ow);
        Ok(self.push(path, Op::Conv(conv), x, out, Producer::ConvOrFc))
    }

    fn pool(&self, p: &PoolSpec, path: &str, x: Shape) -> Result<(Pool, Shape), SpecError> {
        let (kh, kw) = (p.kernel.0, p.kernel.1);
        let s = p.stride.unwrap_or(p.kernel);
        if kh == 0 || kw == 0 {
            return Err(self.err(path, format!("kernel must be positive, got {kh}x{kw}")));
        }
        if s.0 == 0 || s.1 == 0 {
            return Err(self.err(
                path,
                format!("stride must be positive, got {}x{}", s.0, s.1),
            ));
        }
        let oh = window_out(x.h, (p.padding.top, p.padding.bottom), kh, s.0, "height")
            .map_err(|m| self.err(path, m))?;
        let ow = window_out(x.w, (p.padding.left, p.padding.right), kw, s.1, "width")
            .map_err(|m| self.err(path, m))?;
        Ok((
            Pool {
                kh,
                kw,
                sh: s.0,
                sw: s.1,
                pad: p.padding,
            },
            Shape::new(x.c, oh, ow),
        ))
    }
}
