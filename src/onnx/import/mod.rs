//! `stria import MODEL.onnx`: an ONNX graph as a stria network spec.
//!
//! Only shapes matter, so weights may be absent: a graph-only file whose initializers point at an
//! external data file that is not there imports like one with its weights embedded (a weight's
//! `dims` are always in the graph). The few values an importer must read (Clip bounds, Reshape
//! shapes, Pad widths) are small tensors that exporters keep inside the graph.
//!
//! Every node becomes at most one layer of a flat `layers` list, in the graph's order, named
//! after the node (torch's `/layer1/layer1.0/conv1/Conv` gives `layer1.0.conv1`):
//!
//! | ONNX | stria |
//! | --- | --- |
//! | `Conv` (2-D; `group`, `dilations` as a sparse kernel of taps, `pads`, `auto_pad`) | `conv` |
//! | `BatchNormalization` | `batchnorm` |
//! | `Relu`; `Clip` with bounds 0 and 6 (or 0 and none) | `relu6` (`relu`) |
//! | `Sigmoid` | `sigmoid` |
//! | `MaxPool`, `AveragePool` (`ceil_mode` as extra end padding) | `maxpool`, `avgpool` |
//! | `GlobalAveragePool`; `ReduceMean` over H and W keeping dims | `global_avgpool` |
//! | `Add` of two computed tensors | `add` |
//! | `Concat` on channels | `concat` (one per extra input) |
//! | `Flatten` (axis 1), `Reshape` to `[N, C*H*W]` of a 4-D tensor | `flatten` |
//! | `Gemm`, `MatMul` with a weight matrix | `fc` |
//! | `Mul` by a constant (per channel or scalar) | `batchnorm` (a scale) |
//! | `Mul` of two computed tensors (equal shapes, or one `[N, C, 1, 1]`) | `mul` |
//! | `Gather` of a channel permutation; `ArgMax` | `shuffle`; `argmax` |
//! | `Identity`, `Dropout`; `Add` of a constant (a bias) | nothing: the same tensor |
//! | `Pad` (constant zeros on H and W) | padding of the conv or pool that reads it |
//! | `ConstantOfShape`, `Concat`, `Reshape`, `Slice`, `Transpose`, `Cast` of constants | computed |
//!
//! torch exports SiLU (opsets 13 to 18) as a `Sigmoid` and a `Mul` of its input by the sigmoid's
//! output, and squeeze-excite as a `Mul` of a tensor by a `[N, C, 1, 1]` factor: a `sigmoid` and
//! `mul` layers (which the costing refuses until a protocol model prices them,
//! [`crate::packing::nonlinear::pricing`]). Anything else is an error naming the node, its op type
//! and this list (`Tanh`, `HardSigmoid`, `HardSwish`, ... have no layer here). Biases are not
//! layers: stria's conv counts no bias (a batch norm's shift, or an addition to the server's
//! share, takes its place).
//!
//! Shapes are then inferred by stria itself ([`crate::net::build`] on the spec) and held against
//! every shape the file states (`value_info`, graph outputs): a disagreement is an error.
//!
//! Files: attribute and constant reading and the window padding arithmetic in `attrs.rs`, constant
//! folding in `fold.rs`. This file (about 1,100 lines) keeps the importer and its one match over
//! operators together, so that each row of the table above reads next to the code that does it.

use super::proto::{GraphProto, ModelProto, NodeProto, TensorProto};
use crate::error::SpecError;
use crate::net::graph::window_out;
use crate::net::spec::{
    AddSpec, BatchnormSpec, ConvSpec, FcSpec, GroupLayout, InputSpec, KernelShape, NetworkSpec,
    Node, Padding, Pair, Plain, PoolSpec, ShuffleSpec,
};
use crate::net::{Network, Shape, build};
use prost::Message;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;

mod attrs;
mod fold;

use attrs::*;

/// Largest ONNX file stria reads: protobuf's own limit of 2 GiB.
pub const MAX_ONNX_BYTES: u64 = 2 << 30;

/// What `stria import` supports, for error messages.
pub const SUPPORTED: &str = "Conv, BatchNormalization, Relu, Clip (ReLU6), Sigmoid, MaxPool, \
AveragePool, GlobalAveragePool, ReduceMean (over H and W), Add, Mul (by a constant, or of two \
computed tensors), Concat (channels), \
Flatten, Reshape (to [N, C*H*W]), Gemm, MatMul (by a weight), Gather (a channel permutation), \
ArgMax, Identity, Dropout, Pad (zeros), Constant, and ConstantOfShape, Concat, Reshape, Slice, \
Transpose, Cast on constants";

/// Operators computed when every input is a constant (shape arithmetic exporters emit).
const FOLDED: [&str; 6] = [
    "ConstantOfShape",
    "Concat",
    "Reshape",
    "Slice",
    "Transpose",
    "Cast",
];

