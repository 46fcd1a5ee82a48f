//! HomConv (OpenCheetah `include/gemini/cheetah/hom_conv2d_ss.cc`, `HomConv2DSS::conv2DSS`;
//! Cheetah Sec. 3.2):
//! the partition `packing::coeff` chooses, as a [`Plan`] run by the shared two-party execution.

use super::super::instrumented::{BackendError, Result};
use super::super::{LayerRun, RunOptions, conv_weights};
use super::two_party::{
    InPoly, OutPoly, Plan, data_rng, mod_t, nonzero, plain_modulus, run_plan, small,
};
use crate::net::graph::GroupLayout;
use crate::net::{Conv, Layer};
use crate::packing::CountConfig;
use crate::packing::coeff::{self as cc, DepthwiseMode, Partition};

/// One spatial axis of the partition: the (padded, possibly sub-sampled) length, the window and
/// kernel size, the number of windows and the stride still to apply inside the blocks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Axis {
    /// Length of the packed axis (padded; sub-sampled for a 1-wide kernel under the heuristic).
    pub(super) len: usize,
    pub(super) win: usize,
    pub(super) k: usize,
    pub(super) d: usize,
    /// Stride applied by the client keeping every `stride`-th stride-1 output (1 once sub-sampled).
    pub(super) stride: usize,
    /// Padded positions per packed position (the sub-sampling factor, else 1).
    pub(super) sub: usize,
    /// Leading padding and the unpadded length.
    pub(super) pad: usize,
    pub(super) in_len: usize,
}

impl Axis {
    fn start(&self, b: usize) -> usize {
        b * (self.win - self.k + 1)
    }
    fn size(&self, b: usize) -> usize {
        self.win.min(self.len - self.start(b))
    }
    /// Input row/column of packed position `p`, or `None` in the padding.
    fn source(&self, p: usize) -> Option<usize> {
        (p * self.sub)
            .checked_sub(self.pad)
            .filter(|&r| r < self.in_len)
    }
    /// Stride-1 outputs of window `b` the client keeps: `(local position, output index)`.
    fn outputs(&self, b: usize) -> Vec<(usize, usize)> {
        let s = self.start(b);
        (s..=s + self.size(b) - self.k)
            .filter(|p| p % self.stride == 0)
            .map(|p| (p - s, p / self.stride))
            .collect()
    }
}

