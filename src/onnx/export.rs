//! `stria export SPEC --to onnx`: a resolved network as an ONNX graph (opset 17) with
//! pseudo-random weights, which ONNX Runtime runs and `stria import` reads back into the same
//! layers, the same shapes and the same cost.
//!
//! One node per layer, named after the layer's path, so that the import gives every layer its
//! path back. What ONNX has no attribute for is kept in each node's `metadata_props`, which ONNX
//! tools carry along and ignore: `stria.taps` (a sparse kernel: the weights are zero off the
//! taps), `stria.accum`, `stria.group_layout`, `stria.fold` (a batch norm stria does not fold)
//! and `stria.groups` (a shuffle's transpose). The graph computes what the spec means, with two
//! exceptions that change no shape and no cost: a `strided` grouped convolution is a contiguous
//! grouped `Conv` between two channel permutations (`Gather`s marked `stria.role =
//! group_layout`, which the import skips), and a `shuffle` is a `Gather` of its permutation.
//! `argmax` is an `ArgMax` node, `sigmoid` a `Sigmoid` and `mul` a `Mul` of two computed tensors. A batch norm has scale 1, shift 0, mean 0 and variance 1.

use super::proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto, attribute_type,
    data_type,
};
use crate::net::spec::{GroupLayout, Padding};
use crate::net::{Network, Op};
use prost::Message;

/// The opset the graph is written for.
pub const OPSET: i64 = 17;

fn kv(key: &str, value: impl Into<String>) -> StringStringEntryProto {
    StringStringEntryProto {
        key: Some(key.into()),
        value: Some(value.into()),
    }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_type::INTS),
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_type::INT),
        i: Some(v),
        ..Default::default()
    }
}

/// A window's `kernel_shape`, `strides` and `pads` (ONNX order: top, left, bottom, right), as
/// `Conv` and the pools take them.
fn window_attrs(kernel: (u32, u32), stride: (u32, u32), pad: Padding) -> Vec<AttributeProto> {
    vec![
        ints("kernel_shape", &[kernel.0 as i64, kernel.1 as i64]),
        ints("strides", &[stride.0 as i64, stride.1 as i64]),
        ints(
            "pads",
            &[
                pad.top as i64,
                pad.left as i64,
                pad.bottom as i64,
                pad.right as i64,
            ],
        ),
    ]
}

fn tensor_info(name: &str, dims: &[i64], elem: i32) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: Some(elem),
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| super::proto::Dimension {
                            dim_value: Some(d),
                            dim_param: None,
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

/// Deterministic weights: uniform in `[-1/sqrt(fan_in), 1/sqrt(fan_in)]` (PyTorch's default
/// bound), from a xorshift generator seeded per tensor.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

struct Writer {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    seed: u64,
}

impl Writer {
    fn floats(&mut self, name: &str, dims: &[i64], values: Vec<f32>) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.inits.push(TensorProto {
            dims: dims.to_vec(),
            data_type: Some(data_type::FLOAT),
            name: Some(name.into()),
            raw_data: Some(raw),
            ..Default::default()
        });
        name.into()
    }

    fn int64s(&mut self, name: &str, values: &[i64]) -> String {
        self.inits.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: Some(data_type::INT64),
            name: Some(name.into()),
            int64_data: values.to_vec(),
            ..Default::default()
        });
        name.into()
    }

    fn random(
        &mut self,
        name: &str,
        dims: &[i64],
        fan_in: u64,
        keep: impl Fn(usize) -> bool,
    ) -> String {
        self.seed += 1;
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ self.seed.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
        let n: i64 = dims.iter().product();
        let v = (0..n as usize)
            .map(|i| {
                let r = rng.next() * bound;
                if keep(i) { r } else { 0.0 }
            })
            .collect();
        self.floats(name, dims, v)
    }

    fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: Vec<String>,
        output: &str,
        attribute: Vec<AttributeProto>,
        meta: Vec<StringStringEntryProto>,
    ) {
        self.nodes.push(NodeProto {
            input: inputs,
            output: vec![output.into()],
            name: Some(name.into()),
            op_type: Some(op.into()),
            domain: None,
            attribute,
            metadata_props: meta,
        });
    }
}

fn tensor(id: usize) -> String {
    if id == 0 {
        "input".into()
    } else {
        format!("t{id}")
    }
}

/// A permutation of `c` channels as `Gather` indices.
fn strided_to_contiguous(c: u32, g: u32) -> Vec<i64> {
    (0..g)
        .flat_map(|j| (0..c / g).map(move |k| (j + k * g) as i64))
        .collect()
}

fn contiguous_to_strided(c: u32, g: u32) -> Vec<i64> {
    let per = c / g;
    (0..c).map(|o| ((o % g) * per + o / g) as i64).collect()
}

fn shuffle_perm(c: u32, g: u32) -> Vec<i64> {
    // Output channel i*g + j is input channel j*(c/g) + i (the ShuffleNet transpose).
    let n = c / g;
    (0..c).map(|o| ((o % g) * n + o / g) as i64).collect()
}

