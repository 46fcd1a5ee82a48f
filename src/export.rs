//! `stria export SPEC --to pytorch`: a resolved network as a self-contained PyTorch module.
//!
//! The module is generated from the resolved layers (`net::graph`), so every spec stria accepts,
//! composite blocks included, becomes one `nn.Module` class of standard `torch.nn` layers with one
//! attribute per layer (named after its layer path) and a `forward` that wires the tensors exactly
//! as the spec does. What the secure-inference side needs and training must keep:
//!
//! - Sparse kernels (`taps`, `kernel_shape: cross`) are dense `nn.Conv2d`s whose weight is
//!   multiplied by a 0/1 mask registered as a buffer, so gradients never revive a pruned tap.
//! - `group_layout: strided` (group j holds the channels c with c mod G == j) is a contiguous
//!   grouped convolution between two fixed channel permutations (buffers).
//! - `shuffle` with `groups` is the ShuffleNet transpose; without `groups` the permutation is the
//!   identity (any fixed permutation is free under HE and does not change what the net can learn).
//! - Paddings, asymmetric ones included, are explicit zero padding (`F.pad`) before the layer, as
//!   the frameworks pad (max-pooling included: SCI pads its windows with zeros); average pooling
//!   divides by the whole window.
//! - `accum` (how HE aligns channel sums) does not change the function: it is not in the code.
//! - Batch norms are `nn.BatchNorm2d` whether or not stria folds them (folding is an inference
//!   rewrite); convolutions have no bias (the batch norm's shift plays that part), FC layers do.
//! - `sigmoid` is `torch.sigmoid`; `mul` is `*` of two tensors (a Cx1x1 factor broadcasts over H
//!   and W, as in squeeze-excite), so SiLU is a `sigmoid` and a `mul`.
//! - `argmax` is the prediction the client learns: `forward` returns the logits before it.
//!
//! Parameter counts equal stria's `params` column for dense layers; a masked convolution holds
//! `kh*kw` weights per filter of which only the taps are trainable, so `params` counts the taps.

use crate::net::spec::GroupLayout;
use crate::net::{Layer, Network, Op};
use std::fmt::Write as _;

/// A Python identifier for a class name: letters and digits of `name`, CamelCased.
fn class_name(name: &str) -> String {
    let mut out = String::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut cs = part.chars();
        if let Some(f) = cs.next() {
            out.push(f.to_ascii_uppercase());
            out.extend(cs);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Net");
    }
    out
}

/// A Python attribute for layer `i`: its path with every other character made `_`.
fn attr(i: usize, layer: &Layer) -> String {
    let p: String = layer
        .path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("l{i}_{}", p.trim_matches('_'))
}

/// `F.pad` argument order (left, right, top, bottom), or `None` when there is no padding.
fn pad(p: &crate::net::spec::Padding) -> Option<String> {
    (p.top + p.bottom + p.left + p.right > 0)
        .then(|| format!("({}, {}, {}, {})", p.left, p.right, p.top, p.bottom))
}