/// True when `path` names an ONNX file (extension `.onnx`, any case).
pub fn is_onnx(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// Reads an ONNX file as a network spec named `name` (default: the file's stem).
pub fn load_onnx(path: &Path, name: Option<&str>) -> Result<NetworkSpec, SpecError> {
    let file = path.display().to_string();
    let bytes = crate::io::read_capped_with(path, MAX_ONNX_BYTES)
        .map_err(|e| SpecError::file(&file, format!("cannot read file: {e}")))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    import(&bytes, &file, name.unwrap_or(&stem))
}

/// Reads and resolves an ONNX file in one step, as [`crate::net::load_network`] does a spec.
pub fn load_onnx_network(path: &Path) -> Result<Network, SpecError> {
    let spec = load_onnx(path, None)?;
    build(&spec, &path.display().to_string())
}

/// An ONNX model's bytes as a network spec; `file` names the source in errors.
pub fn import(bytes: &[u8], file: &str, name: &str) -> Result<NetworkSpec, SpecError> {
    let model = ModelProto::decode(bytes).map_err(|e| {
        SpecError::file(
            file,
            format!("not an ONNX model (protobuf ModelProto): {e}"),
        )
    })?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| SpecError::file(file, "the ONNX model has no graph"))?;
    let mut spec = Importer::new(file, graph)?.run(graph, name)?;
    spec.input.untruncated = model.metadata_props.iter().any(|e| {
        e.key.as_deref() == Some("stria.untruncated") && e.value.as_deref() == Some("true")
    });
    // The Cheetah batch-norm protocol of the spec exported (`stria export --to onnx`).
    if let Some(e) = model
        .metadata_props
        .iter()
        .find(|e| e.key.as_deref() == Some("stria.cheetah_batchnorm"))
    {
        let v = e.value.as_deref().unwrap_or("");
        spec.cheetah_batchnorm = Some(
            <crate::he::BnProtocol as clap::ValueEnum>::from_str(v, false).map_err(|_| {
                SpecError::file(
                    file,
                    format!("metadata stria.cheetah_batchnorm: `{v}` is neither fewer nor simd"),
                )
            })?,
        );
    }
    Ok(spec)
}

/// A constant: a tensor of the file, or one computed from constants (see [`Importer::fold`]).
#[derive(Clone)]
enum K<'a> {
    Ref(&'a TensorProto),
    Own(Rc<TensorProto>),
}

impl std::ops::Deref for K<'_> {
    type Target = TensorProto;
    fn deref(&self) -> &TensorProto {
        match self {
            K::Ref(t) => t,
            K::Own(t) => t,
        }
    }
}

/// A value flowing through the graph.
#[derive(Clone)]
enum Val<'a> {
    /// A constant: an initializer, a `Constant` node's tensor, or one folded from constants.
    Const(K<'a>),
    /// A computed tensor.
    Act(Act),
}

#[derive(Clone)]
struct Act {
    /// The layer that produced it (`None`: the network input).
    layer: Option<usize>,
    shape: Shape,
    /// 4 (N, C, H, W) or 2 (N, features).
    rank: u8,
    /// Zero padding a `Pad` node added, for the conv or pool that reads it.
    pad: Option<Padding>,
}

struct Importer<'a> {
    file: &'a str,
    vals: HashMap<&'a str, Val<'a>>,
    layers: Vec<Node>,
    /// Per layer: its name, and the ONNX tensor names that hold its output.
    names: Vec<String>,
    used_names: HashSet<String>,
    input_name: String,
    input: Shape,
    /// The index of the node being read (names an unnamed node).
    node_index: usize,
}