/// The ONNX model (protobuf bytes) of `net`.
pub fn to_onnx(net: &Network) -> Vec<u8> {
    let mut w = Writer {
        nodes: Vec::new(),
        inits: Vec::new(),
        seed: 0,
    };
    // ONNX dims of every tensor by stria tensor id (0: the input).
    let i = net.input;
    let mut shapes: Vec<Vec<i64>> = vec![vec![1, i.c as i64, i.h as i64, i.w as i64]];
    let mut last = 0;
    for l in &net.layers {
        let (x, y) = (tensor(l.src), tensor(l.dst));
        let p = l.path.as_str();
        let mut dims = vec![1, l.output.c as i64, l.output.h as i64, l.output.w as i64];
        match &l.op {
            Op::Conv(c) => {
                let (ci, co, g) = (l.input.c, l.output.c, c.groups);
                let mut meta = Vec::new();
                let mut input = x.clone();
                let strided = g > 1 && c.group_layout == GroupLayout::Strided;
                if strided {
                    let idx = w.int64s(&format!("{p}.perm_in"), &strided_to_contiguous(ci, g));
                    let t = format!("{y}.in");
                    w.node(
                        "Gather",
                        &format!("{p}.perm_in"),
                        vec![input, idx],
                        &t,
                        vec![int("axis", 1)],
                        vec![kv("stria.role", "group_layout")],
                    );
                    input = t;
                    meta.push(kv("stria.group_layout", "strided"));
                }
                if !c.accum.is_default() {
                    meta.push(kv("stria.accum", c.accum.name()));
                }
                let taps = c.taps.clone();
                let (kh, kw) = (c.kh as usize, c.kw as usize);
                if !c.is_dense() {
                    let list: Vec<String> =
                        taps.iter().map(|(r, q)| format!("[{r},{q}]")).collect();
                    meta.push(kv("stria.taps", format!("[{}]", list.join(","))));
                }
                let wdims = [co as i64, (ci / g) as i64, c.kh as i64, c.kw as i64];
                let fan_in = (ci / g) as u64 * taps.len() as u64;
                let weight = w.random(&format!("{p}.weight"), &wdims, fan_in, |i| {
                    let pos = i % (kh * kw);
                    taps.binary_search(&((pos / kw) as u32, (pos % kw) as u32))
                        .is_ok()
                });
                let conv_out = if strided {
                    format!("{y}.conv")
                } else {
                    y.clone()
                };
                w.node(
                    "Conv",
                    p,
                    vec![input, weight],
                    &conv_out,
                    window_attrs((c.kh, c.kw), (c.sh, c.sw), c.pad)
                        .into_iter()
                        .chain([int("group", g as i64)])
                        .collect(),
                    meta,
                );
                if strided {
                    let idx = w.int64s(&format!("{p}.perm_out"), &contiguous_to_strided(co, g));
                    w.node(
                        "Gather",
                        &format!("{p}.perm_out"),
                        vec![conv_out, idx],
                        &y,
                        vec![int("axis", 1)],
                        vec![kv("stria.role", "group_layout")],
                    );
                }
            }
            Op::Fc => {
                let (ni, no) = (l.input.elems() as i64, l.output.c as i64);
                let mut input = x.clone();
                if shapes.get(l.src).is_none_or(|d| d.len() != 2) {
                    let t = format!("{y}.flat");
                    w.node(
                        "Flatten",
                        &format!("{p}.flatten"),
                        vec![input],
                        &t,
                        vec![int("axis", 1)],
                        vec![kv("stria.role", "fc_input")],
                    );
                    input = t;
                }
                let weight = w.random(&format!("{p}.weight"), &[no, ni], ni as u64, |_| true);
                let bias = w.random(&format!("{p}.bias"), &[no], ni as u64, |_| true);
                w.node(
                    "Gemm",
                    p,
                    vec![input, weight, bias],
                    &y,
                    vec![int("transB", 1)],
                    vec![],
                );
                dims = vec![1, no];
            }
            Op::BatchNorm { folded } => {
                let c = l.input.c as i64;
                let ones = w.floats(&format!("{p}.weight"), &[c], vec![1.0; c as usize]);
                let zeros = w.floats(&format!("{p}.bias"), &[c], vec![0.0; c as usize]);
                let mean = w.floats(&format!("{p}.running_mean"), &[c], vec![0.0; c as usize]);
                let var = w.floats(&format!("{p}.running_var"), &[c], vec![1.0; c as usize]);
                let meta = if *folded {
                    vec![]
                } else {
                    vec![kv("stria.fold", "false")]
                };
                w.node(
                    "BatchNormalization",
                    p,
                    vec![x, ones, zeros, mean, var],
                    &y,
                    vec![],
                    meta,
                );
                dims = shapes[l.src].clone();
            }
            Op::Relu => {
                w.node("Relu", p, vec![x], &y, vec![], vec![]);
                dims = shapes[l.src].clone();
            }
            Op::Sigmoid => {
                w.node("Sigmoid", p, vec![x], &y, vec![], vec![]);
                dims = shapes[l.src].clone();
            }
            Op::Relu6 => {
                let lo = w.floats(&format!("{p}.min"), &[], vec![0.0]);
                let hi = w.floats(&format!("{p}.max"), &[], vec![6.0]);
                w.node("Clip", p, vec![x, lo, hi], &y, vec![], vec![]);
                dims = shapes[l.src].clone();
            }
            Op::MaxPool(q) | Op::AvgPool(q) => {
                let max = matches!(l.op, Op::MaxPool(_));
                let mut attrs = window_attrs((q.kh, q.kw), (q.sh, q.sw), q.pad);
                if !max {
                    // stria divides by the whole window, padding included.
                    attrs.push(int("count_include_pad", 1));
                }
                let op = if max { "MaxPool" } else { "AveragePool" };
                w.node(op, p, vec![x], &y, attrs, vec![]);
            }
            Op::GlobalAvgPool => {
                w.node("GlobalAveragePool", p, vec![x], &y, vec![], vec![]);
            }
            Op::Add => {
                let b = tensor(l.src2.expect("an add reads two tensors"));
                w.node("Add", p, vec![x, b], &y, vec![], vec![]);
                dims = shapes[l.src].clone();
            }
            Op::Concat => {
                let b = tensor(l.src2.expect("a concat reads two tensors"));
                w.node("Concat", p, vec![x, b], &y, vec![int("axis", 1)], vec![]);
            }
            Op::Mul => {
                // ONNX broadcasts a [1, C, 1, 1] factor over H and W.
                let b = tensor(l.src2.expect("a mul reads two tensors"));
                w.node("Mul", p, vec![x, b], &y, vec![], vec![]);
                dims = shapes[l.src].clone();
            }
            Op::Flatten => {
                w.node("Flatten", p, vec![x], &y, vec![int("axis", 1)], vec![]);
                dims = vec![1, l.output.c as i64];
            }
            Op::Argmax => {
                let t = format!("{y}.flat");
                let flat_in = if shapes[l.src].len() == 2 {
                    x
                } else {
                    w.node(
                        "Flatten",
                        &format!("{p}.flatten"),
                        vec![x],
                        &t,
                        vec![int("axis", 1)],
                        vec![kv("stria.role", "argmax_input")],
                    );
                    t
                };
                w.node(
                    "ArgMax",
                    p,
                    vec![flat_in],
                    &y,
                    vec![int("axis", 1), int("keepdims", 1)],
                    vec![],
                );
                dims = vec![1, 1];
            }
            Op::Shuffle { groups } => {
                let c = l.input.c;
                let (perm, meta) = match groups {
                    Some(g) => (shuffle_perm(c, *g), vec![kv("stria.groups", g.to_string())]),
                    None => ((0..c as i64).collect(), vec![]),
                };
                let idx = w.int64s(&format!("{p}.perm"), &perm);
                w.node("Gather", p, vec![x, idx], &y, vec![int("axis", 1)], meta);
                dims = shapes[l.src].clone();
            }
        }
        if shapes.len() <= l.dst {
            shapes.resize(l.dst + 1, Vec::new());
        }
        shapes[l.dst] = dims;
        last = l.dst;
    }
    finish(net, w, shapes, last)
}