/// The Python source of a module computing `net`.
pub fn to_pytorch(net: &Network) -> String {
    let class = class_name(&net.name);
    let mut init = String::new();
    let mut fwd = String::new();
    let t = |id: usize| format!("t{id}");
    let mut last = 0usize;
    for (i, l) in net.layers.iter().enumerate() {
        let a = attr(i, l);
        let (x, y) = (t(l.src), t(l.dst));
        let _ = writeln!(fwd, "        # {} ({})", l.path, l.kind());
        match &l.op {
            Op::Conv(c) => {
                let (ci, co) = (l.input.c, l.output.c);
                let _ = writeln!(
                    init,
                    "        self.{a} = nn.Conv2d({ci}, {co}, ({}, {}), stride=({}, {}), groups={}, bias=False)",
                    c.kh, c.kw, c.sh, c.sw, c.groups
                );
                let mut input = x.clone();
                if let Some(p) = pad(&c.pad) {
                    let _ = writeln!(fwd, "        {y} = F.pad({input}, {p})");
                    input = y.clone();
                }
                let strided = c.groups > 1 && c.group_layout == GroupLayout::Strided;
                if strided {
                    let g = c.groups;
                    let _ = writeln!(
                        init,
                        "        self.register_buffer(\"{a}_perm_in\", strided_to_contiguous({ci}, {g}))"
                    );
                    let _ = writeln!(
                        init,
                        "        self.register_buffer(\"{a}_perm_out\", contiguous_to_strided({co}, {g}))"
                    );
                    let _ = writeln!(fwd, "        {y} = {input}[:, self.{a}_perm_in]");
                    input = y.clone();
                }
                if c.is_dense() {
                    let _ = writeln!(fwd, "        {y} = self.{a}({input})");
                } else {
                    let taps = c
                        .taps
                        .iter()
                        .map(|(r, q)| format!("({r}, {q})"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let _ = writeln!(
                        init,
                        "        self.register_buffer(\"{a}_mask\", tap_mask({}, {}, [{taps}]))",
                        c.kh, c.kw
                    );
                    let _ = writeln!(
                        fwd,
                        "        {y} = F.conv2d({input}, self.{a}.weight * self.{a}_mask, None, self.{a}.stride, 0, 1, self.{a}.groups)"
                    );
                }
                if strided {
                    let _ = writeln!(fwd, "        {y} = {y}[:, self.{a}_perm_out]");
                }
            }
            Op::Fc => {
                let _ = writeln!(
                    init,
                    "        self.{a} = nn.Linear({}, {})",
                    l.input.elems(),
                    l.output.c
                );
                let _ = writeln!(fwd, "        {y} = self.{a}(torch.flatten({x}, 1))");
            }
            Op::BatchNorm { .. } => {
                let _ = writeln!(init, "        self.{a} = nn.BatchNorm2d({})", l.input.c);
                let _ = writeln!(fwd, "        {y} = self.{a}({x})");
            }
            Op::Relu => {
                let _ = writeln!(fwd, "        {y} = F.relu({x})");
            }
            Op::Relu6 => {
                let _ = writeln!(fwd, "        {y} = F.relu6({x})");
            }
            Op::Sigmoid => {
                let _ = writeln!(fwd, "        {y} = torch.sigmoid({x})");
            }
            Op::MaxPool(p) | Op::AvgPool(p) => {
                let kind = if matches!(l.op, Op::MaxPool(_)) {
                    "MaxPool2d"
                } else {
                    "AvgPool2d"
                };
                let _ = writeln!(
                    init,
                    "        self.{a} = nn.{kind}(({}, {}), stride=({}, {}))",
                    p.kh, p.kw, p.sh, p.sw
                );
                match pad(&p.pad) {
                    Some(pd) => {
                        let _ = writeln!(fwd, "        {y} = self.{a}(F.pad({x}, {pd}))");
                    }
                    None => {
                        let _ = writeln!(fwd, "        {y} = self.{a}({x})");
                    }
                }
            }
            Op::GlobalAvgPool => {
                let _ = writeln!(fwd, "        {y} = F.adaptive_avg_pool2d({x}, 1)");
            }
            Op::Add => {
                let b = t(l.src2.expect("an add reads two tensors"));
                let _ = writeln!(fwd, "        {y} = {x} + {b}");
            }
            Op::Concat => {
                let b = t(l.src2.expect("a concat reads two tensors"));
                let _ = writeln!(fwd, "        {y} = torch.cat([{x}, {b}], 1)");
            }
            Op::Mul => {
                // A Cx1x1 factor broadcasts over H and W.
                let b = t(l.src2.expect("a mul reads two tensors"));
                let _ = writeln!(fwd, "        {y} = {x} * {b}");
            }
            Op::Flatten => {
                let _ = writeln!(fwd, "        {y} = torch.flatten({x}, 1)");
            }
            Op::Shuffle { groups } => match groups {
                Some(g) => {
                    let _ = writeln!(fwd, "        {y} = channel_shuffle({x}, {g})");
                }
                None => {
                    let _ = writeln!(fwd, "        {y} = {x}  # a fixed permutation: identity");
                }
            },
            Op::Argmax => {
                let _ = writeln!(
                    fwd,
                    "        {y} = {x}  # argmax is the client's prediction; training uses the logits"
                );
            }
        }
        last = l.dst;
    }
    let i = net.input;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\"\"\"{name}: generated by `stria export` from a stria network spec.\n\n\
         {layers} layers, {params} parameters as stria counts them, input {c}x{h}x{w}.\n\
         Standard torch.nn layers only; see the stria README, \"Your own model\".\n\"\"\"\n",
        name = net.name,
        layers = net.layers.len(),
        params = net.params(),
        c = i.c,
        h = i.h,
        w = i.w
    );
    s.push_str(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n\
         def tap_mask(kh, kw, taps):\n    \
             \"\"\"1 at the kernel positions that are taps, 0 elsewhere (shape 1 x 1 x kh x kw).\"\"\"\n    \
             m = torch.zeros(1, 1, kh, kw)\n    \
             for r, c in taps:\n        \
                 m[0, 0, r, c] = 1.0\n    \
             return m\n\n\n\
         def strided_to_contiguous(c, g):\n    \
             \"\"\"Channel order that makes group j (channels j, j + g, ...) contiguous.\"\"\"\n    \
             return torch.tensor([j + k * g for j in range(g) for k in range(c // g)])\n\n\n\
         def contiguous_to_strided(c, g):\n    \
             \"\"\"Inverse order for the outputs: contiguous group j back to channels j, j + g, ...\"\"\"\n    \
             per = c // g\n    \
             return torch.tensor([(o % g) * per + o // g for o in range(c)])\n\n\n\
         def channel_shuffle(x, g):\n    \
             n, c, h, w = x.shape\n    \
             return x.view(n, g, c // g, h, w).transpose(1, 2).reshape(n, c, h, w)\n\n\n",
    );
    let _ = writeln!(s, "class {class}(nn.Module):");
    let _ = writeln!(s, "    def __init__(self):");
    let _ = writeln!(s, "        super().__init__()");
    s.push_str(&init);
    let _ = writeln!(s, "\n    def forward(self, t0):");
    s.push_str(&fwd);
    let _ = writeln!(s, "        return {}", t(last));
    let _ = writeln!(
        s,
        "\n\nif __name__ == \"__main__\":\n    \
         model = {class}().eval()\n    \
         out = model(torch.randn(1, {}, {}, {}))\n    \
         print(\"output\", tuple(out.shape))\n    \
         print(\"parameters\", sum(p.numel() for p in model.parameters() if p.requires_grad))",
        i.c, i.h, i.w
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(class_name("resnet18-cifar10"), "Resnet18Cifar10");
        assert_eq!(class_name("3net"), "Net3net");
    }
}