impl<'a> Importer<'a> {
    fn new(file: &'a str, g: &'a GraphProto) -> Result<Importer<'a>, SpecError> {
        let mut vals = HashMap::new();
        for t in &g.initializer {
            vals.insert(t.name.as_deref().unwrap_or(""), Val::Const(K::Ref(t)));
        }
        let inputs: Vec<_> = g
            .input
            .iter()
            .filter(|i| !vals.contains_key(i.name.as_deref().unwrap_or("")))
            .collect();
        let [input] = inputs.as_slice() else {
            return Err(SpecError::file(
                file,
                format!(
                    "the graph has {} inputs besides its initializers ({}); stria imports \
                     networks with one input image",
                    inputs.len(),
                    inputs
                        .iter()
                        .map(|i| format!("`{}`", i.name.as_deref().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        let input_name = input.name.clone().unwrap_or_default();
        let dims: Vec<Option<i64>> = input
            .r#type
            .as_ref()
            .and_then(|t| t.tensor_type.as_ref())
            .and_then(|t| t.shape.as_ref())
            .map(|s| s.dim.iter().map(|d| d.dim_value).collect())
            .unwrap_or_default();
        let shape = match dims.as_slice() {
            [_, Some(c), Some(h), Some(w)] if *c > 0 && *h > 0 && *w > 0 => {
                let f = |v: i64| {
                    u32::try_from(v).map_err(|_| {
                        SpecError::file(file, format!("input `{input_name}`: {v} is too large"))
                    })
                };
                Shape::new(f(*c)?, f(*h)?, f(*w)?)
            }
            _ => {
                return Err(SpecError::file(
                    file,
                    format!(
                        "input `{input_name}` has shape {}; stria needs a 4-D image input [N, C, H, W] \
                         with C, H and W given as numbers (export with a fixed input size)",
                        show_dims(&dims)
                    ),
                ));
            }
        };
        vals.insert(
            input.name.as_deref().unwrap_or(""),
            Val::Act(Act {
                layer: None,
                shape,
                rank: 4,
                pad: None,
            }),
        );
        Ok(Importer {
            file,
            vals,
            layers: Vec::new(),
            names: Vec::new(),
            used_names: HashSet::new(),
            input_name,
            input: shape,
            node_index: 0,
        })
    }

    fn run(mut self, g: &'a GraphProto, name: &str) -> Result<NetworkSpec, SpecError> {
        for (i, node) in g.node.iter().enumerate() {
            self.node_index = i;
            self.node(node)?;
        }
        let [output] = g.output.as_slice() else {
            return Err(SpecError::file(
                self.file,
                format!(
                    "the graph has {} outputs; stria imports networks with one",
                    g.output.len()
                ),
            ));
        };
        let out_name = output.name.as_deref().unwrap_or("");
        match self.vals.get(out_name) {
            Some(Val::Act(a))
                if a.layer.is_some() && a.layer == self.layers.len().checked_sub(1) => {}
            Some(Val::Act(_)) => {
                return Err(SpecError::file(
                    self.file,
                    format!(
                        "the graph output `{out_name}` is not the last layer's output; stria's \
                         network ends with its last layer"
                    ),
                ));
            }
            _ => {
                return Err(SpecError::file(
                    self.file,
                    format!("the graph output `{out_name}` is not computed by any node"),
                ));
            }
        }
        if self.layers.is_empty() {
            return Err(SpecError::file(self.file, "the graph has no layers"));
        }
        let spec = NetworkSpec {
            name: name.to_string(),
            input: InputSpec {
                channels: self.input.c,
                height: self.input.h,
                width: self.input.w,
                untruncated: false,
            },
            layers: std::mem::take(&mut self.layers),
            stages: Vec::new(),
            head: Vec::new(),
            fold_batchnorm: true,
            cheetah_batchnorm: None,
        };
        self.check_shapes(&spec, g)?;
        Ok(spec)
    }

    /// stria's own shapes of every layer against the shapes the file states.
    fn check_shapes(&self, spec: &NetworkSpec, g: &'a GraphProto) -> Result<(), SpecError> {
        let net = build(spec, self.file)?;
        debug_assert_eq!(net.layers.len(), spec.layers.len());
        for vi in g.value_info.iter().chain(&g.output) {
            let tname = vi.name.as_deref().unwrap_or("");
            let Some(Val::Act(a)) = self.vals.get(tname) else {
                continue;
            };
            if a.pad.is_some() {
                continue;
            }
            let Some(dims) = vi
                .r#type
                .as_ref()
                .and_then(|t| t.tensor_type.as_ref())
                .and_then(|t| t.shape.as_ref())
                .map(|s| s.dim.iter().map(|d| d.dim_value).collect::<Vec<_>>())
            else {
                continue;
            };
            let (s, path) = match a.layer {
                None => (self.input, self.input_name.clone()),
                Some(l) => (net.layers[l].output, net.layers[l].path.clone()),
            };
            let ours: Vec<i64> = if a.rank == 4 {
                vec![s.c as i64, s.h as i64, s.w as i64]
            } else {
                vec![s.elems() as i64]
            };
            let agree = dims.len() == ours.len() + 1
                && dims[1..]
                    .iter()
                    .zip(&ours)
                    .all(|(d, o)| d.is_none_or(|d| d == *o));
            if !agree {
                return Err(SpecError::layer(
                    self.file,
                    path,
                    format!(
                        "stria infers shape [N, {}] for tensor `{tname}`, but the file states {}",
                        ours.iter()
                            .map(|v| v.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                        show_dims(&dims)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn err(&self, node: &NodeProto, op: &str, msg: impl Into<String>) -> SpecError {
        let name = node.name.as_deref().filter(|n| !n.is_empty());
        SpecError::layer(
            self.file,
            name.map_or_else(|| format!("{op} node #{}", self.node_index), str::to_string),
            format!("{op} node: {}", msg.into()),
        )
    }

    fn get(&self, node: &NodeProto, op: &str, i: usize) -> Result<Val<'a>, SpecError> {
        let Some(name) = node.input.get(i).filter(|n| !n.is_empty()) else {
            return Err(self.err(node, op, format!("input {i} is missing")));
        };
        self.vals.get(name.as_str()).cloned().ok_or_else(|| {
            self.err(
                node,
                op,
                format!(
                    "reads `{name}`, which is not the graph input, an initializer or the output of an earlier node"
                ),
            )
        })
    }

    fn act(&self, node: &NodeProto, op: &str, i: usize) -> Result<Act, SpecError> {
        match self.get(node, op, i)? {
            Val::Act(a) => Ok(a),
            Val::Const(_) => Err(self.err(
                node,
                op,
                format!(
                    "input {i} (`{}`) is a constant; stria imports operations on computed tensors",
                    node.input[i]
                ),
            )),
        }
    }

    fn konst(&self, node: &NodeProto, op: &str, i: usize) -> Result<K<'a>, SpecError> {
        match self.get(node, op, i)? {
            Val::Const(t) => Ok(t),
            Val::Act(_) => Err(self.err(
                node,
                op,
                format!(
                    "input {i} (`{}`) is computed; stria needs a constant (an initializer) there",
                    node.input[i]
                ),
            )),
        }
    }

    fn unpadded(&self, node: &NodeProto, op: &str, a: &Act) -> Result<(), SpecError> {
        if a.pad.is_some() {
            return Err(self.err(
                node,
                op,
                "reads the output of a Pad node; stria folds a Pad only into the Conv, MaxPool or AveragePool that reads it",
            ));
        }
        Ok(())
    }

    fn set(&mut self, node: &'a NodeProto, v: Val<'a>) {
        if let Some(o) = node.output.first() {
            self.vals.insert(o.as_str(), v);
        }
    }

    /// Appends a layer reading `src` (and naming it when it is not the previous layer's output);
    /// its output becomes the node's first output.
    fn emit(
        &mut self,
        node: &'a NodeProto,
        op: &str,
        src: &Act,
        make: impl FnOnce(Option<String>, Option<String>) -> Node,
        shape: Shape,
        rank: u8,
    ) {
        let name = self.unique(base_name(node, op, self.node_index));
        let input = self.input_ref(src);
        self.layers.push(make(nm(&name), input));
        self.names.push(name);
        let act = Act {
            layer: Some(self.layers.len() - 1),
            shape,
            rank,
            pad: None,
        };
        self.set(node, Val::Act(act));
    }

    fn unique(&mut self, base: String) -> String {
        let mut name = base.clone();
        let mut k = 1;
        while !self.used_names.insert(name.clone()) {
            k += 1;
            name = format!("{base}_{k}");
        }
        name
    }

    /// The `input` reference of a layer reading `a`: none when it is the previous layer's output.
    fn input_ref(&self, a: &Act) -> Option<String> {
        match a.layer {
            None if self.layers.is_empty() => None,
            None => nm("input"),
            Some(l) if l + 1 == self.layers.len() => None,
            Some(l) => nm(&self.names[l]),
        }
    }

    fn tensor_ref(&self, a: &Act) -> String {
        match a.layer {
            None => "input".into(),
            Some(l) => self.names[l].clone(),
        }
    }

    fn node(&mut self, node: &'a NodeProto) -> Result<(), SpecError> {
        let op = node.op_type.clone().unwrap_or_default();
        let op = op.as_str();
        let domain = node.domain.as_deref().unwrap_or("");
        if !domain.is_empty() && domain != "ai.onnx" {
            return Err(self.err(
                node,
                op,
                format!("operator domain `{domain}` is not ONNX's; stria supports {SUPPORTED}"),
            ));
        }
        if FOLDED.contains(&op)
            && !node.input.is_empty()
            && node
                .input
                .iter()
                .filter(|n| !n.is_empty())
                .all(|n| matches!(self.vals.get(n.as_str()), Some(Val::Const(_))))
        {
            let t = self.fold(node, op).map_err(|m| self.err(node, op, m))?;
            self.set(node, Val::Const(K::Own(Rc::new(t))));
            return Ok(());
        }
        let (file, at) = (self.file, self.err(node, op, "").path);
        let e = move |m: String| SpecError {
            file: file.to_string(),
            path: at.clone(),
            message: format!("{op} node: {m}"),
        };
        match op {
            "Identity" | "Dropout" => {
                let v = self.get(node, op, 0)?;
                self.set(node, v);
            }
            "Constant" => {
                let t = attr(node, "value")
                    .and_then(|a| a.t.as_ref())
                    .ok_or_else(|| e("stria reads Constant nodes with a `value` tensor".into()))?;
                self.set(node, Val::Const(K::Ref(t)));
            }
            "Conv" => {
                let x = self.act(node, op, 0)?;
                let w = self.konst(node, op, 1)?;
                if x.rank != 4 || w.dims.len() != 4 {
                    return Err(e(format!(
                        "stria imports 2-D convolutions (a 4-D input and weight); the weight has dims {:?}",
                        w.dims
                    )));
                }
                let g = to_u32(attr_int(node, "group").unwrap_or(1), "group").map_err(&e)?;
                let co = to_u32(w.dims[0], "output channels").map_err(&e)?;
                let ci_g = to_u32(w.dims[1], "input channels per group").map_err(&e)?;
                let (kh, kw) = (
                    to_u32(w.dims[2], "kernel height").map_err(&e)?,
                    to_u32(w.dims[3], "kernel width").map_err(&e)?,
                );
                if g == 0 || ci_g.checked_mul(g) != Some(x.shape.c) {
                    return Err(e(format!(
                        "group = {g} with a weight of {ci_g} input channels per group does not fit an input of {} channels",
                        x.shape.c
                    )));
                }
                if let Some(ks) = attr_ints(node, "kernel_shape")
                    && ks != [w.dims[2], w.dims[3]]
                {
                    return Err(e(format!(
                        "kernel_shape {ks:?} differs from the weight's {kh}x{kw}"
                    )));
                }
                let (dh, dw) = pair_attr(node, "dilations", 1).map_err(&e)?;
                let (sh, sw) = pair_attr(node, "strides", 1).map_err(&e)?;
                if dh == 0 || dw == 0 {
                    return Err(e("dilations must be positive".into()));
                }
                // A dilated kernel is the kernel of its whole span with taps on the dilation grid.
                let (eh, ew) = ((kh - 1) * dh + 1, (kw - 1) * dw + 1);
                let dilated = (dh, dw) != (1, 1);
                let taps: Option<Vec<[u32; 2]>> = match meta(node, "stria.taps") {
                    Some(_) if dilated => {
                        return Err(e("stria.taps on a dilated convolution".into()));
                    }
                    Some(t) => Some(serde_json::from_str(t).map_err(|err| {
                        e(format!(
                            "stria.taps = {t}: not a list of [row, column]: {err}"
                        ))
                    })?),
                    None if dilated => Some(
                        (0..kh)
                            .flat_map(|y| (0..kw).map(move |x| [y * dh, x * dw]))
                            .collect(),
                    ),
                    None => None,
                };
                let accum = match meta(node, "stria.accum") {
                    None => Default::default(),
                    Some(a) => serde_json::from_value(serde_json::Value::String(a.into()))
                        .map_err(|_| {
                            e(format!(
                                "stria.accum = {a}: expected he-rotate, striped, share-side or auto"
                            ))
                        })?,
                };
                let group_layout = match meta(node, "stria.group_layout") {
                    None => GroupLayout::Contiguous,
                    Some("strided") => GroupLayout::Strided,
                    Some("contiguous") => GroupLayout::Contiguous,
                    Some(o) => {
                        return Err(e(format!(
                            "stria.group_layout = {o}: expected strided or contiguous"
                        )));
                    }
                };
                let pad = window_pads(node, x.shape, (eh, ew), (sh, sw)).map_err(&e)?;
                let pad = add_pad(pad, x.pad);
                let out = Shape::new(
                    co,
                    window_out(x.shape.h, (pad.top, pad.bottom), eh, sh.max(1), "height")
                        .map_err(&e)?,
                    window_out(x.shape.w, (pad.left, pad.right), ew, sw.max(1), "width")
                        .map_err(&e)?,
                );
                let spec = move |name, input| {
                    Node::Conv(ConvSpec {
                        name,
                        input,
                        out_channels: co,
                        kernel: Pair(eh, ew),
                        stride: Pair(sh, sw),
                        padding: pad,
                        groups: g,
                        taps,
                        kernel_shape: KernelShape::Dense,
                        accum,
                        group_layout,
                    })
                };
                self.emit(node, op, &x, spec, out, 4);
            }
            "BatchNormalization" => {
                let x = self.act(node, op, 0)?;
                self.unpadded(node, op, &x)?;
                if attr_int(node, "training_mode").unwrap_or(0) != 0 {
                    return Err(e("training_mode = 1: stria imports inference graphs".into()));
                }
                let s = x.shape;
                let fold = meta(node, "stria.fold") != Some("false");
                self.emit(
                    node,
                    op,
                    &x,
                    |name, input| Node::Batchnorm(BatchnormSpec { name, input, fold }),
                    s,
                    x.rank,
                );
            }
            "Relu" => self.plain(node, op, Node::Relu)?,
            "Sigmoid" => self.plain(node, op, Node::Sigmoid)?,
            "Clip" => {
                let bound = |i: usize, attr_name: &str| -> Result<Option<f64>, SpecError> {
                    if node.input.get(i).is_some_and(|n| !n.is_empty()) {
                        let t = self.konst(node, op, i)?;
                        let v = values(&t).map_err(|m| self.err(node, op, m))?;
                        match v.as_slice() {
                            [b] => Ok(Some(*b)),
                            _ => Err(self.err(node, op, "Clip bounds must be scalars")),
                        }
                    } else {
                        Ok(attr(node, attr_name).and_then(|a| a.f).map(|f| f as f64))
                    }
                };
                let (lo, hi) = (bound(1, "min")?, bound(2, "max")?);
                match (lo, hi) {
                    (Some(0.0), Some(6.0)) => self.plain(node, op, Node::Relu6)?,
                    (Some(0.0), None) => self.plain(node, op, Node::Relu)?,
                    _ => {
                        return Err(e(format!(
                            "Clip to [{}, {}]: stria prices ReLU (Clip to [0, inf)) and ReLU6 (Clip to [0, 6]) only",
                            lo.map_or("-inf".into(), |v| v.to_string()),
                            hi.map_or("inf".into(), |v| v.to_string())
                        )));
                    }
                }
            }
            "MaxPool" | "AveragePool" => {
                let x = self.act(node, op, 0)?;
                if x.rank != 4 {
                    return Err(e("stria imports 2-D pooling on a 4-D input".into()));
                }
                if node.output.len() > 1 && !node.output[1].is_empty() {
                    return Err(e("the Indices output is not supported".into()));
                }
                let (kh, kw) = pair_attr(node, "kernel_shape", 0).map_err(&e)?;
                if kh == 0 || kw == 0 {
                    return Err(e("kernel_shape is missing or zero".into()));
                }
                if pair_attr(node, "dilations", 1).map_err(&e)? != (1, 1) {
                    return Err(e("dilated pooling is not supported".into()));
                }
                let (sh, sw) = pair_attr(node, "strides", 1).map_err(&e)?;
                if sh == 0 || sw == 0 {
                    return Err(e("strides must be positive".into()));
                }
                let mut pad = add_pad(
                    window_pads(node, x.shape, (kh, kw), (sh, sw)).map_err(&e)?,
                    x.pad,
                );
                if attr_int(node, "ceil_mode").unwrap_or(0) != 0 {
                    // Rounding up adds a last window; as torch and ONNX Runtime do, one that would
                    // start in the end padding is dropped. stria writes it as extra end padding.
                    let end = |len: u32, b: u32, e: u32, k: u32, s: u32| -> u32 {
                        let span = (len + b + e).saturating_sub(k);
                        let floor = span / s + 1;
                        let mut ceil = span.div_ceil(s) + 1;
                        if (ceil - 1) * s >= len + b {
                            ceil -= 1;
                        }
                        if ceil > floor {
                            (ceil - 1) * s + k - len - b
                        } else {
                            e
                        }
                    };
                    pad.bottom = end(x.shape.h, pad.top, pad.bottom, kh, sh);
                    pad.right = end(x.shape.w, pad.left, pad.right, kw, sw);
                }
                let out = Shape::new(
                    x.shape.c,
                    window_out(x.shape.h, (pad.top, pad.bottom), kh, sh, "height").map_err(&e)?,
                    window_out(x.shape.w, (pad.left, pad.right), kw, sw, "width").map_err(&e)?,
                );
                let max = op == "MaxPool";
                let spec = move |name, input| {
                    let p = PoolSpec {
                        name,
                        input,
                        kernel: Pair(kh, kw),
                        stride: Some(Pair(sh, sw)),
                        padding: pad,
                    };
                    if max {
                        Node::Maxpool(p)
                    } else {
                        Node::Avgpool(p)
                    }
                };
                self.emit(node, op, &x, spec, out, 4);
            }
            "GlobalAveragePool" => self.global_avg(node, op)?,
            "ReduceMean" => {
                let axes = match node.input.get(1).filter(|n| !n.is_empty()) {
                    Some(_) => values(&*self.konst(node, op, 1)?)
                        .map_err(&e)?
                        .into_iter()
                        .map(|v| v as i64)
                        .collect(),
                    None => attr_ints(node, "axes").unwrap_or_default(),
                };
                let mut axes: Vec<i64> = axes
                    .into_iter()
                    .map(|a| if a < 0 { a + 4 } else { a })
                    .collect();
                axes.sort_unstable();
                if axes != [2, 3] || attr_int(node, "keepdims").unwrap_or(1) != 1 {
                    return Err(e(format!(
                        "ReduceMean over axes {axes:?}: stria imports the mean over H and W with keepdims = 1 (a global average pool)"
                    )));
                }
                self.global_avg(node, op)?;
            }
            "Add" => {
                let (a, b) = (self.get(node, op, 0)?, self.get(node, op, 1)?);
                match (a, b) {
                    (Val::Act(a), Val::Act(b)) => {
                        self.unpadded(node, op, &a)?;
                        self.unpadded(node, op, &b)?;
                        if (a.shape, a.rank) != (b.shape, b.rank) {
                            return Err(e(format!(
                                "adds tensors of shapes {} and {} (CxHxW); stria adds equal shapes",
                                a.shape, b.shape
                            )));
                        }
                        let from = self.tensor_ref(&b);
                        let s = a.shape;
                        self.emit(
                            node,
                            op,
                            &a,
                            |name, input| Node::Add(AddSpec { name, input, from }),
                            s,
                            a.rank,
                        );
                    }
                    (Val::Act(a), Val::Const(_)) | (Val::Const(_), Val::Act(a)) => {
                        // A bias: a public constant added to the server's share.
                        self.unpadded(node, op, &a)?;
                        self.set(node, Val::Act(a));
                    }
                    _ => return Err(e("adds two constants".into())),
                }
            }
            "Mul" => {
                let (a, b) = (self.get(node, op, 0)?, self.get(node, op, 1)?);
                match (a, b) {
                    (Val::Act(a), Val::Const(t)) | (Val::Const(t), Val::Act(a)) => {
                        self.unpadded(node, op, &a)?;
                        let n: i64 = t.dims.iter().product();
                        if n != 1 && n != a.shape.c as i64 {
                            return Err(e(format!(
                                "multiplies by a constant of dims {:?}; stria reads a scalar or one factor per channel (a batch norm's scale)",
                                t.dims
                            )));
                        }
                        let s = a.shape;
                        self.emit(
                            node,
                            op,
                            &a,
                            |name, input| {
                                Node::Batchnorm(BatchnormSpec {
                                    name,
                                    input,
                                    fold: true,
                                })
                            },
                            s,
                            a.rank,
                        );
                    }
                    (Val::Act(a), Val::Act(b)) => {
                        self.unpadded(node, op, &a)?;
                        self.unpadded(node, op, &b)?;
                        // The full tensor is the layer's input, a [N, C, 1, 1] factor its `from`
                        // (squeeze-excite writes the factor first).
                        let per_channel = |t: &Act| t.rank == 4 && (t.shape.h, t.shape.w) == (1, 1);
                        let (x, f) = if per_channel(&a) && !per_channel(&b) {
                            (b, a)
                        } else {
                            (a, b)
                        };
                        let fits = x.rank == f.rank
                            && (x.shape == f.shape || (per_channel(&f) && f.shape.c == x.shape.c));
                        if !fits {
                            return Err(e(format!(
                                "multiplies tensors of shapes {} and {} (CxHxW); stria multiplies equal shapes, or a tensor by one factor per channel (Cx1x1)",
                                a_shape(&x),
                                a_shape(&f)
                            )));
                        }
                        let from = self.tensor_ref(&f);
                        let s = x.shape;
                        self.emit(
                            node,
                            op,
                            &x,
                            |name, input| Node::Mul(AddSpec { name, input, from }),
                            s,
                            x.rank,
                        );
                    }
                    _ => return Err(e("multiplies two constants".into())),
                }
            }
            "Concat" => {
                let axis = attr_int(node, "axis").unwrap_or(1);
                let first = self.act(node, op, 0)?;
                if first.rank != 4 || !(axis == 1 || axis == -3) {
                    return Err(e(format!(
                        "concatenates on axis {axis}; stria concatenates channels of 4-D tensors (axis 1)"
                    )));
                }
                self.unpadded(node, op, &first)?;
                let mut cur = first;
                for i in 1..node.input.len() {
                    let b = self.act(node, op, i)?;
                    self.unpadded(node, op, &b)?;
                    if b.rank != 4 || (b.shape.h, b.shape.w) != (cur.shape.h, cur.shape.w) {
                        return Err(e(format!(
                            "concatenates tensors of shapes {} and {} (CxHxW); heights and widths must agree",
                            cur.shape, b.shape
                        )));
                    }
                    let from = self.tensor_ref(&b);
                    let s = Shape::new(cur.shape.c + b.shape.c, cur.shape.h, cur.shape.w);
                    self.emit(
                        node,
                        op,
                        &cur,
                        |name, input| Node::Concat(AddSpec { name, input, from }),
                        s,
                        4,
                    );
                    cur = Act {
                        layer: Some(self.layers.len() - 1),
                        shape: s,
                        rank: 4,
                        pad: None,
                    };
                }
                self.set(node, Val::Act(cur));
            }
            "Flatten" => {
                let x = self.act(node, op, 0)?;
                if attr_int(node, "axis").unwrap_or(1) != 1 {
                    return Err(e("stria flattens from axis 1 only".into()));
                }
                if matches!(meta(node, "stria.role"), Some("fc_input" | "argmax_input")) {
                    // The flattening stria's fc and argmax do themselves: no layer.
                    self.unpadded(node, op, &x)?;
                    self.set(node, Val::Act(Act { rank: 2, ..x }));
                } else {
                    self.flatten(node, op, x)?;
                }
            }
            "Reshape" => {
                let x = self.act(node, op, 0)?;
                let target = values(&*self.konst(node, op, 1)?).map_err(&e)?;
                let n = x.shape.elems() as f64;
                let flat = matches!(target.as_slice(), [_, f] if *f == -1.0 || *f == n);
                let same = x.rank == 4
                    && matches!(target.as_slice(), [_, c, h, w] if [*c, *h, *w] == [x.shape.c as f64, x.shape.h as f64, x.shape.w as f64]);
                if same {
                    self.set(node, Val::Act(x));
                } else if flat {
                    self.flatten(node, op, x)?;
                } else {
                    return Err(e(format!(
                        "Reshape to {target:?}: stria imports a reshape to [N, C*H*W] (a flatten) only"
                    )));
                }
            }
            "Gemm" | "MatMul" => {
                let x = self.act(node, op, 0)?;
                self.unpadded(node, op, &x)?;
                let w = self.konst(node, op, 1)?;
                let trans_b = op == "Gemm" && attr_int(node, "transB").unwrap_or(0) != 0;
                if op == "Gemm" && attr_int(node, "transA").unwrap_or(0) != 0 {
                    return Err(e("transA = 1 is not supported".into()));
                }
                if x.rank != 2 || w.dims.len() != 2 {
                    return Err(e(format!(
                        "stria imports a product of a flat [N, features] input and a weight matrix; the input is {}-D and the weight has dims {:?}",
                        x.rank, w.dims
                    )));
                }
                let (k, n) = if trans_b {
                    (w.dims[1], w.dims[0])
                } else {
                    (w.dims[0], w.dims[1])
                };
                if k != x.shape.elems() as i64 {
                    return Err(e(format!(
                        "the weight takes {k} features but the input has {}",
                        x.shape.elems()
                    )));
                }
                let out_features = to_u32(n, "output features").map_err(&e)?;
                self.emit(
                    node,
                    op,
                    &x,
                    |name, input| {
                        Node::Fc(FcSpec {
                            name,
                            input,
                            out_features,
                        })
                    },
                    Shape::new(out_features, 1, 1),
                    2,
                );
            }
            "Gather" => {
                let x = self.act(node, op, 0)?;
                self.unpadded(node, op, &x)?;
                let idx = values(&*self.konst(node, op, 1)?).map_err(&e)?;
                let c = x.shape.c as usize;
                let mut seen = vec![false; c];
                let perm = x.rank == 4
                    && attr_int(node, "axis").unwrap_or(0) == 1
                    && idx.len() == c
                    && idx.iter().all(|&v| {
                        let ok = v >= 0.0 && (v as usize) < c && !seen[v as usize];
                        if ok {
                            seen[v as usize] = true;
                        }
                        ok
                    });
                if !perm {
                    return Err(e(
                        "stria imports a Gather of a channel permutation (axis 1, every channel once), a shuffle".into(),
                    ));
                }
                if meta(node, "stria.role") == Some("group_layout") {
                    // The permutation around a strided grouped conv: part of that conv.
                    self.set(node, Val::Act(x));
                } else {
                    let groups = match meta(node, "stria.groups") {
                        None => None,
                        Some(g) => Some(
                            g.parse::<u32>()
                                .map_err(|_| e(format!("stria.groups = {g}: not a number")))?,
                        ),
                    };
                    let s = x.shape;
                    self.emit(
                        node,
                        op,
                        &x,
                        |name, input| {
                            Node::Shuffle(ShuffleSpec {
                                name,
                                input,
                                groups,
                            })
                        },
                        s,
                        4,
                    );
                }
            }
            "ArgMax" => {
                let x = self.act(node, op, 0)?;
                self.unpadded(node, op, &x)?;
                if x.rank != 2 || attr_int(node, "axis").unwrap_or(0) != 1 {
                    return Err(e(
                        "stria imports ArgMax over the features of a flat [N, features] tensor"
                            .into(),
                    ));
                }
                self.emit(
                    node,
                    op,
                    &x,
                    |name, input| Node::Argmax(Plain { name, input }),
                    Shape::new(1, 1, 1),
                    2,
                );
            }
            "Pad" => {
                let x = self.act(node, op, 0)?;
                let mode = attr_str(node, "mode").unwrap_or_else(|| "constant".into());
                let pads: Vec<i64> = match node.input.get(1).filter(|n| !n.is_empty()) {
                    Some(_) => values(&*self.konst(node, op, 1)?)
                        .map_err(&e)?
                        .into_iter()
                        .map(|v| v as i64)
                        .collect(),
                    None => attr_ints(node, "pads").unwrap_or_default(),
                };
                let value = match node.input.get(2).filter(|n| !n.is_empty()) {
                    Some(_) => values(&*self.konst(node, op, 2)?).map_err(&e)?,
                    None => vec![attr(node, "value").and_then(|a| a.f).unwrap_or(0.0) as f64],
                };
                if node.input.get(3).is_some_and(|n| !n.is_empty()) {
                    return Err(e("Pad with `axes` is not supported".into()));
                }
                let ok = mode == "constant"
                    && value.iter().all(|v| *v == 0.0)
                    && x.rank == 4
                    && pads.len() == 8
                    && pads[0] == 0
                    && pads[1] == 0
                    && pads[4] == 0
                    && pads[5] == 0
                    && pads.iter().all(|p| *p >= 0);
                if !ok {
                    return Err(e(format!(
                        "Pad mode {mode}, pads {pads:?}: stria imports zero padding of height and width (folded into the conv or pool that reads it)"
                    )));
                }
                let p = Padding {
                    top: to_u32(pads[2], "pads").map_err(&e)?,
                    left: to_u32(pads[3], "pads").map_err(&e)?,
                    bottom: to_u32(pads[6], "pads").map_err(&e)?,
                    right: to_u32(pads[7], "pads").map_err(&e)?,
                };
                let pad = add_pad(p, x.pad);
                self.set(
                    node,
                    Val::Act(Act {
                        pad: Some(pad),
                        ..x
                    }),
                );
            }
            other => {
                return Err(e(format!(
                    "operator {other} is not supported (stria's activations are ReLU, ReLU6 and Sigmoid; it supports {SUPPORTED})"
                )));
            }
        }
        Ok(())
    }

    fn plain(
        &mut self,
        node: &'a NodeProto,
        op: &str,
        kind: fn(Plain) -> Node,
    ) -> Result<(), SpecError> {
        let x = self.act(node, op, 0)?;
        self.unpadded(node, op, &x)?;
        let s = x.shape;
        self.emit(
            node,
            op,
            &x,
            |name, input| kind(Plain { name, input }),
            s,
            x.rank,
        );
        Ok(())
    }

    fn global_avg(&mut self, node: &'a NodeProto, op: &str) -> Result<(), SpecError> {
        let x = self.act(node, op, 0)?;
        self.unpadded(node, op, &x)?;
        if x.rank != 4 {
            return Err(self.err(node, op, "needs a 4-D input"));
        }
        self.emit(
            node,
            op,
            &x,
            |name, input| Node::GlobalAvgpool(Plain { name, input }),
            Shape::new(x.shape.c, 1, 1),
            4,
        );
        Ok(())
    }

    fn flatten(&mut self, node: &'a NodeProto, op: &str, x: Act) -> Result<(), SpecError> {
        self.unpadded(node, op, &x)?;
        if x.rank == 2 {
            self.set(node, Val::Act(x));
            return Ok(());
        }
        let n = u32::try_from(x.shape.elems())
            .map_err(|_| self.err(node, op, "the flattened input is too long"))?;
        self.emit(
            node,
            op,
            &x,
            |name, input| Node::Flatten(Plain { name, input }),
            Shape::new(n, 1, 1),
            2,
        );
        Ok(())
    }
}

fn show_dims(dims: &[Option<i64>]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| d.map_or("?".into(), |v| v.to_string()))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// A computed tensor's shape as the errors print it: CxHxW, or the length of a flat one.
fn a_shape(a: &Act) -> String {
    if a.rank == 4 {
        a.shape.to_string()
    } else {
        format!("[{}] (flat)", a.shape.elems())
    }
}