fn finish(net: &Network, w: Writer, shapes: Vec<Vec<i64>>, last: usize) -> Vec<u8> {
    let argmax: Vec<usize> = net
        .layers
        .iter()
        .filter(|l| l.op == Op::Argmax)
        .map(|l| l.dst)
        .collect();
    let i = net.input;
    let mut value_info = Vec::new();
    let mut output = Vec::new();
    for (id, dims) in shapes.iter().enumerate().skip(1) {
        if dims.is_empty() {
            continue;
        }
        // An argmax holds an index.
        let elem = if argmax.contains(&id) {
            data_type::INT64
        } else {
            data_type::FLOAT
        };
        if id == last {
            output.push(tensor_info(&tensor(id), dims, elem));
        } else {
            value_info.push(tensor_info(&tensor(id), dims, elem));
        }
    }
    let graph = GraphProto {
        node: w.nodes,
        name: Some(net.name.clone()),
        initializer: w.inits,
        input: vec![tensor_info(
            "input",
            &[1, i.c as i64, i.h as i64, i.w as i64],
            data_type::FLOAT,
        )],
        output,
        value_info,
    };
    let mut metadata = Vec::new();
    if net.input_untruncated {
        metadata.push(kv("stria.untruncated", "true"));
    }
    if let Some(b) = net.cheetah_batchnorm {
        let v = clap::ValueEnum::to_possible_value(&b).expect("named");
        metadata.push(kv("stria.cheetah_batchnorm", v.get_name()));
    }
    let model = ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(OPSET),
        }],
        producer_name: Some("stria".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        graph: Some(graph),
        metadata_props: metadata,
    };
    model.encode_to_vec()
}