pub(super) fn run_conv(
    layer: &Layer,
    c: &Conv,
    cfg: &CountConfig,
    opts: &RunOptions,
) -> Result<LayerRun> {
    let n = cfg.ring_degree;
    let p = &cfg.cheetah;
    let t = plain_modulus(p.plain_bits)?;
    let err = |m: String| BackendError(format!("layer `{}`: {m}", layer.path));
    let (ch, m) = (layer.input.c as usize, layer.output.c as usize);
    let (ih, iw) = (layer.input.h as usize, layer.input.w as usize);
    let (kh, kw) = (c.kh as usize, c.kw as usize);
    let (sh, sw) = (c.sh as usize, c.sw as usize);
    let hp = ih + c.pad.top as usize + c.pad.bottom as usize;
    let wp = iw + c.pad.left as usize + c.pad.right as usize;
    if hp < kh || wp < kw {
        return Err(err("kernel larger than the padded input".into()));
    }
    let (oh, ow) = ((hp - kh) / sh + 1, (wp - kw) / sw + 1);
    if (oh, ow) != (layer.output.h as usize, layer.output.w as usize) {
        return Err(err(format!(
            "output {oh}x{ow} differs from the resolved {}",
            layer.output
        )));
    }
    let groups = c.groups as usize;
    let (g_in, g_out) = (ch / groups, m / groups);
    // The counter's partition (packing::coeff::conv), verbatim.
    let heuristic = p.partition == Partition::Heuristic;
    let (sub_h, sub_w) = (heuristic && kh == 1, heuristic && kw == 1);
    let len_h = if sub_h { hp.div_ceil(sh) } else { hp };
    let len_w = if sub_w { wp.div_ceil(sw) } else { wp };
    let b = match p.partition {
        Partition::Heuristic => cc::heuristic_blocks(
            ch as u64,
            len_h as u64,
            len_w as u64,
            kh as u64,
            kw as u64,
            n,
        ),
        Partition::Search => {
            cc::search_blocks(ch as u64, hp as u64, wp as u64, kh as u64, kw as u64, n)
        }
    }
    .map_err(err)?;
    let ax = |len, win, k, d, s, sub: bool, pad: u32, in_len| Axis {
        len,
        win: win as usize,
        k,
        d: d as usize,
        stride: if sub { 1 } else { s },
        sub: if sub { s } else { 1 },
        pad: pad as usize,
        in_len,
    };
    let ah = ax(len_h, b.hw, kh, b.dh, sh, sub_h, c.pad.top, ih);
    let aw = ax(len_w, b.ww, kw, b.dw, sw, sub_w, c.pad.left, iw);
    let (hw, ww) = (b.hw as usize, b.ww as usize);
    let area = hw * ww;
    let stacked = groups > 1 && g_in == 1 && g_out == 1 && p.depthwise == DepthwiseMode::Stacked;
    let cw = if stacked {
        (((n / (b.hw * b.ww)) as f64).sqrt() as u64)
            .min(ch as u64)
            .max(1) as usize
    } else {
        b.cw as usize
    };
    let dc = ch.div_ceil(cw);
    let spatial = ah.d * aw.d;

    // Data: input x (small, signed), weights w[m][c_in_group][dy][dx] non-zero on the taps.
    let mut rng = data_rng(opts);
    let max = opts.max_value;
    let x: Vec<i64> = (0..ch * ih * iw).map(|_| small(&mut rng, max)).collect();
    let w = conv_weights(m, g_in, c, || nonzero(&mut rng, max));
    let wt = |mo: usize, ci: usize, dy: usize, dx: usize| w[((mo * g_in + ci) * kh + dy) * kw + dx];
    // Group layout: member `k` of output `mo`'s group is input channel `group_channel(mo, k)`
    // (contiguous: `(mo / g_out)*g_in + k`; strided: `mo mod G + k*G`).
    let strided = groups > 1 && c.group_layout == GroupLayout::Strided;
    let group_channel = |mo: usize, k: usize| {
        if strided {
            mo % groups + k * groups
        } else {
            (mo / g_out) * g_in + k
        }
    };
    // The packing order (the counter's plan, packing::coeff module doc): every group contiguous.
    // Packed input position `j*g_in + k` holds channel `in_chan(j*g_in + k)` (strided: `j + k*G`)
    // and returned output `j*g_out + k` is output channel `out_chan(j*g_out + k)`; identity for
    // contiguous groups. Both parties pack their shares, and the server its kernels, in this
    // order, which costs nothing (each party builds its ciphertexts and plaintexts from data it
    // holds, so a public permutation of the channels is local work).
    let in_chan = |pos: usize| {
        if strided {
            pos / g_in + (pos % g_in) * groups
        } else {
            pos
        }
    };
    let out_chan = |pos: usize| {
        if strided {
            pos / g_out + (pos % g_out) * groups
        } else {
            pos
        }
    };
    // Reference: the strided integer convolution, mod t.
    let xp = |ci: usize, r: usize, q: usize| -> i64 {
        match (
            r.checked_sub(c.pad.top as usize),
            q.checked_sub(c.pad.left as usize),
        ) {
            (Some(y), Some(z)) if y < ih && z < iw => x[(ci * ih + y) * iw + z],
            _ => 0,
        }
    };
    let mut expect = vec![0u64; m * oh * ow];
    for mo in 0..m {
        for o in 0..oh {
            for q in 0..ow {
                let mut acc = 0i64;
                for ci in 0..g_in {
                    for &(dy, dx) in &c.taps {
                        let (dy, dx) = (dy as usize, dx as usize);
                        acc = acc.wrapping_add(wt(mo, ci, dy, dx).wrapping_mul(xp(
                            group_channel(mo, ci),
                            o * sh + dy,
                            q * sw + dx,
                        )));
                    }
                }
                expect[(mo * oh + o) * ow + q] = mod_t(acc, t);
            }
        }
    }

    // The plan: client ciphertext (cb, bh, bw) at index (cb*dH + bh)*dW + bw.
    let in_idx = |cb: usize, bh: usize, bw: usize| (cb * ah.d + bh) * aw.d + bw;
    let mut inputs = Vec::with_capacity(dc * spatial);
    for cb in 0..dc {
        for bh in 0..ah.d {
            for bw in 0..aw.d {
                let mut coeffs = Vec::new();
                for cl in 0..cw.min(ch - cb * cw) {
                    let ci = in_chan(cb * cw + cl);
                    for i in 0..ah.size(bh) {
                        let Some(y) = ah.source(ah.start(bh) + i) else {
                            continue;
                        };
                        for j in 0..aw.size(bw) {
                            if let Some(z) = aw.source(aw.start(bw) + j) {
                                coeffs.push((
                                    cl * area + i * ww + j,
                                    (ci * ih + y) * iw + z,
                                    false,
                                ));
                            }
                        }
                    }
                }
                inputs.push(InPoly { coeffs });
            }
        }
    }
    let mut kernels = Vec::new();
    let mut outputs = Vec::new();
    let reads = |bh: usize, bw: usize, base: usize, out_c: usize| {
        let mut r = Vec::new();
        for &(li, o) in &ah.outputs(bh) {
            for &(lj, q) in &aw.outputs(bw) {
                r.push((base + li * ww + lj, (out_c * oh + o) * ow + q));
            }
        }
        r
    };
    if stacked {
        // Channel c of a block at c*Hw*Ww in the input and c*Cw*Hw*Ww in the kernel: the pair
        // (c, c) lands at c*(Cw+1)*Hw*Ww + O1 + i*Ww + j, clear of every cross pair.
        let o1 = ww * (kh - 1) + (kw - 1);
        for cb in 0..dc {
            let chans = cw.min(ch - cb * cw);
            let mut k = vec![0u64; n as usize];
            for cl in 0..chans {
                for &(dy, dx) in &c.taps {
                    let (dy, dx) = (dy as usize, dx as usize);
                    k[cl * cw * area + o1 - dy * ww - dx] = mod_t(wt(cb * cw + cl, 0, dy, dx), t);
                }
            }
            let kid = kernels.len();
            kernels.push(k);
            for bh in 0..ah.d {
                for bw in 0..aw.d {
                    let mut rd = Vec::new();
                    for cl in 0..chans {
                        rd.extend(reads(bh, bw, cl * (cw + 1) * area + o1, cb * cw + cl));
                    }
                    outputs.push(OutPoly {
                        terms: vec![(in_idx(cb, bh, bw), kid)],
                        reads: rd,
                    });
                }
            }
        }
    } else {
        // HomConv: kernel block (m, cb) reversed at O - c*Hw*Ww - dy*Ww - dx; all-zero blocks
        // (channels outside m's group) are skipped as OpenCheetah's `is_zero` does.
        // Positions are packed positions: output `mp` (channel `out_chan(mp)`) is in packed group
        // `mp / g_out`, whose members sit at input positions `g*g_in ..`, member `pos - g*g_in`.
        let o = area * (cw - 1) + ww * (kh - 1) + (kw - 1);
        for mp in 0..m {
            let (g, mo) = (mp / g_out, out_chan(mp));
            let mut kid = vec![None; dc];
            for (cb, slot) in kid.iter_mut().enumerate() {
                let mut k = vec![0u64; n as usize];
                let mut any = false;
                for cl in 0..cw.min(ch - cb * cw) {
                    let pos = cb * cw + cl;
                    if pos / g_in != g {
                        continue;
                    }
                    for &(dy, dx) in &c.taps {
                        let (dy, dx) = (dy as usize, dx as usize);
                        let v = mod_t(wt(mo, pos - g * g_in, dy, dx), t);
                        any |= v != 0;
                        k[o - cl * area - dy * ww - dx] = v;
                    }
                }
                if any {
                    *slot = Some(kernels.len());
                    kernels.push(k);
                }
            }
            for bh in 0..ah.d {
                for bw in 0..aw.d {
                    let terms = (0..dc)
                        .filter_map(|cb| kid[cb].map(|k| (in_idx(cb, bh, bw), k)))
                        .collect();
                    outputs.push(OutPoly {
                        terms,
                        reads: reads(bh, bw, o, mo),
                    });
                }
            }
        }
    }
    let plan = Plan::new(inputs, kernels, outputs, m * oh * ow);

    run_plan(layer, n, t, opts, &plan, &x, &expect, &mut rng)
}
